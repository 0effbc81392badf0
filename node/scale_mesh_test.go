package node_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/datadir"
	"courtmesh.dev/courtmesh/node/devmesh"
	"courtmesh.dev/courtmesh/node/nodetest"
	"courtmesh.dev/courtmesh/storage"
	"courtmesh.dev/courtmesh/storage/scalegen"
)

// The courts of the scale mesh. The benchmarked court is an intermediate
// court, which the fixture names as the superior or receiver of some 750
// transfers at 300,000 (7 or 8 at 3,000); every node of the mesh holds
// all transfers anyway, as a national node would.
const (
	scaleSelf     court.CourtCode = "京01" // the benchmarked node, its store filled by scalegen
	scaleSuperior court.CourtCode = "京"   // decides the offers of 京01 and 京02
	scaleOrigin   court.CourtCode = "京02" // offers cases that 京 designates to 京01
	scaleIssuer   court.CourtCode = "京03" // issues records while disconnected, for the catch-up sync
)

func scaleCourts() []devmesh.Court {
	var out []devmesh.Court
	for _, c := range []court.CourtCode{scaleSelf, scaleSuperior, scaleOrigin, scaleIssuer} {
		out = append(out, devmesh.Court{Code: c, Roles: []crypto.Role{crypto.RoleCourt}})
	}
	return out
}

// scaleClock runs from scalegen.Now, the instant the fixture is as of, so
// that the fixture's deadlines are overdue or not as generated.
func scaleClock() func() time.Time {
	start := time.Now()
	return func() time.Time { return scalegen.Now.Add(time.Since(start)) }
}

// scaleNode is one node of the scale mesh, served in this process.
type scaleNode struct {
	dir    datadir.Dir
	opts   node.Options
	n      *node.Node
	cl     *api.Client
	cancel context.CancelFunc
	done   chan error
}

// buildScaleMesh builds the mesh's data directories under base, certified
// as of scalegen.Now, and gives the benchmarked court (Dirs[0]) a copy of
// the cached fixture of n transfers as its store. The fixture's store.key
// is a plain random Badger key (storage.Open reads it from the data
// directory; it is not sealed to the node's keys), so the copy opens
// under the node's own keys.
func buildScaleMesh(b *testing.B, base string, n int, log *slog.Logger) *devmesh.Mesh {
	b.Helper()
	ctx := context.Background()
	m, err := devmesh.Build(filepath.Join(base, "mesh"), scaleCourts(), scalegen.Now)
	if err != nil {
		b.Fatal(err)
	}
	fix := filepath.Join(base, "fixture")
	if _, err := nodetest.PrepareScale(ctx, n, fix, log); err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{storage.StoreKeyFile, storage.StoreDir} {
		if err := os.Rename(filepath.Join(fix, name), m.Dirs[0].Path(name)); err != nil {
			b.Fatal(err)
		}
	}
	return m
}

// startScale starts the node of dir and returns once it is ready, with
// how long New and Serve took to get there.
func startScale(b *testing.B, dir datadir.Dir, now func() time.Time, log *slog.Logger) (*scaleNode, time.Duration) {
	b.Helper()
	s := &scaleNode{dir: dir, opts: node.Options{Dir: dir, Now: now, Logger: log}, done: make(chan error, 1)}
	t0 := time.Now()
	n, err := node.New(s.opts)
	if err != nil {
		b.Fatal(err)
	}
	s.n = n
	var ctx context.Context
	ctx, s.cancel = context.WithCancel(context.Background())
	go func() { s.done <- n.Serve(ctx) }()
	select {
	case <-n.Ready():
	case err := <-s.done:
		s.done <- err
		b.Fatalf("%s stopped before it was ready: %v", dir, err)
	case <-time.After(5 * time.Minute):
		b.Fatalf("%s not ready after 5 minutes", dir)
	}
	ready := time.Since(t0)
	b.Cleanup(s.stop)
	tok, err := dir.Token()
	if err != nil {
		b.Fatal(err)
	}
	s.cl = api.NewClient(dir.Path(datadir.SocketFile), tok)
	return s, ready
}

// stop stops the node and waits for Serve to return; safe to call twice.
func (s *scaleNode) stop() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	s.cancel = nil
	if err := <-s.done; err != nil {
		fmt.Fprintf(os.Stderr, "scale: %s: serve: %v\n", s.dir, err)
	}
}

func connectScale(b *testing.B, a, c *scaleNode) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.n.Host().Connect(ctx, peer.AddrInfo{ID: c.n.PeerID(), Addrs: c.n.Host().Addrs()}); err != nil {
		b.Fatalf("connect: %v", err)
	}
}

// recovered reports whether the asset service's start-up recovery has
// read every other issuer's record log up to its head (the checkpoints it
// keeps in the store; see node/assets/watch.go).
func recovered(s *scaleNode) bool {
	db := s.n.Store()
	heads, err := db.LogHeads()
	if err != nil {
		return false
	}
	done, err := db.Checkpoints("assets.recover")
	if err != nil {
		return false
	}
	self := court.PeerID(s.n.PeerID().String())
	for issuer, head := range heads {
		if issuer != self && done[issuer] < head {
			return false
		}
	}
	return true
}

// waitScale polls cond every 5 ms until it holds, for at most d.
func waitScale(b *testing.B, d time.Duration, what string, cond func() bool) time.Duration {
	b.Helper()
	t0 := time.Now()
	for !cond() {
		if time.Since(t0) > d {
			b.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(t0)
}

// transferState is the state of transfer id as node s shows it ("" when
// it does not know the transfer yet).
func transferState(s *scaleNode, id string) string {
	var t api.Transfer
	if err := s.cl.Do(context.Background(), "GET", "/v1/transfers/"+id, nil, &t); err != nil || t.ID == "" {
		var ae *api.Error
		if errors.As(err, &ae) && ae.Status != 404 {
			fmt.Fprintf(os.Stderr, "scale: transfer %s: %v\n", id, err)
		}
		return ""
	}
	return string(t.State)
}

// rss is the resident set size of this process (VmRSS in
// /proc/self/status), in bytes; 0 where /proc is not there.
func rss() int64 { return procStatus("VmRSS:") }

// procStatus reads a kB field of /proc/self/status, in bytes (0 if
// absent).
func procStatus(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == field && f[2] == "kB" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// median returns the median of ds (the lower middle one of an even count).
func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}
