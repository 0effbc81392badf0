package node_test

// BenchmarkOfferPropagation measures how long a transfer offer takes to
// reach every node of a mesh:
//
//   - tcp50: 50 full courtmesh nodes (Badger store, trust, gater, the real
//     transfers validator that decodes, verifies and stores the record) on
//     127.0.0.1 TCP in this process; "reached" means the node's store holds
//     the transfer (the transfer service's onChange hook fired).
//   - mocknet1000, mocknet3500: bare libp2p hosts on the in-memory mocknet
//     running gossipsub built by mesh.NewPubSub (the node's options and
//     queue sizes; every peer admitted) and a validator doing the
//     per-message work a node does before relaying (protocol.DecodeRecord:
//     envelope, signature against the trust bundle, body checks), but no
//     store write; "reached" means every host's subscription delivered it.
//     In the same run, on the same topology, a baseline of plain 1 KiB
//     random payloads with default gossipsub options and no validator.
//
// Each mocknet size prints "mocknet<n> dropped: <count> (...)": the RPCs
// the courtmesh routers dropped (a full per-peer outbound queue, or no
// queue for the peer) and the
// messages they dropped unvalidated on a full validation queue or
// throttle, over the whole run (mesh formation included); the baseline's
// in brackets.
//
// Each offer is timed on its own (published one at a time, the next after
// the previous reached everybody); the benchmark reports p50 and p99 of
// the time to reach ALL nodes, and prints a table.
//
//	go test -bench OfferPropagation -run '^$' ./node -benchtime 1x
//
// Knobs (environment):
//
//	COURTMESH_BENCH_OFFERS   offers timed per mesh (default 50)
//	COURTMESH_BENCH_DEGREE   peers each node dials (default 8)
//	COURTMESH_BENCH_SIZES    mocknet sizes (default "1000"; the 3,500-host
//	                         mesh is opt-in: "1000,3500", and needs
//	                         -timeout 40m on this 2-core machine)
//	COURTMESH_BENCH_VERBOSE  print each message's arrival spread and the
//	                         gossipsub mesh sizes
//	COURTMESH_BENCH_GOSSIP   gossipsub overrides for the courtmesh mocknet
//	                         variant, e.g. "D=8,Dlo=6,Dhi=12,heartbeat=500ms,
//	                         flood=false,workers=4,inline=false" (tuning)
//	COURTMESH_BENCH_ONLY     run only mocknet variants named here
//	                         ("baseline", "courtmesh", "nocheck")

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/devmesh"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
	"courtmesh.dev/courtmesh/storage/gen"
	"courtmesh.dev/courtmesh/storage/importer"
)

// ---------------------------------------------------------------- table

type propRow struct {
	mesh    string
	nodes   int
	edges   int
	offers  int // offers that reached everybody
	missed  int // offers that did not reach everybody in time
	lat     []time.Duration
	base    []time.Duration // baseline (mocknet only)
	setup   time.Duration
	cpu     time.Duration // process CPU during the timed offers
	wall    time.Duration // wall time of the timed offers
	idle    float64       // process CPU (cores) with the mesh idle
	heapMiB float64
	gor     int
	msgSize int
	drops   int64 // RPCs dropped: full peer queue or none for the peer (whole run)
	vdrops  int64 // messages dropped on a full validation queue or throttle (whole run)
	bdrops  int64 // the baseline's drops, both kinds
	load    string
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// pct is the p-th percentile (nearest rank) of ds.
func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(p/100*float64(len(s))+0.999999) - 1
	return s[max(0, min(i, len(s)-1))]
}

func ms(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
}

func printTable(rows []propRow) {
	var b strings.Builder
	b.WriteString("\n| mesh | nodes | links | offers | p50 | p99 | max | baseline p50 | baseline p99 | ratio p99 | CPU/offer (net of idle) | idle CPU | heap | goroutines | load avg |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		ratio := "-"
		if len(r.base) > 0 && len(r.lat) > 0 {
			ratio = fmt.Sprintf("%.2fx", float64(pct(r.lat, 99))/float64(pct(r.base, 99)))
		}
		offers := strconv.Itoa(r.offers)
		if r.missed > 0 {
			offers += fmt.Sprintf(" (+%d missed)", r.missed)
		}
		cpu := "-"
		if r.offers > 0 {
			net := float64(r.cpu) - r.idle*float64(r.wall)
			cpu = fmt.Sprintf("%.0f ms", max(0, net)/float64(time.Millisecond)/float64(r.offers))
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %s | %s | %s | %s | %s | %s | %s | %s | %.2f cores | %.0f MiB | %d | %s |\n",
			r.mesh, r.nodes, r.edges, offers, ms(pct(r.lat, 50)), ms(pct(r.lat, 99)), ms(pct(r.lat, 100)),
			ms(pct(r.base, 50)), ms(pct(r.base, 99)), ratio, cpu, r.idle, r.heapMiB, r.gor, r.load)
	}
	fmt.Println(b.String())
}

// ---------------------------------------------------------------- tracking

// tracker records, per message key, when each node got it. A key may see
// arrivals before it is registered (a node's own offer is stored before
// Offer returns the transfer ID), so both sides create the entry.
type tracker struct {
	n  int
	mu sync.Mutex
	m  map[string]*track
}

type track struct {
	start time.Time
	seen  map[int]time.Time
	done  chan struct{}
}

func newTracker(n int) *tracker { return &tracker{n: n, m: map[string]*track{}} }

func (t *tracker) get(key string) *track {
	tr, ok := t.m[key]
	if !ok {
		tr = &track{seen: make(map[int]time.Time, t.n), done: make(chan struct{})}
		t.m[key] = tr
	}
	return tr
}

func (t *tracker) arrive(key string, node int, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	tr := t.get(key)
	if _, dup := tr.seen[node]; dup {
		return
	}
	tr.seen[node] = at
	if len(tr.seen) == t.n {
		close(tr.done)
	}
}

// wait registers key as sent at start and waits until every node has it;
// it returns the time to the last arrival, or false after timeout.
func (t *tracker) wait(key string, start time.Time, timeout time.Duration) (time.Duration, int, bool) {
	t.mu.Lock()
	tr := t.get(key)
	tr.start = start
	t.mu.Unlock()
	select {
	case <-tr.done:
	case <-time.After(timeout):
		t.mu.Lock()
		got := len(tr.seen)
		t.mu.Unlock()
		return 0, got, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var last time.Time
	for _, at := range tr.seen {
		if at.After(last) {
			last = at
		}
	}
	if os.Getenv("COURTMESH_BENCH_VERBOSE") != "" {
		ds := make([]time.Duration, 0, len(tr.seen))
		for _, at := range tr.seen {
			ds = append(ds, at.Sub(start))
		}
		fmt.Printf("  arrivals: 50%% %v 90%% %v 99%% %v 100%% %v\n", pct(ds, 50).Round(time.Millisecond), pct(ds, 90).Round(time.Millisecond), pct(ds, 99).Round(time.Millisecond), pct(ds, 100).Round(time.Millisecond))
	}
	return last.Sub(start), t.n, true
}

// ---------------------------------------------------------------- topology

// randomEdges links each of n nodes to degree random others (so the
// average degree is about 2*degree), and makes sure the graph is
// connected.
func randomEdges(n, degree int, rng *mrand.Rand) [][2]int {
	seen := map[[2]int]bool{}
	var out [][2]int
	add := func(a, b int) {
		if a == b {
			return
		}
		k := [2]int{min(a, b), max(a, b)}
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	for i := range n {
		for _, j := range rng.Perm(n)[:min(degree+1, n)] {
			if j != i && len(out) < 1<<30 {
				add(i, j)
			}
		}
	}
	// Union-find: join any stray component to node 0's.
	parent := make([]int, n)
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(x int) int {
		for parent[x] != x {
			parent[x] = parent[parent[x]]
			x = parent[x]
		}
		return x
	}
	for _, e := range out {
		parent[find(e[0])] = find(e[1])
	}
	for i := 1; i < n; i++ {
		if find(i) != find(0) {
			add(0, i)
			parent[find(i)] = find(0)
		}
	}
	return out
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// idleCPU is the process CPU, in cores, over a quiet second.
func idleCPU() float64 {
	c0, t0 := cpuTime(), time.Now()
	time.Sleep(2 * time.Second)
	return float64(cpuTime()-c0) / float64(time.Since(t0))
}

// loadavg is the 1-minute load average: the machine is shared, and other
// processes' load stretches the latencies (not the CPU per offer).
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

func heapMiB() float64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapInuse) / (1 << 20)
}

// ---------------------------------------------------------------- benchmark

func BenchmarkOfferPropagation(b *testing.B) {
	offers := envInt("COURTMESH_BENCH_OFFERS", 50)
	degree := envInt("COURTMESH_BENCH_DEGREE", 8)
	sizes := []int{1000}
	if s := os.Getenv("COURTMESH_BENCH_SIZES"); s != "" {
		sizes = nil
		for _, f := range strings.Split(s, ",") {
			if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil && n > 1 {
				sizes = append(sizes, n)
			}
		}
	}
	var rows []propRow
	b.Run("tcp50", func(b *testing.B) {
		l0 := loadavg()
		r := benchTCP(b, 50, offers, degree)
		r.load = l0 + "→" + loadavg()
		rows = append(rows, r)
		b.ReportMetric(float64(pct(r.lat, 50))/1e6, "p50-ms")
		b.ReportMetric(float64(pct(r.lat, 99))/1e6, "p99-ms")
	})
	for _, n := range sizes {
		b.Run(fmt.Sprintf("mocknet%d", n), func(b *testing.B) {
			l0 := loadavg()
			r := benchMocknet(b, n, offers, degree)
			r.load = l0 + "→" + loadavg()
			rows = append(rows, r)
			b.ReportMetric(float64(pct(r.lat, 50))/1e6, "p50-ms")
			b.ReportMetric(float64(pct(r.lat, 99))/1e6, "p99-ms")
			if len(r.base) > 0 {
				b.ReportMetric(float64(pct(r.base, 50))/1e6, "base-p50-ms")
				b.ReportMetric(float64(pct(r.base, 99))/1e6, "base-p99-ms")
			}
		})
	}
	if len(rows) > 0 {
		printTable(rows)
	}
}

// ---------------------------------------------------------------- tcp50

// benchCourts is the SPC (operator), the Beijing high court, 京01 and
// basic courts 京0101, 京0102, ... under 京01, n in all.
func benchCourts(n int) []devmesh.Court {
	cs := []devmesh.Court{
		{Code: court.Supreme, Roles: []crypto.Role{crypto.RoleCourt, crypto.RoleOperator}},
		{Code: "京", Roles: []crypto.Role{crypto.RoleCourt}},
		{Code: "京01", Roles: []crypto.Role{crypto.RoleCourt}},
	}
	for i := 1; len(cs) < n; i++ {
		cs = append(cs, devmesh.Court{Code: court.CourtCode(fmt.Sprintf("京01%02d", i)), Parent: "京01", Roles: []crypto.Role{crypto.RoleCourt}})
	}
	return cs
}

func benchTCP(b *testing.B, n, offers, degree int) propRow {
	t0 := time.Now()
	row := propRow{mesh: "tcp (full nodes)", nodes: n}
	m, err := devmesh.Build(b.TempDir(), benchCourts(n), time.Now())
	if err != nil {
		b.Fatal(err)
	}
	tr := newTracker(n)
	nodes := make([]*node.Node, n)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	for i, d := range m.Dirs {
		nd, err := node.New(node.Options{Dir: d, OnTransferChange: func(t *cmproto.Transfer) {
			if t.State == cmproto.StateOffered {
				tr.arrive(string(t.ID), i, time.Now())
			}
		}})
		if err != nil {
			b.Fatal(err)
		}
		nodes[i] = nd
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := nd.Serve(ctx); err != nil {
				b.Errorf("serve %s: %v", m.Courts[i].Code, err)
			}
		}()
		select {
		case <-nd.Ready():
		case <-time.After(20 * time.Second):
			b.Fatalf("node %d not ready", i)
		}
	}

	// Cases: each offer goes to a random basic court; give each court the
	// cases it needs (plus spares: an offer of a case filed under 6 months
	// ago is refused locally) before any timing.
	rng := mrand.New(mrand.NewPCG(1, 2))
	const warm = 2
	origin := make([]int, offers+warm)
	need := map[int]int{}
	for k := range origin {
		origin[k] = 3 + rng.IntN(n-3)
		need[origin[k]]++
	}
	cases := map[int][]string{}
	for i, k := range need {
		code := m.Courts[i].Code
		cs, err := gen.Generate(filepath.Join(b.TempDir(), string(code)), gen.Options{Cases: k + 3, Seed: uint64(i), Court: code})
		if err != nil {
			b.Fatal(err)
		}
		for _, c := range cs {
			if _, err := importer.Import(ctx, nodes[i].Store(), c.Dir, importer.Options{}); err != nil {
				b.Fatal(err)
			}
			cases[i] = append(cases[i], c.Number.String())
		}
	}

	edges := randomEdges(n, degree, rng)
	row.edges = len(edges)
	for _, e := range edges {
		a, c := nodes[e[0]], nodes[e[1]]
		cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
		err := a.Host().Connect(cctx, peer.AddrInfo{ID: c.PeerID(), Addrs: c.Host().Addrs()})
		ccancel()
		if err != nil {
			b.Fatalf("connect %d -> %d: %v", e[0], e[1], err)
		}
	}
	// The mesh: every node knows at least min(its degree, D=6) peers on
	// the transfers topic, then a few heartbeats to graft.
	deg := make([]int, n)
	for _, e := range edges {
		deg[e[0]]++
		deg[e[1]]++
	}
	deadline := time.Now().Add(30 * time.Second)
	for i, nd := range nodes {
		for node.TransferTopicPeersForTest(nd) < min(deg[i], 6) {
			if time.Now().After(deadline) {
				b.Fatalf("node %d has %d topic peers of %d connections", i, node.TransferTopicPeersForTest(nd), deg[i])
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	time.Sleep(3 * time.Second)
	row.setup = time.Since(t0)
	row.heapMiB, row.gor = heapMiB(), runtime.NumGoroutine()

	offer := func(k int) (time.Duration, bool) {
		i := origin[k]
		for len(cases[i]) > 0 {
			cn := cases[i][0]
			cases[i] = cases[i][1:]
			start := time.Now()
			t, err := nodes[i].Workflow().Offer(ctx, api.OfferRequest{CaseNumber: cn, Superior: "京01", Grounds: []string{"long_unexecuted"}})
			if err != nil {
				b.Logf("offer %s by %s refused locally (next case): %v", cn, m.Courts[i].Code, err)
				continue
			}
			d, got, ok := tr.wait(string(t.ID), start, 30*time.Second)
			if !ok {
				b.Logf("offer %s reached %d of %d nodes in 30 s", t.ID, got, n)
			}
			return d, ok
		}
		b.Fatalf("court %s ran out of cases", m.Courts[i].Code)
		return 0, false
	}
	for k := range warm {
		offer(k)
		time.Sleep(100 * time.Millisecond)
	}
	row.idle = idleCPU()
	cpu0, w0 := cpuTime(), time.Now()
	b.ResetTimer()
	for k := warm; k < len(origin); k++ {
		if d, ok := offer(k); ok {
			row.lat = append(row.lat, d)
		} else {
			row.missed++
		}
		time.Sleep(time.Duration(50+rng.IntN(100)) * time.Millisecond)
	}
	b.StopTimer()
	row.cpu, row.wall = cpuTime()-cpu0, time.Since(w0)
	row.offers = len(row.lat)
	b.Logf("tcp%d: %d links, setup %v, %d offers, p50 %v p99 %v, CPU %v, heap %.0f MiB, %d goroutines",
		n, len(edges), row.setup.Round(time.Millisecond), row.offers, pct(row.lat, 50), pct(row.lat, 99), row.cpu.Round(time.Millisecond), row.heapMiB, row.gor)
	return row
}

// ---------------------------------------------------------------- mocknet

// gossipTuning parses COURTMESH_BENCH_GOSSIP into extra options for the
// courtmesh variant, and whether the validator runs inline.
func gossipTuning(b *testing.B) (opts []pubsub.Option, inline bool, desc string) {
	s := os.Getenv("COURTMESH_BENCH_GOSSIP")
	inline = true
	if s == "" {
		return nil, inline, ""
	}
	p := pubsub.DefaultGossipSubParams()
	setParams := false
	for _, kv := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		atoi := func() int {
			n, err := strconv.Atoi(v)
			if err != nil {
				b.Fatalf("COURTMESH_BENCH_GOSSIP %s: %v", kv, err)
			}
			return n
		}
		switch k {
		case "D":
			p.D, setParams = atoi(), true
		case "Dlo":
			p.Dlo, setParams = atoi(), true
		case "Dhi":
			p.Dhi, setParams = atoi(), true
		case "Dlazy":
			p.Dlazy, setParams = atoi(), true
		case "Dout":
			p.Dout, setParams = atoi(), true
		case "heartbeat":
			d, err := time.ParseDuration(v)
			if err != nil {
				b.Fatal(err)
			}
			p.HeartbeatInterval, setParams = d, true
		case "flood":
			opts = append(opts, pubsub.WithFloodPublish(v == "true"))
		case "workers":
			opts = append(opts, pubsub.WithValidateWorkers(atoi()))
		case "inline":
			inline = v == "true"
		default:
			b.Fatalf("COURTMESH_BENCH_GOSSIP: unknown knob %q", k)
		}
	}
	if setParams {
		opts = append(opts, pubsub.WithGossipSubParams(p))
	}
	return opts, inline, s
}

// signedOffers makes count offer records signed by a few basic courts of
// a small devmesh, and the trust view that verifies them.
func signedOffers(b *testing.B, count int) ([][]byte, *crypto.Trust) {
	m, err := devmesh.Build(b.TempDir(), benchCourts(7), time.Now())
	if err != nil {
		b.Fatal(err)
	}
	trust := crypto.NewTrust(m.CA.Root, m.Bundle)
	now := time.Now()
	filed := court.DateOf(now.AddDate(-1, 0, 0)).String()
	var out [][]byte
	for k := range count {
		i := 3 + k%4 // 京0101..京0104
		nk, _, err := m.Dirs[i].Keys()
		if err != nil {
			b.Fatal(err)
		}
		code := m.Courts[i].Code
		body := &pb.Record{Body: &pb.Record_Offer{Offer: &pb.TransferOffer{
			CaseNumber: fmt.Sprintf("（2025）%s执%d号", code, 100+k), OriginCourt: string(code), SuperiorCourt: "京01",
			FiledOn: filed, Grounds: []pb.Ground{pb.Ground_GROUND_LONG_UNEXECUTED, pb.Ground_GROUND_INTERFERENCE},
			AmountOutstandingFen: 12_345_678_00, EarliestMeasureExpiry: court.DateOf(now.AddDate(0, 8, 0)).String(),
			Assets: []*pb.AssetCount{{AssetClass: string(court.AssetClasses()[0]), Count: 2}},
		}}}
		raw, err := cmproto.SealRecord(nk, m.Certs[i], uint64(k/4+1), now, court.NewTransferID(), body)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := cmproto.DecodeRecord(raw, trust, now); err != nil {
			b.Fatalf("the benchmark's offer does not validate: %v", err)
		}
		out = append(out, raw)
	}
	return out, trust
}
