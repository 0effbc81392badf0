package node_test

// BenchmarkFetch measures, in one run on loopback, the dossier fetch
// against baselines moving the same number of bytes:
//
//   - courtmesh fetch: a generated case of about COURTMESH_BENCH_MB MiB of
//     documents (default 1024) imported at 京0105, offered, decided,
//     accepted and handed over to 京0108, which then runs Node.Fetch. Two
//     rows: "chunks" ends when the last chunk is verified and stored (the
//     job leaves the running state); "end to end" ends when Fetch returns
//     (the case filed, VerifyCase re-reading and opening every chunk, the
//     Receipt published).
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
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/http"
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

	lcrypto "github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/config"
	"courtmesh.dev/courtmesh/node/datadir"
	"courtmesh.dev/courtmesh/node/devmesh"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/storage"
	"courtmesh.dev/courtmesh/storage/gen"
	"courtmesh.dev/courtmesh/storage/importer"
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
	rows = append(rows, fbRawLibp2p(b, p.Bytes, true))
	runtime.GC()
	rows = append(rows, fbDisk(b, p.Bytes))
	runtime.GC()
	hash := fbHash(b, p.Bytes)
	rows = append(rows, hash)

	// ---- (3) HTTPS download of a file of the same size
	if os.Getenv("COURTMESH_BENCH_HTTPS") != "0" {
		rows = append(rows, fbHTTPS(b, p.Bytes)...)
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
func fbStartMesh(b testing.TB) *fbMesh {
	dir := b.TempDir()
	m, err := devmesh.Build(dir, scenarioCourts(), time.Now())
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
		o := node.Options{Dir: d, Config: &cfg}
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
		fm.by[m.Courts[i].Code] = n
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
	ok(m.as(b, "京0108").Workflow().Accept(ctx, tr.ID, api.AcceptRequest{NewCaseNumber: fmt.Sprintf("（2026）京0108执%d号", 900+m.n)}))
	m.everywhere(b, tr.ID, cmproto.StateAccepted)
	ok(m.as(b, "京0105").Workflow().Handover(ctx, tr.ID, api.HandoverRequest{OverrideReason: "基准测试：续行已办理"}))
	m.everywhere(b, tr.ID, cmproto.StateHandedOver)
	return tr.ID
}

// ---------------------------------------------------------------- baselines

// fbRandom is a 64 MiB random buffer the baselines send from, cyclically.
func fbRandom() []byte {
	buf := make([]byte, 64<<20)
	r := mrand.NewChaCha8([32]byte{1, 2, 3})
	r.Read(buf)
	return buf
}

// fbSend writes n bytes from src to w in 1 MiB writes.
func fbSend(w io.Writer, src []byte, n int64) error {
	const block = 1 << 20
	for off := int64(0); n > 0; {
		k := min(int64(block), n)
		if off+k > int64(len(src)) {
			off = 0
		}
		if _, err := w.Write(src[off : off+k]); err != nil {
			return err
		}
		off += k
		n -= k
	}
	return nil
}

// fbDrain reads r to its end (or n bytes) through a 1 MiB buffer, writing
// to w if not nil.
func fbDrain(r io.Reader, w io.Writer, n int64) (int64, error) {
	buf := make([]byte, 1<<20)
	var got int64
	for got < n {
		k, err := r.Read(buf[:min(int64(len(buf)), n-got)])
		if k > 0 && w != nil {
			if _, werr := w.Write(buf[:k]); werr != nil {
				return got, werr
			}
		}
		got += int64(k)
		if err == io.EOF {
			break
		}
		if err != nil {
			return got, err
		}
	}
	return got, nil
}

const fbRawProto = "/courtmesh/bench-raw/1.0.0"

// fbRawLibp2p copies n bytes over a raw stream. With store, the reader
// keeps them as the fetch does, without the fetch protocol: 1 MiB pieces
// named by their SHA-256, written to a chunk store (storage.FileChunks in
// a temporary directory) and committed (fsync, rename, directory fsync)
// 32 at a time by a second goroutine while the next ones are read. The
// difference between this row and the fetch is the protocol's cost; the
// difference between this row and the discarding one is the disk's.
func fbRawLibp2p(b *testing.B, n int64, store bool) fbRow {
	src := fbRandom()
	k1, _, _ := lcrypto.GenerateEd25519Key(rand.Reader)
	k2, _, _ := lcrypto.GenerateEd25519Key(rand.Reader)
	srv, err := node.NewHostForTest(k1, []string{"/ip4/127.0.0.1/tcp/0"})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	cli, err := node.NewHostForTest(k2, []string{"/ip4/127.0.0.1/tcp/0"})
	if err != nil {
		b.Fatal(err)
	}
	defer cli.Close()
	srv.SetStreamHandler(fbRawProto, func(s network.Stream) {
		defer s.Close()
		var hdr [8]byte
		if _, err := io.ReadFull(s, hdr[:]); err != nil {
			s.Reset()
			return
		}
		if err := fbSend(s, src, int64(binary.BigEndian.Uint64(hdr[:]))); err != nil {
			s.Reset()
		}
	})
	ctx := context.Background()
	if err := cli.Connect(ctx, peer.AddrInfo{ID: srv.ID(), Addrs: srv.Addrs()}); err != nil {
		b.Fatal(err)
	}
	if store {
		defer fbProfile(b, "raw-store")()
	}
	b.StartTimer()
	cpu0, start := fbCPU(), time.Now()
	s, err := cli.NewStream(ctx, srv.ID(), fbRawProto)
	if err != nil {
		b.Fatal(err)
	}
	var hdr [8]byte
	binary.BigEndian.PutUint64(hdr[:], uint64(n))
	if _, err := s.Write(hdr[:]); err != nil {
		b.Fatal(err)
	}
	var got int64
	if store {
		got, err = fbDrainToStore(b, s, n)
	} else {
		got, err = fbDrain(s, nil, n)
	}
	dur, cpu := time.Since(start), fbCPU()-cpu0
	b.StopTimer()
	if err != nil || got != n {
		b.Fatalf("raw stream: %d of %d bytes: %v", got, n, err)
	}
	st := s.Conn().ConnState()
	s.Close()
	if store {
		return fbRow{"raw libp2p stream -> chunk files (hash, fsync)", n, dur, cpu, fmt.Sprintf("%s+%s, one stream, 1 MiB chunks committed 32 at a time", st.Security, st.StreamMultiplexer)}
	}
	return fbRow{"raw libp2p stream (same host options)", n, dur, cpu, fmt.Sprintf("%s+%s, one stream", st.Security, st.StreamMultiplexer)}
}

// fbDrainToStore reads n bytes from r in 1 MiB chunks into a fresh chunk
// store, staged (in packs) as a fetch stores them and committed in groups
// of 32 in the background.
func fbDrainToStore(b *testing.B, r io.Reader, n int64) (int64, error) {
	dir := b.TempDir()
	cs, err := storage.OpenFileChunks(filepath.Join(dir, "chunks"))
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	defer cs.Close()
	groups := make(chan storage.ChunkBatch, 1)
	commitErr := make(chan error, 1)
	go func() {
		var first error
		for g := range groups {
			if err := g.Commit(); err != nil && first == nil {
				first = err
			}
		}
		commitErr <- first
	}()
	buf := make([]byte, 1<<20)
	batch := cs.NewBatch()
	var got int64
	for got < n {
		k := min(int64(len(buf)), n-got)
		if _, err := io.ReadFull(r, buf[:k]); err != nil {
			close(groups)
			<-commitErr
			return got, err
		}
		st, err := cs.Stage(buf[:k])
		if err == nil {
			_, err = batch.PutStaged(crypto.ChunkIDOf(buf[:k]), st)
		}
		if err != nil {
			close(groups)
			<-commitErr
			return got, err
		}
		got += k
		if batch.Len() == 32 {
			groups <- batch
			batch = cs.NewBatch()
		}
	}
	groups <- batch
	close(groups)
	return got, <-commitErr
}

// fbDisk writes n bytes to a new file in the test's directory in 1 MiB
// writes while a second goroutine fsyncs it after every 32 MiB (at most
// two groups waiting, as a fetch's committer does), and once at the end:
// the disk alone, no network and no hashing.
func fbDisk(b *testing.B, n int64) fbRow {
	src := fbRandom()
	f, err := os.Create(filepath.Join(b.TempDir(), "disk"))
	if err != nil {
		b.Fatal(err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	const block, group = 1 << 20, 32
	b.StartTimer()
	cpu0, start := fbCPU(), time.Now()
	syncs := make(chan struct{}, 2)
	synced := make(chan error, 1)
	go func() {
		var first error
		for range syncs {
			if err := f.Sync(); err != nil && first == nil {
				first = err
			}
		}
		synced <- first
	}()
	var off int64
	for k := 1; off < n; k++ {
		m := min(int64(block), n-off)
		at := off % int64(len(src)-block)
		if _, err := f.Write(src[at : at+m]); err != nil {
			b.Fatal(err)
		}
		off += m
		if k%group == 0 || off == n {
			syncs <- struct{}{}
		}
	}
	close(syncs)
	if err := <-synced; err != nil {
		b.Fatal(err)
	}
	dur, cpu := time.Since(start), fbCPU()-cpu0
	b.StopTimer()
	return fbRow{"disk alone: write, fsync every 32 MiB", n, dur, cpu, "no network, no hash; fsyncs overlap the writes as a fetch's commits do"}
}

// fbHash hashes n bytes (1 MiB chunks, as a fetch checks them) on one
// goroutine: the CPU the check against the manifest needs, alone.
func fbHash(b *testing.B, n int64) fbRow {
	src := fbRandom()
	const block = 1 << 20
	var sink byte
	b.StartTimer()
	cpu0, start := fbCPU(), time.Now()
	for off := int64(0); off < n; off += block {
		at := off % int64(len(src)-block)
		id := crypto.ChunkIDOf(src[at : at+min(int64(block), n-off)])
		sink ^= id[0]
	}
	dur, cpu := time.Since(start), fbCPU()-cpu0
	b.StopTimer()
	fbSink = sink
	return fbRow{"SHA-256 alone (the chunk check), one goroutine", n, dur, cpu, "crypto.ChunkIDOf over 1 MiB pieces"}
}

var fbSink byte

func fbCert(b testing.TB) (tls.Certificate, *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		b.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		b.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

func fbHTTPS(b *testing.B, n int64) []fbRow {
	dir := b.TempDir()
	file := filepath.Join(dir, "dossier.bin")
	f, err := os.Create(file)
	if err != nil {
		b.Fatal(err)
	}
	if err := fbSend(f, fbRandom(), n); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	cert, pool := fbCert(b)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{
		Handler:   http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, file) }),
		TLSConfig: &tls.Config{MinVersion: tls.VersionTLS13, MaxVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert}},
	}
	go srv.ServeTLS(ln, "", "")
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pool},
	}}
	defer client.CloseIdleConnections()
	url := "https://" + ln.Addr().String() + "/dossier.bin"
	// One small request first so both variants reuse a warm connection
	// the same way (the handshake is not what is measured).
	if resp, err := client.Head(url); err == nil {
		resp.Body.Close()
	}
	get := func(name string, w io.Writer) fbRow {
		runtime.GC()
		b.StartTimer()
		cpu0, start := fbCPU(), time.Now()
		resp, err := client.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		got, err := fbDrain(resp.Body, w, n)
		resp.Body.Close()
		dur, cpu := time.Since(start), fbCPU()-cpu0
		b.StopTimer()
		if err != nil || got != n {
			b.Fatalf("https: %d of %d bytes: %v", got, n, err)
		}
		note := fmt.Sprintf("%s, %s, %s", resp.Proto, tls.VersionName(resp.TLS.Version), tls.CipherSuiteName(resp.TLS.CipherSuite))
		return fbRow{name, n, dur, cpu, note}
	}
	rows := []fbRow{get("HTTPS download (net/http, TLS 1.3) -> discard", nil)}
	out, err := os.Create(filepath.Join(dir, "download.bin"))
	if err != nil {
		b.Fatal(err)
	}
	rows = append(rows, get("HTTPS download (net/http, TLS 1.3) -> file", out))
	out.Close()
	return rows
}
