package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/config"
	"courtmesh.dev/courtmesh/node/dashboard"
	"courtmesh.dev/courtmesh/node/datadir"
	"courtmesh.dev/courtmesh/node/nodetest"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/storage"
	"courtmesh.dev/courtmesh/storage/gen"
	"courtmesh.dev/courtmesh/storage/importer"
)

// agreeEverywhere waits until every node holds the same transfer, field
// for field (the state derived from the records, as stored), and
// returns it.
func (s *scenario) agreeEverywhere(id court.TransferID) *cmproto.Transfer {
	s.t.Helper()
	var w []byte
	var differ string // the last disagreement seen, for the failure message
	agree := func() bool {
		w = nil
		for i, n := range s.tm.nodes {
			g, err := n.Store().Transfer(string(id))
			if err != nil {
				differ = fmt.Sprintf("node %d: %v", i, err)
				return false
			}
			if w == nil {
				w = g
			} else if !bytes.Equal(g, w) {
				differ = fmt.Sprintf("node %d differs from node 0 in %s", i, jsonDiff(w, g))
				return false
			}
		}
		return true
	}
	for deadline := time.Now().Add(20 * time.Second); !agree(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			s.t.Fatalf("timed out after 20s waiting for every node agreeing on every field of %s: %s", id, differ)
		}
	}
	var t cmproto.Transfer
	if err := json.Unmarshal(w, &t); err != nil {
		s.t.Fatal(err)
	}
	return &t
}

// refused fails the test unless err is of kind and its message names
// every word given; it logs the refusal, which is what the clerk reads.
func refused(t *testing.T, what string, err error, kind error, words ...string) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("%s: err = %v, want %v", what, err, kind)
	}
	for _, w := range words {
		if !strings.Contains(err.Error(), w) {
			t.Fatalf("%s: %q does not say %q", what, err, w)
		}
	}
	t.Logf("%s refused: %v", what, err)
}

// TestBalanceIsTheNewClaim: the receiving court files its new 执 case
// with the amount still unrecovered, as the signed handover states it,
// and counts it as a first enforcement of that balance.
func TestBalanceIsTheNewClaim(t *testing.T) {
	s := newScenario(t)
	ctx := context.Background()
	safe, _ := s.cases("京0105", 6)
	if len(safe) < 2 {
		t.Fatal("the generator made too few cases without a near-expiry measure")
	}
	cn := safe[0]
	_, v, err := s.as("京0105").Store().Case(cn)
	if err != nil {
		t.Fatal(err)
	}
	claim := v.ClaimFen
	atOffer, atHandover := claim/10, claim/4

	// As 京0105, offer the case, having recovered a tenth of the claim.
	tr := must(t)(s.as("京0105").Workflow().Offer(ctx, api.OfferRequest{CaseNumber: cn.String(), Superior: "京01", Grounds: []string{"long_unexecuted"}, AmountRecoveredFen: &atOffer}))
	id := tr.ID
	if tr.AmountOutstanding != claim-atOffer {
		t.Fatalf("offer announces %d outstanding, want %d", tr.AmountOutstanding, claim-atOffer)
	}
	s.expectEverywhere(id, cmproto.StateOffered)
	// As 京01, designate 京0108.
	must(t)(s.as("京01").Workflow().Decide(ctx, id, api.DecideRequest{Mode: "designated", Receiver: "京0108", DecisionNumber: "（2026）京01执监31号"}))
	s.expectEverywhere(id, cmproto.StateDecided)

	// As 京0108, accept: the new number must be a first enforcement (执)
	// of this court of this year or the last.
	year := court.DateOf(time.Now()).Year
	_, err = s.as("京0108").Workflow().Accept(ctx, id, api.AcceptRequest{NewCaseNumber: "（" + itoa(year) + "）京0108执恢31号"})
	refused(t, "acceptance under an 执恢 number", err, court.ErrInvalid, "first enforcement")
	_, err = s.as("京0108").Workflow().Accept(ctx, id, api.AcceptRequest{NewCaseNumber: "（" + itoa(year-3) + "）京0108执31号"})
	refused(t, "acceptance under a number of three years ago", err, court.ErrInvalid, itoa(year-3))
	newNo := "（" + itoa(year) + "）京0108执31号"
	must(t)(s.as("京0108").Workflow().Accept(ctx, id, api.AcceptRequest{NewCaseNumber: newNo}))
	s.expectEverywhere(id, cmproto.StateAccepted)

	// As 京0105, hand over: what was recovered cannot shrink, nor cover
	// the whole claim.
	less, all := atOffer-1, claim
	_, err = s.as("京0105").Workflow().Handover(ctx, id, api.HandoverRequest{AmountRecoveredFen: &less})
	refused(t, "handover stating less recovered than the offer", err, court.ErrInvalid, "cannot shrink")
	_, err = s.as("京0105").Workflow().Handover(ctx, id, api.HandoverRequest{AmountRecoveredFen: &all})
	refused(t, "handover stating the whole claim recovered", err, court.ErrInvalid, "nothing is left")
	// It recovered a quarter by now: the balance is three quarters.
	tr = must(t)(s.as("京0105").Workflow().Handover(ctx, id, api.HandoverRequest{AmountRecoveredFen: &atHandover}))
	if tr.ClaimFen != claim || tr.HandoverRecovered != atHandover || tr.BalanceFen != claim-atHandover {
		t.Fatalf("handover states claim %d, recovered %d, balance %d; want %d, %d, %d", tr.ClaimFen, tr.HandoverRecovered, tr.BalanceFen, claim, atHandover, claim-atHandover)
	}
	s.expectEverywhere(id, cmproto.StateHandedOver)

	// As 京0108, fetch: the case is filed with the balance as its claim.
	p, err := s.as("京0108").Fetcher().Fetch(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	n, err := court.ParseCaseNumber(p.NewCase)
	if err != nil {
		t.Fatal(err)
	}
	_, filed, err := s.as("京0108").Store().Case(n)
	if err != nil {
		t.Fatal(err)
	}
	if filed.ClaimFen != claim-atHandover || filed.OriginClaimFen != claim || filed.Number.Type != court.TypeEnforcement {
		t.Fatalf("filed %s claiming %d (origin's claim %d), want %d of %d", filed.Number, filed.ClaimFen, filed.OriginClaimFen, claim-atHandover, claim)
	}
	s.expectEverywhere(id, cmproto.StateReceived)

	// Every node agrees on every field, the balance among them; the
	// statistics count the receiver's case as a first enforcement of the
	// balance (the origin's, closed by 销案, not at all).
	got := s.agreeEverywhere(id)
	if got.BalanceFen != claim-atHandover || got.ClaimFen != claim || got.NewCaseNumber != newNo {
		t.Fatalf("agreed transfer: balance %d, claim %d, new case %s", got.BalanceFen, got.ClaimFen, got.NewCaseNumber)
	}
	st := dashboard.Contribution(got, 30)
	if st["rcv/京0108/claimed"] != claim-atHandover || st["rcv/京0108/origin"] != atHandover {
		t.Fatalf("statistics %v: want the balance %d claimed at 京0108 and %d recovered by the origin", st, claim-atHandover, atHandover)
	}
	for k := range st {
		if strings.HasPrefix(k, "rcv/京0105/") {
			t.Fatalf("the origin's case is counted: %s", k)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestDeadlinesAgree: every court runs with its own deadlines configured,
// yet the dates of a transfer are the decider's, fixed once in its signed
// decision: every node shows the same deadlines and the same overdue.
func TestDeadlinesAgree(t *testing.T) {
	// Each court configures other periods; 京01 decides with its own.
	cfgs := map[court.CourtCode]config.Config{}
	k := 0
	s := newScenarioWith(t, func(c court.CourtCode, cfg *config.Config) {
		k++
		cfg.AcceptanceDays, cfg.HandoverDays, cfg.FilingDays = 2+k, 3+k, 1+k
		cfg.InvestigationMonths, cfg.ConclusionMonths = 1+k%3, 2+k
		cfg.ReturnDays, cfg.SupplementDays = 10+k, 20+k
		cfgs[c] = *cfg
	})
	ctx := context.Background()
	safe, _ := s.cases("京0105", 6)
	if len(safe) < 2 {
		t.Fatal("the generator made too few cases without a near-expiry measure")
	}
	dec := cfgs["京01"]
	today := court.DateOf(time.Now())

	// As 京0105, offer; as 京01, decide naming no date: 京01's
	// configuration fixes every period, once.
	tr := must(t)(s.as("京0105").Workflow().Offer(ctx, api.OfferRequest{CaseNumber: safe[0].String(), Superior: "京01", Grounds: []string{"long_unexecuted"}}))
	id := tr.ID
	s.expectEverywhere(id, cmproto.StateOffered)
	must(t)(s.as("京01").Workflow().Decide(ctx, id, api.DecideRequest{Mode: "designated", Receiver: "京0108", DecisionNumber: "（2026）京01执监41号"}))
	s.expectEverywhere(id, cmproto.StateDecided)
	got := s.agreeEverywhere(id)
	wantPeriods := cmproto.Periods{HandoverDays: dec.HandoverDays, FilingDays: dec.FilingDays, InvestigationMonths: dec.InvestigationMonths,
		ConclusionMonths: dec.ConclusionMonths, ReturnDays: dec.ReturnDays, SupplementDays: dec.SupplementDays}
	if got.AcceptBy != today.AddDate(0, 0, dec.AcceptanceDays).String() || got.Periods == nil || *got.Periods != wantPeriods {
		t.Fatalf("decided: accept by %s, periods %+v; want %s and 京01's %+v", got.AcceptBy, got.Periods, today.AddDate(0, 0, dec.AcceptanceDays), wantPeriods)
	}
	s.sameView(id, "acceptance", "京0108", got.AcceptBy)

	// As 京0108, accept: the origin must hand over within 京01's period.
	must(t)(s.as("京0108").Workflow().Accept(ctx, id, api.AcceptRequest{NewCaseNumber: "（" + itoa(today.Year) + "）京0108执41号"}))
	s.expectEverywhere(id, cmproto.StateAccepted)
	got = s.agreeEverywhere(id)
	if got.HandoverBy != court.DateOf(got.AcceptedAt).AddDate(0, 0, dec.HandoverDays).String() {
		t.Fatalf("handover by %s, want %d days after the acceptance", got.HandoverBy, dec.HandoverDays)
	}
	s.sameView(id, "handover", "京0105", got.HandoverBy)

	// As 京0105, hand over: the receiver must file within 京01's period.
	must(t)(s.as("京0105").Workflow().Handover(ctx, id, api.HandoverRequest{}))
	s.expectEverywhere(id, cmproto.StateHandedOver)
	got = s.agreeEverywhere(id)
	if got.FileBy != court.DateOf(got.HandedOverAt).AddDate(0, 0, dec.FilingDays).String() {
		t.Fatalf("file by %s, want %d days after the handover", got.FileBy, dec.FilingDays)
	}
	s.sameView(id, "filing", "京0108", got.FileBy)

	// As 京0108, fetch and file: investigation and conclusion run.
	if _, err := s.as("京0108").Fetcher().Fetch(ctx, id); err != nil {
		t.Fatal(err)
	}
	s.expectEverywhere(id, cmproto.StateReceived)
	got = s.agreeEverywhere(id)
	filed := court.DateOf(got.ReceivedAt)
	if got.InvestigateBy != filed.AddDate(0, dec.InvestigationMonths, 0).String() || got.ConcludeBy != filed.AddDate(0, dec.ConclusionMonths, 0).String() {
		t.Fatalf("investigate by %s, conclude by %s; want %d and %d months after filing %s", got.InvestigateBy, got.ConcludeBy, dec.InvestigationMonths, dec.ConclusionMonths, filed)
	}
	s.sameView(id, "investigation", "京0108", got.InvestigateBy)
	// The first progress report is the investigation's: the conclusion
	// deadline runs on.
	must(t)(s.as("京0108").Workflow().Progress(ctx, id, api.ProgressRequest{AmountRecoveredFen: 10_00, Status: "财产调查完毕"}))
	nodetest.PollUntil(t, 20*time.Second, "the progress report everywhere", func() bool {
		for _, n := range s.tm.nodes {
			if v, err := n.Workflow().Transfer(id); err != nil || v.DeadlineFor != "conclusion" {
				return false
			}
		}
		return true
	})
	got = s.agreeEverywhere(id)
	s.sameView(id, "conclusion", "京0108", got.ConcludeBy)
	// Every node agrees when each deadline passes, whatever its clock
	// reads: the same dates give the same answer.
	for _, at := range []court.Date{filed.AddDate(0, dec.ConclusionMonths, 0), filed.AddDate(0, dec.ConclusionMonths, 1)} {
		want := at.After(filed.AddDate(0, dec.ConclusionMonths, 0))
		for _, n := range s.tm.nodes {
			b, err := n.Store().Transfer(string(id))
			if err != nil {
				t.Fatal(err)
			}
			var tr cmproto.Transfer
			if err := json.Unmarshal(b, &tr); err != nil {
				t.Fatal(err)
			}
			if tr.Overdue(at.Start().Add(time.Hour)) != want {
				t.Fatalf("%s: overdue on %s is %v, want %v", n.Status().CourtCode, at, !want, want)
			}
		}
	}

	// A decision whose acceptance date has passed: every node lists it
	// overdue, and raises the alert to the receiver.
	tr2 := must(t)(s.as("京0105").Workflow().Offer(ctx, api.OfferRequest{CaseNumber: safe[1].String(), Superior: "京01", Grounds: []string{"capacity"}}))
	s.expectEverywhere(tr2.ID, cmproto.StateOffered)
	yesterday := today.AddDate(0, 0, -1).String()
	must(t)(s.as("京01").Workflow().Decide(ctx, tr2.ID, api.DecideRequest{Mode: "designated", Receiver: "京0108", DecisionNumber: "（2026）京01执监42号", AcceptBy: yesterday}))
	s.expectEverywhere(tr2.ID, cmproto.StateDecided)
	s.agreeEverywhere(tr2.ID)
	for _, n := range s.tm.nodes {
		page, _, err := n.Workflow().List(ctx, api.TransferQuery{Overdue: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) != 1 || page[0].ID != tr2.ID || !page[0].Overdue || page[0].DeadlineCourt != "京0108" || page[0].Deadline != yesterday {
			t.Fatalf("%s lists overdue %+v, want only %s", n.Status().CourtCode, page, tr2.ID)
		}
	}
	alerted := false
	for _, a := range s.as("京").Health().AllAlerts(ctx) {
		alerted = alerted || (a.Kind == "acceptance_overdue" && a.Transfer == string(tr2.ID) && a.Court == "京0108")
	}
	if !alerted {
		t.Error("no acceptance_overdue alert to 京0108")
	}
}

// sameView checks that every node's API view shows the same deadline,
// for the same step and court, and the same overdue flag.
func (s *scenario) sameView(id court.TransferID, what string, c court.CourtCode, by string) {
	s.t.Helper()
	for _, n := range s.tm.nodes {
		v, err := n.Workflow().Transfer(id)
		if err != nil {
			s.t.Fatal(err)
		}
		if v.Deadline != by || v.DeadlineFor != what || v.DeadlineCourt != string(c) || v.Overdue {
			s.t.Fatalf("%s shows deadline %s %s of %s (overdue %v), want %s by %s of %s, not overdue", n.Status().CourtCode, v.DeadlineFor, v.Deadline, v.DeadlineCourt, v.Overdue, what, by, c)
		}
	}
}

// TestTerminalAndResume: a received case is concluded as 终本 only once
// the law's conditions hold (3 months after filing, the investigation
// steps done, the approval), and a case concluded as 终本 is resumed
// under an 执恢 number and offered. Every court's clock runs four months
// behind at first, then catches up with the calendar: the story spans
// the months the law requires.
//
// It is long on purpose: one story on one clock, spanning the months
// the law requires.
func TestTerminalAndResume(t *testing.T) {
	var offset atomic.Int64 // added to the wall clock, the same for every court
	clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	start := time.Now()
	offset.Store(int64(start.AddDate(0, -4, 0).Sub(start)))
	courts := scenarioCourts()
	tm := startCourtsAt(t, courts, clock(), func(i int, o *node.Options) {
		cfg, err := config.Load(o.Dir.Path(datadir.ConfigFile))
		if err != nil {
			t.Fatal(err)
		}
		cfg.SyncInterval.Duration = time.Second
		o.Config, o.Now = &cfg, clock
	})
	s := &scenario{t: t, tm: tm, by: map[court.CourtCode]*node.Node{}}
	for i, c := range tm.Courts {
		s.by[c.Code] = tm.nodes[i]
	}
	// travel moves every court's clock to at and gives the mesh a trust
	// bundle in force then.
	travel := func(at time.Time) {
		t.Helper()
		offset.Store(int64(at.Sub(time.Now())))
		b, err := tm.CA.Bundle(clock(), 30*24*time.Hour, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range tm.nodes {
			if _, err := n.InstallBundleRaw(context.Background(), b.Raw, b.Head); err != nil {
				t.Fatal(err)
			}
		}
		connectAll(t, tm.nodes)
	}
	ctx := context.Background()
	dir := t.TempDir()
	cs, err := gen.Generate(dir, gen.Options{Cases: 6, Seed: 7, Court: "京0105", RefDate: court.DateOf(clock())})
	if err != nil {
		t.Fatal(err)
	}
	var safe []court.CaseNumber
	for _, c := range cs {
		if _, err := importer.Import(ctx, s.as("京0105").Store(), c.Dir, importer.Options{}); err != nil {
			t.Fatal(err)
		}
		ms, err := s.as("京0105").Store().Measures(c.Number)
		if err != nil {
			t.Fatal(err)
		}
		if e := court.EarliestExpiry(ms); e.IsZero() || court.DateOf(clock()).DaysUntil(e) > 40 {
			safe = append(safe, c.Number)
		}
	}
	if len(safe) < 2 {
		t.Fatalf("the generator made %d cases without a measure expiring within 40 days; need 2", len(safe))
	}

	// Four months ago: as 京0105, offer case A; as 京01, designate 京0108,
	// which accepts, receives and files it.
	year := court.DateOf(clock()).Year
	tr := must(t)(s.as("京0105").Workflow().Offer(ctx, api.OfferRequest{CaseNumber: safe[0].String(), Superior: "京01", Grounds: []string{"long_unexecuted"}}))
	a := tr.ID
	s.expectEverywhere(a, cmproto.StateOffered)
	must(t)(s.as("京01").Workflow().Decide(ctx, a, api.DecideRequest{Mode: "designated", Receiver: "京0108", DecisionNumber: "（" + itoa(year) + "）京01执监51号"}))
	s.expectEverywhere(a, cmproto.StateDecided)
	must(t)(s.as("京0108").Workflow().Accept(ctx, a, api.AcceptRequest{NewCaseNumber: "（" + itoa(year) + "）京0108执51号"}))
	s.expectEverywhere(a, cmproto.StateAccepted)
	must(t)(s.as("京0105").Workflow().Handover(ctx, a, api.HandoverRequest{}))
	s.expectEverywhere(a, cmproto.StateHandedOver)
	if _, err := s.as("京0108").Fetcher().Fetch(ctx, a); err != nil {
		t.Fatal(err)
	}
	s.expectEverywhere(a, cmproto.StateReceived)
	filedNo := court.MustParseCaseNumber("（" + itoa(year) + "）京0108执51号")

	steps := []string{"online_search", "report_order", "on_site", "consumption_restriction", "dishonest_listing"}
	recv := s.as("京0108").Workflow()
	// One month after filing: 终本 is refused, the case stays active.
	travel(start.AddDate(0, -3, 0))
	_, err = recv.Conclude(ctx, a, api.ConcludeRequest{Kind: "terminal", InvestigationSteps: steps, Approval: "panel_and_president"})
	refused(t, "终本 one month after filing", err, court.ErrInvalid, "3 months", "终本")
	// The applicant asks 京01 again to move the case: refused while
	// 京0108's conclusion period runs, even with a filing date the
	// record's own 6-month check would accept (protocol.TestAskAgain:
	// allowed the day after the conclusion deadline).
	today := court.DateOf(clock())
	_, err = s.as("京01").Workflow().Start(ctx, api.StartRequest{CaseNumber: filedNo.String(), Origin: "京0108", Grounds: []string{"passive"},
		Source: "applicant_request", FiledOn: today.AddDate(0, -7, 0).String(), RequestedOn: today.String()})
	refused(t, "the applicant asking again within the receiver's conclusion period", err, court.ErrConflict, "may ask again (a new transfer or 提级) from")
	// Today, four months after filing: the conditions are checked.
	travel(start)
	_, err = recv.Conclude(ctx, a, api.ConcludeRequest{Kind: "终本", InvestigationSteps: steps[:2], Approval: "panel_and_president"})
	refused(t, "终本 without the on-site investigation and the consumption restriction", err, court.ErrInvalid, "on_site", "consumption_restriction")
	_, err = recv.Conclude(ctx, a, api.ConcludeRequest{Kind: "终本", InvestigationSteps: steps})
	refused(t, "终本 without approval", err, court.ErrInvalid, "approval")
	_, err = recv.Conclude(ctx, a, api.ConcludeRequest{Kind: "销案"})
	refused(t, "the receiver closing by 销案", err, court.ErrInvalid, "销案")
	_, err = s.as("京0105").Workflow().Conclude(ctx, a, api.ConcludeRequest{Kind: "执行完毕"})
	refused(t, "the origin concluding the receiver's case", err, court.ErrConflict, "only the receiver")
	if head, _, err := s.as("京0108").Store().Case(filedNo); err != nil || head.Status != court.StatusActive {
		t.Fatalf("after the refusals the filed case is %s (%v), want active", head.Status, err)
	}
	// As 京0108, conclude as 终本 with the steps done and the panel's
	// and president's approval: its case is terminated.
	tr = must(t)(recv.Conclude(ctx, a, api.ConcludeRequest{Kind: "终本", AmountRecoveredFen: 10_00, InvestigationSteps: steps, Approval: "panel_and_president"}))
	if tr.ClosureKind != cmproto.ClosureTerminal || tr.Outcome != "terminated" {
		t.Fatalf("closed as %q (outcome %q)", tr.ClosureKind, tr.Outcome)
	}
	s.expectEverywhere(a, cmproto.StateClosed)
	got := s.agreeEverywhere(a)
	if got.ClosureKind != cmproto.ClosureTerminal || len(got.InvestigationDone) != len(steps) || got.Approval != "panel_and_president" {
		t.Fatalf("every node holds closure %q, steps %v, approval %q", got.ClosureKind, got.InvestigationDone, got.Approval)
	}
	if head, _, err := s.as("京0108").Store().Case(filedNo); err != nil || head.Status != court.StatusTerminated {
		t.Fatalf("the filed case is %s (%v), want terminated (终本)", head.Status, err)
	}
	if st := dashboard.Contribution(got, 30); st["closure/终本"] != 1 {
		t.Fatalf("statistics %v do not count the 终本", st)
	}

	// 执恢: 京0105's case B was concluded as 终本; new property leads
	// come in, and it is resumed under an 执恢 number and offered.
	b := safe[1]
	origin := s.as("京0105")
	if err := origin.Store().SetCaseStatus(b, court.StatusTerminated); err != nil {
		t.Fatal(err)
	}
	_, err = origin.Workflow().Offer(ctx, api.OfferRequest{CaseNumber: b.String(), Superior: "京01", Grounds: []string{"capacity"}})
	refused(t, "offering a 终本 case without resuming it", err, court.ErrInvalid, "执恢")
	_, err = origin.Workflow().Offer(ctx, api.OfferRequest{CaseNumber: b.String(), Superior: "京01", Grounds: []string{"capacity"}, ResumeAs: "（" + itoa(year) + "）京0105执3001号"})
	refused(t, "resuming under an 执 number", err, court.ErrInvalid, "执恢")
	_, err = origin.Workflow().Offer(ctx, api.OfferRequest{CaseNumber: safe[0].String(), Superior: "京01", Grounds: []string{"capacity"}, ResumeAs: "（" + itoa(year) + "）京0105执恢3002号"})
	refused(t, "resuming a case not concluded as 终本", err, court.ErrInvalid, "nothing to resume")
	resumed := "（" + itoa(year) + "）京0105执恢3号"
	tr = must(t)(origin.Workflow().Offer(ctx, api.OfferRequest{CaseNumber: b.String(), Superior: "京01", Grounds: []string{"capacity"}, ResumeAs: resumed}))
	bid := tr.ID
	if tr.CaseNumber != resumed {
		t.Fatalf("the offer names %s, want the resumed %s", tr.CaseNumber, resumed)
	}
	if head, _, err := origin.Store().Case(court.MustParseCaseNumber(resumed)); err != nil || head.Status != court.StatusActive {
		t.Fatalf("the resumed case is %s (%v), want active", head.Status, err)
	}
	if head, _, err := origin.Store().Case(b); err != nil || head.Status != court.StatusTerminated {
		t.Fatalf("the 终本 case is %s (%v), want it to stay terminated", head.Status, err)
	}
	s.expectEverywhere(bid, cmproto.StateOffered)
	must(t)(s.as("京01").Workflow().Decide(ctx, bid, api.DecideRequest{Mode: "designated", Receiver: "京0108", DecisionNumber: "（" + itoa(year) + "）京01执监52号"}))
	s.expectEverywhere(bid, cmproto.StateDecided)
	must(t)(s.as("京0108").Workflow().Accept(ctx, bid, api.AcceptRequest{NewCaseNumber: "（" + itoa(year) + "）京0108执52号"}))
	s.expectEverywhere(bid, cmproto.StateAccepted)
	must(t)(origin.Workflow().Handover(ctx, bid, api.HandoverRequest{}))
	s.expectEverywhere(bid, cmproto.StateHandedOver)
	if _, err := s.as("京0108").Fetcher().Fetch(ctx, bid); err != nil {
		t.Fatal(err)
	}
	s.expectEverywhere(bid, cmproto.StateReceived)
	got = s.agreeEverywhere(bid)
	if got.CaseNumber != resumed || got.NewCaseNumber != "（"+itoa(year)+"）京0108执52号" || got.BalanceFen <= 0 {
		t.Fatalf("every node holds case %s -> %s, balance %d", got.CaseNumber, got.NewCaseNumber, got.BalanceFen)
	}
	s.agreeEverywhere(a)
}

// TestReturnAndSupplement: the receiver returns an incomplete handover
// naming what is missing; the origin imports the missing paper and
// supplements by a new version of the handover, of which only the new
// chunks move; the receiver then files the complete case.
func TestReturnAndSupplement(t *testing.T) {
	s := newScenario(t)
	ctx := context.Background()
	dir := t.TempDir()
	cs, err := gen.Generate(dir, gen.Options{Cases: 4, Seed: 7, Court: "京0105"})
	if err != nil {
		t.Fatal(err)
	}
	origin := s.as("京0105")
	var c gen.Case
	for _, g := range cs {
		if _, err := importer.Import(ctx, origin.Store(), g.Dir, importer.Options{}); err != nil {
			t.Fatal(err)
		}
		ms, err := origin.Store().Measures(g.Number)
		if err != nil {
			t.Fatal(err)
		}
		if e := court.EarliestExpiry(ms); c.Dir == "" && (e.IsZero() || court.DateOf(time.Now()).DaysUntil(e) > 40) {
			c = g
		}
	}
	if c.Dir == "" {
		t.Fatal("the generator made no case without a measure expiring within 40 days")
	}

	// As 京0105, offer; as 京01, designate 京0108; as 京0108, accept; as
	// 京0105, hand over. 京01 keeps a copy of the dossier.
	tr := must(t)(origin.Workflow().Offer(ctx, api.OfferRequest{CaseNumber: c.Number.String(), Superior: "京01", Grounds: []string{"long_unexecuted"}}))
	id := tr.ID
	s.expectEverywhere(id, cmproto.StateOffered)
	must(t)(s.as("京01").Workflow().Decide(ctx, id, api.DecideRequest{Mode: "designated", Receiver: "京0108", DecisionNumber: "（2026）京01执监61号"}))
	s.expectEverywhere(id, cmproto.StateDecided)
	year := itoa(court.DateOf(time.Now()).Year)
	must(t)(s.as("京0108").Workflow().Accept(ctx, id, api.AcceptRequest{NewCaseNumber: "（" + year + "）京0108执61号"}))
	s.expectEverywhere(id, cmproto.StateAccepted)
	_, err = origin.Workflow().Supplement(ctx, id, api.HandoverRequest{})
	refused(t, "a supplement before any handover", err, court.ErrConflict, "supplement answers")
	v1 := must(t)(origin.Workflow().Handover(ctx, id, api.HandoverRequest{}))
	s.expectEverywhere(id, cmproto.StateHandedOver)
	if v1.HandoverVersion != 1 || v1.ReturnBy == "" {
		t.Fatalf("handover version %d, return by %q", v1.HandoverVersion, v1.ReturnBy)
	}
	if _, err := s.as("京01").Fetcher().Fetch(ctx, id); err != nil {
		t.Fatal(err)
	}

	// The refusals of a return.
	recv := s.as("京0108").Workflow()
	_, err = origin.Workflow().Return(ctx, id, api.ReturnRequest{Missing: []string{"valuation"}})
	refused(t, "a return by the origin", err, court.ErrInvalid, "only the receiver")
	_, err = recv.Return(ctx, id, api.ReturnRequest{})
	refused(t, "a return naming nothing missing", err, court.ErrInvalid, "names what is missing")
	_, err = recv.Return(ctx, id, api.ReturnRequest{Missing: []string{"passport"}})
	refused(t, "a return naming an unknown item", err, court.ErrInvalid, "passport")
	_, err = origin.Workflow().Supplement(ctx, id, api.HandoverRequest{})
	refused(t, "a supplement nobody asked for", err, court.ErrConflict, "supplement answers")

	// As 京0108, return the handover: the valuation report is missing.
	tr = must(t)(recv.Return(ctx, id, api.ReturnRequest{Missing: []string{"valuation"}, Note: "缺评估报告"}))
	s.expectEverywhere(id, cmproto.StateReturned)
	got := s.agreeEverywhere(id)
	if got.SupplementBy != court.DateOf(tr.Records[len(tr.Records)-1].IssuedAt).AddDate(0, 0, 30).String() || len(got.Missing) != 1 {
		t.Fatalf("returned: supplement by %s, missing %v", got.SupplementBy, got.Missing)
	}
	s.sameView(id, "supplement", "京0105", got.SupplementBy)
	if _, err := s.as("京0108").Fetcher().Fetch(ctx, id); err == nil {
		t.Fatal("the receiver fetched a returned handover")
	}
	_, err = recv.Return(ctx, id, api.ReturnRequest{Missing: []string{"title"}})
	refused(t, "a second return before the supplement", err, court.ErrConflict, "already returned")
	_, err = origin.Workflow().Supplement(ctx, id, api.HandoverRequest{})
	refused(t, "a supplement with nothing new", err, court.ErrConflict, "import the missing papers")

	// As 京0105, import the valuation report and supplement.
	addDocument(t, c.Dir, "d99", "valuation", "评估报告")
	if _, err := importer.Import(ctx, origin.Store(), c.Dir, importer.Options{}); err != nil {
		t.Fatal(err)
	}
	v2 := must(t)(origin.Workflow().Supplement(ctx, id, api.HandoverRequest{}))
	if v2.HandoverVersion != 2 || v2.ChunkCount <= v1.ChunkCount || bytes.Equal(v2.MerkleRoot, v1.MerkleRoot) {
		t.Fatalf("supplement: version %d, %d chunks (before %d)", v2.HandoverVersion, v2.ChunkCount, v1.ChunkCount)
	}
	s.expectEverywhere(id, cmproto.StateHandedOver)

	// Only the new chunks move: 京01, which held version 1, fetches the
	// rest.
	p, err := s.as("京01").Fetcher().Fetch(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if p.Resumed < int(v1.ChunkCount)-1 || p.Fetched > int(v2.ChunkCount-v1.ChunkCount)+1 || p.Fetched == 0 {
		t.Fatalf("京01 fetched %d chunks and kept %d of version 2's %d (version 1 had %d)", p.Fetched, p.Resumed, v2.ChunkCount, v1.ChunkCount)
	}
	t.Logf("version 2: %d chunks; 京01 already held %d and fetched %d", v2.ChunkCount, p.Resumed, p.Fetched)

	// As 京0108, fetch: the case is filed complete.
	fp, err := s.as("京0108").Fetcher().Fetch(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	s.expectEverywhere(id, cmproto.StateReceived)
	n, err := court.ParseCaseNumber(fp.NewCase)
	if err != nil {
		t.Fatal(err)
	}
	_, filed, err := s.as("京0108").Store().Case(n)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(filed.Documents, func(d storage.Document) bool { return d.ID == "d99" }) {
		t.Fatalf("the filed case lacks the supplemented valuation report: %d documents", len(filed.Documents))
	}
	got = s.agreeEverywhere(id)
	if got.HandoverVersion != 2 || !bytes.Equal(got.MerkleRoot, v2.MerkleRoot) {
		t.Fatalf("every node holds handover version %d", got.HandoverVersion)
	}
	// The steps are in the audit logs of the courts that took them.
	for _, a := range []struct {
		c     court.CourtCode
		event string
	}{{"京0108", "handover.returned"}, {"京0105", "handover.supplemented"}} {
		es, err := s.as(a.c).Store().AuditEntries(1, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(es, func(e storage.AuditEntry) bool { return e.Event == a.event && e.Transfer == string(id) }) {
			t.Errorf("%s has no %s audit entry", a.c, a.event)
		}
	}
}

// addDocument adds a document of a kind to a generated case folder.
func addDocument(t *testing.T, dir, id, kind, title string) {
	t.Helper()
	path := filepath.Join(dir, "case.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	m["documents"] = append(m["documents"].([]any), map[string]any{"id": id, "kind": kind, "title": title, "file": "docs/" + id + ".pdf"})
	if b, err = json.MarshalIndent(m, "", "  "); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "docs", id+".pdf"), bytes.Repeat([]byte("%PDF-1.4 synthetic valuation report\n"), 2000), 0o644); err != nil {
		t.Fatal(err)
	}
}

// handOverAndReceive takes a decided transfer through acceptance (under
// the number given), handover and receipt.
func (s *scenario) handOverAndReceive(id court.TransferID, receiver court.CourtCode, newNo string) {
	s.t.Helper()
	ctx := context.Background()
	t := s.t
	must(t)(s.as(receiver).Workflow().Accept(ctx, id, api.AcceptRequest{NewCaseNumber: newNo}))
	s.expectEverywhere(id, cmproto.StateAccepted)
	tr, err := s.as(receiver).Workflow().Transfer(id)
	if err != nil {
		t.Fatal(err)
	}
	must(t)(s.as(tr.Origin).Workflow().Handover(ctx, id, api.HandoverRequest{}))
	s.expectEverywhere(id, cmproto.StateHandedOver)
	if _, err := s.as(receiver).Fetcher().Fetch(ctx, id); err != nil {
		t.Fatal(err)
	}
	s.expectEverywhere(id, cmproto.StateReceived)
}
