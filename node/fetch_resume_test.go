package node_test

import (
	"context"
	"sync"
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
)

// stoppableScenario is a scenario whose nodes can be stopped and started
// again on their data directories.
type stoppableScenario struct {
	*scenario
	dirs  map[court.CourtCode]datadir.Dir
	stops map[court.CourtCode]func()
	// configure, if set, changes a court's configuration at each start.
	configure func(court.CourtCode, *config.Config)
}

func newStoppableScenario(t *testing.T) *stoppableScenario {
	t.Helper()
	return newStoppableScenarioWith(t, nil)
}

// newStoppableScenarioWith is newStoppableScenario with a configuration
// hook.
func newStoppableScenarioWith(t *testing.T, configure func(court.CourtCode, *config.Config)) *stoppableScenario {
	t.Helper()
	m, err := devmesh.Build(t.TempDir(), scenarioCourts(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ss := &stoppableScenario{
		scenario: &scenario{t: t, tm: &testMesh{Mesh: m}, by: map[court.CourtCode]*node.Node{}},
		dirs:     map[court.CourtCode]datadir.Dir{}, stops: map[court.CourtCode]func(){},
		configure: configure,
	}
	for i, c := range m.Courts {
		ss.dirs[c.Code] = m.Dirs[i]
		ss.start(c.Code)
	}
	connectAll(t, ss.tm.nodes)
	return ss
}

func (ss *stoppableScenario) start(code court.CourtCode) *node.Node {
	t := ss.t
	t.Helper()
	d := ss.dirs[code]
	cfg, err := config.Load(d.Path(datadir.ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	cfg.SyncInterval.Duration = time.Second
	if ss.configure != nil {
		ss.configure(code, &cfg)
	}
	n, stop := startStoppable(t, node.Options{Dir: d, Config: &cfg, Logger: testLogger(t)})
	if old, ok := ss.by[code]; ok {
		for i, o := range ss.tm.nodes {
			if o == old {
				ss.tm.nodes[i] = n
			}
		}
	} else {
		ss.tm.nodes = append(ss.tm.nodes, n)
	}
	ss.by[code], ss.stops[code] = n, stop
	return n
}

// TestFetchResumesAfterRestart cancels a fetch midway, stops the
// receiver, starts it again on the same store and fetches again: what was
// verified is not fetched (nor served) again.
func TestFetchResumesAfterRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("fetches a 65 MiB dossier; skipped with -short")
	}
	ss := newStoppableScenario(t)
	cn, chunks := ss.bigCase("京0105", 3, 8<<20)
	id := ss.handedOver(t, cn)
	ids := dossierChunks(t, ss.as("京0105"), cn)
	if chunks < 40 {
		t.Fatalf("the dossier has %d chunks; the test wants 40 or more", chunks)
	}
	const stopAfter = 20 // the origin holds back its answers after this many chunks
	receiver := ss.as("京0108").PeerID()
	var (
		mu      sync.Mutex
		served  = map[crypto.ChunkID]int{}
		holding = true // run 1: hold back answers after stopAfter chunks
	)
	release := make(chan struct{})
	ss.as("京0105").Fetcher().SetTamper(func(p peer.ID, cid crypto.ChunkID, sealed []byte) []byte {
		if p != receiver {
			return sealed
		}
		mu.Lock()
		total := 0
		for _, n := range served {
			total += n
		}
		hold := holding && total >= stopAfter
		mu.Unlock()
		if hold {
			// Held back until the fetch is cancelled, then answered "not
			// held": nothing past the cut is served in run 1.
			select {
			case <-release:
			case <-time.After(time.Minute):
			}
			return nil
		}
		mu.Lock()
		served[cid]++
		mu.Unlock()
		return sealed
	})

	// Run 1: cancel once some chunks are verified.
	if _, err := ss.as("京0108").Fetcher().Start(id); err != nil {
		t.Fatal(err)
	}
	var cut api.FetchProgress
	nodetest.PollUntil(t, time.Minute, "chunks verified before the cut", func() bool {
		cut, _ = ss.as("京0108").Fetcher().Status(id)
		return cut.Verified >= stopAfter/2 || cut.State != "running"
	})
	if cut.State != "running" || cut.Verified >= chunks {
		t.Fatalf("the fetch ended before the cut: %+v", cut)
	}
	ss.as("京0108").Fetcher().Cancel(id)
	close(release)
	nodetest.PollUntil(t, time.Minute, "the fetch to stop", func() bool {
		p, _ := ss.as("京0108").Fetcher().Status(id)
		return p.State != "running"
	})
	p1, _ := ss.as("京0108").Fetcher().Status(id)
	if p1.State != "cancelled" {
		t.Fatalf("run 1 ended %s: %s", p1.State, p1.Error)
	}
	mu.Lock()
	servedRun1 := len(served)
	served, holding = map[crypto.ChunkID]int{}, false
	mu.Unlock()
	t.Logf("run 1 cancelled with %d verified (%d when cancelled), %d chunks served", p1.Verified, cut.Verified, servedRun1)

	// Crash-stop the receiver and start it again on the same store.
	ss.stops["京0108"]()
	restarted := ss.start("京0108")
	connectAll(t, ss.tm.nodes)
	bits, err := restarted.Store().FetchedChunks(string(id))
	if err != nil {
		t.Fatal(err)
	}
	verified := map[crypto.ChunkID]bool{}
	for i := range bits {
		verified[ids[i]] = true
	}
	if len(bits) < cut.Verified || len(bits) != servedRun1 || len(bits) >= chunks {
		t.Fatalf("after the restart %d chunks are marked verified; want the %d served in run 1 (at least the %d verified when it was cancelled)", len(bits), servedRun1, cut.Verified)
	}

	// One verified chunk is lost from the store under its bit (as a disk
	// that failed under a commit could lose it): run 2 fetches it again
	// instead of trusting the bit.
	var lostAt uint32
	for i := range bits {
		lostAt = i
		break
	}
	if err := restarted.Store().Chunks().Delete(ids[lostAt]); err != nil {
		t.Fatal(err)
	}
	delete(verified, ids[lostAt])
	kept := len(bits) - 1

	// Run 2.
	seq := auditHead(t, ss.as("京0105"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	p2, err := restarted.Fetcher().Fetch(ctx, id)
	if err != nil {
		t.Fatalf("run 2: %v", err)
	}
	t.Logf("run 2: %d resumed, %d fetched, %d chunks", p2.Resumed, p2.Fetched, p2.Chunks)
	if p2.Resumed != kept || p2.Fetched != chunks-kept || p2.Verified != chunks {
		t.Errorf("run 2 resumed %d and fetched %d of %d; want %d and %d", p2.Resumed, p2.Fetched, chunks, kept, chunks-kept)
	}
	mu.Lock()
	twice, total := 0, 0
	for cid, n := range served {
		total += n
		if verified[cid] || n > 1 {
			twice++
		}
	}
	mu.Unlock()
	if twice != 0 || total != chunks-kept {
		t.Errorf("run 2: the origin served %d chunks, %d of them verified before or served twice; want %d and none", total, twice, chunks-kept)
	}
	audited := 0
	for _, e := range auditAfter(t, ss.as("京0105"), seq) {
		if e.Event == "dossier.chunks" && e.Outcome == "ok" && e.Court == "京0108" {
			audited += servedChunks(t, e)
		}
	}
	if audited != p2.Fetched {
		t.Errorf("the origin's audit log says %d chunks were served in run 2; the receiver fetched %d", audited, p2.Fetched)
	}
	newNo, _ := court.ParseCaseNumber(p2.NewCase)
	if _, err := restarted.Store().VerifyCase(ctx, newNo); err != nil {
		t.Fatalf("the filed case does not verify: %v", err)
	}
	ss.expectEverywhere(id, cmproto.StateReceived)
}

// TestFetchStalledSourceGivenUp: a source that goes silent in the middle
// of its answers (it neither sends nor closes the stream) is given up
// after the stall limit, and the chunks it was asked for come from
// another source. The silent source is only released after the fetch
// returned, so the fetch cannot finish by waiting it out.
func TestFetchStalledSourceGivenUp(t *testing.T) {
	if testing.Short() {
		t.Skip("fetches a dossier twice; skipped with -short")
	}
	s := newScenario(t)
	for _, n := range s.by {
		n.Fetcher().SetStall(2 * time.Second)
	}
	// More chunks than one source has in flight (a stream's pipeline),
	// so that both sources are asked.
	cn, chunks := s.bigCase("京0105", 9, 10<<20)
	if chunks <= 64 {
		t.Fatalf("the dossier has %d chunks; the test needs more than 64", chunks)
	}
	id := s.handedOver(t, cn)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := s.as("京01").Fetcher().Fetch(ctx, id); err != nil {
		t.Fatalf("the decider's fetch: %v", err)
	}
	receiver := s.as("京0108").PeerID()
	release := make(chan struct{})
	defer close(release)
	stalledNow := make(chan struct{})
	var stallOnce sync.Once
	// The decider goes silent on its first chunk for the receiver, on
	// every stream. The origin holds back a moment (less than the stall
	// limit) so that the decider is surely asked.
	s.as("京01").Fetcher().SetTamper(func(p peer.ID, cid crypto.ChunkID, sealed []byte) []byte {
		if p == receiver {
			stallOnce.Do(func() { close(stalledNow) })
			select {
			case <-release:
			case <-ctx.Done():
			}
		}
		return sealed
	})
	s.as("京0105").Fetcher().SetTamper(func(p peer.ID, cid crypto.ChunkID, sealed []byte) []byte {
		if p == receiver {
			select {
			case <-stalledNow:
			case <-time.After(500 * time.Millisecond):
			}
		}
		return sealed
	})
	p, err := s.as("京0108").Fetcher().Fetch(ctx, id)
	if err != nil {
		t.Fatalf("the receiver's fetch with a silent source: %v", err)
	}
	t.Logf("receiver: %d chunks from %v; the decider went silent", p.Fetched, p.Sources)
	select {
	case <-stalledNow:
	default:
		t.Fatal("the decider was never asked; the test shows nothing")
	}
	if p.Verified != chunks || p.Sources["京0105"] != chunks || p.Sources["京01"] != 0 {
		t.Fatalf("verified %d of %d chunks, sources %v; want all from the origin", p.Verified, chunks, p.Sources)
	}
}
