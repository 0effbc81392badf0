package node_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/dashboard"
	"courtmesh.dev/courtmesh/node/nodetest"
	cmproto "courtmesh.dev/courtmesh/protocol"
)

// storedTransfer is transfer id's state as court n stores it.
func storedTransfer(t *testing.T, n *node.Node, id court.TransferID) *cmproto.Transfer {
	t.Helper()
	body, err := n.Store().Transfer(string(id))
	if err != nil {
		t.Fatal(err)
	}
	var tr cmproto.Transfer
	if err := json.Unmarshal(body, &tr); err != nil {
		t.Fatal(err)
	}
	return &tr
}

// sanctionAlerts are the sanction_pending alerts of transfer id that n
// raises as of asOf, by the court that must act.
func sanctionAlerts(t *testing.T, n *node.Node, id court.TransferID, asOf court.Date) map[string]int {
	t.Helper()
	as, err := n.Funds().FundsAlerts(context.Background(), asOf)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, a := range as {
		if a.Kind == "sanction_pending" && a.Transfer == string(id) {
			out[a.Court]++
			if strings.Contains(a.Message, "张某") {
				t.Errorf("a sanction alert names the respondent: %s", a.Message)
			}
		}
	}
	return out
}

// TestSanctionsHandedOver: the origin declares a 失信 listing and a
// 限制消费令 in force at handover; the receiver must re-issue both under
// its new case number, and only then may the origin lift its own; the
// alert stands until both courts have acted; nobody outside sees the
// respondent; a sanction not re-issued in time counts as lapsed.
func TestSanctionsHandedOver(t *testing.T) {
	s := newScenario(t)
	ctx := context.Background()
	id, _, newNo, _ := s.received(t)
	origin, receiver := s.as("京0105"), s.as("京0108")
	today := court.DateOf(time.Now())

	// As 京0105: the sanctions of the old case, in force at handover.
	mustV(origin.Funds().ActOnSanction(ctx, id, api.SanctionRequest{Action: "in_force", Kind: "dishonest_listing", Until: today.AddDate(2, 0, 0).String(),
		Respondent: "张某甲", Decision: "（2025）京0105执123号之一"}))(t)
	l := mustV(origin.Funds().ActOnSanction(ctx, id, api.SanctionRequest{Action: "in_force", Kind: "consumption_restriction", Respondent: "张某甲"}))(t)
	if len(l.Sanctions) != 2 || l.ToReissue != 2 || l.Sanctions[0].ID != "s1" || l.Sanctions[1].ID != "s2" {
		t.Fatalf("origin's sanctions after declaring: %+v", l)
	}
	if _, err := origin.Funds().ActOnSanction(ctx, id, api.SanctionRequest{Action: "in_force", ID: "s1", Kind: "dishonest_listing"}); !errors.Is(err, court.ErrConflict) {
		t.Errorf("s1 declared twice: %v, want conflict", err)
	}
	// As 京0108: the list of what it must re-issue, with the deadline.
	nodetest.PollUntil(t, 20*time.Second, "the sanctions at the receiver", func() bool {
		l, err := receiver.Funds().Sanctions(id)
		return err == nil && l.ToReissue == 2
	})
	l = mustV(receiver.Funds().Sanctions(id))(t)
	if l.Role != "receiver" || l.Sanctions[0].Waiting != "京0108" || l.Sanctions[0].Todo != "reissue" || l.Sanctions[0].ReissueBy != today.AddDate(0, 0, cmproto.SanctionReissueDays).String() {
		t.Errorf("receiver's list: %+v", l)
	}
	if got := sanctionAlerts(t, receiver, id, today); got["京0108"] != 2 {
		t.Errorf("receiver's alerts before the re-issue: %v, want 2 on 京0108", got)
	}
	// Lifting before the re-issue would free the debtor in between.
	if _, err := origin.Funds().ActOnSanction(ctx, id, api.SanctionRequest{Action: "lifted", ID: "s1"}); !errors.Is(err, court.ErrConflict) {
		t.Errorf("lift before re-issue: %v, want conflict", err)
	}
	// Only the receiver re-issues, only the origin lifts.
	if _, err := origin.Funds().ActOnSanction(ctx, id, api.SanctionRequest{Action: "reissued", ID: "s1"}); !errors.Is(err, court.ErrInvalid) {
		t.Errorf("re-issue by the origin: %v, want invalid", err)
	}
	mustV(receiver.Funds().ActOnSanction(ctx, id, api.SanctionRequest{Action: "reissued", ID: "s1", Respondent: "张某甲", Decision: newNo.String() + "之一"}))(t)
	if _, err := receiver.Funds().ActOnSanction(ctx, id, api.SanctionRequest{Action: "reissued", ID: "s1"}); !errors.Is(err, court.ErrConflict) {
		t.Errorf("s1 re-issued twice (listed twice): %v, want conflict", err)
	}
	l = mustV(receiver.Funds().ActOnSanction(ctx, id, api.SanctionRequest{Action: "reissued", ID: "s2"}))(t)
	if l.ToReissue != 0 || l.ToLift != 2 || l.Sanctions[0].NewCase != newNo.String() {
		t.Fatalf("after the re-issues: %+v", l)
	}
	// The alert stands, now on the origin.
	nodetest.PollUntil(t, 20*time.Second, "the re-issues at the origin", func() bool {
		l, err := origin.Funds().Sanctions(id)
		return err == nil && l.ToLift == 2
	})
	if got := sanctionAlerts(t, origin, id, today); got["京0105"] != 2 || got["京0108"] != 0 {
		t.Errorf("origin's alerts after the re-issue: %v, want 2 on 京0105", got)
	}
	mustV(origin.Funds().ActOnSanction(ctx, id, api.SanctionRequest{Action: "lifted", ID: "s1"}))(t)
	if got := sanctionAlerts(t, origin, id, today); got["京0105"] != 1 {
		t.Errorf("alerts with s2 still to lift: %v", got)
	}
	mustV(origin.Funds().ActOnSanction(ctx, id, api.SanctionRequest{Action: "lifted", ID: "s2"}))(t)
	if _, err := origin.Funds().ActOnSanction(ctx, id, api.SanctionRequest{Action: "lifted", ID: "s2"}); !errors.Is(err, court.ErrStale) {
		t.Errorf("s2 lifted twice: %v, want stale", err)
	}
	for _, n := range []*node.Node{origin, receiver, s.as("京01")} {
		nodetest.PollUntil(t, 20*time.Second, "both sanctions done everywhere", func() bool {
			l, err := n.Funds().Sanctions(id)
			return err == nil && l.ToReissue == 0 && l.ToLift == 0 && len(l.Sanctions) == 2
		})
		if got := sanctionAlerts(t, n, id, today.AddDate(0, 0, 60)); len(got) != 0 {
			t.Errorf("alerts after both acted: %v", got)
		}
		// The respondent and the decision never reach the stored state.
		body, _ := n.Store().Transfer(string(id))
		if strings.Contains(string(body), "张某甲") || strings.Contains(string(body), "之一") {
			t.Error("the stored transfer shows the respondent or the decision")
		}
	}

	// Indicator: sanctions lapsed during handover, target 0; a sanction
	// the receiver had not re-issued by its deadline counts from the day
	// after.
	tr := storedTransfer(t, receiver, id)
	lapsed := func(tr *cmproto.Transfer, now time.Time) int {
		d := dashboard.Compute(dashboard.Input{Now: now, Self: "京0108", Operator: true, Transfers: []*cmproto.Transfer{tr}, GuardDays: 30})
		for _, c := range d.Courts {
			if c.Court == "京0108" {
				return c.SanctionsLapsed
			}
		}
		return -1
	}
	later := time.Now().AddDate(0, 0, 60)
	if got := lapsed(tr, later); got != 0 {
		t.Errorf("sanctions lapsed = %d, want 0", got)
	}
	if got := courtRow(dashboardOf(t, s, "京0108"), "京0108").SanctionsLapsed; got != 0 {
		t.Errorf("the receiver's dashboard shows %d sanctions lapsed, want 0", got)
	}
	late := *tr
	late.Sanctions = append([]cmproto.SanctionState(nil), tr.Sanctions...)
	late.Sanctions[1].ReissuedOn, late.Sanctions[1].LiftedOn = "", ""
	if got := lapsed(&late, time.Now()); got != 0 {
		t.Errorf("a sanction still within its re-issue deadline counts as lapsed: %d", got)
	}
	if got := lapsed(&late, later); got != 1 {
		t.Errorf("a sanction not re-issued past its deadline: lapsed = %d, want 1", got)
	}
}
