package node_test

// BenchmarkFetchWAN fetches a dossier over emulated wide-area links and
// compares it with what one bulk TCP connection gets over the same link
// in the same run:
//
//   - the links: a delay line (node/nettest/delayline) between two
//     network namespaces the benchmark makes, a user-space forwarder with
//     a rate, a bounded queue of one bandwidth-delay product and a
//     one-way delay, so that both kernels' TCP sees the link. The
//     receiving court (京0108) is in namespace B, every other court of
//     the 7-court mesh in A: the line is the receiver's access link.
//     Rows: 100 Mbit/s 30 ms, 1 Gbit/s 10 ms, 1 Gbit/s 50 ms, 1 Gbit/s
//     200 ms (round trips), and two sources (the origin and the
//     decider, which fetched a copy first) behind one shared 1 Gbit/s
//     30 ms link.
//   - the fetch: a case of about COURTMESH_BENCH_MB MiB of documents
//     (default 256), a new one per row, imported at 京0105, offered,
//     decided, accepted and handed over; timed from Node.Fetch to the last
//     chunk verified and stored (the job leaves the running state), so
//     its start (the manifest, the streams' first round trips) is
//     counted. The end to end time (the case filed and verified again,
//     the receipt) is logged beside it.
//   - the link: one TCP connection from A to B over the same line,
//     carrying the same number of bytes, the kernel's default socket
//     settings in both namespaces (as libp2p uses them), timed from its
//     request to its last byte: it connects, asks with one byte, and the
//     server writes when the byte arrives, as the fetch asks over a
//     connection already open (the handshake's round trip is in
//     neither).
//
// One line per link, exactly "wan <name>: <MB/s> MB/s = <ratio> of link",
// the ratio against that bulk connection. Then the same rows with
// tcp_wmem and tcp_rmem raised inside both namespaces to what courtmesh
// doctor asks for (rows named "<link> +bufs"). Then the same rows over
// QUIC (rows named "<link> quic", the defaults back, and "<link> quic
// +win", the receive windows starting at libp2p's maxima as yamux's
// start at courtmesh's): every node listens
// on QUIC only (mesh.WithQUIC), the ratio is still against the bulk TCP
// connection, and one libp2p stream over the QUIC connection (QUIC's own
// rate over the link) is printed before each row. Before each set of
// rows, the transport's ceiling: one libp2p stream between the receiver
// and the origin over the line with no rate and no delay ("tcp ceiling",
// "quic ceiling", ...), its CPU beside it.
//
// The forwarder runs in this process, on the same cores as both ends of
// every connection: its own ceiling (one bulk TCP connection over a line
// with no rate and no delay) is printed first. When it is near a link's
// rate, that row measures this machine's cores, not the link; CPU use in
// cores is logged for every row.
//
//	go test ./node/... -run '^$' -bench FetchWAN -benchtime 1x
//
// Knobs (environment): COURTMESH_BENCH_MB (dossier size, MiB; default
// 256), COURTMESH_WAN_ROWS (a regular expression: only the rows whose
// name matches). Needs root, ip
// (iproute2) and /dev/net/tun; nothing outside its own namespaces is
// changed, and they disappear with the process.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node"
	"courtmesh.dev/courtmesh/node/config"
	"courtmesh.dev/courtmesh/node/datadir"
	"courtmesh.dev/courtmesh/node/devmesh"
	"courtmesh.dev/courtmesh/node/mesh"
	"courtmesh.dev/courtmesh/node/nettest/delayline"
	"courtmesh.dev/courtmesh/storage/gen"
	"courtmesh.dev/courtmesh/storage/importer"
)

type wanLink struct {
	name    string
	cfg     delayline.Config
	sources int
}

func wanLinks() []wanLink {
	ms := time.Millisecond
	return []wanLink{
		{"100mbit-30ms", delayline.Config{Rate: 100e6, Delay: 15 * ms}, 1},
		{"1gbit-10ms", delayline.Config{Rate: 1e9, Delay: 5 * ms}, 1},
		{"1gbit-50ms", delayline.Config{Rate: 1e9, Delay: 25 * ms}, 1},
		{"1gbit-200ms", delayline.Config{Rate: 1e9, Delay: 100 * ms}, 1},
		{"2src-1gbit-30ms", delayline.Config{Rate: 1e9, Delay: 15 * ms}, 2},
	}
}

func BenchmarkFetchWAN(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root: network namespaces and TUN devices")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		b.Skipf("needs ip (iproute2): %v", err)
	}
	size := int64(fbEnvInt("COURTMESH_BENCH_MB", 256)) << 20
	only := regexp.MustCompile(os.Getenv("COURTMESH_WAN_ROWS"))
	b.StopTimer()
	for range b.N {
		wanRun(b, size, only)
	}
}

func wanRun(b *testing.B, size int64, only *regexp.Regexp) {
	line, err := delayline.New(delayline.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer line.Close()

	// The forwarder's own ceiling.
	c0 := fbCPU()
	el, err := line.Bulk(size, nil)
	if err != nil {
		b.Fatal(err)
	}
	ab, ba := line.Stats()
	fmt.Printf("delay line ceiling: %.1f MB/s (one bulk TCP connection, no rate, no delay; the forwarder %.2f cores busy, the process with both ends %.2f)\n",
		float64(size)/el.Seconds()/1e6, float64(ab.CPU+ba.CPU)/float64(el), float64(fbCPU()-c0)/float64(el))

	type variant struct {
		suffix string
		bufs   bool
		quic   bool
		win    bool // QUIC's receive windows start at their maxima
	}
	variants := []variant{{"", false, false, false}, {" +bufs", true, false, false}, {" quic", false, true, false}, {" quic +win", false, true, true}}
	defaults := map[string]string{}
	for _, k := range []string{"net.ipv4.tcp_wmem", "net.ipv4.tcp_rmem"} {
		v, err := line.A.ReadSysctl(k)
		if err != nil {
			b.Fatal(err)
		}
		defaults[k] = v
	}
	fmt.Printf("    namespaces' defaults: tcp_wmem %q, tcp_rmem %q; +bufs: %q, %q\n", defaults["net.ipv4.tcp_wmem"], defaults["net.ipv4.tcp_rmem"],
		mesh.TCPBufferAdvice["net.ipv4.tcp_wmem"], mesh.TCPBufferAdvice["net.ipv4.tcp_rmem"])
	for _, v := range variants {
		var rows []wanLink
		for _, l := range wanLinks() {
			if only.MatchString(l.name + v.suffix) {
				rows = append(rows, l)
			}
		}
		if len(rows) == 0 {
			continue
		}
		for _, ns := range []*delayline.Netns{line.A, line.B} {
			for k, def := range defaults {
				val := def
				if v.bufs {
					val = mesh.TCPBufferAdvice[k]
				}
				if err := ns.Sysctl(k, val); err != nil {
					b.Fatal(err)
				}
			}
		}
		fm := wanStartMesh(b, line, v.quic, v.win)
		{
			// The transport's own ceiling on these cores and this
			// forwarder (TLS or Noise and yamux over TCP, or QUIC).
			line.Set(delayline.Config{})
			ab0, ba0 := line.Stats()
			c0 := fbCPU()
			el, err := wanStream(fm.as(b, "京0108").Host(), fm.as(b, "京0105").Host(), size)
			if err != nil {
				b.Fatalf("one libp2p stream: %v", err)
			}
			ab, ba := line.Stats()
			tr, over := "tcp"+v.suffix, "TCP"
			if v.quic {
				tr, over = strings.TrimPrefix(v.suffix, " "), "QUIC"
			}
			fmt.Printf("    %s ceiling: %.1f MB/s (one libp2p stream over %s, no rate, no delay; the forwarder %.2f cores busy, the process with both ends %.2f)\n",
				tr, float64(size)/el.Seconds()/1e6, over, float64(ab.CPU+ba.CPU-ab0.CPU-ba0.CPU)/float64(el), float64(fbCPU()-c0)/float64(el))
		}
		cases := wanCases(b, len(rows), size)
		for i, l := range rows {
			wanRow(b, fm, line, l, l.name+v.suffix, cases[i], v.quic)
		}
		fm.stop()
	}
}

// wanRow runs one link: the bulk connection, then the fetch.
func wanRow(b *testing.B, fm *fbMesh, line *delayline.Line, l wanLink, name string, cs gen.Case, quic bool) {
	line.Set(delayline.Config{})
	origin, recv := fm.as(b, "京0105"), fm.as(b, "京0108")
	if _, err := importer.Import(context.Background(), origin.Store(), cs.Dir, importer.Options{}); err != nil {
		b.Fatal(err)
	}
	os.RemoveAll(cs.Dir)
	size := cs.Bytes
	id := fm.handOver(b, cs.Number)
	if l.sources == 2 {
		// The decider fetches its copy inside namespace A, off the line.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		_, err := fm.as(b, "京01").Fetcher().Fetch(ctx, id)
		cancel()
		if err != nil {
			b.Fatalf("the decider's fetch: %v", err)
		}
	}
	line.Set(l.cfg)
	// The receiver's connections to its sources start again over the new
	// link, as a court's connections start over the link it has (a live
	// TCP connection whose round trip jumps from 0.1 to 30 ms crawls for
	// seconds). The round trip libp2p measured on the previous row is
	// forgotten: the fetch measures it again. (Only the sources: libp2p
	// limits the connections a peer accepts from one address per second.)
	for _, src := range []court.CourtCode{"京0105", "京01"} {
		n := fm.as(b, src)
		for _, c := range recv.Host().Network().ConnsToPeer(n.PeerID()) {
			c.Close()
		}
		recv.Host().Peerstore().RemovePeer(n.PeerID())
		var err error
		for try := 0; try < 30; try++ { // bounded: the source's rate limit refills within seconds
			if sw, ok := recv.Host().Network().(*swarm.Swarm); ok {
				sw.Backoff().Clear(n.PeerID())
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err = recv.Host().Connect(ctx, peer.AddrInfo{ID: n.PeerID(), Addrs: n.Host().Addrs()})
			cancel()
			if err == nil {
				break
			}
			time.Sleep(time.Second)
		}
		if err != nil {
			b.Fatalf("reconnect to %s: %v", src, err)
		}
	}
	runtime.GC()

	c0 := fbCPU()
	var bulkLine func() string
	bulk, err := line.Bulk(size, func() { bulkLine = sampleLine(line) })
	if err != nil {
		b.Fatal(err)
	}
	bulkTimes := bulkLine()
	bulkCPU := fbCPU() - c0
	bulkRate := float64(size) / bulk.Seconds()
	if quic {
		// QUIC's own rate over the link: one libp2p stream over the
		// QUIC connection the fetch uses, the source writing.
		el, err := wanStream(recv.Host(), fm.as(b, "京0105").Host(), size)
		if err != nil {
			b.Fatalf("%s: one QUIC stream: %v", name, err)
		}
		r := float64(size) / el.Seconds()
		fmt.Printf("    %s: one libp2p stream over QUIC %.1f MB/s = %.2f of link\n", name, r/1e6, r/bulkRate)
	}

	done := make(chan time.Time, 1)
	stop := make(chan struct{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	ab0, ba0 := line.Stats()
	fetchLine := sampleLine(line)
	b.StartTimer()
	c0, start := fbCPU(), time.Now()
	go func() {
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if p, ok := recv.Fetcher().Status(id); ok && p.State != "running" {
				done <- time.Now()
				return
			}
		}
	}()
	p, err := recv.Fetcher().Fetch(ctx, id)
	end, cpu := time.Now(), fbCPU()-c0
	b.StopTimer()
	fetchTimes := fetchLine()
	close(stop)
	if err != nil {
		b.Fatalf("%s: %v", name, err)
	}
	chunks := end
	select {
	case chunks = <-done:
	default:
	}
	ab, ba := line.Stats()
	rate := float64(p.Bytes) / chunks.Sub(start).Seconds()
	fmt.Printf("wan %s: %.1f MB/s = %.2f of link\n", name, rate/1e6, rate/bulkRate)
	fmt.Printf("    %s (%v): fetch %d MiB in %v (end to end %v, %.1f MB/s), %.2f cores busy (the forwarder %.2f); sources %v; link: one TCP connection %.1f MB/s in %v, %.2f cores busy; line A->B %d dropped, B->A %d dropped during the fetch\n",
		name, l.cfg, p.Bytes>>20, chunks.Sub(start).Round(time.Millisecond), end.Sub(start).Round(time.Millisecond), float64(p.Bytes)/end.Sub(start).Seconds()/1e6,
		float64(cpu)/float64(end.Sub(start)), float64(ab.CPU+ba.CPU-ab0.CPU-ba0.CPU)/float64(end.Sub(start)), p.Sources, bulkRate/1e6, bulk.Round(time.Millisecond), float64(bulkCPU)/float64(bulk),
		ab.Dropped-ab0.Dropped, ba.Dropped-ba0.Dropped)
	fmt.Printf("    %s: the line carried the source's 10%%/50%%/90%%/100%% after %s (one TCP connection) and %s (the fetch)\n", name, bulkTimes, fetchTimes)
}

// sampleLine samples the bytes the line carries from A to B (the
// sources' side to the receiver's) every millisecond until the returned
// function is called, which tells when 10, 50, 90 and 100% of them had
// passed: where a transfer loses time to another (its start, its middle
// or its end).
func sampleLine(line *delayline.Line) func() string {
	type sample struct {
		at    time.Duration
		bytes uint64
	}
	stop, done := make(chan struct{}), make(chan []sample)
	ab0, _ := line.Carried()
	start := time.Now()
	go func() {
		var ss []sample
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			ab, _ := line.Carried()
			ss = append(ss, sample{time.Since(start), ab - ab0})
			select {
			case <-stop:
				done <- ss
				return
			case <-tick.C:
			}
		}
	}()
	return func() string {
		close(stop)
		ss := <-done
		total := ss[len(ss)-1].bytes
		var out []string
		for _, q := range []float64{0.1, 0.5, 0.9, 1} {
			for _, x := range ss {
				if float64(x.bytes) >= q*float64(total) {
					out = append(out, x.at.Round(time.Millisecond).String())
					break
				}
			}
		}
		return strings.Join(out, "/")
	}
}

// wanCases generates n cases of about size bytes of documents each (one
// Generate call, so that their numbers differ).
func wanCases(b *testing.B, n int, size int64) []gen.Case {
	const seed = 11
	dry, err := gen.Generate(filepath.Join(b.TempDir(), "dry"), gen.Options{Cases: n, Seed: seed, Court: "京0105"})
	if err != nil {
		b.Fatal(err)
	}
	docs := 0
	for _, c := range dry {
		docs += c.Documents
	}
	cs, err := gen.Generate(filepath.Join(b.TempDir(), "cases"), gen.Options{Cases: n, Seed: seed, Court: "京0105", DocSize: size * int64(n) / int64(docs)})
	if err != nil {
		b.Fatal(err)
	}
	return cs
}

// wanStartMesh starts the 7-court mesh with the receiver (京0108) in the
// line's namespace B and every other court in A.
//
// With quic every node listens on QUIC only (mesh.WithQUIC), so that
// every connection, the fetch's included, is QUIC; with win too, the
// connections a node dials (the receiver dials its sources: wanRow)
// start with full receive windows.
func wanStartMesh(b *testing.B, line *delayline.Line, quic, win bool) *fbMesh {
	dir := b.TempDir()
	m, err := devmesh.BuildSuite(dir, scenarioCourts(), time.Now(), crypto.SuiteV1)
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
		ns, addr := line.A, delayline.AddrA
		if m.Courts[i].Code == "京0108" {
			ns, addr = line.B, delayline.AddrB
		}
		cfg.Listen = []string{fmt.Sprintf("/ip4/%s/tcp/0", addr)}
		hopts := []mesh.HostOption{mesh.WithSockets(ns.Do)}
		if quic {
			cfg.Listen = []string{fmt.Sprintf("/ip4/%s/udp/0/quic-v1", addr)}
			hopts = append(hopts, mesh.WithQUIC(win))
		}
		o := node.Options{Dir: d, Config: &cfg, HostOptions: hopts}
		if os.Getenv("COURTMESH_WAN_LOG") != "" {
			o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("court", m.Courts[i].Code)
		}
		fm.serve(b, o, m.Courts[i].Code)
	}
	for i, a := range fm.nodes {
		for _, c := range fm.nodes[i+1:] {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := a.Host().Connect(ctx, peer.AddrInfo{ID: c.PeerID(), Addrs: c.Host().Addrs()})
			cancel()
			if err != nil {
				var de *swarm.DialError
				if errors.As(err, &de) {
					err = fmt.Errorf("%w: %v", err, de.DialErrors)
				}
				b.Fatalf("connect: %v", err)
			}
		}
	}
	if addrs := fm.as(b, "京0108").Host().Addrs(); len(addrs) == 0 || !strings.Contains(addrs[0].String(), delayline.AddrB.String()) {
		b.Fatalf("the receiver listens on %v", addrs)
	}
	return fm
}

// wanBulkProto is the protocol of wanStream's one stream.
const wanBulkProto = "/courtmesh-bench/wan-bulk/1"

// wanStream opens one libp2p stream from recv to src, over the connection
// they have, on which src writes n bytes; it returns the time from the
// stream's opening to recv's reading the last byte.
func wanStream(recv, src host.Host, n int64) (time.Duration, error) {
	sent := make(chan error, 1)
	src.SetStreamHandler(wanBulkProto, func(s network.Stream) {
		defer s.Close()
		buf := make([]byte, 1<<20)
		for left := n; left > 0; {
			k, err := s.Write(buf[:min(left, int64(len(buf)))])
			if err != nil {
				s.Reset()
				sent <- err
				return
			}
			left -= int64(k)
		}
		sent <- nil
	})
	defer src.RemoveStreamHandler(wanBulkProto)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	start := time.Now()
	s, err := recv.NewStream(ctx, src.ID(), wanBulkProto)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	got, err := io.CopyBuffer(io.Discard, io.LimitReader(s, n), make([]byte, 1<<20))
	el := time.Since(start)
	if err == nil && got < n {
		err = fmt.Errorf("%d of %d bytes", got, n)
	}
	if err != nil {
		s.Reset()
		return 0, err
	}
	return el, <-sent
}
