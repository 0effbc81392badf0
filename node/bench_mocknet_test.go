package node_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"

	"courtmesh.dev/courtmesh/node/mesh"
	cmproto "courtmesh.dev/courtmesh/protocol"
)

type mockVariant struct {
	name string
	// node: the router is built by mesh.NewPubSub, exactly as a node
	// builds it (its options, queue sizes included), with opts after.
	node     bool
	opts     []pubsub.Option
	validate pubsub.ValidatorEx
	inline   bool
	msgs     [][]byte
}

func benchMocknet(b *testing.B, n, offers, degree int) propRow {
	rng := mrand.New(mrand.NewPCG(uint64(n), 3))
	edges := randomEdges(n, degree, rng)
	const warm = 3
	records, trust := signedOffers(b, offers+warm)
	tuning, inline, desc := gossipTuning(b)
	plain := make([][]byte, offers+warm)
	for k := range plain {
		plain[k] = make([]byte, 1024)
		rand.Read(plain[k])
	}
	decode := func(_ context.Context, _ peer.ID, msg *pubsub.Message) pubsub.ValidationResult {
		if _, err := cmproto.DecodeRecord(msg.Data, trust, time.Now()); err != nil {
			return pubsub.ValidationReject
		}
		return pubsub.ValidationAccept
	}
	variants := []mockVariant{
		{name: "courtmesh", node: true, opts: tuning, validate: decode, inline: inline, msgs: records},
		{name: "baseline", msgs: plain},
		// courtmesh's options without the validator, to separate the
		// validator's cost from the options'. Opt-in.
		// (Its own protocol ID, so that it can share the hosts.)
		{name: "nocheck", node: true, opts: append([]pubsub.Option{pubsub.WithGossipSubProtocols([]protocol.ID{"/courtmesh-nocheck/meshsub/1.2.0"}, pubsub.GossipSubDefaultFeatures)}, tuning...), msgs: records},
	}
	only := os.Getenv("COURTMESH_BENCH_ONLY")
	if only == "" {
		only = "baseline,courtmesh"
	}
	name := "mocknet (DecodeRecord validator)"
	if desc != "" {
		name = fmt.Sprintf("mocknet (DecodeRecord, %s)", desc)
	}
	row := propRow{mesh: name, nodes: n, edges: len(edges), msgSize: len(records[0])}
	// Each variant gets its own mocknet with the same topology (edges by
	// index), built, timed and torn down before the next: sharing hosts
	// would leave the other variant's idle routers and their goroutines
	// (mocknet runs a goroutine per stream) in the GC's way.
	b.ResetTimer()
	for _, v := range variants {
		if !slices.Contains(strings.Split(only, ","), v.name) {
			continue
		}
		t0 := time.Now()
		mn, hosts := mocknetHosts(b, n)
		run := startRouters(b, hosts, v)
		tHosts := time.Since(t0)
		connect(b, mn, hosts, edges)
		b.Logf("%s n=%d: hosts and routers in %v, %d links connected in %v", v.name, n, tHosts.Round(time.Millisecond), len(edges), (time.Since(t0) - tHosts).Round(time.Millisecond))
		r := run.measure(b, edges, warm, rng)
		mn.Close()
		switch v.name {
		case "baseline":
			row.base = r.lat
			row.bdrops = r.drops + r.vdrops
		case "nocheck":
			r.mesh = "mocknet (courtmesh options, no validator)"
			// Reported on its own line through the log only.
			b.Logf("nocheck: p50 %v p99 %v", pct(r.lat, 50), pct(r.lat, 99))
		default:
			row.lat, row.missed, row.offers = r.lat, r.missed, r.offers
			row.cpu, row.wall, row.idle, row.heapMiB, row.gor, row.setup = r.cpu, r.wall, r.idle, r.heapMiB, r.gor, r.setup
			row.drops, row.vdrops = r.drops, r.vdrops
		}
	}
	b.StopTimer()
	b.Logf("offer record size %d bytes", row.msgSize)
	fmt.Printf("mocknet%d dropped: %d (courtmesh: %d RPCs dropped (a full peer queue, or no queue for the peer), %d messages on a full validation queue or throttle; baseline: %d)\n",
		n, row.drops+row.vdrops, row.drops, row.vdrops, row.bdrops)
	return row
}

// mocknetHosts builds n mocknet hosts.
func mocknetHosts(b *testing.B, n int) (mocknet.Mocknet, []host.Host) {
	mn := mocknet.New()
	hosts := make([]host.Host, n)
	for i := range n {
		h, err := mn.GenPeer()
		if err != nil {
			b.Fatal(err)
		}
		hosts[i] = h
	}
	return mn, hosts
}

// connect links and connects the hosts along edges.
func connect(b *testing.B, mn mocknet.Mocknet, hosts []host.Host, edges [][2]int) {
	for _, e := range edges {
		a, c := hosts[e[0]].ID(), hosts[e[1]].ID()
		if _, err := mn.LinkPeers(a, c); err != nil {
			b.Fatal(err)
		}
		if _, err := mn.ConnectPeers(a, c); err != nil {
			b.Fatal(err)
		}
	}
}

// mockRun is one variant's routers on the shared hosts.
type mockRun struct {
	v      mockVariant
	ctx    context.Context
	cancel context.CancelFunc
	topics []*pubsub.Topic
	tr     *tracker
	meshes []*meshTracer
	drops  atomic.Int64 // RPCs dropped (a full peer queue, or no queue for the peer: DropRPC)
	vdrops atomic.Int64 // messages dropped on a full validation queue or throttle
	// kinds splits drops by what the RPC carried: messages, control
	// (graft, prune, ihave, iwant, idontwant), subscriptions.
	kinds [3]atomic.Int64
	start time.Duration
}

// startRouters starts a variant's gossipsub router on every host, before
// the hosts connect (so that identify tells every peer about it).
func startRouters(b *testing.B, hosts []host.Host, v mockVariant) *mockRun {
	t0 := time.Now()
	n := len(hosts)
	r := &mockRun{v: v, topics: make([]*pubsub.Topic, n), tr: newTracker(n), meshes: make([]*meshTracer, n)}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	for i, h := range hosts {
		r.meshes[i] = &meshTracer{mesh: map[peer.ID]bool{}, drops: &r.drops, vdrops: &r.vdrops, kinds: &r.kinds}
		opts := append(slices.Clone(v.opts), pubsub.WithRawTracer(r.meshes[i]))
		var ps *pubsub.PubSub
		var err error
		if v.node {
			ps, err = mesh.NewPubSub(r.ctx, h, benchAdmitAll{}, opts...)
		} else {
			ps, err = pubsub.NewGossipSub(r.ctx, h, opts...)
		}
		if err != nil {
			b.Fatal(err)
		}
		if v.validate != nil {
			if err := ps.RegisterTopicValidator(cmproto.TopicTransfers, v.validate, pubsub.WithValidatorInline(v.inline)); err != nil {
				b.Fatal(err)
			}
		}
		if r.topics[i], err = ps.Join(cmproto.TopicTransfers); err != nil {
			b.Fatal(err)
		}
		sub, err := r.topics[i].Subscribe()
		if err != nil {
			b.Fatal(err)
		}
		go func() {
			for {
				m, err := sub.Next(r.ctx)
				if err != nil {
					return
				}
				at := time.Now()
				h := sha256.Sum256(m.Data)
				r.tr.arrive(string(h[:]), i, at)
			}
		}()
	}
	r.start = time.Since(t0)
	return r
}

// measure times the variant's messages one at a time, then stops its
// routers.
func (r *mockRun) measure(b *testing.B, edges [][2]int, warm int, rng *mrand.Rand) propRow {
	defer r.cancel()
	v, topics, tr, meshes := r.v, r.topics, r.tr, r.meshes
	drops := &r.drops
	n := len(topics)
	t0 := time.Now()
	row := propRow{mesh: v.name, nodes: n, edges: len(edges)}
	ctx := r.ctx
	deg := make([]int, n)
	for _, e := range edges {
		deg[e[0]]++
		deg[e[1]]++
	}
	deadline := time.Now().Add(2 * time.Minute)
	for i := range n {
		for len(topics[i].ListPeers()) < min(deg[i], 6) {
			if time.Now().After(deadline) {
				b.Fatalf("%s: host %d has %d topic peers of %d links", v.name, i, len(topics[i].ListPeers()), deg[i])
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	time.Sleep(3 * time.Second) // heartbeats: grafts settle
	if os.Getenv("COURTMESH_BENCH_VERBOSE") != "" {
		var sizes []int
		for _, m := range meshes {
			sizes = append(sizes, m.size())
		}
		slices.Sort(sizes)
		fmt.Printf("  mesh sizes: min %d p10 %d median %d max %d; RPCs dropped so far %d\n", sizes[0], sizes[len(sizes)/10], sizes[len(sizes)/2], sizes[len(sizes)-1], drops.Load())
	}
	row.setup = time.Since(t0)
	row.heapMiB, row.gor = heapMiB(), runtime.NumGoroutine()
	b.Logf("%s n=%d: routers started in %v, mesh ready %v after connecting; heap %.0f MiB, %d goroutines",
		v.name, n, r.start.Round(time.Millisecond), row.setup.Round(time.Millisecond), row.heapMiB, row.gor)

	send := func(k int) (time.Duration, bool) {
		src := rng.IntN(n)
		h := sha256.Sum256(v.msgs[k])
		start := time.Now()
		if err := topics[src].Publish(ctx, v.msgs[k]); err != nil {
			b.Fatal(err)
		}
		d, got, ok := tr.wait(string(h[:]), start, 30*time.Second)
		if !ok {
			b.Logf("%s: message %d reached %d of %d hosts in 30 s", v.name, k, got, n)
		}
		return d, ok
	}
	for k := range warm {
		send(k)
		time.Sleep(200 * time.Millisecond)
	}
	row.idle = idleCPU()
	setupDrops := drops.Load()
	cpu0, w0 := cpuTime(), time.Now()
	for k := warm; k < len(v.msgs); k++ {
		if d, ok := send(k); ok {
			row.lat = append(row.lat, d)
		} else {
			row.missed++
		}
		time.Sleep(time.Duration(100+rng.IntN(100)) * time.Millisecond)
	}
	row.cpu, row.wall = cpuTime()-cpu0, time.Since(w0)
	row.offers = len(row.lat)
	row.drops, row.vdrops = drops.Load(), r.vdrops.Load()
	b.Logf("%s n=%d: RPCs dropped: %d before the timed messages (mesh formation, warm-up), %d during them; carrying messages %d, control %d, subscriptions %d",
		v.name, n, setupDrops, row.drops-setupDrops, r.kinds[0].Load(), r.kinds[1].Load(), r.kinds[2].Load())
	b.Logf("%s n=%d: %d messages, p50 %v p99 %v max %v; CPU %v over %v, idle %.2f cores; %d RPCs dropped, %d messages dropped before validation", v.name, n, row.offers,
		pct(row.lat, 50).Round(time.Millisecond), pct(row.lat, 99).Round(time.Millisecond), pct(row.lat, 100).Round(time.Millisecond),
		row.cpu.Round(time.Millisecond), row.wall.Round(time.Millisecond), row.idle, row.drops, row.vdrops)
	return row
}

// meshTracer counts a router's mesh peers (grafts minus prunes), the
// RPCs it dropped (DropRPC: a peer's outbound queue was full, or the
// router had no queue for the peer it sent to), and the
// messages it dropped unvalidated because its validation queue was full
// or validation was throttled.
type meshTracer struct {
	mu     sync.Mutex
	mesh   map[peer.ID]bool
	drops  *atomic.Int64
	vdrops *atomic.Int64
	kinds  *[3]atomic.Int64
}

// benchAdmitAll admits every peer: mocknet hosts have keys no bundle
// certifies.
type benchAdmitAll struct{}

func (benchAdmitAll) Admit(peer.ID) error { return nil }

func (t *meshTracer) size() int { t.mu.Lock(); defer t.mu.Unlock(); return len(t.mesh) }

func (t *meshTracer) Graft(p peer.ID, _ string) { t.mu.Lock(); t.mesh[p] = true; t.mu.Unlock() }
func (t *meshTracer) Prune(p peer.ID, _ string) { t.mu.Lock(); delete(t.mesh, p); t.mu.Unlock() }
func (t *meshTracer) DropRPC(rpc *pubsub.RPC, _ peer.ID) {
	t.drops.Add(1)
	switch {
	case len(rpc.GetPublish()) > 0:
		t.kinds[0].Add(1)
	case rpc.GetControl() != nil:
		t.kinds[1].Add(1)
	default:
		t.kinds[2].Add(1)
	}
}
func (*meshTracer) OnNewOutboundStream(peer.ID, protocol.ID) {}
func (*meshTracer) OnClosedOutboundStream(peer.ID)           {}
func (*meshTracer) Join(string)                              {}
func (*meshTracer) Leave(string)                             {}
func (*meshTracer) ValidateMessage(*pubsub.Message)          {}
func (*meshTracer) DeliverMessage(*pubsub.Message)           {}
func (t *meshTracer) RejectMessage(_ *pubsub.Message, reason string) {
	if reason == pubsub.RejectValidationQueueFull || reason == pubsub.RejectValidationThrottled {
		t.vdrops.Add(1)
	}
}
func (*meshTracer) DuplicateMessage(*pubsub.Message)                     {}
func (*meshTracer) ThrottlePeer(peer.ID)                                 {}
func (*meshTracer) RecvRPC(*pubsub.RPC)                                  {}
func (*meshTracer) SendRPC(*pubsub.RPC, peer.ID)                         {}
func (*meshTracer) SendRPCCompleted(*pubsub.RPC, peer.ID, time.Duration) {}
func (*meshTracer) UndeliverableMessage(*pubsub.Message)                 {}
