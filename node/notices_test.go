package node_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/funds"
	"courtmesh.dev/courtmesh/node/nodetest"
	cmproto "courtmesh.dev/courtmesh/protocol"
)

// TestAssistingBodyWorklist: for every measure that moved with the case,
// the receiver's worklist holds a notice to the body that holds it
// (drafted as a record in its log), tracked as sent and acknowledged;
// a notice not acknowledged while its measure nears expiry raises an
// alert; the printed notice names the court, the new case number and
// the asset, and none of the parties.
func TestAssistingBodyWorklist(t *testing.T) {
	s := newScenario(t)
	ctx := context.Background()
	id, cn, newNo, ms := s.received(t)
	origin, receiver := s.as("京0105"), s.as("京0108")
	_, v, err := receiver.Store().Case(newNo)
	if err != nil {
		t.Fatal(err)
	}
	active := map[string]court.Measure{}
	for _, m := range v.Measures {
		if m.Status == court.MeasureActive {
			active[m.ID] = m
		}
	}

	// The handover itself names the standard dossier items its case's
	// documents carry; the receiver sees what is missing. Naming them
	// again (the command for handovers by older builds) changes nothing.
	_, ov, err := origin.Store().Case(cn)
	if err != nil {
		t.Fatal(err)
	}
	want := funds.ItemsOf(ov.Documents)
	items, err := receiver.Funds().DossierItems(id)
	if err != nil || !items.Named {
		t.Fatalf("the receiver's dossier items after the handover: %+v, %v; want named by the handover", items, err)
	}
	if _, err := receiver.Funds().NameDossierItems(ctx, id); !errors.Is(err, court.ErrPermission) {
		t.Errorf("the receiver names the dossier items: %v, want forbidden", err)
	}
	if again := mustV(origin.Funds().NameDossierItems(ctx, id))(t); !slices.Equal(again.Carried, items.Carried) {
		t.Errorf("naming the items again: %+v, the handover named %+v", again.Carried, items.Carried)
	}
	var carried, missing []string
	for _, it := range items.Carried {
		carried = append(carried, it.Item)
	}
	for _, it := range items.Missing {
		missing = append(missing, it.Item)
	}
	if len(want) == 0 || !slices.Equal(carried, want) || len(carried)+len(missing) != len(cmproto.DossierItemNames) {
		t.Errorf("dossier items: carried %v, missing %v; the origin's documents carry %v", carried, missing, want)
	}
	var wantMissing []string
	for _, it := range cmproto.DossierItemsRequired {
		if !slices.Contains(want, it) {
			wantMissing = append(wantMissing, it)
		}
	}

	// The origin has no worklist; the receiver's drafts one notice per
	// moved measure, once.
	if _, err := origin.Funds().Worklist(ctx, id); !errors.Is(err, court.ErrPermission) {
		t.Errorf("the origin's worklist: %v, want forbidden", err)
	}
	w := mustV(receiver.Funds().Worklist(ctx, id))(t)
	if !slices.Equal(w.MissingItems, wantMissing) && len(w.MissingItems)+len(wantMissing) > 0 {
		t.Errorf("the worklist names missing items %v, want %v", w.MissingItems, wantMissing)
	}
	if len(w.Notices) != len(active) || w.Unacknowledged != len(active) || w.Case != newNo.String() {
		t.Fatalf("worklist: %d notices (%d unacknowledged) for %d active measures", len(w.Notices), w.Unacknowledged, len(active))
	}
	for _, n := range w.Notices {
		m, ok := active[n.Measure]
		if !ok || n.Status != "drafted" || n.BodyKind == "" || (m.Running() && n.MeasureExpiry != m.Expiry.String()) {
			t.Errorf("notice %+v for measure %+v", n, m)
		}
	}
	if again := mustV(receiver.Funds().Worklist(ctx, id))(t); len(again.Notices) != len(active) {
		t.Errorf("listing again drafts again: %d notices", len(again.Notices))
	}
	// Every court of the transfer holds the notices' progress (no detail).
	nodetest.PollUntil(t, 20*time.Second, "the notices at the origin", func() bool {
		return len(storedTransfer(t, origin, id).Notices) == len(active)
	})

	// Sent, then acknowledged, for the first measure; not before it is sent.
	first, second := ms[0], ms[1]
	if _, err := receiver.Funds().MarkNotice(ctx, id, first.ID, api.NoticeRequest{Status: "acknowledged"}); !errors.Is(err, court.ErrConflict) {
		t.Errorf("acknowledged before sent: %v, want conflict", err)
	}
	mustV(receiver.Funds().MarkNotice(ctx, id, first.ID, api.NoticeRequest{Status: "sent"}))(t)
	w = mustV(receiver.Funds().MarkNotice(ctx, id, first.ID, api.NoticeRequest{Status: "acknowledged"}))(t)
	if w.Unacknowledged != len(active)-1 {
		t.Errorf("unacknowledged after one acknowledgement: %d", w.Unacknowledged)
	}
	if _, err := receiver.Funds().MarkNotice(ctx, id, "m-nope", api.NoticeRequest{Status: "sent"}); !errors.Is(err, court.ErrNotFound) {
		t.Errorf("an unknown measure: %v, want not found", err)
	}

	// Five days before the second measure expires, its notice (sent, not
	// acknowledged) raises a critical alert; the acknowledged one none.
	mustV(receiver.Funds().MarkNotice(ctx, id, second.ID, api.NoticeRequest{Status: "sent"}))(t)
	asOf := second.Expiry.AddDate(0, 0, -5)
	as := mustV(receiver.Funds().FundsAlerts(ctx, asOf))(t)
	var raised, wrong bool
	for _, a := range as {
		if a.Kind != "notice_unacknowledged" || a.Transfer != string(id) {
			continue
		}
		raised = raised || (strings.Contains(a.Message, " "+second.ID+" ") && a.Severity == "critical" && a.Court == "京0108")
		wrong = wrong || strings.Contains(a.Message, " "+first.ID+" ")
	}
	if !raised || wrong {
		t.Errorf("notice alerts as of %s: %+v (want %s critical, none for %s)", asOf, as, second.ID, first.ID)
	}
	mustV(receiver.Funds().MarkNotice(ctx, id, second.ID, api.NoticeRequest{Status: "acknowledged"}))(t)
	for _, a := range mustV(receiver.Funds().FundsAlerts(ctx, asOf))(t) {
		if a.Kind == "notice_unacknowledged" && strings.Contains(a.Message, " "+second.ID+" ") {
			t.Errorf("the alert stands after the acknowledgement: %+v", a)
		}
	}

	// The printed notice: the receiving court, the new case number, the
	// asset; no party's name.
	doc := string(mustV(receiver.Funds().NoticeDocument(ctx, id, first.ID))(t))
	asset := assetOfCase(v.Assets, first.Asset)
	for _, want := range []string{"协助执行通知书", newNo.String(), cn.String(), asset.Description, "size: A4"} {
		if !strings.Contains(doc, want) {
			t.Errorf("the notice does not show %q", want)
		}
	}
	if name := courtName(t, s, "京0108"); !strings.Contains(doc, name) {
		t.Errorf("the notice does not name the court %s", name)
	}
	for _, p := range v.Parties {
		if strings.Contains(doc, p.Name) || (p.IDMasked != "" && strings.Contains(doc, p.IDMasked)) {
			t.Errorf("the notice shows party %s's data", p.ID)
		}
	}
	for _, a := range v.Assets {
		if a.ID != asset.ID && a.Description != asset.Description && strings.Contains(doc, a.Description) {
			t.Errorf("the notice shows another asset: %s", a.Description)
		}
	}
	if n := assetAudits(t, receiver, "notice.rendered", id); n != 1 {
		t.Errorf("%d notice.rendered audit entries, want 1", n)
	}
}

func assetOfCase(as []court.Asset, id string) court.Asset {
	for _, a := range as {
		if a.ID == id {
			return a
		}
	}
	return court.Asset{}
}

func courtName(t *testing.T, s *scenario, code court.CourtCode) string {
	t.Helper()
	c, err := s.as(code).Trust().Court(code, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return c.Name
}
