package node_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/audit"
	"courtmesh.dev/courtmesh/node/config"
	"courtmesh.dev/courtmesh/node/datadir"
	"courtmesh.dev/courtmesh/node/evidence"
	"courtmesh.dev/courtmesh/node/nodetest"
	cmproto "courtmesh.dev/courtmesh/protocol"
)

// shiftClock is one clock every node of a test reads: the real time
// moved by a shift the test sets (days, for due dates to pass).
type shiftClock struct{ shift atomic.Int64 }

func (c *shiftClock) Now() time.Time { return time.Now().Add(time.Duration(c.shift.Load())) }

// TestDirectiveAndReport: the high court 京 directs 京0108, the receiver
// of a transfer 京01 decided (督办); a basic court may not direct, and
// only the directed court reports. Past its due day the directive is an
// alert at 京0108 and at 京, until 京0108's report reaches them. The
// directive and the report are records of the transfer, so its evidence
// file carries them and verifies.
func TestDirectiveAndReport(t *testing.T) {
	clock := &shiftClock{}
	tm := startCourts(t, scenarioCourts(), func(i int, o *node.Options) {
		cfg, err := config.Load(o.Dir.Path(datadir.ConfigFile))
		if err != nil {
			t.Fatal(err)
		}
		cfg.SyncInterval.Duration = time.Second
		o.Config = &cfg
		o.Now = clock.Now
	})
	s := &scenario{t: t, tm: tm, by: map[court.CourtCode]*node.Node{}}
	for i, c := range tm.Courts {
		s.by[c.Code] = tm.nodes[i]
	}
	ctx := context.Background()
	safe, _ := s.cases("京0105", 4)
	tr := must(t)(s.as("京0105").Workflow().Offer(ctx, api.OfferRequest{CaseNumber: safe[0].String(), Superior: "京01", Grounds: []string{"long_unexecuted"}}))
	id := tr.ID
	s.expectEverywhere(id, cmproto.StateOffered)
	must(t)(s.as("京01").Workflow().Decide(ctx, id, api.DecideRequest{Mode: "designated", Receiver: "京0108", DecisionNumber: "（2026）京01执监9号"}))
	s.expectEverywhere(id, cmproto.StateDecided)
	must(t)(s.as("京0108").Workflow().Accept(ctx, id, api.AcceptRequest{NewCaseNumber: nodetest.CaseNo(clock.Now(), "京0108", court.TypeEnforcement, 1301)}))
	s.expectEverywhere(id, cmproto.StateAccepted)

	due := court.DateOf(clock.Now()).AddDate(0, 0, 5).String()
	// A basic court directs no one.
	if _, err := s.as("京0105").Workflow().Direct(ctx, id, api.DirectiveRequest{Court: "京0108", Instruction: "请报告", Due: due}); !errors.Is(err, court.ErrPermission) {
		t.Fatalf("京0105 directed 京0108: %v, want a permission error", err)
	}
	// Nor does a superior direct a court outside the transfer.
	if _, err := s.as("京").Workflow().Direct(ctx, id, api.DirectiveRequest{Court: "京0102", Instruction: "请报告", Due: due}); !errors.Is(err, court.ErrInvalid) {
		t.Fatalf("京 directed 京0102, no court of the transfer: %v, want invalid", err)
	}
	// As 京, the high court, direct the receiver (督办).
	got := must(t)(s.as("京").Workflow().Direct(ctx, id, api.DirectiveRequest{Court: "京0108", Instruction: "请于五日内报告案件接收及财产查控情况", Due: due}))
	if len(got.Directives) != 1 {
		t.Fatalf("the directive is not on the transfer: %+v", got.Directives)
	}
	dir := got.Directives[0]
	nodetest.PollUntil(t, 20*time.Second, "the directive on every node", func() bool {
		for _, n := range tm.nodes {
			v, err := n.Workflow().Transfer(id)
			if err != nil || len(v.Directives) != 1 || v.Directives[0].Hash != dir.Hash || v.Directives[0].Issuer != "京" {
				return false
			}
		}
		return true
	})
	// Only the directed court reports.
	if _, err := s.as("京0105").Workflow().ReportDirective(ctx, id, dir.Hash, api.DirectiveReportRequest{Report: "已办理"}); !errors.Is(err, court.ErrPermission) {
		t.Fatalf("京0105 reported on a directive to 京0108: %v, want a permission error", err)
	}

	overdueAlert := func(n *node.Node) bool {
		for _, a := range n.Health().Alerts(ctx) {
			if a.Kind == "directive_overdue" {
				return true
			}
		}
		return false
	}
	if overdueAlert(s.as("京0108")) || overdueAlert(s.as("京")) {
		t.Fatal("a directive not yet due raised an alert")
	}
	// Ten days later, unanswered: an alert at both courts, none at others.
	clock.shift.Store(int64(10 * 24 * time.Hour))
	if !overdueAlert(s.as("京0108")) || !overdueAlert(s.as("京")) {
		t.Fatal("an overdue directive raised no alert at the directed court and the court that issued it")
	}
	if overdueAlert(s.as("京0105")) || overdueAlert(s.as("京01")) {
		t.Fatal("an overdue directive raised an alert at a court it does not concern")
	}
	if v, _ := s.as("京").Workflow().Transfer(id); !v.Directives[0].Overdue {
		t.Fatal("the transfer view does not show the directive overdue")
	}

	// As 京0108, report: the alert goes at both.
	must(t)(s.as("京0108").Workflow().ReportDirective(ctx, id, dir.Hash, api.DirectiveReportRequest{Report: "已立案执行，冻结存款两笔，拍卖房产一处"}))
	nodetest.PollUntil(t, 20*time.Second, "the report on every node", func() bool {
		for _, n := range tm.nodes {
			v, err := n.Workflow().Transfer(id)
			if err != nil || len(v.Directives) != 1 || v.Directives[0].ReportedAt == nil || v.Directives[0].Overdue {
				return false
			}
		}
		return true
	})
	if overdueAlert(s.as("京0108")) || overdueAlert(s.as("京")) {
		t.Fatal("the directive is answered but its alert stays")
	}
	if _, err := s.as("京0108").Workflow().ReportDirective(ctx, id, dir.Hash, api.DirectiveReportRequest{Report: "再次报告"}); !errors.Is(err, court.ErrConflict) {
		t.Fatalf("a second report: %v, want a conflict", err)
	}

	// The directive and the report are evidence: the high court's file
	// carries them and verifies with the root alone.
	n := s.as("京")
	d := tm.Dirs[1]
	nk, _, err := d.Keys()
	if err != nil {
		t.Fatal(err)
	}
	al, err := audit.New(audit.Deps{Store: n.Store()})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := evidence.Export(&buf, evidence.Deps{Store: n.Store(), Dir: d, Key: nk, Audit: al, Now: clock.Now, Actor: "test"}, id); err != nil {
		t.Fatal(err)
	}
	f, err := evidence.Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := evidence.Verify(f, nil)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, r := range rep.Records {
		kinds = append(kinds, r.Kind)
	}
	if k := strings.Join(kinds, ","); k != "offer,decision,acceptance,directive,directive_report" {
		t.Fatalf("the evidence holds %s", k)
	}
}
