package node_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/nodetest"
	"courtmesh.dev/courtmesh/node/party"
	cmproto "courtmesh.dev/courtmesh/protocol"
)

// TestComplaintRoutedToSupervisor: the applicant of a case 京0105 handed
// to 京0108 (指令执行, decided by 京01) signs in at 京0105's party service
// with the old number, sees where the case is now, and complains about
// 京0108. The complaint reaches every node as a record, but only the
// supervising court 京01, the court complained of and 京0105 can read its
// text; only 京01 can answer; the answer reaches 京0105, where the party
// sees it; the indicators count it.
//
// It is long on purpose: one story, a complaint from filing to the
// party reading the answer, across the courts it passes.
func TestComplaintRoutedToSupervisor(t *testing.T) {
	s := newScenario(t)
	ctx := context.Background()
	safe, _ := s.cases("京0105", 4)
	cn := safe[0]

	// At filing, the clerk of 京0105 issues the query codes (once).
	origin := s.as("京0105")
	codes, err := origin.Party().Codes(ctx, cn, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := origin.Party().Codes(ctx, cn, false); !errors.Is(err, court.ErrConflict) {
		t.Fatalf("second issue without --reissue: %v, want a conflict", err)
	}
	var applicant api.IssuedCode
	for _, c := range codes.Codes {
		if c.Role == court.RoleApplicant && c.Code != "" {
			applicant = c
		}
	}
	if applicant.Code == "" {
		t.Fatalf("no applicant code in %+v", codes)
	}
	idNumber, err := origin.Store().PartyID(cn, applicant.Party)
	if err != nil {
		t.Fatal(err)
	}
	last4 := idNumber[len(idNumber)-4:]

	// The case moves: 京0105 offers, 京01 designates 京0108, which accepts.
	tr := must(t)(origin.Workflow().Offer(ctx, api.OfferRequest{CaseNumber: cn.String(), Superior: "京01", Grounds: []string{"long_unexecuted"}}))
	s.expectEverywhere(tr.ID, cmproto.StateOffered)
	must(t)(s.as("京01").Workflow().Decide(ctx, tr.ID, api.DecideRequest{Mode: "designated", Receiver: "京0108", DecisionNumber: "（2026）京01执监31号"}))
	s.expectEverywhere(tr.ID, cmproto.StateDecided)
	newNo := nodetest.CaseNo(time.Now(), "京0108", court.TypeEnforcement, 3101)
	must(t)(s.as("京0108").Workflow().Accept(ctx, tr.ID, api.AcceptRequest{NewCaseNumber: newNo}))
	s.expectEverywhere(tr.ID, cmproto.StateAccepted)

	// The party signs in at 京0105 with the old number and sees the
	// forwarding: 京0108, the new number.
	if _, err := origin.Party().SignIn(cn.String(), applicant.Code, "0000"); !errors.Is(err, party.ErrSignIn) {
		t.Fatalf("wrong last 4: %v", err)
	}
	id, err := origin.Party().SignIn(cn.String(), strings.ToLower(applicant.Code), strings.ToLower(last4))
	if err != nil {
		t.Fatalf("sign in: %v", err)
	}
	v, err := origin.Party().Status(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Moved || v.Now.Code != "京0108" || v.Number != newNo || v.From == nil || v.From.Code != "京0105" {
		t.Fatalf("status after the move: %+v", v)
	}
	_, ver, err := origin.Store().Case(cn)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ver.Parties {
		for _, o := range v.Others {
			if o.Name == p.Name || !strings.Contains(o.Name, "*") {
				t.Errorf("another party's name is shown unmasked: %q", o.Name)
			}
		}
	}
	if len(v.Others) != len(ver.Parties)-1 {
		t.Errorf("%d other parties shown; the case has %d parties", len(v.Others), len(ver.Parties))
	}

	// The party complains about 京0108.
	const text = "案件移送后两个月没有任何进展，电话无人接听。"
	c, err := origin.Party().File(ctx, id, "京0108", "no_progress", text)
	if err != nil {
		t.Fatal(err)
	}
	if c.Supervisor != "京01" || c.Complained != "京0108" || c.Issuer != "京0105" {
		t.Fatalf("complaint routed to %s about %s from %s; want 京01, 京0108, 京0105", c.Supervisor, c.Complained, c.Issuer)
	}
	if _, err := origin.Party().File(ctx, id, "京02", "no_progress", "x"); !errors.Is(err, court.ErrInvalid) {
		t.Errorf("a complaint about a court that never had the case: %v, want invalid", err)
	}
	ref := string(c.ID)

	// Every node learns it; the text travels sealed.
	nodetest.PollUntil(t, 20*time.Second, "the complaint on every node", func() bool {
		for _, n := range s.tm.nodes {
			b, err := n.Store().Complaint(ref)
			if err != nil {
				return false
			}
			if bytes.Contains(b, []byte("两个月")) {
				t.Fatalf("%s stores the complaint's text in clear", n.Status().CourtCode)
			}
		}
		return true
	})
	sup := s.as("京01").Party()
	list, err := sup.List(ctx, "supervising", "", 100)
	if err != nil || len(list.Complaints) != 1 || list.Complaints[0].Ref != ref || list.Complaints[0].Text != "" {
		t.Fatalf("京01's supervising list: %+v, %v", list, err)
	}
	if l, _ := s.as("京0108").Party().List(ctx, "about", "", 100); len(l.Complaints) != 1 {
		t.Errorf("京0108's list of complaints about it: %+v", l)
	}
	if l, _ := s.as("京0102").Party().List(ctx, "supervising", "", 100); len(l.Complaints) != 0 {
		t.Errorf("京0102 supervises %+v", l)
	}
	for _, code := range []court.CourtCode{"京01", "京0108", "京0105"} {
		got, err := s.as(code).Party().Show(ctx, ref, "测试")
		if err != nil || got.Text != text {
			t.Errorf("%s opens the complaint: %q, %v", code, got.Text, err)
		}
	}
	for _, code := range []court.CourtCode{"京", "京02", court.Supreme} {
		if _, err := s.as(code).Party().Show(ctx, ref, "测试"); !errors.Is(err, court.ErrPermission) {
			t.Errorf("%s, not a reader, opens the complaint: %v", code, err)
		}
	}

	// Only the supervising court answers.
	if _, err := s.as("京0108").Party().Answer(ctx, ref, "我院自行答复"); !errors.Is(err, court.ErrPermission) {
		t.Errorf("the court complained of answers: %v", err)
	}
	const answer = "经查，本院已督促京0108于十日内办理并告知进展。"
	ans, err := sup.Answer(ctx, ref, answer)
	if err != nil || !ans.InTime {
		t.Fatalf("京01 answers: %+v, %v", ans, err)
	}
	if _, err := sup.Answer(ctx, ref, "again"); !errors.Is(err, court.ErrConflict) {
		t.Errorf("a second answer: %v", err)
	}

	// The party sees the answer at 京0105.
	nodetest.PollUntil(t, 20*time.Second, "the answer at 京0105", func() bool {
		v, err := origin.Party().Status(ctx, id)
		return err == nil && len(v.Complaints) == 1 && v.Complaints[0].Answer == answer
	})
	ind, err := sup.Indicators(ctx)
	if err != nil || len(ind) != 1 || ind[0].Court != "京0108" || ind[0].Total != 1 || ind[0].InTime != 1 || ind[0].Overdue != 0 {
		t.Errorf("京01's indicators: %+v, %v", ind, err)
	}
	// The same counts as gauges at 京01 (bounded labels: the court
	// complained of and a status), and on its dashboard.
	resp, body := call(t, s.as("京01"), "GET", "/v1/metrics", s.token("京01"))
	for _, want := range []string{`courtmesh_complaints{court="京0108",status="total"} 1`, `courtmesh_complaints{court="京0108",status="answered_in_time"} 1`,
		`courtmesh_complaints{court="京0108",status="overdue"} 0`} {
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Errorf("京01's metrics lack %s", want)
		}
	}

	// Each step is in the audit logs, without the texts.
	for code, events := range map[court.CourtCode][]string{"京0105": {"party.signin", "complaint.filed", "case.codes"}, "京01": {"complaint.shown", "complaint.answered"}} {
		es, err := s.as(code).Store().AuditEntries(1, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, e := range es {
			seen[e.Event] = true
			if strings.Contains(e.Detail, "两个月") || strings.Contains(e.Detail, "督促") || strings.Contains(e.Detail, applicant.Code) || strings.Contains(e.Detail, last4) && e.Event == "party.signin" {
				t.Errorf("%s audit entry %s holds a text, a code or the ID digits: %q", code, e.Event, e.Detail)
			}
		}
		for _, ev := range events {
			if !seen[ev] {
				t.Errorf("%s audit log has no %s", code, ev)
			}
		}
	}
}
