package trust

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node/mesh"
	"courtmesh.dev/courtmesh/node/nodetest"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
)

// wholeBundle signs bundle seq with its head: the certificates of bundle
// 1, a new sequence (a re-signing).
func wholeBundle(t *testing.T, m *nodetest.TrustMesh, seq uint64) *crypto.Bundle {
	t.Helper()
	now := time.Now()
	b, err := crypto.BuildBundle(m.RootKey, m.CA.Root, seq, now, now.Add(30*24*time.Hour), m.B1.Certs, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBundlePullSpreadsAcrossAnnouncers pushes a new whole bundle to the
// operator's node in a mesh of five, every node connected to every
// other. The operator serves a whole bundle to one asker per bundle here
// (uploadFanout, 8 in production, is set to 1 so that five nodes show
// what 3,500 would) and answers the others "busy"; they take it from the
// nodes that have it, which tell them so when they install it. Nobody
// asks as a last resort (lastResortAfter is out of reach), so the
// operator serves exactly one copy whatever the timing, and the other
// three come from other nodes.
func TestBundlePullSpreadsAcrossAnnouncers(t *testing.T) {
	m := nodetest.NewTrustMesh(t)
	var s []*Service
	for i := range 5 {
		si := newService(t, m, i)
		if i == 0 {
			si.uploads.fanout = 1
		} else {
			si.lastResortAfter = maxPullRounds
		}
		s = append(s, join(t, si, m.Keys[i]))
	}
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			connect(t, s[i], s[j])
		}
	}
	b2 := wholeBundle(t, m, 2)
	if ok, err := s[0].InstallWithHead(b2.Raw, b2.Head, "local operator"); !ok || err != nil {
		t.Fatalf("push: %v, %v", ok, err)
	}
	if err := s[0].announce(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i := range s {
		nodetest.PollUntil(t, 60*time.Second, "bundle 2 on every node", func() bool {
			return s[i].Trust().Bundle().Sequence == 2
		})
	}
	size := int64(len(b2.Raw))
	var served, sources int64
	for i, si := range s {
		st := si.Stats()
		t.Logf("node %d: served %d whole bundles (%d bytes), answered busy %d times, installed from %q",
			i, st.BundlesServed, st.BytesServed, st.UploadsBusy, st.LastSource)
		served += st.BundlesServed
		if st.BundlesServed > 0 {
			sources++
		}
		if st.BytesServed != st.BundlesServed*size {
			t.Errorf("node %d served %d bytes for %d bundles of %d", i, st.BytesServed, st.BundlesServed, size)
		}
		if b := si.Trust().Bundle(); !bytes.Equal(b.Raw, b2.Raw) || !bytes.Equal(b.Head, b2.Head) {
			t.Errorf("node %d holds another bundle 2 or no head", i)
		}
	}
	if st := s[0].Stats(); st.BundlesServed != 1 {
		t.Errorf("the operator served %d whole bundles, want 1 (its share)", st.BundlesServed)
	}
	if served < 4 || sources < 2 {
		t.Errorf("%d whole bundles served by %d nodes; want at least 4 by at least 2", served, sources)
	}
	fromOperator := 0
	for _, si := range s[1:] {
		if si.Stats().LastSource == "peer "+s[0].h.ID().String() {
			fromOperator++
		}
	}
	if fromOperator != 1 {
		t.Errorf("%d nodes installed bundle 2 from the operator, want 1", fromOperator)
	}
}

// hosted puts s on a real loopback host with gossipsub like join, but
// runs no pull worker: the test drives its pulls itself.
func hosted(t *testing.T, s *Service, key *crypto.NodeKey) *Service {
	t.Helper()
	g := mesh.NewGater(s, s.log, nil, false)
	h, err := mesh.NewHost(key.Libp2p(), []string{"/ip4/127.0.0.1/tcp/0"}, "", g, s)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ps, err := mesh.NewPubSub(ctx, h, s)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Join(h, mesh.NewGuardedHost(h, s, s.log), ps, key); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		s.Close()
		h.Close()
	})
	return s
}

// stopsMidway replaces the bundle handler of s by one that offers s's
// bundle like serveBundle and, asked for the whole, sends the frame's
// length and half of what was asked, and ends the stream: a source gone
// mid-transfer.
func stopsMidway(s *Service) { fakeSource(s, offerVersion, true) }

// olderBuild replaces the bundle handler of s by one that answers like a
// build that knows no offsets: a version 1 offer, and the whole bundle.
func olderBuild(s *Service) { fakeSource(s, 1, false) }

func fakeSource(s *Service, version uint32, midway bool) {
	s.h.SetStreamHandler(cmproto.ProtoBundle, func(st network.Stream) {
		defer st.Close()
		var req pb.BundleRequest
		if err := cmproto.ReadDelimited(st, &req, maxRequest); err != nil {
			st.Reset()
			return
		}
		b := s.Trust().Bundle()
		offer := &pb.BundleOffer{Version: version, Sequence: b.Sequence}
		if b.Sequence > req.GetHave() {
			offer.Head, offer.Size, offer.FullSequence = b.Head, uint64(len(b.Raw)), b.FullSequence
		}
		if err := cmproto.WriteDelimited(st, offer); err != nil || b.Sequence <= req.GetHave() {
			return
		}
		var send pb.BundleRequest
		if err := cmproto.ReadDelimited(st, &send, maxRequest); err != nil || !send.GetSend() {
			return
		}
		rest := b.Raw
		if version >= 2 {
			rest = rest[send.GetOffset():]
		}
		frame := binary.AppendUvarint(nil, uint64(len(rest)))
		if midway {
			rest = rest[:len(rest)/2]
		}
		if _, err := st.Write(append(frame, rest...)); err != nil {
			st.Reset()
			return
		}
		s.bytesServed.Add(int64(len(rest)))
		_ = st.CloseWrite() // what was written arrives, then the end
		_, _ = st.Read(make([]byte, 1))
	})
}

// TestBundlePullResumes pulls a whole bundle from a source that stops
// half-way, then from a second source that offers the same bundle (the
// same root-signed head): the second sends only the rest, and the node
// installs the bundle having received about one bundle's bytes, not one
// and a half. A partial download of another bundle under the same
// sequence is discarded, not resumed.
func TestBundlePullResumes(t *testing.T) {
	m := nodetest.NewTrustMesh(t)
	asker := hosted(t, newService(t, m, 3), m.Keys[3])
	half := joined(t, m, 1)
	whole := joined(t, m, 2)
	b2 := wholeBundle(t, m, 2)
	for _, s := range []*Service{half, whole} {
		if ok, err := s.InstallWithHead(b2.Raw, b2.Head, "test"); !ok || err != nil {
			t.Fatal(ok, err)
		}
	}
	stopsMidway(half)
	// The sources dial the asker: their own exchange on connecting asks
	// the asker what it holds, and moves no bundle.
	connect(t, half, asker)
	connect(t, whole, asker)

	size := int64(len(b2.Raw))
	before := asker.Stats().BytesReceived
	ctx := context.Background()
	if ok, err := pullOnce(ctx, asker, half.h.ID()); ok || err == nil {
		t.Fatalf("pull from the source that stops = %v, %v; want an error", ok, err)
	}
	if seq := asker.Trust().Bundle().Sequence; seq != 1 {
		t.Fatalf("bundle %d in force after a broken pull", seq)
	}
	asker.partials.mu.Lock()
	kept := asker.partials.p
	asker.partials.mu.Unlock()
	if kept == nil || int64(len(kept.buf)) != size/2 || kept.head.Hash != [32]byte(b2.Hash()) {
		t.Fatalf("kept %+v after the broken pull, want the first %d of %d bytes of bundle 2", kept, size/2, size)
	}
	if ok, err := pullOnce(ctx, asker, whole.h.ID()); !ok || err != nil {
		t.Fatalf("pull from the second source = %v, %v", ok, err)
	}
	if b := asker.Trust().Bundle(); !bytes.Equal(b.Raw, b2.Raw) || !bytes.Equal(b.Head, b2.Head) {
		t.Fatal("the asker does not hold bundle 2 with its head")
	}
	got := asker.Stats().BytesReceived - before
	served := whole.Stats().BytesServed
	t.Logf("bundle of %d bytes: the first source sent %d, the second %d; the asker received %d in all (offers included)",
		size, half.Stats().BytesServed, served, got)
	if served != size-size/2 {
		t.Errorf("the second source sent %d bytes, want the rest, %d", served, size-size/2)
	}
	// One bundle and the small messages around it (two offers with the
	// head, the requests of the sources' own exchanges), far from 1.5.
	if got < size || got > size+size/10+4096 {
		t.Errorf("the asker received %d bytes for a bundle of %d", got, size)
	}
	if st, left := asker.Stats(), asker.partials.pending(0); st.PullsResumed != 1 || left {
		t.Errorf("%d pulls resumed, partial left %v; want 1, none", st.PullsResumed, left)
	}

	t.Run("another bundle under the same sequence is not resumed", func(t *testing.T) {
		b3 := wholeBundle(t, m, 3)
		other, err := crypto.BuildBundle(m.RootKey, m.CA.Root, 3, time.Now(), time.Now().Add(20*24*time.Hour), m.B1.Certs[1:], nil)
		if err != nil {
			t.Fatal(err)
		}
		h3, err := crypto.OpenBundleHead(m.CA.Root, b3.Head)
		if err != nil {
			t.Fatal(err)
		}
		hOther, err := crypto.OpenBundleHead(m.CA.Root, other.Head)
		if err != nil {
			t.Fatal(err)
		}
		var ps partials
		ps.put(h3, b3.Raw[:100])
		if got := ps.take(hOther); got != nil || ps.p != nil {
			t.Errorf("the beginning of one bundle 3 was offered for another (%d bytes), or kept", len(got))
		}
		ps.put(h3, b3.Raw[:100])
		if got := ps.take(h3); !bytes.Equal(got, b3.Raw[:100]) {
			t.Errorf("the beginning of bundle 3 was not resumed")
		}
		ps.put(h3, b3.Raw) // whole: nothing to resume
		if ps.p != nil {
			t.Error("a whole bundle was kept as a partial one")
		}
	})

	t.Run("a source of an older build is asked for the whole", func(t *testing.T) {
		old := joined(t, m, 0)
		b3 := wholeBundle(t, m, 3)
		for _, s := range []*Service{half, old} {
			if ok, err := s.InstallWithHead(b3.Raw, b3.Head, "test"); !ok || err != nil {
				t.Fatal(ok, err)
			}
		}
		olderBuild(old)
		connect(t, old, asker)
		if ok, err := pullOnce(ctx, asker, half.h.ID()); ok || err == nil {
			t.Fatalf("pull from the source that stops = %v, %v; want an error", ok, err)
		}
		if !asker.partials.pending(2) {
			t.Fatal("nothing kept of bundle 3")
		}
		if ok, err := pullOnce(ctx, asker, old.h.ID()); !ok || err != nil {
			t.Fatalf("pull from the older build = %v, %v", ok, err)
		}
		if b := asker.Trust().Bundle(); !bytes.Equal(b.Raw, b3.Raw) {
			t.Fatal("the asker does not hold bundle 3")
		}
		if st := asker.Stats(); st.PullsResumed != 1 || asker.partials.pending(0) || old.Stats().BytesServed != int64(len(b3.Raw)) {
			t.Errorf("%d pulls resumed (want still 1), partial left %v, the older build sent %d of %d bytes",
				st.PullsResumed, asker.partials.pending(0), old.Stats().BytesServed, len(b3.Raw))
		}
	})
}

// TestBundleHoldersBounded: the memory of who holds which sequence keeps
// the newest few sequences and a bounded number of peers for each.
func TestBundleHoldersBounded(t *testing.T) {
	var h holders
	id := func(i int) peer.ID { return peer.ID(binary.AppendUvarint([]byte("p"), uint64(i))) }
	for seq := uint64(1); seq <= 20; seq++ {
		for i := range 100 {
			h.add(seq, id(i))
		}
	}
	if len(h.seq) != holderSeqs {
		t.Errorf("%d sequences remembered, want %d", len(h.seq), holderSeqs)
	}
	for seq, ps := range h.seq {
		if seq <= 20-holderSeqs || len(ps) != holdersPerSeq {
			t.Errorf("sequence %d remembered with %d peers", seq, len(ps))
		}
	}
	h.add(3, id(1)) // older than all: not remembered
	if _, ok := h.seq[3]; ok {
		t.Error("an old sequence displaced a newer one")
	}
	if got := h.of(20); len(got) != holdersPerSeq {
		t.Errorf("%d holders of 20, want %d", len(got), holdersPerSeq)
	}
	if got := h.of(18); len(got) != holdersPerSeq { // the same 64 peers hold 18, 19 and 20
		t.Errorf("%d holders of 18 or newer, want %d distinct", len(got), holdersPerSeq)
	}
	h.forget(19)
	if len(h.seq) != 1 {
		t.Errorf("after forgetting up to 19, %d sequences remembered", len(h.seq))
	}
}

// TestBundleStreamVersions speaks the bundle stream by hand to a node
// that has served its share of its bundle: an asker of an older build
// (version 2) still gets the whole bundle; a version 3 asker is told
// "busy" (an empty frame), unless it asks as a last resort, and then
// gets the bundle from the offset it asks.
func TestBundleStreamVersions(t *testing.T) {
	m := nodetest.NewTrustMesh(t)
	asker := hosted(t, newService(t, m, 3), m.Keys[3])
	srv := newService(t, m, 1)
	srv.uploads.fanout = 0
	join(t, srv, m.Keys[1])
	b2 := wholeBundle(t, m, 2)
	if ok, err := srv.InstallWithHead(b2.Raw, b2.Head, "test"); !ok || err != nil {
		t.Fatal(ok, err)
	}
	connect(t, srv, asker)
	ask := func(t *testing.T, send *pb.BundleRequest) []byte {
		t.Helper()
		for i := 0; ; i++ {
			out, err := askWhole(asker, srv.h.ID(), send)
			var se *network.StreamError
			limited := errors.Is(err, network.ErrResourceLimitExceeded) ||
				(errors.As(err, &se) && se.ErrorCode == network.StreamResourceLimitExceeded)
			if !limited || i == 500 {
				if err != nil {
					t.Fatal(err)
				}
				return out
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if got := ask(t, &pb.BundleRequest{Version: 2, Have: 1, Send: true}); !bytes.Equal(got, b2.Raw) {
		t.Errorf("a version 2 asker got %d bytes, want the whole bundle (%d)", len(got), len(b2.Raw))
	}
	if got := ask(t, &pb.BundleRequest{Version: 3, Have: 1, Send: true}); len(got) != 0 {
		t.Errorf("a version 3 asker got %d bytes from a node that served its share, want busy", len(got))
	}
	if got := ask(t, &pb.BundleRequest{Version: 3, Have: 1, Send: true, LastResort: true, Offset: 100}); !bytes.Equal(got, b2.Raw[100:]) {
		t.Errorf("a last resort from offset 100 got %d bytes, want %d", len(got), len(b2.Raw)-100)
	}
	// The server counts a bundle once it has written its last byte,
	// which the asker may have read before that: wait for the count.
	want := func(st Stats) bool {
		return st.BundlesServed == 2 && st.UploadsBusy == 1 && st.BytesServed == int64(2*len(b2.Raw)-100)
	}
	for i := 0; i < 200 && !want(srv.Stats()); i++ { // bounded: 2 s
		time.Sleep(10 * time.Millisecond)
	}
	if st := srv.Stats(); !want(st) {
		t.Errorf("the server served %d bundles (%d bytes) and answered busy %d times; want 2 (%d), 1",
			st.BundlesServed, st.BytesServed, st.UploadsBusy, 2*len(b2.Raw)-100)
	}
}

// askWhole opens a bundle stream from a to p, asks what p holds (version
// 3), checks the offer is a version 2 offer of something newer, sends
// send and returns the frame that answers it.
func askWhole(a *Service, p peer.ID, send *pb.BundleRequest) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := a.h.NewStream(ctx, p, cmproto.ProtoBundle)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	_ = st.SetDeadline(time.Now().Add(10 * time.Second))
	if err := cmproto.WriteDelimited(st, &pb.BundleRequest{Version: requestVersion, Have: send.GetHave()}); err != nil {
		return nil, err
	}
	var offer pb.BundleOffer
	if err := cmproto.ReadDelimited(st, &offer, maxOffer); err != nil {
		return nil, err
	}
	if offer.GetVersion() != offerVersion || offer.GetSequence() <= send.GetHave() {
		return nil, fmt.Errorf("offer version %d of bundle %d", offer.GetVersion(), offer.GetSequence())
	}
	if err := cmproto.WriteDelimited(st, send); err != nil {
		return nil, err
	}
	return cmproto.ReadFrame(st, crypto.MaxBundleSize)
}
