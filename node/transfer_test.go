package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
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
	"courtmesh.dev/courtmesh/storage"
	"courtmesh.dev/courtmesh/storage/gen"
	"courtmesh.dev/courtmesh/storage/importer"
)

// The courts of the transfer scenarios: the Beijing high court, two
// intermediate courts and basic courts under each. 京0102 sits under 京02
// by its certificate's explicit parent (as it does in reality).
func scenarioCourts() []devmesh.Court {
	c := func(code, parent string) devmesh.Court {
		return devmesh.Court{Code: court.CourtCode(code), Parent: court.CourtCode(parent), Roles: []crypto.Role{crypto.RoleCourt}}
	}
	return []devmesh.Court{
		{Code: court.Supreme, Roles: []crypto.Role{crypto.RoleCourt, crypto.RoleOperator}},
		c("京", ""), c("京01", ""), c("京02", ""), c("京0105", ""), c("京0108", ""), c("京0102", "京02"),
	}
}

// scenario drives a mesh the way the story is told: as a court, do.
type scenario struct {
	t  *testing.T
	tm *testMesh
	by map[court.CourtCode]*node.Node
	// accepted counts acceptances, for distinct new case numbers.
	accepted int
}

func newScenario(t *testing.T) *scenario {
	t.Helper()
	return newScenarioWith(t, nil)
}

// newScenarioWith is newScenario with each court's configuration changed
// by tweak (nil: none) before its node starts.
func newScenarioWith(t *testing.T, tweak func(court.CourtCode, *config.Config)) *scenario {
	t.Helper()
	courts := scenarioCourts()
	tm := startCourts(t, courts, func(i int, o *node.Options) {
		cfg, err := config.Load(o.Dir.Path(datadir.ConfigFile))
		if err != nil {
			t.Fatal(err)
		}
		cfg.SyncInterval.Duration = time.Second
		if tweak != nil {
			tweak(courts[i].Code, &cfg)
		}
		o.Config = &cfg
	})
	s := &scenario{t: t, tm: tm, by: map[court.CourtCode]*node.Node{}}
	for i, c := range tm.Courts {
		s.by[c.Code] = tm.nodes[i]
	}
	return s
}

// as returns the node of a court.
func (s *scenario) as(code court.CourtCode) *node.Node {
	n, ok := s.by[code]
	if !ok {
		s.t.Fatalf("no court %s in the scenario", code)
	}
	return n
}

// cases imports generated cases into a court's store and returns the case
// numbers, split into those with an active measure expiring within 30
// days and those without.
func (s *scenario) cases(code court.CourtCode, count int) (safe, expiring []court.CaseNumber) {
	s.t.Helper()
	dir := filepath.Join(s.t.TempDir(), "cases")
	cs, err := gen.Generate(dir, gen.Options{Cases: count, Seed: 7, Court: code})
	if err != nil {
		s.t.Fatal(err)
	}
	db := s.as(code).Store()
	today := court.DateOf(time.Now())
	for _, c := range cs {
		if _, err := importer.Import(context.Background(), db, c.Dir, importer.Options{}); err != nil {
			s.t.Fatal(err)
		}
		ms, err := db.Measures(c.Number)
		if err != nil {
			s.t.Fatal(err)
		}
		near := false
		for _, m := range ms {
			if m.Status == court.MeasureActive && !m.Expiry.IsZero() && today.DaysUntil(m.Expiry) <= 30 {
				near = true
			}
		}
		if near {
			expiring = append(expiring, c.Number)
		} else {
			safe = append(safe, c.Number)
		}
	}
	return safe, expiring
}

// expectEverywhere waits until every node holds the transfer in state.
func (s *scenario) expectEverywhere(id court.TransferID, state cmproto.State) {
	s.t.Helper()
	s.expectOn(id, state, s.tm.nodes, "every node")
}

// expectOn waits until the nodes given (named by what) hold the transfer
// in state.
func (s *scenario) expectOn(id court.TransferID, state cmproto.State, nodes []*node.Node, what string) {
	s.t.Helper()
	nodetest.PollUntil(s.t, 20*time.Second, fmt.Sprintf("transfer %s %s on %s", id, state, what), func() bool {
		for _, n := range nodes {
			tr, err := n.Workflow().Transfer(id)
			if err != nil || tr.State != state {
				return false
			}
		}
		return true
	})
}

// cutOff cuts (or, with cut false, restores) the network between every
// node of left and every node of right, both ways.
func cutOff(left, right []*node.Node, cut bool) {
	for _, a := range left {
		for _, b := range right {
			if a != b {
				node.PartitionForTest(a, b.PeerID(), cut)
				node.PartitionForTest(b, a.PeerID(), cut)
			}
		}
	}
}

// must fails the test on an error: must(t)(n.Workflow().Offer(...)).
func must(t *testing.T) func(*cmproto.Transfer, error) *cmproto.Transfer {
	return func(tr *cmproto.Transfer, err error) *cmproto.Transfer {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
}

func TestTransferStory(t *testing.T) {
	s := newScenario(t)
	ctx := context.Background()
	safe, _ := s.cases("京0105", 8)
	if len(safe) == 0 {
		t.Fatal("the generator made no case without a near-expiry measure")
	}

	// As 京0105, offer a long-stalled case to 京01.
	tr := must(t)(s.as("京0105").Workflow().Offer(ctx, api.OfferRequest{CaseNumber: safe[0].String(), Superior: "京01", Grounds: []string{"long_unexecuted", "interference"}}))
	id := tr.ID
	s.expectEverywhere(id, cmproto.StateOffered)

	// As 京01, decide: 指令执行 to 京0108.
	must(t)(s.as("京01").Workflow().Decide(ctx, id, api.DecideRequest{Mode: "designated", Receiver: "京0108", DecisionNumber: "（2026）京01执监7号"}))
	s.expectEverywhere(id, cmproto.StateDecided)

	// As 京0108, accept under a new case number.
	newNo := nodetest.CaseNo(time.Now(), "京0108", court.TypeEnforcement, 1201)
	must(t)(s.as("京0108").Workflow().Accept(ctx, id, api.AcceptRequest{NewCaseNumber: newNo}))
	s.expectEverywhere(id, cmproto.StateAccepted)

	// As 京0105, hand the dossier over.
	must(t)(s.as("京0105").Workflow().Handover(ctx, id, api.HandoverRequest{}))
	s.expectEverywhere(id, cmproto.StateHandedOver)

	// As 京0108, fetch the dossier; its receipt reaches every court.
	if _, err := s.as("京0108").Fetcher().Fetch(ctx, id); err != nil {
		t.Fatal(err)
	}
	s.expectEverywhere(id, cmproto.StateReceived)

	// As 京0108, report progress.
	must(t)(s.as("京0108").Workflow().Progress(ctx, id, api.ProgressRequest{AmountRecoveredFen: 1_250_000_00, Status: "查封房产已进入拍卖程序"}))
	nodetest.PollUntil(t, 20*time.Second, "progress everywhere", func() bool {
		for _, n := range s.tm.nodes {
			tr, err := n.Workflow().Transfer(id)
			if err != nil || tr.AmountRecovered != 1_250_000_00 {
				return false
			}
		}
		return true
	})

	// Every node agrees on everything about the transfer.
	want, _ := s.as("京").Workflow().Transfer(id)
	for _, n := range s.tm.nodes {
		got, _ := n.Workflow().Transfer(id)
		if got.State != want.State || got.Receiver != "京0108" || got.Decider != "京01" || got.Mode != "指令执行" ||
			got.NewCaseNumber != newNo || len(got.Records) != 6 || got.ChunkCount == 0 {
			t.Errorf("%s disagrees: %+v", n.Status().CourtCode, got)
		}
	}

	// 提级执行: as 京0105, offer another case; as 京01, take it itself.
	tr2 := must(t)(s.as("京0105").Workflow().Offer(ctx, api.OfferRequest{CaseNumber: safe[1].String(), Superior: "京01", Grounds: []string{"capacity"}}))
	s.expectEverywhere(tr2.ID, cmproto.StateOffered)
	must(t)(s.as("京01").Workflow().Decide(ctx, tr2.ID, api.DecideRequest{Mode: "elevated", DecisionNumber: "（2026）京01执监8号"}))
	must(t)(s.as("京01").Workflow().Accept(ctx, tr2.ID, api.AcceptRequest{NewCaseNumber: nodetest.CaseNo(time.Now(), "京01", court.TypeEnforcement, 88)}))
	s.expectEverywhere(tr2.ID, cmproto.StateAccepted)
}

// TestTransferRefusals: It is long on purpose: the refusals of the
// transfer steps, each subtest building on the mesh the one before left.
func TestTransferRefusals(t *testing.T) {
	s := newScenario(t)
	ctx := context.Background()
	safe, expiring := s.cases("京0105", 12)
	if len(safe) < 6 || len(expiring) == 0 {
		t.Fatalf("generator gave %d safe and %d expiring cases; need 6 and 1", len(safe), len(expiring))
	}
	offerTo := func(cn court.CaseNumber, sup court.CourtCode) court.TransferID {
		tr := must(t)(s.as("京0105").Workflow().Offer(ctx, api.OfferRequest{CaseNumber: cn.String(), Superior: string(sup), Grounds: []string{"long_unexecuted"}}))
		s.expectEverywhere(tr.ID, cmproto.StateOffered)
		return tr.ID
	}
	offer := func(cn court.CaseNumber) court.TransferID { return offerTo(cn, "京01") }

	t.Run("decision designating a court with no certificate", func(t *testing.T) {
		id := offer(safe[1])
		// 京0106 is a valid basic court under 京01, but not on the mesh.
		_, err := s.as("京01").Workflow().Decide(ctx, id, api.DecideRequest{Mode: "designated", Receiver: "京0106", DecisionNumber: "（2026）京01执监7号"})
		if !errors.Is(err, court.ErrInvalid) || !strings.Contains(err.Error(), "no certificate") {
			t.Fatalf("err = %v, want ErrInvalid naming the missing certificate", err)
		}
		s.expectEverywhere(id, cmproto.StateOffered)
	})

	t.Run("records crossing a withdrawal", func(t *testing.T) {
		// The origin, cut off from the mesh, withdraws while the other
		// courts act on the offer: the superior rejects; or decides and
		// the receiver rejects; or decides and the receiver accepts. Once
		// the mesh heals every node ends withdrawn, with the same records
		// and fields.
		decide := func(t *testing.T, id court.TransferID, k int) {
			must(t)(s.as("京01").Workflow().Decide(ctx, id, api.DecideRequest{Mode: "designated", Receiver: "京0108", DecisionNumber: fmt.Sprintf("（2026）京01执监%d号", 20+k)}))
		}
		for k, other := range []struct {
			name string
			act  func(t *testing.T, id court.TransferID)
		}{
			{"the superior rejects", func(t *testing.T, id court.TransferID) {
				must(t)(s.as("京01").Workflow().Reject(ctx, id, "本院执行力量不足"))
			}},
			{"the receiver rejects", func(t *testing.T, id court.TransferID) {
				decide(t, id, 1)
				s.expectOn(id, cmproto.StateDecided, []*node.Node{s.as("京0108")}, "京0108")
				must(t)(s.as("京0108").Workflow().Reject(ctx, id, "本院执行力量不足"))
			}},
			{"the receiver accepts", func(t *testing.T, id court.TransferID) {
				decide(t, id, 2)
				s.expectOn(id, cmproto.StateDecided, []*node.Node{s.as("京0108")}, "京0108")
				must(t)(s.as("京0108").Workflow().Accept(ctx, id, api.AcceptRequest{NewCaseNumber: nodetest.CaseNo(time.Now(), "京0108", court.TypeEnforcement, 822)}))
			}},
		} {
			t.Run(other.name, func(t *testing.T) {
				id := offer(safe[3+k])
				origin := s.as("京0105")
				cutOff([]*node.Node{origin}, s.tm.nodes, true)
				must(t)(origin.Workflow().Withdraw(ctx, id, "被执行人已主动履行"))
				other.act(t, id)
				if tr, err := s.as("京01").Workflow().Transfer(id); err != nil || tr.State == cmproto.StateWithdrawn {
					t.Fatalf("the withdrawal crossed the partition: %v %v", tr.State, err)
				}
				cutOff([]*node.Node{origin}, s.tm.nodes, false)
				connectAll(t, s.tm.nodes)
				s.expectEverywhere(id, cmproto.StateWithdrawn)
				want, err := origin.Workflow().Transfer(id)
				if err != nil {
					t.Fatal(err)
				}
				nodetest.PollUntil(t, 20*time.Second, "the same records and fields on every node", func() bool {
					w, _ := json.Marshal(want)
					for _, n := range s.tm.nodes {
						tr, err := n.Workflow().Transfer(id)
						if err != nil {
							return false
						}
						if g, _ := json.Marshal(tr); !bytes.Equal(g, w) {
							want = tr // the origin may still be catching up: compare again
							return false
						}
					}
					return true
				})
				if want.Reason != "被执行人已主动履行" || want.Decider == "" && k > 0 {
					t.Fatalf("withdrawn with reason %q, decider %q", want.Reason, want.Decider)
				}
				// A court that knows the transfer ended does not act on it.
				if _, err := s.as("京01").Workflow().Reject(ctx, id, "再次拒绝"); !errors.Is(err, court.ErrConflict) {
					t.Fatalf("rejecting a withdrawn transfer: %v, want ErrConflict", err)
				}
				if _, err := origin.Workflow().Withdraw(ctx, id, "再次撤回"); !errors.Is(err, court.ErrConflict) {
					t.Fatalf("withdrawing a withdrawn transfer: %v, want ErrConflict", err)
				}
			})
		}
	})

	t.Run("progress before the receipt", func(t *testing.T) {
		id := offer(safe[2])
		must(t)(s.as("京01").Workflow().Decide(ctx, id, api.DecideRequest{Mode: "designated", Receiver: "京0108", DecisionNumber: "（2026）京01执监8号"}))
		s.expectEverywhere(id, cmproto.StateDecided)
		must(t)(s.as("京0108").Workflow().Accept(ctx, id, api.AcceptRequest{NewCaseNumber: nodetest.CaseNo(time.Now(), "京0108", court.TypeEnforcement, 808)}))
		s.expectEverywhere(id, cmproto.StateAccepted)
		_, err := s.as("京0108").Workflow().Progress(ctx, id, api.ProgressRequest{AmountRecoveredFen: 100_00, Status: "已扣划存款"})
		if !errors.Is(err, court.ErrConflict) || !strings.Contains(err.Error(), "once the dossier is received") {
			t.Fatalf("err = %v, want ErrConflict asking for the receipt first", err)
		}
		tr, err := s.as("京0105").Workflow().Transfer(id)
		if err != nil || tr.AmountRecovered != 0 {
			t.Fatalf("the origin records %d fen recovered by the receiver (%v)", tr.AmountRecovered, err)
		}
	})

	t.Run("decision by a court that is not a superior of both", func(t *testing.T) {
		id := offerTo(safe[0], "京")
		// 京02 is superior of 京0102 but not of the origin 京0105.
		_, err := s.as("京02").Workflow().Decide(ctx, id, api.DecideRequest{Mode: "designated", Receiver: "京0102", DecisionNumber: "（2026）京02执监1号"})
		if !errors.Is(err, court.ErrInvalid) {
			t.Fatalf("err = %v, want ErrInvalid", err)
		}
		// 京01 is superior of both 京0105 and 京0108, but the offer asked 京.
		_, err = s.as("京01").Workflow().Decide(ctx, id, api.DecideRequest{Mode: "designated", Receiver: "京0108", DecisionNumber: "（2026）京01执监2号"})
		if !errors.Is(err, court.ErrInvalid) {
			t.Fatalf("err = %v, want ErrInvalid", err)
		}
		// The high court is superior of both.
		must(t)(s.as("京").Workflow().Decide(ctx, id, api.DecideRequest{Mode: "designated", Receiver: "京0102", DecisionNumber: "（2026）京执监3号"}))
		s.expectEverywhere(id, cmproto.StateDecided)

		t.Run("acceptance by a court that was not designated", func(t *testing.T) {
			_, err := s.as("京0108").Workflow().Accept(ctx, id, api.AcceptRequest{NewCaseNumber: nodetest.CaseNo(time.Now(), "京0108", court.TypeEnforcement, 9)})
			if !errors.Is(err, court.ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
		})
		t.Run("a step out of order", func(t *testing.T) {
			// Handover before acceptance.
			_, err := s.as("京0105").Workflow().Handover(ctx, id, api.HandoverRequest{})
			if !errors.Is(err, court.ErrConflict) {
				t.Fatalf("err = %v, want ErrConflict", err)
			}
		})
	})

	t.Run("handover blocked by a measure expiring soon, then overridden", func(t *testing.T) {
		id := offer(expiring[0])
		must(t)(s.as("京01").Workflow().Decide(ctx, id, api.DecideRequest{Mode: "designated", Receiver: "京0108", DecisionNumber: "（2026）京01执监4号"}))
		s.expectEverywhere(id, cmproto.StateDecided)
		must(t)(s.as("京0108").Workflow().Accept(ctx, id, api.AcceptRequest{NewCaseNumber: nodetest.CaseNo(time.Now(), "京0108", court.TypeEnforcement, 10)}))
		s.expectEverywhere(id, cmproto.StateAccepted)
		_, err := s.as("京0105").Workflow().Handover(ctx, id, api.HandoverRequest{})
		if !errors.Is(err, court.ErrHandoverBlocked) {
			t.Fatalf("err = %v, want ErrHandoverBlocked", err)
		}
		t.Logf("refusal: %v", err)
		// An override is evidenced before it takes effect: while the
		// audit log cannot be written, it is refused and nothing moves.
		origin := s.as("京0105")
		origin.Store().SetAuditFault(func(e storage.AuditEntry) error { return errors.New("disk full") })
		_, err = origin.Workflow().Handover(ctx, id, api.HandoverRequest{OverrideReason: "续行裁定已送达登记机关，回执待补"})
		origin.Store().SetAuditFault(nil)
		if !errors.Is(err, court.ErrUnavailable) || !strings.Contains(err.Error(), "audit") {
			t.Fatalf("override with the audit log failing: %v; want ErrUnavailable naming the audit log", err)
		}
		if got, _ := origin.Workflow().Transfer(id); got.State != cmproto.StateAccepted {
			t.Fatalf("after the refused override the transfer is %s, want accepted", got.State)
		}
		tr := must(t)(origin.Workflow().Handover(ctx, id, api.HandoverRequest{OverrideReason: "续行裁定已送达登记机关，回执待补"}))
		if tr.OverrideReason == "" || len(tr.Overridden) == 0 {
			t.Fatalf("override not recorded: %+v", tr)
		}
		s.expectEverywhere(id, cmproto.StateHandedOver)
		got, _ := s.as("京").Workflow().Transfer(id)
		if got.OverrideReason != tr.OverrideReason {
			t.Errorf("the override reason did not travel: %q", got.OverrideReason)
		}
		entries, err := s.as("京0105").Store().AuditEntries(1, 0)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, e := range entries {
			found = found || (e.Event == "handover.override" && e.Transfer == string(id))
		}
		if !found {
			t.Error("the override is not in the audit log")
		}
	})
}

// TestCatchUp stops a node, publishes 50 offers, starts it again, and
// expects it to have all 50 within one sync interval of reconnecting.
func TestCatchUp(t *testing.T) {
	if testing.Short() {
		t.Skip("catch-up test skipped with -short")
	}
	courts := scenarioCourts()
	m, err := devmesh.Build(t.TempDir(), courts, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cfgFor := func(d datadir.Dir) *config.Config {
		cfg, err := config.Load(d.Path(datadir.ConfigFile))
		if err != nil {
			t.Fatal(err)
		}
		cfg.SyncInterval.Duration = time.Second
		return &cfg
	}
	var nodes []*node.Node
	stops := map[int]func(){}
	for i, d := range m.Dirs {
		n, stop := startStoppable(t, node.Options{Dir: d, Config: cfgFor(d), Logger: testLogger(t)})
		nodes = append(nodes, n)
		stops[i] = stop
	}
	connectAll(t, nodes)
	const late = 5 // 京0108 goes down
	stops[late]()

	origin := nodes[4] // 京0105
	dir := filepath.Join(t.TempDir(), "cases")
	cs, err := gen.Generate(dir, gen.Options{Cases: 50, Seed: 11, Court: "京0105"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []court.TransferID
	for _, c := range cs {
		if _, err := importer.Import(context.Background(), origin.Store(), c.Dir, importer.Options{}); err != nil {
			t.Fatal(err)
		}
		tr, err := origin.Workflow().Offer(context.Background(), api.OfferRequest{CaseNumber: c.Number.String(), Superior: "京01", Grounds: []string{"long_unexecuted"}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, tr.ID)
	}

	// Restart the node that was down.
	restarted, _ := startStoppable(t, node.Options{Dir: m.Dirs[late], Config: cfgFor(m.Dirs[late]), Logger: testLogger(t)})
	start := time.Now()
	connectAll(t, append([]*node.Node{restarted}, append(nodes[:late:late], nodes[late+1:]...)...))
	elapsed := nodetest.PollUntil(t, 20*time.Second, "all 50 offers on the restarted node", func() bool {
		ts, err := listAll(restarted)
		return err == nil && len(ts) == len(ids)
	})
	t.Logf("restarted node had all %d offers %v after the reconnect began (%v after it completed; sync interval 1s)", len(ids), time.Since(start), elapsed)

	// Partition: cut the mesh into two halves, publish, heal.
	left, right := []*node.Node{nodes[0], nodes[1], nodes[2]}, []*node.Node{nodes[3], nodes[4], restarted, nodes[6]}
	cutOff(left, right, true)
	var decided []court.TransferID
	for _, id := range ids[:10] {
		// 京01 (left) decides while the right half cannot hear it.
		if _, err := nodes[2].Workflow().Decide(context.Background(), id, api.DecideRequest{Mode: "designated", Receiver: "京0108", DecisionNumber: "（2026）京01执监99号"}); err != nil {
			t.Fatal(err)
		}
		decided = append(decided, id)
	}
	// The partition is real: the right half has not heard the decisions.
	for _, n := range right {
		if tr, err := n.Workflow().Transfer(decided[0]); err != nil || tr.State != cmproto.StateOffered {
			t.Fatalf("%s learned of a decision across the partition: %v %v", n.Status().CourtCode, tr.State, err)
		}
	}
	cutOff(left, right, false)
	healed := time.Now()
	connectAll(t, append(left, right...))
	elapsed = nodetest.PollUntil(t, 20*time.Second, "decisions across the healed partition", func() bool {
		for _, n := range right {
			for _, id := range decided {
				tr, err := n.Workflow().Transfer(id)
				if err != nil || tr.State != cmproto.StateDecided {
					return false
				}
			}
		}
		return true
	})
	t.Logf("after the partition healed, the other half had all %d decisions %v after the heal began (%v after reconnecting)", len(decided), time.Since(healed), elapsed)
}

func startStoppable(t *testing.T, o node.Options) (*node.Node, func()) {
	t.Helper()
	n, err := node.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Serve(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}
	t.Cleanup(stop)
	select {
	case <-n.Ready():
	case <-time.After(20 * time.Second):
		t.Fatal("node not ready")
	}
	return n, stop
}

func connectAll(t *testing.T, nodes []*node.Node) {
	t.Helper()
	for i, a := range nodes {
		for _, b := range nodes[i+1:] {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := a.Host().Connect(ctx, peer.AddrInfo{ID: b.PeerID(), Addrs: b.Host().Addrs()})
			cancel()
			if err != nil {
				t.Fatalf("connect: %v", err)
			}
		}
	}
}

// listAll pages through every transfer n holds, as a client of the API
// would.
func listAll(n *node.Node) ([]api.Transfer, error) {
	var out []api.Transfer
	q := api.TransferQuery{Limit: 1000}
	for {
		page, next, err := n.Workflow().List(context.Background(), q)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if next == "" {
			return out, nil
		}
		q.Cursor = next
	}
}
