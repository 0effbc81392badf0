package health

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	cmproto "courtmesh.dev/courtmesh/protocol"
)

// deadlineStates is one transfer in every state that runs a deadline,
// each due on the day by, with the alert its passing raises: its kind
// and the court that must act (as the issue asks: the court that must
// act gets the alert, its superior is among the transfer's parties).
func deadlineStates(by court.Date) []struct {
	tr    *cmproto.Transfer
	kind  string
	court court.CourtCode
} {
	d := by.String()
	offered := by.AddDate(0, 0, -60).Start()
	received := by.AddDate(0, 0, -30).Start()
	base := func(i int, st cmproto.State) *cmproto.Transfer {
		return &cmproto.Transfer{
			ID: court.TransferID(fmt.Sprintf("%032x", i+1)), State: st, Origin: "京0105", Superior: "京01", Decider: "京01",
			Receiver: "京0108", Mode: "指令执行", CaseNumber: fmt.Sprintf("（2025）京0105执%d号", i+1), OfferedAt: offered.Add(time.Duration(i) * time.Hour),
		}
	}
	type row = struct {
		tr    *cmproto.Transfer
		kind  string
		court court.CourtCode
	}
	var out []row
	add := func(st cmproto.State, kind string, c court.CourtCode, set func(*cmproto.Transfer)) {
		tr := base(len(out), st)
		set(tr)
		out = append(out, row{tr, kind, c})
	}
	add(cmproto.StateOffered, "decision_overdue", "京01", func(t *cmproto.Transfer) {
		t.Decider, t.Receiver, t.Mode, t.StartedBy, t.AnswerBy = "", "", "", "applicant_request", d
	})
	add(cmproto.StateDecided, "acceptance_overdue", "京0108", func(t *cmproto.Transfer) { t.AcceptBy = d })
	add(cmproto.StateAccepted, "handover_overdue", "京0105", func(t *cmproto.Transfer) { t.HandoverBy = d })
	add(cmproto.StateHandedOver, "filing_overdue", "京0108", func(t *cmproto.Transfer) { t.FileBy = d })
	add(cmproto.StateReturned, "supplement_overdue", "京0105", func(t *cmproto.Transfer) {
		t.SupplementBy, t.Missing, t.HandoverVersion = d, []string{"valuation"}, 1
	})
	add(cmproto.StateSupervised, "supervision_overdue", "京0105", func(t *cmproto.Transfer) {
		t.Receiver, t.Mode, t.Supervision = "", "督促执行", &cmproto.Supervision{EnforceBy: d}
	})
	add(cmproto.StateRefused, "refusal_ruling_overdue", "京01", func(t *cmproto.Transfer) {
		t.Refusal = &cmproto.Refusal{By: "京0108", Reason: "synthetic", RuleBy: d, Refusals: 1}
	})
	add(cmproto.StateAssistRequested, "assistance_overdue", "京0108", func(t *cmproto.Transfer) {
		t.Superior, t.Decider, t.Receiver, t.Mode = "", "", "", "协同执行"
		t.Assistance = &cmproto.Assistance{Court: "京0108", AnswerBy: d, Due: by.AddDate(0, 0, 30).String()}
	})
	add(cmproto.StateAssisting, "assistance_overdue", "京0108", func(t *cmproto.Transfer) {
		t.Superior, t.Decider, t.Receiver, t.Mode = "", "", "", "协同执行"
		t.Assistance = &cmproto.Assistance{Court: "京0108", AnswerBy: by.AddDate(0, 0, -20).String(), Due: d}
	})
	// Received: the investigation's deadline until the receiver reports
	// progress, the conclusion's after.
	add(cmproto.StateReceived, "enforcement_overdue", "京0108", func(t *cmproto.Transfer) {
		t.ReceivedAt, t.InvestigateBy, t.ConcludeBy = received, d, by.AddDate(0, 5, 0).String()
	})
	add(cmproto.StateReceived, "enforcement_overdue", "京0108", func(t *cmproto.Transfer) {
		t.ReceivedAt, t.InvestigateBy, t.ConcludeBy = received.AddDate(0, -5, 0), by.AddDate(0, -5, 0).String(), d
		t.Records = []cmproto.RecordRef{{Kind: cmproto.KindProgress, Issuer: "京0108", Hash: "p1", IssuedAt: received.AddDate(0, -4, 0)}}
	})
	for _, r := range out {
		if _, _, due, ok := r.tr.Deadline(); ok {
			r.tr.Due = due.String()
		}
	}
	return out
}

// Every overdue alert goes to the court that must act (the court
// protocol.Transfer.Deadline names), with its own kind, and fires the day
// after the deadline, not on it (the last day is the court's to act; DOMAIN:
// "within N days").
func TestOverdueAlertEveryState(t *testing.T) {
	by := court.Date{Year: 2026, Month: 4, Day: 10}
	rows := deadlineStates(by)
	seen := map[cmproto.State]bool{}
	for _, r := range rows {
		seen[r.tr.State] = true
		c, what, due, ok := r.tr.Deadline()
		if !ok || due != by {
			t.Fatalf("%s: deadline %s %s %v, want %s", r.tr.State, what, due, ok, by)
		}
		if c != r.court {
			t.Fatalf("%s: Deadline names %s, the test expects %s", r.tr.State, c, r.court)
		}
	}
	// Every state that runs a deadline is in the table.
	for _, st := range []cmproto.State{cmproto.StateOffered, cmproto.StateDecided, cmproto.StateAccepted, cmproto.StateHandedOver,
		cmproto.StateReturned, cmproto.StateSupervised, cmproto.StateRefused, cmproto.StateAssistRequested, cmproto.StateAssisting,
		cmproto.StateReceived} {
		if !seen[st] {
			t.Errorf("no row for state %s", st)
		}
	}

	all := make([]*cmproto.Transfer, 0, len(rows))
	for _, r := range rows {
		all = append(all, r.tr)
	}
	s := testService(testStore(t, all), by.Start())
	lastMoment := by.AddDate(0, 0, 1).Start().Add(-time.Second) // 23:59:59 of the deadline day, China time
	if as, _ := s.overdueAlerts(context.Background(), lastMoment); len(as) != 0 {
		t.Errorf("on the deadline day itself: %d alerts, want none: %+v", len(as), as)
	}
	for _, r := range rows {
		if r.tr.Overdue(lastMoment) {
			t.Errorf("%s: overdue on its deadline day", r.tr.State)
		}
	}

	dayAfter := by.AddDate(0, 0, 1).Start()
	as, parties := s.overdueAlerts(context.Background(), dayAfter)
	got := map[string]int{}
	for i, a := range as {
		got[a.Transfer] = i
	}
	for _, r := range rows {
		name := string(r.tr.State) + "/" + string(r.tr.ID)[28:]
		i, ok := got[string(r.tr.ID)]
		if !ok {
			t.Errorf("%s: no alert the day after its deadline", name)
			continue
		}
		if !r.tr.Overdue(dayAfter) {
			t.Errorf("%s: alert but the transfer is not overdue", name)
		}
		a := as[i]
		if a.Kind != r.kind || a.Court != string(r.court) {
			t.Errorf("%s: alert %s to %s, want %s to %s (%s)", name, a.Kind, a.Court, r.kind, r.court, a.Message)
		}
		if !a.Since.Equal(dayAfter.UTC()) || a.Severity != "warning" {
			t.Errorf("%s: since %s severity %s, want %s warning", name, a.Since, a.Severity, dayAfter.UTC())
		}
		if want := by.String(); !containsAll(a.Message, string(r.court), want, string(r.tr.ID), " / ") {
			t.Errorf("%s: message %q does not name %s, %s and the transfer in both languages", name, a.Message, r.court, want)
		}
		if cs := parties[string(r.tr.ID)]; len(cs) == 0 || cs[0] != "京0105" {
			t.Errorf("%s: courts concerned %v, want the origin first", name, cs)
		}
	}
	// The supplement is the origin's to make: its alert says so, not
	// that the receiver let the enforcement's deadline pass.
	for _, a := range as {
		if a.Kind == "supplement_overdue" && !containsAll(a.Message, "补正", "supplement") {
			t.Errorf("supplement_overdue: message %q", a.Message)
		}
	}
}

func containsAll(s string, subs ...string) bool {
	for _, x := range subs {
		if !strings.Contains(s, x) {
			return false
		}
	}
	return true
}
