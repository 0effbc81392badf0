package node_test

import (
	"context"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	libp2ptls "github.com/libp2p/go-libp2p/p2p/security/tls"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"

	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node"
	"courtmesh.dev/courtmesh/node/mesh"
	"courtmesh.dev/courtmesh/node/nodetest"
	cmproto "courtmesh.dev/courtmesh/protocol"
)

// churnCyclesEnv sets the number of connect/disconnect cycles of
// TestConnectionChurnMemory; the default (500) fits CI, the issue's
// figure is COURTMESH_CHURN_CYCLES=10000.
const churnCyclesEnv = "COURTMESH_CHURN_CYCLES"

// settled collects garbage and returns memory to the system, then reads
// the RSS and the heap in use.
func settled(t *testing.T) (int64, uint64) {
	// Twice: what sync.Pools hold survives one collection (the victim
	// cache), and is not the node's.
	runtime.GC()
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("go: heap in use %d KB, heap kept from the system %d KB, stacks %d KB, other %d KB, goroutines %d",
		ms.HeapInuse>>10, (ms.HeapSys-ms.HeapReleased)>>10, ms.StackSys>>10, (ms.MSpanSys+ms.MCacheSys+ms.BuckHashSys+ms.GCSys+ms.OtherSys)>>10, runtime.NumGoroutine())
	r := rss()
	if r == 0 {
		t.Fatal("no VmRSS in /proc/self/status")
	}
	return r, ms.HeapInuse
}

// heapProfile writes a heap profile to $COURTMESH_CHURN_PROFILE-<name>
// when that is set (to find what grows: go tool pprof -base).
func heapProfile(t *testing.T, name string) {
	p := os.Getenv("COURTMESH_CHURN_PROFILE")
	if p == "" {
		return
	}
	f, err := os.Create(p + "-" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := pprof.WriteHeapProfile(f); err != nil {
		t.Fatal(err)
	}
}

type admitAll struct{}

func (admitAll) Admit(peer.ID) error { return nil }

// churnHost is a short-lived client: the node's transports, no listener,
// the given key.
func churnHost(t *testing.T, key *crypto.NodeKey) host.Host {
	t.Helper()
	h, err := libp2p.New(
		libp2p.Identity(key.Libp2p()),
		libp2p.NoListenAddrs,
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Security(libp2ptls.ID, libp2ptls.New),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.DisableRelay(),
		libp2p.DisableMetrics(),
	)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestConnectionChurnMemory connects to a node and disconnects, over and
// over, as certified courts (the same few keys) and as outsiders (a new
// key every time, refused by the gater), on loopback. After the cycles
// the node's memory, garbage collected, has grown by at most 10 MB, and
// its peerstore holds no departed outsider. COURTMESH_CHURN_PROFILE=PATH
// writes heap profiles before and after (PATH-before, PATH-after).
func TestConnectionChurnMemory(t *testing.T) {
	cycles := 500
	if v := os.Getenv(churnCyclesEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q: want a number of cycles", churnCyclesEnv, v)
		}
		cycles = n
	}
	if os.Getenv("COURTMESH_CHURN_PROFILE") != "" {
		runtime.MemProfileRate = 1
	}
	m := nodetest.NewTrustMesh(t)
	nodetest.WriteLoopbackConfig(t, m.Dirs[0])
	n := startNode(t, node.Options{Dir: m.Dirs[0], Logger: testLogger(t)})
	target := peer.AddrInfo{ID: n.PeerID(), Addrs: n.Host().Addrs()}
	certified := m.Keys[1:]

	cycle := func(i int) {
		key := certified[i%len(certified)]
		outsider := i%2 == 1
		if outsider {
			var err error
			if key, err = crypto.GenerateNodeKey(); err != nil {
				t.Fatal(err)
			}
		}
		h := churnHost(t, key)
		ctx, cancel := context.WithCancel(context.Background())
		if !outsider {
			// A court speaks gossipsub on the node's topics, as a node does.
			ps, err := mesh.NewPubSub(ctx, h, admitAll{})
			if err != nil {
				t.Fatal(err)
			}
			for _, topic := range []string{cmproto.TopicTrust, cmproto.TopicTransfers} {
				tp, err := ps.Join(topic)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := tp.Subscribe(); err != nil {
					t.Fatal(err)
				}
			}
		}
		cctx, ccancel := context.WithTimeout(ctx, 20*time.Second)
		err := h.Connect(cctx, target)
		ccancel()
		if !outsider && err != nil {
			t.Fatalf("cycle %d: a certified court cannot connect: %v", i, err)
		}
		if !outsider {
			// Wait for the node to see it (and identify it), as a real
			// court's connection would be.
			nodetest.PollUntil(t, 20*time.Second, "the node sees the court", func() bool {
				return n.Host().Network().Connectedness(h.ID()) == network.Connected
			})
		}
		cancel()
		if err := h.Close(); err != nil {
			t.Fatal(err)
		}
		nodetest.PollUntil(t, 20*time.Second, "the node sees the peer go", func() bool {
			return n.Host().Network().Connectedness(h.ID()) != network.Connected
		})
	}
	const warmup = 100
	for i := range warmup {
		cycle(i)
	}
	r0, h0 := settled(t)
	heapProfile(t, "before")
	ps0 := len(n.Host().Peerstore().Peers())
	start := time.Now()
	for i := range cycles {
		cycle(warmup + i)
	}
	r1, h1 := settled(t)
	heapProfile(t, "after")
	ps1 := len(n.Host().Peerstore().Peers())
	t.Logf("%d cycles (half outsiders) in %v: RSS %d -> %d MB (%+.1f MB), heap in use %d -> %d MB, peerstore %d -> %d peers",
		cycles, time.Since(start).Round(time.Second), r0>>20, r1>>20, float64(r1-r0)/(1<<20), h0>>20, h1>>20, ps0, ps1)
	if grew := r1 - r0; grew > 10<<20 {
		t.Errorf("RSS grew by %.1f MB over %d cycles, want at most 10 MB", float64(grew)/(1<<20), cycles)
	}
	if ps1 > len(m.Keys)+2 {
		t.Errorf("the peerstore holds %d peers after the churn, want at most the %d certified nodes and a few", ps1, len(m.Keys))
	}
}
