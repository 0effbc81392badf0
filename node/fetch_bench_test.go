package node_test

// BenchmarkFetch measures, in one run on loopback, the dossier fetch
// against baselines moving the same number of bytes:
//
//   - courtmesh fetch: a generated case of about COURTMESH_BENCH_MB MiB of
//     documents (default 1024) imported at 京0105, offered, decided,
//     accepted and handed over to 京0108, which then runs Node.Fetch. Two
//     rows: "chunks" ends when the last chunk is verified and stored (the
//     job leaves the running state); "end to end" ends when Fetch returns
//     (the case filed and checked by CheckFiledCase, which does not read
//     back the chunks checked on arrival, the Receipt published).
//   - raw libp2p: two hosts built exactly as a node builds its host
//     (node.NewHostForTest: TCP on 127.0.0.1, TLS preferred then Noise,
//     yamux, courtmesh's resource-manager limits), one stream, the server
//     writing the bytes (1 MiB writes from a random buffer), the client
//     reading and discarding them. It runs just before the fetch (the
//     mesh up and idle) and just after it (the mesh stopped); the ratio
//     "x raw" is against both runs together, since on a shared machine
//     the speed of the same copy can change by a factor of two from one
//     minute to the next.
//   - raw libp2p -> chunk files: the same stream, the reader storing the
//     bytes the way a fetch does (1 MiB chunks named by their SHA-256,
//     staged in storage.FileChunks's packs, committed 32 at a time with
//     fsync), on the reading goroutine, without
//     the fetch protocol: it separates the protocol's cost from the disk's.
//   - disk alone: the same bytes written to a file and fsynced every
//     32 MiB by a second goroutine, without network or hashing: what
//     this disk takes when the bytes must be durable.
//   - HTTPS: Go net/http over TLS 1.3 only (self-signed ECDSA P-256
//     certificate), HTTP/1.1, downloading a file of the same size from the
//     server's disk (page cache): once read and discarded, once written to
//     a file (no fsync).
//   - SHA-256 alone: the chunk check over the same bytes, one goroutine.
//     With the raw copy's CPU it gives the ceiling printed under the
//     table: when the raw copy keeps every core busy (as on a 2-core
//     machine running both ends), a fetch moving the same bytes and
//     hashing each chunk reaches at most raw CPU / (raw CPU + hash CPU),
//     before it stores anything.
//
// Each row's files are removed once the row is done (the mesh's stores
// when the mesh stops), so that a later row does not pay for page cache
// an earlier one still holds: on a VM, pages the guest has not touched
// lately can cost ten times more to fill than recycled ones.
//
// Under the table, two lines set the fetch's CPU against the simplest
// correct floor of the same run, the "raw libp2p stream -> chunk files"
// row: "fetch cpu / floor: <verified+stored> / <floor> = <ratio>x" and
// "fetch e2e cpu / floor: <end to end> / <floor> = <ratio>x" (CPU s/GiB
// as in the table, the mesh's idle CPU included).
//
// CPU is getrusage(RUSAGE_SELF) user+sys over the timed section: the whole
// process, so a row counts both ends (server and client) and, for the
// fetch, every node of the 7-court mesh; the mesh's idle CPU is printed so
// it can be subtracted. The mesh is stopped before the other baselines
// run.
//
//	go test ./node -run '^$' -bench Fetch -benchtime 1x
//	COURTMESH_BENCH_MB=256 go test ./node -run '^$' -bench Fetch -benchtime 1x -cpuprofile cpu.out
//
// Knobs (environment): COURTMESH_BENCH_MB (dossier size, MiB; default
// 1024), COURTMESH_BENCH_HTTPS=0 (skip the HTTPS rows, when tuning),
// COURTMESH_BENCH_S3=0 (skip the row of an origin whose chunks are in a
// real S3 server, versitygw on loopback; it imports the case again),
// TMPDIR=/dev/shm (every store in memory: the fetch without the disk),
// COURTMESH_BENCH_LINK=rate (e.g. 1gbit, 4gbit: the benchmark re-runs
// itself in a child process with a network namespace of its own, whose
// loopback tc shapes to that rate, so every row crosses a link of a known
// speed instead of a loopback bounded only by the CPU; needs root, ip
// and tc; nothing outside the namespace is touched),
// COURTMESH_BENCH_PROFILE=dir (CPU profile and execution trace of the
// fetch alone, in dir/fetch.cpu.pprof and dir/fetch.trace, and of the raw
// stream to chunk files, in dir/raw-store.*).

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/config"
	"courtmesh.dev/courtmesh/node/datadir"
	"courtmesh.dev/courtmesh/node/devmesh"
	"courtmesh.dev/courtmesh/node/nodetest"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/storage/gen"
	"courtmesh.dev/courtmesh/storage/importer"
	"courtmesh.dev/courtmesh/storage/s3test"
)

type fbRow struct {
	path  string
	bytes int64
	dur   time.Duration
	cpu   time.Duration
	note  string
}

func fbCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func fbEnvInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func BenchmarkFetch(b *testing.B) {
	size := int64(fbEnvInt("COURTMESH_BENCH_MB", 1024)) << 20
	if link := os.Getenv("COURTMESH_BENCH_LINK"); link != "" {
		if os.Getenv(fbInNetns) == "" {
			fbInPrivateNetns(b, link)
			return
		}
		fbShapeLoopback(b, link)
	}
	for range b.N {
		fbRun(b, size)
	}
}

// fbInNetns marks the benchmark's own re-run inside the network namespace
// it made.
const fbInNetns = "COURTMESH_BENCH_IN_NETNS"

// fbInPrivateNetns runs this benchmark again in a child process that has
// a network namespace of its own (so root, ip and tc are needed), whose
// loopback the child shapes to link: every row then crosses a link of
// that rate, and nothing outside the namespace is touched.
func fbInPrivateNetns(b *testing.B, link string) {
	b.StopTimer()
	for _, tool := range []string{"ip", "tc"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Skipf("COURTMESH_BENCH_LINK needs %s (iproute2): %v", tool, err)
		}
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^BenchmarkFetch$", "-test.benchtime=1x")
	cmd.Env = append(os.Environ(), fbInNetns+"=1")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	if err := cmd.Run(); err != nil {
		b.Fatalf("the benchmark in a private network namespace: %v", err)
	}
	b.Skip("ran in a private network namespace: its table is above")
}

// fbShapeLoopback brings up the namespace's loopback and limits it to
// link with a token bucket (tbf: what every kernel has; netem, which
// would add delay, often is not built).
func fbShapeLoopback(b *testing.B, link string) {
	for _, args := range [][]string{
		{"ip", "link", "set", "lo", "up"},
		{"tc", "qdisc", "replace", "dev", "lo", "root", "tbf", "rate", link, "burst", "4mb", "latency", "100ms"},
	} {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			b.Fatalf("%v: %v: %s", args, err, out)
		}
	}
	out, _ := exec.Command("tc", "qdisc", "show", "dev", "lo").CombinedOutput()
	fbLink = fmt.Sprintf("loopback of a private network namespace, shaped to %s (%s)", link, bytes.TrimSpace(out))
}

// fbLink says what the rows run over.
var fbLink = "loopback"

func fbRun(b *testing.B, size int64) {
	b.StopTimer()
	var rows []fbRow

	// ---- the mesh, the case, the handover
	t0 := time.Now()
	fm := fbStartMesh(b)
	b.Logf("mesh of %d nodes up in %v", len(fm.nodes), time.Since(t0).Round(time.Millisecond))
	t0 = time.Now()
	cn, docBytes := fbBigCase(b, fm.as(b, "京0105"), size)
	b.Logf("case %s: %d MiB of documents generated and imported in %v", cn, docBytes>>20, time.Since(t0).Round(time.Millisecond))
	t0 = time.Now()
	id := fm.handOver(b, cn)
	b.Logf("transfer %s handed over in %v", id, time.Since(t0).Round(time.Millisecond))
	recv := fm.as(b, "京0108")
	origin := fm.as(b, "京0105")
	runtime.GC()
	c0, w0 := fbCPU(), time.Now()
	time.Sleep(time.Second)
	idle := float64(fbCPU()-c0) / float64(time.Since(w0))

	// ---- (0) the raw stream just before the fetch: with the one after
	// it, the baseline brackets the fetch.
	rawBefore := fbRawLibp2p(b, size, false)
	rawBefore.path = "raw libp2p stream, just before the fetch"
	runtime.GC()

	// ---- (1) the fetch
	type mark struct {
		at  time.Time
		cpu time.Duration
	}
	chunksDone := make(chan mark, 1)
	stopPoll := make(chan struct{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	stopProf := fbProfile(b, "fetch")
	b.StartTimer()
	cpu0, start := fbCPU(), time.Now()
	go func() {
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopPoll:
				return
			case <-tick.C:
			}
			if p, ok := recv.Fetcher().Status(id); ok && p.State != "running" {
				chunksDone <- mark{time.Now(), fbCPU()}
				return
			}
		}
	}()
	p, err := recv.Fetcher().Fetch(ctx, id)
	end, cpu1 := time.Now(), fbCPU()
	b.StopTimer()
	stopProf()
	close(stopPoll)
	if err != nil {
		b.Fatal(err)
	}
	var cd mark
	select {
	case cd = <-chunksDone:
	default:
		cd = mark{end, cpu1}
	}
	sec := "?"
	if conns := recv.Host().Network().ConnsToPeer(origin.PeerID()); len(conns) > 0 {
		sec = string(conns[0].ConnState().Security) + "+" + string(conns[0].ConnState().StreamMultiplexer)
	}
	rows = append(rows,
		fbRow{"courtmesh fetch: chunks verified+stored", p.Bytes, cd.at.Sub(start), cd.cpu - cpu0,
			fmt.Sprintf("%d chunks from %v over %s", p.Fetched, p.Sources, sec)},
		fbRow{"courtmesh fetch: end to end (+file, verify, receipt)", p.Bytes, end.Sub(start), cpu1 - cpu0, ""})
	b.ReportMetric(float64(p.Bytes)/cd.at.Sub(start).Seconds()/1e6, "fetch-MB/s")
	b.ReportMetric(float64(p.Bytes)/end.Sub(start).Seconds()/1e6, "fetch-e2e-MB/s")
	fm.stop()
	runtime.GC()

	// ---- (2) raw libp2p stream, same transport: discarded, then stored
	rawAfter := fbRawLibp2p(b, p.Bytes, false)
	rawAfter.path = "raw libp2p stream, just after the fetch"
	rows = append(rows, rawBefore, rawAfter)
	runtime.GC()
	floor := fbRawLibp2p(b, p.Bytes, true)
	rows = append(rows, floor)
	runtime.GC()
	rows = append(rows, fbDisk(b, p.Bytes))
	runtime.GC()
	hash := fbHash(b, p.Bytes)
	rows = append(rows, hash)

	// ---- (3) HTTPS download of a file of the same size
	if os.Getenv("COURTMESH_BENCH_HTTPS") != "0" {
		rows = append(rows, fbHTTPS(b, p.Bytes)...)
	}

	// ---- (4) the same fetch from an origin whose chunks are in an
	// S3-compatible object store (versitygw on loopback)
	if os.Getenv("COURTMESH_BENCH_S3") != "0" {
		rows = append(rows, fbS3Fetch(b, size))
		runtime.GC()
	}

	// The baseline: both raw runs together (their bytes over their time).
	rawRate := float64(rawBefore.bytes+rawAfter.bytes) / (rawBefore.dur + rawAfter.dur).Seconds()
	b.ReportMetric(rawRate/1e6, "raw-MB/s")
	b.ReportMetric((float64(p.Bytes)/cd.at.Sub(start).Seconds())/rawRate, "fetch/raw")

	w := os.Stdout
	fmt.Fprintf(w, "\nBenchmarkFetch: %d MiB dossier, %s, GOMAXPROCS=%d, %d CPUs; mesh idle CPU %.3f cores (included in the fetch rows)\n",
		size>>20, fbLink, runtime.GOMAXPROCS(0), runtime.NumCPU(), idle)
	fmt.Fprintf(w, "x raw: against both raw runs together (%.1f MB/s), which bracket the fetch\n", rawRate/1e6)
	fmt.Fprintf(w, "%-54s | %13s | %8s | %8s | %8s | %9s\n", "path", "bytes", "seconds", "MB/s", "x raw", "CPU s/GiB")
	fmt.Fprintf(w, "%s\n", "-------------------------------------------------------+---------------+----------+----------+----------+----------")
	for _, r := range rows {
		rate := float64(r.bytes) / r.dur.Seconds()
		fmt.Fprintf(w, "%-54s | %13d | %8.3f | %8.1f | %8.2f | %9.3f\n", r.path, r.bytes, r.dur.Seconds(), rate/1e6, rate/rawRate,
			r.cpu.Seconds()/(float64(r.bytes)/(1<<30)))
	}
	for _, r := range rows {
		if r.note != "" {
			fmt.Fprintf(w, "  %s: %s\n", r.path, r.note)
		}
	}
	// The ceiling the required work sets when the raw copy is CPU-bound:
	// a fetch moves the same bytes over the same transport (the raw
	// copy's CPU) and must hash every chunk before storing it (the SHA-256
	// row's CPU), so it can reach at most their ratio, before it writes a
	// byte.
	perGiB := func(r fbRow) float64 { return r.cpu.Seconds() / (float64(r.bytes) / (1 << 30)) }
	rawCPU := (rawBefore.cpu + rawAfter.cpu).Seconds() / (float64(rawBefore.bytes+rawAfter.bytes) / (1 << 30))
	fmt.Fprintf(w, "the raw copy kept %.2f of %d cores busy (CPU s/GiB x GiB/s); if that is all of them, a fetch that also hashes each chunk\n"+
		"  can reach at most raw CPU / (raw CPU + SHA-256 CPU) = %.3f / (%.3f + %.3f) = %.2fx raw, before it stores a byte\n",
		rawCPU*rawRate/(1<<30), runtime.GOMAXPROCS(0), rawCPU, rawCPU, perGiB(hash), rawCPU/(rawCPU+perGiB(hash)))
	// The fetch's CPU against the simplest correct floor in the same run
	// (the raw stream stored as chunk files: hash, stage, commit), both
	// as printed in the table (the fetch rows include the mesh's idle
	// CPU).
	vs, e2e := rows[0], rows[1]
	fmt.Fprintf(w, "fetch cpu / floor: %.3f / %.3f = %.2fx\n", perGiB(vs), perGiB(floor), perGiB(vs)/perGiB(floor))
	fmt.Fprintf(w, "fetch e2e cpu / floor: %.3f / %.3f = %.2fx\n", perGiB(e2e), perGiB(floor), perGiB(e2e)/perGiB(floor))
	b.ReportMetric(perGiB(vs)/perGiB(floor), "cpu/floor")
	b.ReportMetric(perGiB(e2e)/perGiB(floor), "e2e-cpu/floor")
	fmt.Fprintln(w)
}

// fbProfile starts, if COURTMESH_BENCH_PROFILE names a directory, a CPU
// profile (fetch.cpu.pprof; not with -cpuprofile) and an execution trace
// (fetch.trace) of the fetch alone.
func fbProfile(b testing.TB, name string) (stop func()) {
	dir := os.Getenv("COURTMESH_BENCH_PROFILE")
	if dir == "" {
		return func() {}
	}
	var stops []func()
	if f, err := os.Create(filepath.Join(dir, name+".cpu.pprof")); err == nil {
		if err := pprof.StartCPUProfile(f); err == nil {
			stops = append(stops, func() { pprof.StopCPUProfile(); f.Close() })
		} else {
			b.Logf("no fetch CPU profile: %v", err)
			f.Close()
		}
	}
	if f, err := os.Create(filepath.Join(dir, name+".trace")); err == nil {
		if err := trace.Start(f); err == nil {
			stops = append(stops, func() { trace.Stop(); f.Close() })
		} else {
			f.Close()
		}
	}
	return func() {
		for _, s := range stops {
			s()
		}
	}
}

// ---------------------------------------------------------------- mesh

type fbMesh struct {
	dir   string // removed by stop: its page cache is freed for the next rows
	nodes []*node.Node
	by    map[court.CourtCode]*node.Node
	stops []func()
	n     int
}

func (m *fbMesh) as(b testing.TB, c court.CourtCode) *node.Node {
	n, ok := m.by[c]
	if !ok {
		b.Fatalf("no court %s", c)
	}
	return n
}

// stop stops every node and removes their stores (idempotent); Cleanup
// calls it too.
func (m *fbMesh) stop() {
	for _, s := range m.stops {
		s()
	}
	m.stops = nil
	os.RemoveAll(m.dir)
}

// fbStartMesh is startCourts(scenarioCourts()) for a testing.TB.
func fbStartMesh(b testing.TB) *fbMesh { return fbStartMeshSuite(b, crypto.SuiteV1) }

// fbStartMeshSuite is fbStartMesh for a mesh of the given suite.
func fbStartMeshSuite(b testing.TB, suite crypto.Suite) *fbMesh {
	return fbStartMeshWith(b, suite, nil)
}

// fbStartMeshWith is fbStartMeshSuite with a hook that changes a court's
// configuration before its node starts.
func fbStartMeshWith(b testing.TB, suite crypto.Suite, configure func(court.CourtCode, *config.Config)) *fbMesh {
	dir := b.TempDir()
	m, err := devmesh.BuildSuite(dir, scenarioCourts(), time.Now(), suite)
	if err != nil {
		b.Fatal(err)
	}
	fm := &fbMesh{by: map[court.CourtCode]*node.Node{}, dir: dir}
	b.Cleanup(fm.stop)
	for i, d := range m.Dirs {
		cfg, err := config.Load(d.Path(datadir.ConfigFile))
		if err != nil {
			b.Fatal(err)
		}
		cfg.SyncInterval.Duration = time.Second
		if configure != nil {
			configure(m.Courts[i].Code, &cfg)
		}
		o := node.Options{Dir: d, Config: &cfg}
		fm.serve(b, o, m.Courts[i].Code)
	}
	for i, a := range fm.nodes {
		for _, c := range fm.nodes[i+1:] {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := a.Host().Connect(ctx, peer.AddrInfo{ID: c.PeerID(), Addrs: c.Host().Addrs()})
			cancel()
			if err != nil {
				b.Fatalf("connect: %v", err)
			}
		}
	}
	return fm
}

// fbBigCase generates one case whose documents total about size bytes and
// imports it into n's store.
func fbBigCase(b testing.TB, n *node.Node, size int64) (court.CaseNumber, int64) {
	const seed = 11
	dry, err := gen.Generate(filepath.Join(b.TempDir(), "dry"), gen.Options{Cases: 1, Seed: seed, Court: "京0105"})
	if err != nil {
		b.Fatal(err)
	}
	docSize := size / int64(dry[0].Documents)
	cs, err := gen.Generate(filepath.Join(b.TempDir(), "cases"), gen.Options{Cases: 1, Seed: seed, Court: "京0105", DocSize: docSize})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := importer.Import(context.Background(), n.Store(), cs[0].Dir, importer.Options{}); err != nil {
		b.Fatal(err)
	}
	os.RemoveAll(filepath.Dir(cs[0].Dir))
	return cs[0].Number, cs[0].Bytes
}

func (m *fbMesh) everywhere(b testing.TB, id court.TransferID, state cmproto.State) {
	deadline := time.Now().Add(time.Minute)
	for {
		ok := true
		for _, n := range m.nodes {
			if tr, err := n.Workflow().Transfer(id); err != nil || tr.State != state {
				ok = false
				break
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("transfer %s not %s on every node", id, state)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// handOver is scenario.handedOver for a testing.TB.
func (m *fbMesh) handOver(b testing.TB, cn court.CaseNumber) court.TransferID {
	ctx := context.Background()
	m.n++
	ok := func(tr *cmproto.Transfer, err error) *cmproto.Transfer {
		if err != nil {
			b.Fatal(err)
		}
		return tr
	}
	tr := ok(m.as(b, "京0105").Workflow().Offer(ctx, api.OfferRequest{CaseNumber: cn.String(), Superior: "京01", Grounds: []string{"long_unexecuted"}}))
	m.everywhere(b, tr.ID, cmproto.StateOffered)
	ok(m.as(b, "京01").Workflow().Decide(ctx, tr.ID, api.DecideRequest{Mode: "designated", Receiver: "京0108", DecisionNumber: "（2026）京01执监11号"}))
	m.everywhere(b, tr.ID, cmproto.StateDecided)
	ok(m.as(b, "京0108").Workflow().Accept(ctx, tr.ID, api.AcceptRequest{NewCaseNumber: nodetest.CaseNo(time.Now(), "京0108", court.TypeEnforcement, 900+m.n)}))
	m.everywhere(b, tr.ID, cmproto.StateAccepted)
	ok(m.as(b, "京0105").Workflow().Handover(ctx, tr.ID, api.HandoverRequest{OverrideReason: "基准测试：续行已办理"}))
	m.everywhere(b, tr.ID, cmproto.StateHandedOver)
	return tr.ID
}

// fbS3Fetch imports a case of size bytes into an origin whose chunk store
// is a real S3 server (versitygw serving a temporary folder on loopback)
// and times 京0108's fetch of it, end to end. The CPU column is this
// process's only: the S3 server's is not counted.
func fbS3Fetch(b *testing.B, size int64) fbRow {
	srv := s3test.Start(b)
	creds := filepath.Join(b.TempDir(), "s3.credentials")
	if err := os.WriteFile(creds, []byte("access_key = \""+srv.Opts.AccessKey+"\"\nsecret_key = \""+srv.Opts.SecretKey+"\"\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	plain := false
	fm := fbStartMeshWith(b, crypto.SuiteV1, func(c court.CourtCode, cfg *config.Config) {
		if c == "京0105" {
			cfg.ChunkStore = config.ChunkStore{Kind: "s3", Endpoint: srv.Addr(), TLS: &plain, Region: srv.Opts.Region,
				Bucket: srv.Opts.Bucket, Prefix: "c0105/", CredentialsFile: creds}
		}
	})
	defer fm.stop()
	t0 := time.Now()
	cn, _ := fbBigCase(b, fm.as(b, "京0105"), size)
	imp := time.Since(t0)
	id := fm.handOver(b, cn)
	recv := fm.as(b, "京0108")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	runtime.GC()
	cpu0, start := fbCPU(), time.Now()
	p, err := recv.Fetcher().Fetch(ctx, id)
	end, cpu1 := time.Now(), fbCPU()
	if err != nil {
		b.Fatal(err)
	}
	return fbRow{"courtmesh fetch, S3-backed origin: end to end", p.Bytes, end.Sub(start), cpu1 - cpu0,
		fmt.Sprintf("%d chunks; origin's chunks in versitygw %s on loopback (its CPU not counted); import into it took %v", p.Fetched, s3test.Version, imp.Round(time.Millisecond))}
}

// serve starts a node of the mesh with o, waits until it is ready and
// adds it to fm (stopped by fm's stops).
func (fm *fbMesh) serve(b testing.TB, o node.Options, code court.CourtCode) {
	b.Helper()
	n, err := node.New(o)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Serve(ctx) }()
	fm.stops = append(fm.stops, func() { cancel(); <-done })
	select {
	case <-n.Ready():
	case err := <-done:
		b.Fatalf("node stopped: %v", err)
	case <-time.After(20 * time.Second):
		b.Fatal("node not ready")
	}
	fm.nodes = append(fm.nodes, n)
	fm.by[code] = n
}
