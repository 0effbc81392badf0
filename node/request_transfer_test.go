package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/config"
	cmproto "courtmesh.dev/courtmesh/protocol"
)

// TestSuperiorStartsTransfer: 京01, supervising, finds 京0105 enforcing
// a case passively and moves it on its own motion, without an offer; the
// origin cannot withdraw it and hands over as decided.
func TestSuperiorStartsTransfer(t *testing.T) {
	s := newScenario(t)
	ctx := context.Background()
	safe, _ := s.cases("京0105", 6)
	if len(safe) < 1 {
		t.Fatal("the generator made no case without a near-expiry measure")
	}
	cn := safe[0]
	year := itoa(court.DateOf(time.Now()).Year)

	// Refusals: a court that is not the origin's superior; a case number
	// that is not the origin's enforcement case; an unknown ground.
	_, err := s.as("京02").Workflow().Start(ctx, api.StartRequest{CaseNumber: cn.String(), Origin: "京0105", Grounds: []string{"passive"}})
	refused(t, "a start by a court that is not the origin's superior", err, court.ErrInvalid, "not a superior court of 京0105")
	_, err = s.as("京0108").Workflow().Start(ctx, api.StartRequest{CaseNumber: cn.String(), Origin: "京0105", Grounds: []string{"passive"}})
	refused(t, "a start by a court of the same level", err, court.ErrInvalid, "not a superior court")
	_, err = s.as("京01").Workflow().Start(ctx, api.StartRequest{CaseNumber: "（2024）京0105民初5号", Origin: "京0105", Grounds: []string{"passive"}})
	refused(t, "a start naming a civil case", err, court.ErrInvalid, "not an enforcement case")
	_, err = s.as("京01").Workflow().Start(ctx, api.StartRequest{CaseNumber: cn.String(), Origin: "京0105", Grounds: []string{"laziness"}})
	refused(t, "a start on an unknown ground", err, court.ErrInvalid, "laziness")

	// As 京01, start the transfer on its own motion: passive enforcement.
	tr := must(t)(s.as("京01").Workflow().Start(ctx, api.StartRequest{CaseNumber: cn.String(), Origin: "京0105", Grounds: []string{"passive", "interference"}, Source: "supervision"}))
	id := tr.ID
	s.expectEverywhere(id, cmproto.StateOffered)
	got := s.agreeEverywhere(id)
	if got.Origin != "京0105" || got.Superior != "京01" || got.StartedBy != "supervision" || len(got.Grounds) != 2 || got.Grounds[0] != "GROUND_PASSIVE" || got.AnswerBy != "" {
		t.Fatalf("every node holds %+v", got)
	}
	_, err = s.as("京01").Workflow().Start(ctx, api.StartRequest{CaseNumber: cn.String(), Origin: "京0105", Grounds: []string{"passive"}})
	refused(t, "a second start of the same case", err, court.ErrConflict, "already in transfer")
	// The origin cannot veto the move.
	_, err = s.as("京0105").Workflow().Withdraw(ctx, id, "本院正在执行")
	refused(t, "the origin withdrawing a transfer its superior started", err, court.ErrInvalid, "cannot withdraw")
	_, err = s.as("京0105").Workflow().Offer(ctx, api.OfferRequest{CaseNumber: cn.String(), Superior: "京01", Grounds: []string{"capacity"}})
	refused(t, "the origin offering the case besides", err, court.ErrConflict, "already offered")

	// As 京01, designate 京0108; the origin must hand over by the date
	// the decision fixes; 京0108 files the balance.
	must(t)(s.as("京01").Workflow().Decide(ctx, id, api.DecideRequest{Mode: "designated", Receiver: "京0108", DecisionNumber: "（" + year + "）京01执监71号"}))
	s.expectEverywhere(id, cmproto.StateDecided)
	must(t)(s.as("京0108").Workflow().Accept(ctx, id, api.AcceptRequest{NewCaseNumber: "（" + year + "）京0108执71号"}))
	s.expectEverywhere(id, cmproto.StateAccepted)
	got = s.agreeEverywhere(id)
	s.sameView(id, "handover", "京0105", got.HandoverBy)
	must(t)(s.as("京0105").Workflow().Handover(ctx, id, api.HandoverRequest{}))
	s.expectEverywhere(id, cmproto.StateHandedOver)
	if _, err := s.as("京0108").Fetcher().Fetch(ctx, id); err != nil {
		t.Fatal(err)
	}
	s.expectEverywhere(id, cmproto.StateReceived)
	got = s.agreeEverywhere(id)
	_, v, err := s.as("京0105").Store().Case(cn)
	if err != nil {
		t.Fatal(err)
	}
	if got.ClaimFen != v.ClaimFen || got.BalanceFen != v.ClaimFen || got.StartedBy != "supervision" {
		t.Fatalf("received: claim %d, balance %d (the case claims %d), started by %q", got.ClaimFen, got.BalanceFen, v.ClaimFen, got.StartedBy)
	}
}

// TestApplicantRequestsTransfer: the applicant asks 京01 to move a case
// 京0105 has not enforced in 6 months (民诉法 art. 237); 京01 records the
// request, which it must answer by a date every node knows, and takes
// the case itself (提级执行). A request left unanswered past its date is
// overdue on every node and alerts 京01.
func TestApplicantRequestsTransfer(t *testing.T) {
	s := newScenarioWith(t, func(c court.CourtCode, cfg *config.Config) { cfg.RequestAnswerDays = 10 })
	ctx := context.Background()
	safe, _ := s.cases("京0105", 6)
	if len(safe) < 2 {
		t.Fatal("the generator made too few cases without a near-expiry measure")
	}
	_, v, err := s.as("京0105").Store().Case(safe[0])
	if err != nil {
		t.Fatal(err)
	}
	today := court.DateOf(time.Now())
	year := itoa(today.Year)
	sup := s.as("京01").Workflow()

	// Refusals: a case not yet 6 months unenforced when the applicant
	// asked; a request without the filing date.
	_, err = sup.Start(ctx, api.StartRequest{CaseNumber: safe[0].String(), Origin: "京0105", Grounds: []string{"long_unexecuted"}, Source: "applicant_request",
		FiledOn: today.AddDate(0, -2, 0).String(), RequestedOn: today.String()})
	refused(t, "a request for a case filed 2 months before", err, court.ErrInvalid, "6 months")
	_, err = sup.Start(ctx, api.StartRequest{CaseNumber: safe[0].String(), Origin: "京0105", Grounds: []string{"long_unexecuted"}, Source: "applicant_request", RequestedOn: today.String()})
	refused(t, "a request without the filing date", err, court.ErrInvalid, "filed_on")

	// As 京01, record the applicant's request received today: the answer
	// is due in 京01's 10 days.
	tr := must(t)(sup.Start(ctx, api.StartRequest{CaseNumber: safe[0].String(), Origin: "京0105", Grounds: []string{"long_unexecuted", "passive"}, Source: "applicant_request",
		FiledOn: v.Filed.String(), RequestedOn: today.String()}))
	id := tr.ID
	s.expectEverywhere(id, cmproto.StateOffered)
	got := s.agreeEverywhere(id)
	if got.StartedBy != "applicant_request" || got.AnswerBy != today.AddDate(0, 0, 10).String() || got.RequestedOn != today.String() {
		t.Fatalf("every node holds started by %q, requested on %s, answer by %s", got.StartedBy, got.RequestedOn, got.AnswerBy)
	}
	s.sameView(id, "decision", "京01", got.AnswerBy)

	// A request recorded late: it reached 京01 20 days ago, its answer
	// was due 10 days ago. Every node lists it overdue; 京01 is alerted.
	late := must(t)(sup.Start(ctx, api.StartRequest{CaseNumber: safe[1].String(), Origin: "京0105", Grounds: []string{"long_unexecuted"}, Source: "applicant_request",
		FiledOn: today.AddDate(-1, 0, 0).String(), RequestedOn: today.AddDate(0, 0, -20).String()}))
	s.expectEverywhere(late.ID, cmproto.StateOffered)
	s.agreeEverywhere(late.ID)
	for _, n := range s.tm.nodes {
		page, _, err := n.Workflow().List(ctx, api.TransferQuery{Overdue: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) != 1 || page[0].ID != late.ID || page[0].DeadlineFor != "decision" || page[0].DeadlineCourt != "京01" {
			t.Fatalf("%s lists overdue %+v, want only the late request", n.Status().CourtCode, page)
		}
	}
	alerted := false
	for _, a := range s.as("京").Health().AllAlerts(ctx) {
		alerted = alerted || (a.Kind == "decision_overdue" && a.Transfer == string(late.ID) && a.Court == "京01")
	}
	if !alerted {
		t.Error("no decision_overdue alert to 京01")
	}
	// 京01 answers it: rejected, with reasons.
	must(t)(sup.Reject(ctx, late.ID, "经审查，执行法院已采取有效措施"))
	s.expectEverywhere(late.ID, cmproto.StateRejected)

	// As 京01, answer the first request: 提级执行, the case is its own.
	must(t)(sup.Decide(ctx, id, api.DecideRequest{Mode: "elevated", DecisionNumber: "（" + year + "）京01执监81号"}))
	s.expectEverywhere(id, cmproto.StateDecided)
	s.handOverAndReceive(id, "京01", "（"+year+"）京01执81号")
	got = s.agreeEverywhere(id)
	if got.Mode != "提级执行" || got.Receiver != "京01" || got.BalanceFen != v.ClaimFen || got.AnswerBy == "" {
		t.Fatalf("every node holds mode %s to %s, balance %d", got.Mode, got.Receiver, got.BalanceFen)
	}
}

// jsonDiff names the top-level fields in which two JSON objects differ,
// with both values (for a failure message).
func jsonDiff(a, b []byte) string {
	var x, y map[string]json.RawMessage
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return "(not JSON objects)"
	}
	var out []string
	for k, v := range x {
		if !bytes.Equal(v, y[k]) {
			out = append(out, fmt.Sprintf("%s: %.300s vs %.300s", k, v, y[k]))
		}
	}
	for k, v := range y {
		if _, ok := x[k]; !ok {
			out = append(out, fmt.Sprintf("%s: absent vs %.300s", k, v))
		}
	}
	slices.Sort(out)
	return strings.Join(out, "; ")
}
