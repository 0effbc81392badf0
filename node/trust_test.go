package node

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pubsubpb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/crypto/ca"
	"courtmesh.dev/courtmesh/node/config"
	"courtmesh.dev/courtmesh/node/datadir"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
)

// These tests are internal (package node) so that they can drive the
// trust topic's validator and the install path directly. They cannot
// import node/devmesh (it imports node: an import cycle), so trustMesh
// builds the same mesh through the same code paths devmesh uses:
// ca.InitRoot, datadir.Init, CA.Issue, CA.Bundle, datadir.InstallTrust.

// trustMesh is a root, five certified courts and an issuer-only
// certificate, on disk.
type trustMesh struct {
	ca      *ca.CA
	rootKey *crypto.NodeKey
	rootRaw []byte
	dirs    []datadir.Dir
	keys    []*crypto.NodeKey
	certs   []*crypto.Certificate
	// issuer is a root-certified province issuer for 京 (no peer ID).
	issuer    *crypto.Certificate
	issuerKey *crypto.NodeKey
	b1        *crypto.Bundle
}

var trustCourts = []struct {
	code  court.CourtCode
	roles []crypto.Role
}{
	{court.Supreme, []crypto.Role{crypto.RoleCourt, crypto.RoleOperator}},
	{"京", []crypto.Role{crypto.RoleCourt}},
	{"京01", []crypto.Role{crypto.RoleCourt}},
	{"京0105", []crypto.Role{crypto.RoleCourt}},
	{"京0108", []crypto.Role{crypto.RoleCourt}},
}

func newTrustMesh(t *testing.T) *trustMesh {
	t.Helper()
	base := t.TempDir()
	now := time.Now()
	m := &trustMesh{}
	var err error
	if m.ca, err = ca.InitRoot(filepath.Join(base, "ca"), "test root", now.Add(-time.Hour), 10*365*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	if m.rootKey, err = crypto.LoadNodeKey(filepath.Join(base, "ca", ca.KeyFile)); err != nil {
		t.Fatal(err)
	}
	if m.rootRaw, err = m.ca.Root.Envelope.Marshal(); err != nil {
		t.Fatal(err)
	}
	for i, c := range trustCourts {
		d := datadir.Dir(filepath.Join(base, fmt.Sprintf("n%d", i)))
		id, err := datadir.Init(d)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := m.ca.Issue(crypto.Template{
			Code: c.code, Name: string(c.code) + " court", Identity: id, Roles: c.roles,
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(365 * 24 * time.Hour),
		})
		if err != nil {
			t.Fatalf("certify %s: %v", c.code, err)
		}
		nk, _, err := d.Keys()
		if err != nil {
			t.Fatal(err)
		}
		m.dirs, m.keys, m.certs = append(m.dirs, d), append(m.keys, nk), append(m.certs, cert)
	}
	if m.issuerKey, err = crypto.GenerateNodeKey(); err != nil {
		t.Fatal(err)
	}
	iid, err := crypto.NewIdentity(m.issuerKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.issuer, err = m.ca.Issue(crypto.Template{
		Code: "京", Name: "京 issuer", Identity: iid, Roles: []crypto.Role{crypto.RoleIssuer}, Scope: "京",
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(365 * 24 * time.Hour),
	}); err != nil {
		t.Fatal(err)
	}
	if m.b1, err = m.ca.Bundle(now, 30*24*time.Hour, nil); err != nil {
		t.Fatal(err)
	}
	for _, d := range m.dirs {
		if _, _, err := datadir.InstallTrust(d, m.rootRaw, m.b1.Raw); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

func trustTestLogger() *slog.Logger {
	if os.Getenv("COURTMESH_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return nil
}

// writeLoopbackConfig writes a config that listens on loopback only, on
// ports the kernel picks.
func writeLoopbackConfig(t *testing.T, d datadir.Dir) {
	t.Helper()
	cfg := `version = 1
listen = ["/ip4/127.0.0.1/tcp/0"]
api_listen = "127.0.0.1:0"
reconnect_interval = "1s"
`
	if strings.Contains(config.DefaultConfigText, "metrics_listen") {
		cfg += "metrics_listen = \"off\"\n" // several nodes cannot share the default port
	}
	if err := os.WriteFile(d.Path(datadir.ConfigFile), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}

// newStoppedNode builds a node that is not served: its validator and
// install path work without Serve. Cleanup closes the host and store.
func newStoppedNode(t *testing.T, d datadir.Dir) *Node {
	t.Helper()
	writeLoopbackConfig(t, d)
	n, err := New(Options{Dir: d, Logger: trustTestLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		n.h.Close()
		n.db.Close()
	})
	return n
}

// serveNode builds and serves a node until the test ends.
func serveNode(t *testing.T, d datadir.Dir) *Node {
	t.Helper()
	writeLoopbackConfig(t, d)
	n, err := New(Options{Dir: d, Logger: trustTestLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	select {
	case <-n.Ready():
	case err := <-done:
		done <- err // for the cleanup
		t.Fatalf("node stopped: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("node not ready after 20s")
	}
	return n
}

// pollUntil polls cond every 10 ms until it holds or d passes, and
// returns how long it took.
func pollUntil(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// announceSpec describes a bundle announcement to craft.
type announceSpec struct {
	key         crypto.Signer
	serial      uint64
	payloadType string // default PayloadBundleAnnounce
	payload     []byte // default: a valid BundleAnnounce for seq
	seq         uint64
	announcedAt int64
	pad         int // bytes of unknown-field padding appended to the payload
}

func (a announceSpec) bytes(t *testing.T) []byte {
	t.Helper()
	return a.envelope(t).mustMarshal(t)
}

type sealed struct{ *crypto.Envelope }

func (e sealed) mustMarshal(t *testing.T) []byte {
	t.Helper()
	b, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (a announceSpec) envelope(t *testing.T) sealed {
	t.Helper()
	payload := a.payload
	if payload == nil {
		var err error
		payload, err = proto.MarshalOptions{Deterministic: true}.Marshal(&pb.BundleAnnounce{
			Version: cmproto.BundleAnnounceVersion, Sequence: a.seq, Sha256: bytes.Repeat([]byte{7}, 32),
			ExpiresAt: time.Now().Add(30 * 24 * time.Hour).Unix(), AnnouncedAt: a.announcedAt,
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if a.pad > 0 {
		// An unknown field: a decoder keeps it and the message stays valid.
		payload = protowire.AppendTag(payload, 1000, protowire.BytesType)
		payload = protowire.AppendBytes(payload, bytes.Repeat([]byte{'x'}, a.pad))
	}
	pt := a.payloadType
	if pt == "" {
		pt = cmproto.PayloadBundleAnnounce
	}
	env, err := crypto.Seal(a.key, a.serial, pt, payload)
	if err != nil {
		t.Fatal(err)
	}
	return sealed{env}
}

// sizedAnnounce returns a valid announcement of exactly size bytes.
func sizedAnnounce(t *testing.T, a announceSpec, size int) []byte {
	t.Helper()
	a.pad = 1
	for range 10 {
		b := a.bytes(t)
		if len(b) == size {
			return b
		}
		a.pad += size - len(b)
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
	m := newTrustMesh(t)
	const self, victim = 3, 4
	if err := m.ca.Revoke(m.certs[victim].Serial, "test", time.Now()); err != nil {
		t.Fatal(err)
	}
	b2, err := m.ca.Bundle(time.Now(), 30*24*time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := newStoppedNode(t, m.dirs[self])
	if ok, err := n.trust.Install(b2.Raw, "test"); !ok || err != nil {
		t.Fatalf("install bundle 2: %v %v", ok, err)
	}
	s := n.trust
	from := m.keys[1].PeerID() // the relaying neighbour
	court := func(i int, seq uint64) announceSpec {
		return announceSpec{key: m.keys[i], serial: m.certs[i].Serial, seq: seq, announcedAt: time.Now().UnixMilli()}
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
	forged := court(2, 3).envelope(t)
	forged.Signature = flip(forged.Signature, 10)
	reSigned := court(2, 3).envelope(t) // payload changed after signing
	reSigned.Payload = court(2, 4).envelope(t).Payload
	borrowed := court(2, 3) // 京01's key claiming 京's certificate
	borrowed.serial = m.certs[1].Serial
	badVersion, _ := proto.Marshal(&pb.BundleAnnounce{Version: 2, Sequence: 3, Sha256: make([]byte, 32)})
	noSeq, _ := proto.Marshal(&pb.BundleAnnounce{Version: 1, Sha256: make([]byte, 32)})
	shortHash, _ := proto.Marshal(&pb.BundleAnnounce{Version: 1, Sequence: 3, Sha256: make([]byte, 31)})
	withPayload := func(a announceSpec, p []byte) announceSpec { a.payload = p; return a }
	withType := func(a announceSpec, pt string) announceSpec { a.payloadType = pt; return a }

	tests := []struct {
		name string
		data []byte
		want pubsub.ValidationResult
	}{
		{"newer from a certified court", court(2, 3).bytes(t), pubsub.ValidationAccept},
		{"newer from the operator", court(0, 9).bytes(t), pubsub.ValidationAccept},
		{"same sequence", court(2, 2).bytes(t), pubsub.ValidationIgnore},
		{"older sequence", court(2, 1).bytes(t), pubsub.ValidationIgnore},
		{"forged signature", forged.mustMarshal(t), pubsub.ValidationReject},
		{"payload changed after signing", reSigned.mustMarshal(t), pubsub.ValidationReject},
		{"key of one court, serial of another", borrowed.bytes(t), pubsub.ValidationReject},
		{"signer unknown to the bundle", announceSpec{key: stranger, serial: crypto.NewSerial(), seq: 3}.bytes(t), pubsub.ValidationReject},
		{"stranger claiming a certified serial", announceSpec{key: stranger, serial: m.certs[2].Serial, seq: 3}.bytes(t), pubsub.ValidationReject},
		{"revoked signer", court(victim, 3).bytes(t), pubsub.ValidationReject},
		{"issuer-only certificate", announceSpec{key: m.issuerKey, serial: m.issuer.Serial, seq: 3}.bytes(t), pubsub.ValidationReject},
		{"national root key", announceSpec{key: m.rootKey, serial: m.ca.Root.Serial, seq: 3}.bytes(t), pubsub.ValidationReject},
		{"wrong payload type: bundle", withType(court(2, 3), crypto.PayloadBundle).bytes(t), pubsub.ValidationReject},
		{"wrong payload type: certificate", withType(court(2, 3), crypto.PayloadCertificate).bytes(t), pubsub.ValidationReject},
		{"malformed payload: garbage", withPayload(court(2, 3), []byte{0xff, 0xff, 0xff}).bytes(t), pubsub.ValidationReject},
		{"malformed payload: empty", withPayload(court(2, 3), []byte{}).bytes(t), pubsub.ValidationReject},
		{"malformed payload: version 2", withPayload(court(2, 3), badVersion).bytes(t), pubsub.ValidationReject},
		{"malformed payload: no sequence", withPayload(court(2, 3), noSeq).bytes(t), pubsub.ValidationReject},
		{"malformed payload: short hash", withPayload(court(2, 3), shortHash).bytes(t), pubsub.ValidationReject},
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
		if got := s.validate(context.Background(), from, gossipMsg(court(2, 7).bytes(t), from)); got != pubsub.ValidationAccept {
			t.Fatalf("validate = %s", resultName[got])
		}
		r := <-s.pulls
		if r.seq != 7 || len(r.peers) != 2 || r.peers[0] != m.keys[2].PeerID() || r.peers[1] != from {
			t.Errorf("pull request = %+v, want seq 7 from [%s %s]", r, m.keys[2].PeerID(), from)
		}
	})

	t.Run("an announcer behind is reported", func(t *testing.T) {
		drain(s.behind)
		if got := s.validate(context.Background(), from, gossipMsg(court(2, 1).bytes(t), from)); got != pubsub.ValidationIgnore {
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
		if got := s.validate(context.Background(), from, gossipMsg(court(2, 2).bytes(t), from)); got != pubsub.ValidationIgnore {
			t.Fatalf("validate = %s", resultName[got])
		}
		select {
		case p := <-s.behind:
			t.Errorf("an announcer of the same bundle was reported behind: %s", p)
		default:
		}
	})

	t.Run("every truncation", func(t *testing.T) {
		full := court(2, 3).bytes(t)
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
func TestTrustInstall(t *testing.T) {
	m := newTrustMesh(t)
	n := newStoppedNode(t, m.dirs[3])
	s := n.trust
	path := m.dirs[3].Path(datadir.BundleFile)
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
	if !bytes.Equal(onDisk(), m.b1.Raw) || s.Trust().Bundle().Sequence != 1 {
		t.Fatal("the node does not start on bundle 1")
	}
	b2, err := m.ca.Bundle(now, 30*24*time.Hour, nil)
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
		ok, err := s.Install(m.b1.Raw, "test")
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
			Code: court.Supreme, Name: m.ca.Root.Name, Identity: id, Roles: []crypto.Role{crypto.RoleRoot, crypto.RoleIssuer},
			Scope: court.Supreme, NotBefore: m.ca.Root.NotBefore, NotAfter: m.ca.Root.NotAfter, Serial: m.ca.Root.Serial,
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
		b, err := m.ca.Bundle(now, 30*24*time.Hour, nil)
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
		dead, err := m.ca.Bundle(now.Add(-40*24*time.Hour), 30*24*time.Hour, nil)
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
		graced, err := m.ca.Bundle(now.Add(-32*24*time.Hour), 30*24*time.Hour, nil)
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
			b, err := m.ca.Bundle(time.Now(), 30*24*time.Hour, nil)
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
		left, _ := filepath.Glob(filepath.Join(string(m.dirs[3]), ".*tmp*"))
		if len(left) > 0 {
			t.Errorf("temporary files left behind: %v", left)
		}
		// A restart loads it.
		re, err := newTrustService(m.dirs[3], n.PeerID(), slog.New(slog.DiscardHandler), time.Now)
		if err != nil {
			t.Fatal(err)
		}
		if got := re.Trust().Bundle().Sequence; got != newest.Sequence {
			t.Errorf("after a restart the bundle in force is %d, want %d", got, newest.Sequence)
		}
	})
}

// TestTrustGossipDuplicateDeliveredOnce publishes the same announcement
// bytes twice on a three-node mesh: a subscriber on another node gets it
// once (message id = SHA-256 of the payload), whether it comes directly
// or relayed.
func TestTrustGossipDuplicateDeliveredOnce(t *testing.T) {
	m := newTrustMesh(t)
	a, b, c := serveNode(t, m.dirs[0]), serveNode(t, m.dirs[3]), serveNode(t, m.dirs[2])
	nodes := []*Node{a, b, c}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i, x := range nodes {
		for _, y := range nodes[i+1:] {
			if err := x.h.Connect(ctx, peer.AddrInfo{ID: y.PeerID(), Addrs: y.h.Addrs()}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, x := range nodes {
		pollUntil(t, 20*time.Second, "every node on the trust topic", func() bool { return len(x.trust.topic.ListPeers()) == 2 })
	}
	subB, err := b.trust.topic.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	defer subB.Cancel()
	subC, err := c.trust.topic.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	defer subC.Cancel()

	seq := a.Trust().Bundle().Sequence + 1 // newer, so that receivers accept it
	msg := announceSpec{key: m.keys[0], serial: m.certs[0].Serial, seq: seq, announcedAt: 1}.bytes(t)
	sentinelA := announceSpec{key: m.keys[0], serial: m.certs[0].Serial, seq: seq, announcedAt: 2}.bytes(t)
	sentinelC := announceSpec{key: m.keys[2], serial: m.certs[2].Serial, seq: seq, announcedAt: 3}.bytes(t)
	// Gossipsub (v0.19) publishes to the topic mesh only, which the
	// heartbeat forms after the peers join: wait for it.
	ready := pubsub.WithReadiness(pubsub.MinTopicSize(2))
	for i := range 2 {
		if err := a.trust.topic.Publish(ctx, msg, ready); err != nil {
			t.Logf("publish #%d: %v", i+1, err)
		}
	}
	if err := a.trust.topic.Publish(ctx, sentinelA); err != nil {
		t.Fatal(err)
	}
	// Once C has both, anything it relays of msg to B is queued before
	// C's own sentinel.
	count := func(sub *pubsub.Subscription, until ...[]byte) map[string]int {
		t.Helper()
		seen := map[string]int{}
		for {
			done := true
			for _, u := range until {
				if seen[string(u)] == 0 {
					done = false
				}
			}
			if done {
				return seen
			}
			m, err := sub.Next(ctx)
			if err != nil {
				t.Fatalf("waiting for messages: %v (seen %d)", err, len(seen))
			}
			seen[string(m.Data)]++
			if id := sha256.Sum256(m.Data); m.ID != string(id[:]) {
				t.Errorf("message id %x, want the SHA-256 of the payload %x", m.ID, id)
			}
		}
	}
	count(subC, msg, sentinelA)
	if err := c.trust.topic.Publish(ctx, sentinelC, ready); err != nil {
		t.Fatal(err)
	}
	seen := count(subB, msg, sentinelA, sentinelC)
	if seen[string(msg)] != 1 {
		t.Errorf("the announcement published twice was delivered %d times, want 1", seen[string(msg)])
	}
	for k, v := range seen {
		if v != 1 {
			t.Errorf("a message of %d bytes delivered %d times", len(k), v)
		}
	}
}
