package trust

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node/datadir"
	"courtmesh.dev/courtmesh/node/nodetest"
)

// cpuTime is the CPU time (user and system) this process has used. The
// benchmark reports CPU time rather than wall time: the machines it runs
// on are shared, and a loaded machine stretches wall time many times.
func cpuTime() time.Duration { return rusage(syscall.RUSAGE_SELF) }

// threadTime is the CPU time of the calling thread (lock it first).
func threadTime() time.Duration { return rusage(1) } // RUSAGE_THREAD

func rusage(who int) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkTrustScale measures the trust fabric at national size: a
// bundle of 3,534 certificates (the root, 33 province issuers, 3,500
// courts). It prints one line `trust <measure>: <value>` per measure:
//
//	go test ./node/... -run '^$' -bench TrustScale -benchtime 1x
//
// The revocation travels between two real nodes on loopback (the
// operator installs the signed delta and announces it; the court applies
// it from the gossip); the mesh figure is the per-node figure times 3,500
// (each node receives the change once, plus gossip duplicates). Times are
// CPU time (of the process for open, install and apply; of the thread for
// lookups), not wall time.
//
// It is long on purpose: one story, the national-size trust state
// built once and each measure taken on it in turn.
func BenchmarkTrustScale(b *testing.B) {
	now := time.Now()
	base := b.TempDir()
	var dirs []datadir.Dir
	var ids []*crypto.Identity
	for i := range 3 {
		d := datadir.Dir(filepath.Join(base, fmt.Sprintf("n%d", i)))
		id, err := datadir.Init(d)
		if err != nil {
			b.Fatal(err)
		}
		dirs, ids = append(dirs, d), append(ids, id)
	}
	nat := nodetest.NewNational(b, now, ids...)
	for _, d := range dirs {
		if _, _, err := datadir.InstallTrust(d, nat.RootRaw, nat.Bundle.Raw); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("national bundle: %d certificates, %d bytes", len(nat.Bundle.Certs), len(nat.Bundle.Raw))
	log := nodetest.Logger()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	open := func(i int) *Service {
		nk, _, err := dirs[i].Keys()
		if err != nil {
			b.Fatal(err)
		}
		s, err := New(Deps{Dir: dirs[i], Self: nk.PeerID(), Log: log, Now: time.Now})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(s.Close)
		return s
	}
	keys := make([]*crypto.NodeKey, len(dirs))
	for i, d := range dirs {
		nk, _, err := d.Keys()
		if err != nil {
			b.Fatal(err)
		}
		keys[i] = nk
	}
	var m struct {
		first, cached, install, deltaCPU           time.Duration
		perNode                                    int64
		lookCertified, lookUnknown, lookRevoked    time.Duration
		verifiedFirst, verifiedCached, verifiedNew int
	}
	for b.Loop() {
		// Open, first start: no certificate verified before.
		if err := os.Remove(dirs[2].Path(CertCacheFile)); err != nil && !os.IsNotExist(err) {
			b.Fatal(err)
		}
		runtime.GC() // the garbage of building the bundle is not the open's
		start := cpuTime()
		s := open(2)
		m.first = cpuTime() - start
		m.verifiedFirst = int(s.Stats().CertsVerified)
		s.Close()
		// Open again: a restart, the certificates cached by hash.
		runtime.GC()
		start = cpuTime()
		s = open(2)
		m.cached = cpuTime() - start
		m.verifiedCached = int(s.Stats().CertsVerified)

		// Install a re-signed whole bundle (same certificates, sequence 2).
		all := nat.Bundle.Certs[1:]
		b2, err := crypto.BuildBundle(nat.RootKey, nat.Root, 2, now, now.Add(30*24*time.Hour), all, nil)
		if err != nil {
			b.Fatal(err)
		}
		v0 := s.Stats().CertsVerified
		start = cpuTime()
		if ok, err := s.InstallWithHead(b2.Raw, b2.Head, "bench"); !ok || err != nil {
			b.Fatal(ok, err)
		}
		m.install = cpuTime() - start
		m.verifiedNew = int(s.Stats().CertsVerified - v0)

		// A revocation: the signed delta from bundle 2.
		victim := nat.Courts[len(nat.Courts)-1]
		d3, _, err := crypto.BuildDelta(nat.RootKey, nat.Root, nat.Root, s.Trust().Bundle(), crypto.DeltaChange{
			IssuedAt: now, ExpiresAt: now.Add(30 * 24 * time.Hour),
			Revoke: []crypto.Revocation{{Serial: victim.Serial, RevokedAt: now, Reason: "key compromised (benchmark)",
				LastTrusted: &crypto.LogPosition{Seq: 42, Head: [32]byte{1}}}},
		})
		if err != nil {
			b.Fatal(err)
		}
		c0 := cpuTime()
		if ok, err := s.InstallDelta(d3.Raw, "bench"); !ok || err != nil {
			b.Fatal(ok, err)
		}
		m.deltaCPU = cpuTime() - c0

		// Across two real nodes: the operator (最高法) pushes the delta;
		// the court receives it.
		op, court := open(0), open(1)
		for _, x := range []*Service{op, court} {
			if ok, err := x.InstallWithHead(b2.Raw, b2.Head, "bench"); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
		join(b, op, keys[0])
		join(b, court, keys[1])
		connect(b, op, court)
		nodetest.PollUntil(b, 20*time.Second, "the court on the trust topic", func() bool { return len(op.Topic().ListPeers()) == 1 })
		// Let the announcements of joining pass (each side announces
		// bundle 2 when the other joins the topic): they are not the
		// revocation's cost.
		nodetest.PollUntil(b, 20*time.Second, "the join announcements", func() bool {
			return court.Stats().GossipBytes > 0 && op.Stats().GossipBytes > 0
		})
		before := court.Stats()
		if ok, err := op.InstallAndAnnounce(context.Background(), d3.Raw, nil); !ok || err != nil {
			b.Fatal(ok, err)
		}
		nodetest.PollUntil(b, 20*time.Second, "the revocation in force on the court", func() bool { return court.Trust().Bundle().Sequence == 3 })
		after := court.Stats()
		m.perNode = (after.GossipBytes - before.GossipBytes) + (after.BytesReceived - before.BytesReceived)
		if after.BundlesOpened != before.BundlesOpened {
			b.Errorf("the court opened a whole bundle for a revocation")
		}

		// Admission lookups on the view in force.
		t := court.Trust()
		unknownKey, err := crypto.GenerateNodeKey()
		if err != nil {
			b.Fatal(err)
		}
		at := time.Now()
		lookup := func(p peer.ID, wantOK bool) time.Duration {
			const n = 200_000
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			start := threadTime()
			for range n {
				if _, err := t.ByPeer(p, at); (err == nil) != wantOK {
					b.Fatalf("ByPeer(%s) = %v", p, err)
				}
			}
			return (threadTime() - start) / n
		}
		m.lookCertified = lookup(nat.Courts[1000].PeerID, true)
		m.lookUnknown = lookup(unknownKey.PeerID(), false)
		m.lookRevoked = lookup(victim.PeerID, false)
	}
	b.Logf("certificates verified: first start %d, cached restart %d, re-signed bundle %d", m.verifiedFirst, m.verifiedCached, m.verifiedNew)
	fmt.Printf("trust open (first start): %v\n", m.first.Round(time.Millisecond))
	fmt.Printf("trust open (cached restart): %v\n", m.cached.Round(time.Millisecond))
	fmt.Printf("trust install of a full bundle: %v\n", m.install.Round(time.Millisecond))
	fmt.Printf("trust apply a revocation delta (CPU): %v\n", m.deltaCPU.Round(100*time.Microsecond))
	fmt.Printf("trust bytes per revocation per node: %d\n", m.perNode)
	fmt.Printf("trust admission lookup certified: %v\n", m.lookCertified)
	fmt.Printf("trust admission lookup unknown: %v\n", m.lookUnknown)
	fmt.Printf("trust admission lookup revoked: %v\n", m.lookRevoked)
	fmt.Printf("trust bytes per revocation, mesh of 3500: %d\n", m.perNode*3500)
	b.ReportMetric(float64(m.cached.Microseconds())/1000, "ms/cached-open")
	b.ReportMetric(float64(m.perNode), "B/revocation/node")
}
