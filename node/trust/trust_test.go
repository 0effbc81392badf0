package trust

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pubsubpb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/crypto/ca"
	"courtmesh.dev/courtmesh/node/datadir"
	"courtmesh.dev/courtmesh/node/nodetest"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
)

// newService builds the trust service of court i of m, off the network:
// its validator and install path work without a host.
func newService(t *testing.T, m *nodetest.TrustMesh, i int) *Service {
	t.Helper()
	log := nodetest.Logger()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s, err := New(Deps{Dir: m.Dirs[i], Self: m.Keys[i].PeerID(), Log: log, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// sizedAnnounce returns a valid announcement of exactly size bytes.
func sizedAnnounce(t *testing.T, a nodetest.Announce, size int) []byte {
	t.Helper()
	a.Pad = 1
	for range 10 {
		b := a.Bytes(t)
		if len(b) == size {
			return b
		}
		a.Pad += size - len(b)
	}
	t.Fatalf("cannot craft an announcement of exactly %d bytes", size)
	return nil
}

func gossipMsg(data []byte, from peer.ID) *pubsub.Message {
	topic := cmproto.TopicTrust
	return &pubsub.Message{Message: &pubsubpb.Message{Data: data, Topic: &topic}, ReceivedFrom: from}
}

func drain[T any](c chan T) {
	for {
		select {
		case <-c:
		default:
			return
		}
	}
}

var resultName = map[pubsub.ValidationResult]string{
	pubsub.ValidationAccept: "accept", pubsub.ValidationIgnore: "ignore", pubsub.ValidationReject: "reject",
}

// TestTrustTopicValidator drives the trust topic's inline validator with
// crafted messages. The node holds bundle 2, which revokes 京0108.
func TestTrustTopicValidator(t *testing.T) {
	m := nodetest.NewTrustMesh(t)
	const self, victim = 3, 4
	if err := m.CA.Revoke(m.Certs[victim].Serial, "test", time.Now()); err != nil {
		t.Fatal(err)
	}
	b2, err := m.CA.Bundle(time.Now(), 30*24*time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := newService(t, m, self)
	if ok, err := s.Install(b2.Raw, "test"); !ok || err != nil {
		t.Fatalf("install bundle 2: %v %v", ok, err)
	}
	from := m.Keys[1].PeerID() // the relaying neighbour
	court := func(i int, seq uint64) nodetest.Announce {
		return nodetest.Announce{Key: m.Keys[i], Serial: m.Certs[i].Serial, Seq: seq, AnnouncedAt: time.Now().UnixMilli()}
	}
	stranger, err := crypto.GenerateNodeKey()
	if err != nil {
		t.Fatal(err)
	}
	flip := func(b []byte, i int) []byte {
		b = bytes.Clone(b)
		b[i] ^= 0x01
		return b
	}
	forged := court(2, 3).Envelope(t)
	forged.Signature = flip(forged.Signature, 10)
	reSigned := court(2, 3).Envelope(t) // payload changed after signing
	reSigned.Payload = court(2, 4).Envelope(t).Payload
	borrowed := court(2, 3) // 京01's key claiming 京's certificate
	borrowed.Serial = m.Certs[1].Serial
	badVersion, _ := proto.Marshal(&pb.BundleAnnounce{Version: 2, Sequence: 3, Sha256: make([]byte, 32)})
	noSeq, _ := proto.Marshal(&pb.BundleAnnounce{Version: 1, Sha256: make([]byte, 32)})
	shortHash, _ := proto.Marshal(&pb.BundleAnnounce{Version: 1, Sequence: 3, Sha256: make([]byte, 31)})
	withPayload := func(a nodetest.Announce, p []byte) nodetest.Announce { a.Payload = p; return a }
	withType := func(a nodetest.Announce, pt string) nodetest.Announce { a.PayloadType = pt; return a }

	tests := []struct {
		name string
		data []byte
		want pubsub.ValidationResult
	}{
		{"newer from a certified court", court(2, 3).Bytes(t), pubsub.ValidationAccept},
		{"newer from the operator", court(0, 9).Bytes(t), pubsub.ValidationAccept},
		{"same sequence", court(2, 2).Bytes(t), pubsub.ValidationIgnore},
		{"older sequence", court(2, 1).Bytes(t), pubsub.ValidationIgnore},
		{"forged signature", forged.MustMarshal(t), pubsub.ValidationReject},
		{"payload changed after signing", reSigned.MustMarshal(t), pubsub.ValidationReject},
		{"key of one court, serial of another", borrowed.Bytes(t), pubsub.ValidationReject},
		{"signer unknown to the bundle", nodetest.Announce{Key: stranger, Serial: crypto.NewSerial(), Seq: 3}.Bytes(t), pubsub.ValidationReject},
		{"stranger claiming a certified serial", nodetest.Announce{Key: stranger, Serial: m.Certs[2].Serial, Seq: 3}.Bytes(t), pubsub.ValidationReject},
		{"revoked signer", court(victim, 3).Bytes(t), pubsub.ValidationReject},
		{"issuer-only certificate", nodetest.Announce{Key: m.IssuerKey, Serial: m.Issuer.Serial, Seq: 3}.Bytes(t), pubsub.ValidationReject},
		{"national root key", nodetest.Announce{Key: m.RootKey, Serial: m.CA.Root.Serial, Seq: 3}.Bytes(t), pubsub.ValidationReject},
		{"wrong payload type: bundle", withType(court(2, 3), crypto.PayloadBundle).Bytes(t), pubsub.ValidationReject},
		{"wrong payload type: certificate", withType(court(2, 3), crypto.PayloadCertificate).Bytes(t), pubsub.ValidationReject},
		{"malformed Payload: garbage", withPayload(court(2, 3), []byte{0xff, 0xff, 0xff}).Bytes(t), pubsub.ValidationReject},
		{"malformed Payload: empty", withPayload(court(2, 3), []byte{}).Bytes(t), pubsub.ValidationReject},
		{"malformed Payload: version 2", withPayload(court(2, 3), badVersion).Bytes(t), pubsub.ValidationReject},
		{"malformed Payload: no sequence", withPayload(court(2, 3), noSeq).Bytes(t), pubsub.ValidationReject},
		{"malformed Payload: short hash", withPayload(court(2, 3), shortHash).Bytes(t), pubsub.ValidationReject},
		{"empty message", nil, pubsub.ValidationReject},
		{"not an envelope", []byte("hello, courts"), pubsub.ValidationReject},
		{"exactly the size limit", sizedAnnounce(t, court(2, 3), cmproto.MaxGossipMessage), pubsub.ValidationAccept},
		{"one byte over the size limit", sizedAnnounce(t, court(2, 3), cmproto.MaxGossipMessage+1), pubsub.ValidationReject},
		{"far over the size limit", sizedAnnounce(t, court(2, 3), 4*cmproto.MaxGossipMessage), pubsub.ValidationReject},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			drain(s.pulls)
			got := s.validate(context.Background(), from, gossipMsg(tt.data, from))
			if got != tt.want {
				t.Fatalf("validate = %s, want %s", resultName[got], resultName[tt.want])
			}
			// Only an accepted newer announcement triggers a pull.
			select {
			case r := <-s.pulls:
				if tt.want != pubsub.ValidationAccept {
					t.Errorf("a %s message queued a pull %+v", resultName[tt.want], r)
				}
			default:
				if tt.want == pubsub.ValidationAccept {
					t.Error("an accepted newer announcement queued no pull")
				}
			}
		})
	}

	t.Run("pull request names the signer then the relay", func(t *testing.T) {
		drain(s.pulls)
		if got := s.validate(context.Background(), from, gossipMsg(court(2, 7).Bytes(t), from)); got != pubsub.ValidationAccept {
			t.Fatalf("validate = %s", resultName[got])
		}
		r := <-s.pulls
		if r.seq != 7 || len(r.peers) != 2 || r.peers[0] != m.Keys[2].PeerID() || r.peers[1] != from {
			t.Errorf("pull request = %+v, want seq 7 from [%s %s]", r, m.Keys[2].PeerID(), from)
		}
	})

	t.Run("an announcer behind is reported", func(t *testing.T) {
		drain(s.behind)
		if got := s.validate(context.Background(), from, gossipMsg(court(2, 1).Bytes(t), from)); got != pubsub.ValidationIgnore {
			t.Fatalf("validate = %s", resultName[got])
		}
		select {
		case p := <-s.behind:
			if p != from {
				t.Errorf("behind = %s, want %s", p, from)
			}
		default:
			t.Error("an announcer holding an older bundle was not reported")
		}
		drain(s.behind)
		if got := s.validate(context.Background(), from, gossipMsg(court(2, 2).Bytes(t), from)); got != pubsub.ValidationIgnore {
			t.Fatalf("validate = %s", resultName[got])
		}
		select {
		case p := <-s.behind:
			t.Errorf("an announcer of the same bundle was reported behind: %s", p)
		default:
		}
	})

	t.Run("every truncation", func(t *testing.T) {
		full := court(2, 3).Bytes(t)
		if got := s.validate(context.Background(), from, gossipMsg(full, from)); got != pubsub.ValidationAccept {
			t.Fatalf("the untruncated message: validate = %s, want accept", resultName[got])
		}
		for i := range len(full) {
			if got := s.validate(context.Background(), from, gossipMsg(full[:i], from)); got != pubsub.ValidationReject {
				t.Errorf("first %d of %d bytes: validate = %s, want reject", i, len(full), resultName[got])
			}
		}
	})

	// Nothing the validator saw changed the bundle in force.
	if seq := s.Trust().Bundle().Sequence; seq != 2 {
		t.Errorf("bundle in force = %d, want 2", seq)
	}
}

// TestTrustInstall drives the install path: replay, foreign roots,
// tampering, expiry, and the persistence of the newest bundle.
//
// It is long on purpose: one bundle's life (newer, older, forged,
// expired, concurrent readers, restart) told in order.
func TestTrustInstall(t *testing.T) {
	m := nodetest.NewTrustMesh(t)
	s := newService(t, m, 3)
	path := m.Dirs[3].Path(datadir.BundleFile)
	now := time.Now()
	onDisk := func() []byte {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// unchanged checks that neither the view in force nor the file moved.
	unchanged := func(t *testing.T, want *crypto.Bundle) {
		t.Helper()
		if got := s.Trust().Bundle().Sequence; got != want.Sequence {
			t.Errorf("bundle in force = %d, want %d", got, want.Sequence)
		}
		if !bytes.Equal(onDisk(), want.Raw) {
			t.Errorf("%s changed", path)
		}
	}
	if !bytes.Equal(onDisk(), m.B1.Raw) || s.Trust().Bundle().Sequence != 1 {
		t.Fatal("the node does not start on bundle 1")
	}
	b2, err := m.CA.Bundle(now, 30*24*time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Install(b2.Raw, "test"); !ok || err != nil {
		t.Fatalf("install bundle 2 = %v, %v; want true, nil", ok, err)
	}
	unchanged(t, b2)
	// Install writes through a new file and a rename: a refused install
	// leaves the very same file (inode) in place.
	installed, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	untouched := func(t *testing.T) {
		t.Helper()
		if fi, err := os.Stat(path); err != nil || !os.SameFile(fi, installed) {
			t.Errorf("%s was rewritten (%v)", path, err)
		}
	}

	t.Run("older bundle replayed", func(t *testing.T) {
		ok, err := s.Install(m.B1.Raw, "test")
		if ok || err != nil {
			t.Errorf("install bundle 1 over 2 = %v, %v; want false, nil", ok, err)
		}
		unchanged(t, b2)
		untouched(t)
	})
	t.Run("same bundle replayed", func(t *testing.T) {
		ok, err := s.Install(b2.Raw, "test")
		if ok || err != nil {
			t.Errorf("install bundle 2 again = %v, %v; want false, nil", ok, err)
		}
		unchanged(t, b2)
		untouched(t)
	})
	t.Run("bundle of another root", func(t *testing.T) {
		other, err := ca.InitRoot(t.TempDir(), "another root", now.Add(-time.Hour), 365*24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		var ob *crypto.Bundle
		for range 5 { // a higher sequence than ours: staleness is not why it fails
			if ob, err = other.Bundle(now, 30*24*time.Hour, nil); err != nil {
				t.Fatal(err)
			}
		}
		ok, err := s.Install(ob.Raw, "test")
		if ok || !errors.Is(err, crypto.ErrUnknownSigner) {
			t.Errorf("install = %v, %v; want an unknown-signer error", ok, err)
		}
		unchanged(t, b2)
		untouched(t)
	})
	t.Run("another root impersonating the pinned serial", func(t *testing.T) {
		key, err := crypto.GenerateNodeKey()
		if err != nil {
			t.Fatal(err)
		}
		id, err := crypto.NewIdentity(key, nil)
		if err != nil {
			t.Fatal(err)
		}
		fake, err := crypto.Issue(key, nil, crypto.Template{
			Code: court.Supreme, Name: m.CA.Root.Name, Identity: id, Roles: []crypto.Role{crypto.RoleRoot, crypto.RoleIssuer},
			Scope: court.Supreme, NotBefore: m.CA.Root.NotBefore, NotAfter: m.CA.Root.NotAfter, Serial: m.CA.Root.Serial,
		})
		if err != nil {
			t.Fatal(err)
		}
		fb, err := crypto.BuildBundle(key, fake, 50, now, now.Add(30*24*time.Hour), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		ok, err := s.Install(fb.Raw, "test")
		if ok || !errors.Is(err, crypto.ErrBadSignature) {
			t.Errorf("install = %v, %v; want a bad-signature error", ok, err)
		}
		unchanged(t, b2)
		untouched(t)
	})
	t.Run("tampered bundle", func(t *testing.T) {
		b, err := m.CA.Bundle(now, 30*24*time.Hour, nil)
		if err != nil {
			t.Fatal(err)
		}
		raw := bytes.Clone(b.Raw)
		raw[len(raw)-5] ^= 0x01 // inside the signature, the last field
		ok, err := s.Install(raw, "test")
		if ok || !errors.Is(err, crypto.ErrBadSignature) {
			t.Errorf("install = %v, %v; want a bad-signature error", ok, err)
		}
		for _, l := range []int{0, 1, len(raw) / 2, len(raw) - 1} {
			if ok, err := s.Install(b.Raw[:l], "test"); ok || err == nil {
				t.Errorf("first %d of %d bytes: install = %v, %v; want an error", l, len(raw), ok, err)
			}
		}
		unchanged(t, b2)
		untouched(t)
	})
	t.Run("expired beyond grace", func(t *testing.T) {
		// Issued 40 days ago for 30 days: 10 days past expiry, 7 past grace.
		dead, err := m.CA.Bundle(now.Add(-40*24*time.Hour), 30*24*time.Hour, nil)
		if err != nil {
			t.Fatal(err)
		}
		ok, err := s.Install(dead.Raw, "test")
		if ok || !errors.Is(err, crypto.ErrExpired) {
			t.Errorf("install = %v, %v; want an expired error", ok, err)
		}
		unchanged(t, b2)
		untouched(t)
		// Control: expired 2 days ago, within the 3-day grace: installed.
		graced, err := m.CA.Bundle(now.Add(-32*24*time.Hour), 30*24*time.Hour, nil)
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := s.Install(graced.Raw, "test"); !ok || err != nil {
			t.Fatalf("install a bundle within its grace period = %v, %v; want true, nil", ok, err)
		}
		unchanged(t, graced)
		if st := s.Trust().Bundle().Status(time.Now()); st != crypto.BundleGraced {
			t.Errorf("state = %s, want %s", st, crypto.BundleGraced)
		}
	})
	t.Run("newest persisted atomically", func(t *testing.T) {
		var bundles []*crypto.Bundle
		for range 8 {
			b, err := m.CA.Bundle(time.Now(), 30*24*time.Hour, nil)
			if err != nil {
				t.Fatal(err)
			}
			bundles = append(bundles, b)
		}
		newest := bundles[len(bundles)-1]
		known := map[string]uint64{string(onDisk()): s.Trust().Bundle().Sequence}
		for _, b := range bundles {
			known[string(b.Raw)] = b.Sequence
		}
		// A reader sees, at every moment, a whole bundle that verifies,
		// and never an older one than it saw before.
		stop := make(chan struct{})
		readerErr := make(chan error, 1)
		reads := 0
		go func() {
			var last uint64
			for {
				select {
				case <-stop:
					readerErr <- nil
					return
				default:
				}
				raw, err := os.ReadFile(path)
				if err != nil {
					readerErr <- err
					return
				}
				seq, ok := known[string(raw)]
				if !ok {
					readerErr <- fmt.Errorf("read %d: %d bytes on disk that are no whole bundle", reads, len(raw))
					return
				}
				if seq < last {
					readerErr <- fmt.Errorf("bundle on disk went back from %d to %d", last, seq)
					return
				}
				last = seq
				reads++
			}
		}()
		var wg sync.WaitGroup
		for _, i := range rand.Perm(len(bundles)) {
			wg.Go(func() {
				if _, err := s.Install(bundles[i].Raw, "test"); err != nil {
					t.Errorf("install %d: %v", bundles[i].Sequence, err)
				}
			})
		}
		wg.Wait()
		close(stop)
		if err := <-readerErr; err != nil {
			t.Fatal(err)
		}
		t.Logf("the reader checked %d reads of %s during the installs", reads, datadir.BundleFile)
		unchanged(t, newest)
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o644 {
			t.Errorf("%s mode = %v, want 0644", datadir.BundleFile, st.Mode().Perm())
		}
		left, _ := filepath.Glob(filepath.Join(string(m.Dirs[3]), ".*tmp*"))
		if len(left) > 0 {
			t.Errorf("temporary files left behind: %v", left)
		}
		// A restart loads it.
		re, err := New(Deps{Dir: m.Dirs[3], Self: m.Keys[3].PeerID(), Log: slog.New(slog.DiscardHandler), Now: time.Now})
		if err != nil {
			t.Fatal(err)
		}
		if got := re.Trust().Bundle().Sequence; got != newest.Sequence {
			t.Errorf("after a restart the bundle in force is %d, want %d", got, newest.Sequence)
		}
	})
}
