package node_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/config"
	"courtmesh.dev/courtmesh/node/datadir"
	"courtmesh.dev/courtmesh/node/nodetest"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/storage/gen"
	"courtmesh.dev/courtmesh/storage/importer"
)

// The fault suite's tests in this package (TestFault…) run nodes in this
// process on loopback; each repeats its fault nodetest.FaultRuns times
// and prints one line of the suite's table (see docs/faults.md).

// converged reports whether every node holds every transfer of ids in
// the state want[id].
func converged(nodes []*node.Node, want map[court.TransferID]cmproto.State) bool {
	for _, n := range nodes {
		for id, st := range want {
			tr, err := n.Workflow().Transfer(id)
			if err != nil || tr.State != st {
				return false
			}
		}
	}
	return true
}

// TestFaultPartitionHeal cuts the mesh in two (the high courts and the
// decider on one side, the basic courts on the other), has each side
// issue records the other cannot hear (decisions on one side, offers on
// the other), heals the cut, and measures how long until every node holds
// every record. At risk: the records issued during the partition; lost:
// those some node still lacks 30 seconds after the heal.
func TestFaultPartitionHeal(t *testing.T) {
	runs := nodetest.FaultRuns(t, 2)
	s := newScenario(t)
	ctx := context.Background()
	const perRun = 3
	safe, expiring := s.cases("京0105", 2*perRun*runs)
	cns := append(safe, expiring...)
	left := []*node.Node{s.as(court.Supreme), s.as("京"), s.as("京01"), s.as("京02")}
	right := []*node.Node{s.as("京0105"), s.as("京0108"), s.as("京0102")}
	r := &nodetest.FaultReport{Name: "partition_heal", Runs: runs}
	for run := range runs {
		mine := cns[2*perRun*run : 2*perRun*(run+1)]
		// Offered while whole: both sides know these.
		var before []court.TransferID
		for _, cn := range mine[:perRun] {
			tr := must(t)(s.as("京0105").Workflow().Offer(ctx, api.OfferRequest{CaseNumber: cn.String(), Superior: "京01", Grounds: []string{"long_unexecuted"}}))
			s.expectEverywhere(tr.ID, cmproto.StateOffered)
			before = append(before, tr.ID)
		}
		cutOff(left, right, true)
		want := map[court.TransferID]cmproto.State{}
		for _, id := range before {
			must(t)(s.as("京01").Workflow().Decide(ctx, id, api.DecideRequest{Mode: "designated", Receiver: "京0108", DecisionNumber: fmt.Sprintf("（2026）京01执监%d号", 600+run)}))
			want[id] = cmproto.StateDecided
		}
		for _, cn := range mine[perRun:] {
			tr := must(t)(s.as("京0105").Workflow().Offer(ctx, api.OfferRequest{CaseNumber: cn.String(), Superior: "京01", Grounds: []string{"long_unexecuted"}}))
			want[tr.ID] = cmproto.StateOffered
		}
		r.AtRisk += len(want)
		// The cut is real: the other side has heard none of it.
		for _, id := range before {
			if tr, err := s.as("京0108").Workflow().Transfer(id); err != nil || tr.State != cmproto.StateOffered {
				t.Fatalf("run %d: a decision crossed the partition: %v %v", run, tr.State, err)
			}
		}
		cutOff(left, right, false)
		healed := time.Now()
		connectAll(t, s.tm.nodes)
		deadline := time.Now().Add(30 * time.Second)
		for !converged(s.tm.nodes, want) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		r.Recover(time.Since(healed))
		for _, n := range s.tm.nodes {
			for id, st := range want {
				if tr, err := n.Workflow().Transfer(id); err != nil || tr.State != st {
					r.Lost++
					t.Errorf("run %d: %s holds %s as %v (%v) 30 s after the heal; want %s", run, n.Status().CourtCode, id, tr.State, err, st)
				}
			}
		}
	}
	r.Print(t)
}

// TestFaultClockSkew sets one node's clock a day ahead while the other
// courts go on with their transfers: every record of the healthy courts
// reaches every node, the skewed one included; the skew is reported
// (clock_skew) on the operator's node; and once the clock is set right
// the alert clears. At risk: the records issued while the clock was off;
// lost: those some node lacks; recovered: from the clock fix to the
// alert's end.
func TestFaultClockSkew(t *testing.T) {
	runs := nodetest.FaultRuns(t, 1)
	const skewed court.CourtCode = "京0102"
	var offset atomic.Int64 // of the skewed node's clock
	courts := scenarioCourts()
	tm := startCourts(t, courts, func(i int, o *node.Options) {
		cfg, err := config.Load(o.Dir.Path(datadir.ConfigFile))
		if err != nil {
			t.Fatal(err)
		}
		cfg.SyncInterval.Duration = 300 * time.Millisecond
		cfg.HeartbeatInterval.Duration = hbInterval
		o.Config = &cfg
		if courts[i].Code == skewed {
			o.Now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
		}
	})
	s := &scenario{t: t, tm: tm, by: map[court.CourtCode]*node.Node{}}
	for i, c := range tm.Courts {
		s.by[c.Code] = tm.nodes[i]
	}
	op := s.as(court.Supreme)
	ctx := context.Background()
	safe, expiring := s.cases("京0105", runs)
	cns := append(safe, expiring...)
	r := &nodetest.FaultReport{Name: "clock_skew", Runs: runs}
	for run := range runs {
		offset.Store(int64(24 * time.Hour))
		nodetest.PollUntil(t, 20*time.Second, "clock_skew raised for "+string(skewed), func() bool {
			_, ok := findAlert(op.Health().AllAlerts(ctx), "clock_skew", skewed)
			return ok
		})
		tr := must(t)(s.as("京0105").Workflow().Offer(ctx, api.OfferRequest{CaseNumber: cns[run].String(), Superior: "京01", Grounds: []string{"long_unexecuted"}}))
		s.expectEverywhere(tr.ID, cmproto.StateOffered)
		must(t)(s.as("京01").Workflow().Decide(ctx, tr.ID, api.DecideRequest{Mode: "designated", Receiver: "京0108", DecisionNumber: fmt.Sprintf("（2026）京01执监%d号", 700+run)}))
		r.AtRisk += 2
		deadline := time.Now().Add(30 * time.Second)
		want := map[court.TransferID]cmproto.State{tr.ID: cmproto.StateDecided}
		for !converged(tm.nodes, want) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if !converged(tm.nodes, want) {
			r.Lost++
			t.Errorf("run %d: the decision of %s is not on every node 30 s later (the skewed %s included)", run, tr.ID, skewed)
		}
		offset.Store(0)
		fixed := time.Now()

		nodetest.PollUntil(t, 30*time.Second, "clock_skew cleared", func() bool {
			_, ok := findAlert(op.Health().AllAlerts(ctx), "clock_skew", skewed)
			return !ok
		})
		r.Recover(time.Since(fixed))
	}
	r.Print(t)
}

// TestFaultRevocationMidFetch revokes the receiver's grant while it
// fetches from a slowed origin: the fetch stops at once (the transfer
// does not wait on the receiver for ever: it now waits on the origin),
// its status says it cannot resume (kind revoked, resumable false, the
// reason named), a new fetch is refused the same way, and the chunks
// verified before the revocation stay. At risk: those chunks; lost: any
// of them gone; recovered: from the revocation to the fetch's end.
func TestFaultRevocationMidFetch(t *testing.T) {
	runs := nodetest.FaultRuns(t, 1)
	s := newScenario(t)
	ctx := context.Background()
	origin, recv := s.as("京0105"), s.as("京0108")
	r := &nodetest.FaultReport{Name: "revocation_mid_fetch", Runs: runs}
	cs, err := gen.Generate(filepath.Join(t.TempDir(), "cases"), gen.Options{Cases: runs, Seed: 50, Court: "京0105", DocSize: 2 << 20})
	if err != nil {
		t.Fatal(err)
	}
	for run, c := range cs {
		if _, err := importer.Import(ctx, origin.Store(), c.Dir, importer.Options{}); err != nil {
			t.Fatal(err)
		}
		cn, chunks := c.Number, len(dossierChunks(t, origin, c.Number))
		id := s.handedOver(t, cn)
		// Two chunks are served; every later chunk of a request the origin
		// had already let through waits until the grant is revoked, then
		// goes out: the requests the receiver makes after the revocation
		// are refused, so the fetch cannot finish before it however slow
		// the machine (with a pace of 20 ms a chunk instead, 2 of 20
		// loaded runs fetched the whole dossier first).
		var served atomic.Int32
		revokedGate := make(chan struct{})
		origin.Fetcher().SetTamper(func(_ peer.ID, _ crypto.ChunkID, sealed []byte) []byte {
			if served.Add(1) > 2 {
				select {
				case <-revokedGate:
				case <-time.After(time.Minute):
				}
			}
			return sealed
		})
		if _, err := recv.Fetcher().Start(id); err != nil {
			t.Fatal(err)
		}
		nodetest.PollUntil(t, 30*time.Second, "some chunks verified", func() bool {
			p, _ := recv.Fetcher().Status(id)
			return p.Verified >= 2
		})
		must(t)(origin.Workflow().RevokeGrant(ctx, id, "京0108", "测试：撤销调卷授权"))
		revoked := time.Now()
		close(revokedGate)
		var p api.FetchProgress
		nodetest.PollUntil(t, 60*time.Second, "the fetch stops after the revocation", func() bool {
			p, _ = recv.Fetcher().Status(id)
			return p.State != "running" && p.State != "verifying"
		})
		r.Recover(time.Since(revoked))
		origin.Fetcher().SetTamper(nil)
		r.AtRisk += p.Verified
		t.Logf("run %d: stopped %s after %d of %d chunks (%d served): %s; failures %+v", run, p.State, p.Verified, chunks, served.Load(), p.Error, p.Failures)
		if p.State != "failed" || p.Resumable || p.Code != api.CodeRevoked || !strings.Contains(p.Error, "cannot resume") {
			t.Errorf("run %d: the status after the revocation: state %s, resumable %t, code %q, %q; want failed, not resumable, revoked, saying it cannot resume", run, p.State, p.Resumable, p.Code, p.Error)
		}
		if p.Verified >= chunks {
			t.Errorf("run %d: the whole dossier was fetched before the revocation: the test proves nothing", run)
		}
		// The origin's refusals after the revocation carry the code
		// "revoked" (FetchResponse.code), and the receiver classifies
		// them by it (node/fetch refusalReason).
		if !slices.ContainsFunc(p.Failures, func(fl api.FetchFailure) bool { return fl.Court == "京0105" && fl.Reason == "revoked" }) {
			t.Errorf("run %d: no failure at the origin classified revoked: %+v", run, p.Failures)
		}
		// Fetching again is refused the same way, at once.
		if _, err := recv.Fetcher().Fetch(ctx, id); err == nil {
			t.Errorf("run %d: a fetch after the revocation succeeded", run)
		} else if q, _ := recv.Fetcher().Status(id); q.Resumable || q.Code != api.CodeRevoked {
			t.Errorf("run %d: the second fetch's status: resumable %t, code %q, %q", run, q.Resumable, q.Code, q.Error)
		}
		// What was verified stays; the transfer waits on the origin.
		bits, err := recv.Store().FetchedChunks(string(id))
		if err != nil {
			t.Fatal(err)
		}
		if len(bits) < p.Verified {
			r.Lost += p.Verified - len(bits)
			t.Errorf("run %d: %d chunks marked verified after the revocation, %d were before", run, len(bits), p.Verified)
		}
		for _, n := range []*node.Node{origin, recv} {
			tr, err := n.Workflow().Transfer(id)
			if err != nil {
				t.Fatal(err)
			}
			if on := tr.WaitingOn; on != "京0105" || !slices.Contains(tr.RevokedGrants, "京0108") {
				t.Errorf("run %d: %s: transfer %s waits on %q (revoked grants %v); want the origin", run, n.Status().CourtCode, id, on, tr.RevokedGrants)
			}
		}
	}
	r.Print(t)
}

// TestFetchResumeAfterFaultInOneRun: a fetch stopped part way (here
// cancelled) is run again while its only source cannot be reached yet
// (a node just restarted, not reconnected): the chunk requests that
// could not be sent are recorded as unreachable, in the status and the
// log, and go back to the queue for that source instead of being taken
// out of the run, so the fetch completes in this one run once the source
// answers. (Before, each stream that could not be opened took its batch
// of chunks out of the run: "16 chunks could not be fetched from any
// source", and two or three more runs.)
func TestFetchResumeAfterFaultInOneRun(t *testing.T) {
	s := newScenario(t)
	ctx := context.Background()
	origin, recv := s.as("京0105"), s.as("京0108")
	cn, chunks := s.bigCase("京0105", 61, 2<<20)
	id := s.handedOver(t, cn)
	// Run 1 gets a few chunks; the rest are held back until it is
	// cancelled, then answered "not held".
	var served atomic.Int32
	release := make(chan struct{})
	origin.Fetcher().SetTamper(func(_ peer.ID, _ crypto.ChunkID, sealed []byte) []byte {
		if served.Add(1) > 4 {
			select {
			case <-release:
			case <-time.After(time.Minute):
			}
			return nil
		}
		return sealed
	})
	if _, err := recv.Fetcher().Start(id); err != nil {
		t.Fatal(err)
	}
	nodetest.PollUntil(t, 30*time.Second, "some chunks verified", func() bool {
		p, _ := recv.Fetcher().Status(id)
		return p.Verified >= 2
	})
	recv.Fetcher().Cancel(id)
	close(release)
	nodetest.PollUntil(t, 30*time.Second, "the first run stopped", func() bool {
		p, _ := recv.Fetcher().Status(id)
		return p.State == "cancelled"
	})
	first, _ := recv.Fetcher().Status(id)
	if !first.Resumable || first.Verified >= chunks {
		t.Fatalf("first run: %+v", first)
	}
	origin.Fetcher().SetTamper(nil)

	// The origin unreachable while the second run starts; back a moment
	// later.
	cutOff([]*node.Node{origin}, []*node.Node{recv}, true)
	if _, err := recv.Fetcher().Start(id); err != nil {
		t.Fatal(err)
	}
	nodetest.PollUntil(t, 30*time.Second, "a chunk request recorded as unreachable", func() bool {
		p, _ := recv.Fetcher().Status(id)
		return slices.ContainsFunc(p.Failures, func(f api.FetchFailure) bool { return f.Reason == "unreachable" && f.Court == "京0105" })
	})
	cutOff([]*node.Node{origin}, []*node.Node{recv}, false)
	connectAll(t, s.tm.nodes)
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	p, err := recv.Fetcher().Fetch(cctx, id) // joins the running fetch
	if err != nil {
		t.Fatalf("the second run did not finish: %v (failures %+v)", err, p.Failures)
	}
	if p.Resumed < first.Verified || p.Resumed+p.Fetched != chunks {
		t.Errorf("second run: resumed %d (first verified %d), fetched %d, of %d", p.Resumed, first.Verified, p.Fetched, chunks)
	}
	t.Logf("second run done: resumed %d, fetched %d; failures on the way: %+v", p.Resumed, p.Fetched, p.Failures)
}
