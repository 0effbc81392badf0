package trust

import (
	"context"
	"errors"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node/mesh"
	"courtmesh.dev/courtmesh/node/nodetest"
)

// joined is a trust service of a TrustMesh court on a real loopback host
// with gossipsub, serving until the test ends.
func joined(t *testing.T, m *nodetest.TrustMesh, i int) *Service {
	t.Helper()
	return join(t, newService(t, m, i), m.Keys[i])
}

// join puts s on a real loopback host with gossipsub, serving until the
// test ends.
func join(t testing.TB, s *Service, key *crypto.NodeKey) *Service {
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
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		s.Close()
		h.Close()
	})
	return s
}

func connect(t testing.TB, a, b *Service) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.h.Connect(ctx, peer.AddrInfo{ID: b.h.ID(), Addrs: b.h.Addrs()}); err != nil {
		t.Fatal(err)
	}
}

// pullOnce is a.pull, waiting for the stream of an earlier pull (or of
// the poke on connection) to be released: the resource manager allows one
// bundle stream per peer and direction, on either side.
func pullOnce(ctx context.Context, a *Service, p peer.ID) (bool, error) {
	for i := 0; ; i++ {
		ok, err := a.pull(ctx, p)
		var se *network.StreamError
		limited := errors.Is(err, network.ErrResourceLimitExceeded) ||
			(errors.As(err, &se) && se.ErrorCode == network.StreamResourceLimitExceeded)
		if !limited || i == 500 {
			return ok, err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestStaleBundleCostsNothing offers a node a stale and an equal bundle
// 100 times each, every way one can arrive: a peer's offer on the bundle
// stream, a gossip announcement, and a whole bundle handed to Install.
// Nothing is downloaded beyond the offers (a few dozen bytes each) and
// nothing is verified.
func TestStaleBundleCostsNothing(t *testing.T) {
	m := nodetest.NewTrustMesh(t)
	now := time.Now()
	b2, err := m.CA.Bundle(now, 30*24*time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	b3, err := m.CA.Bundle(now, 30*24*time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, equal, stale := joined(t, m, 1), joined(t, m, 2), joined(t, m, 3)
	for _, s := range []*Service{a, equal} {
		if ok, err := s.InstallWithHead(b3.Raw, b3.Head, "test"); !ok || err != nil {
			t.Fatalf("install bundle 3: %v %v", ok, err)
		}
	}
	if ok, err := stale.InstallWithHead(b2.Raw, b2.Head, "test"); !ok || err != nil {
		t.Fatalf("install bundle 2: %v %v", ok, err)
	}
	connect(t, a, equal)
	connect(t, a, stale)
	before := a.Stats()
	ctx := context.Background()
	const times = 100
	for range times {
		for _, p := range []*Service{equal, stale} {
			ok, err := pullOnce(ctx, a, p.h.ID())
			if ok || err != nil {
				t.Fatalf("pull from a peer on bundle %d = %v, %v; want false, nil", p.Trust().Bundle().Sequence, ok, err)
			}
		}
		for _, seq := range []uint64{2, 3} {
			msg := nodetest.Announce{Key: m.Keys[2], Serial: m.Certs[2].Serial, Seq: seq, AnnouncedAt: time.Now().UnixNano()}.Bytes(t)
			if r := a.validate(ctx, equal.h.ID(), gossipMsg(msg, equal.h.ID())); r != pubsub.ValidationIgnore {
				t.Fatalf("announcement of bundle %d: %s, want ignore", seq, resultName[r])
			}
		}
		for _, b := range [][]byte{m.B1.Raw, b2.Raw, b3.Raw} {
			if ok, err := a.Install(b, "test"); ok || err != nil {
				t.Fatalf("install of a stale bundle = %v, %v", ok, err)
			}
		}
	}
	after := a.Stats()
	if after.BundlesOpened != before.BundlesOpened || after.CertsVerified != before.CertsVerified || after.DeltasApplied != before.DeltasApplied {
		t.Errorf("stale offers cost work: before %+v, after %+v", before, after)
	}
	got := after.BytesReceived - before.BytesReceived
	if perOffer := got / (2 * times); perOffer > 256 || got == 0 {
		t.Errorf("received %d bytes for %d stale offers (%d each); want offers only, no bundle (%d bytes)", got, 2*times, perOffer, len(b3.Raw))
	}
	// At least ours: the services also announce to each other as they join.
	if d := after.OffersDeclined - before.OffersDeclined; d < 7*times {
		t.Errorf("declined %d offers, want at least %d", d, 7*times)
	}
	t.Logf("%d stale or equal offers: %d bytes received, no bundle opened, no certificate verified", 7*times, got)

	// Control: the same node does take a newer bundle from a peer, and
	// its head is checked before the download.
	b4, err := m.CA.Bundle(now, 30*24*time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := equal.InstallWithHead(b4.Raw, b4.Head, "test"); !ok || err != nil {
		t.Fatal(ok, err)
	}
	nodetest.PollUntil(t, 20*time.Second, "bundle 4 pulled", func() bool { return a.Trust().Bundle().Sequence == 4 })
	if st := a.Stats(); st.BytesReceived-after.BytesReceived < int64(len(b4.Raw)) || st.BundlesOpened != after.BundlesOpened+1 {
		t.Errorf("newer bundle: %+v after %+v", st, after)
	}
}
