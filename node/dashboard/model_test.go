package dashboard

import (
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/api"
	cmproto "courtmesh.dev/courtmesh/protocol"
)

// at is a time on a civil date in China, at noon.
func at(date string) time.Time {
	d, err := court.ParseDate(date)
	if err != nil {
		panic(err)
	}
	return d.Start().Add(12 * time.Hour)
}

func TestLapsedDuringHandover(t *testing.T) {
	const guard = 30
	now := at("2026-06-30")
	tests := []struct {
		name string
		t    cmproto.Transfer
		want bool
	}{
		{"not handed over", cmproto.Transfer{State: cmproto.StateAccepted, EarliestExpiry: "2026-06-01", Overridden: []string{"m1"}}, false},
		{"override, expiry before receipt", cmproto.Transfer{HandedOverAt: at("2026-06-01"), ReceivedAt: at("2026-06-12"), Overridden: []string{"m1"}, EarliestExpiry: "2026-06-10"}, true},
		{"override, expiry on the receipt day: the receiver can still renew", cmproto.Transfer{HandedOverAt: at("2026-06-01"), ReceivedAt: at("2026-06-10"), Overridden: []string{"m1"}, EarliestExpiry: "2026-06-10"}, false},
		{"override, expiry after receipt", cmproto.Transfer{HandedOverAt: at("2026-06-01"), ReceivedAt: at("2026-06-05"), Overridden: []string{"m1"}, EarliestExpiry: "2026-06-10"}, false},
		{"override, expired before the handover: lapsed at the origin", cmproto.Transfer{HandedOverAt: at("2026-06-01"), ReceivedAt: at("2026-06-05"), Overridden: []string{"m1"}, EarliestExpiry: "2026-05-20"}, false},
		{"override, still in transit past the expiry", cmproto.Transfer{HandedOverAt: at("2026-06-20"), Overridden: []string{"m1"}, EarliestExpiry: "2026-06-25"}, true},
		{"override, in transit, expiry still ahead", cmproto.Transfer{HandedOverAt: at("2026-06-20"), Overridden: []string{"m1"}, EarliestExpiry: "2026-07-05"}, false},
		{"no override, same expiry: the guard held, it was renewed", cmproto.Transfer{HandedOverAt: at("2026-06-01"), ReceivedAt: at("2026-06-12"), EarliestExpiry: "2026-06-10"}, false},
		{"no override, receipt within guard+1 days", cmproto.Transfer{HandedOverAt: at("2026-05-01"), ReceivedAt: at("2026-06-01")}, false},
		{"no override, receipt after guard+1 days", cmproto.Transfer{HandedOverAt: at("2026-05-01"), ReceivedAt: at("2026-06-02")}, true},
		{"no override, in transit for too long", cmproto.Transfer{HandedOverAt: at("2026-05-01")}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := LapsedDuringHandover(&tc.t, now, guard); got != tc.want {
				t.Errorf("LapsedDuringHandover = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestAcceptedInTime(t *testing.T) {
	tests := []struct {
		accepted time.Time
		by       string
		want     bool
	}{
		{time.Time{}, "2026-06-10", false},
		{at("2026-06-09"), "2026-06-10", true},
		{at("2026-06-10").Add(11 * time.Hour), "2026-06-10", true}, // 23:00 in China, the last day
		{at("2026-06-11"), "2026-06-10", false},
		{at("2026-06-11"), "", true},
	}
	for _, tc := range tests {
		if got := AcceptedInTime(&cmproto.Transfer{AcceptedAt: tc.accepted, AcceptBy: tc.by}); got != tc.want {
			t.Errorf("accepted %v, by %q: got %v, want %v", tc.accepted, tc.by, got, tc.want)
		}
	}
}

// pipelineFixture is a small mesh history: three transfers to 京0108, one
// to 京01 (提级执行), one offered, one rejected, one overdue.
func pipelineFixture() []*cmproto.Transfer {
	return []*cmproto.Transfer{
		{ID: "t1", State: cmproto.StateClosed, Origin: "京0105", Superior: "京01", Decider: "京01", Receiver: "京0108", Mode: "指令执行",
			DecidedAt: at("2026-06-01"), AcceptBy: "2026-06-08", AcceptedAt: at("2026-06-03"), HandedOverAt: at("2026-06-04"), ReceivedAt: at("2026-06-05"), ClosedAt: at("2026-06-20"),
			AmountOrigin: 10_000_00, AmountRecovered: 50_000_00},
		{ID: "t2", State: cmproto.StateReceived, Origin: "京0105", Superior: "京01", Decider: "京01", Receiver: "京0108", Mode: "指令执行",
			DecidedAt: at("2026-06-01"), AcceptBy: "2026-06-08", AcceptedAt: at("2026-06-10"), HandedOverAt: at("2026-06-11"), ReceivedAt: at("2026-06-22"),
			Overridden: []string{"m9"}, EarliestExpiry: "2026-06-15", AmountOrigin: 0, AmountRecovered: 1_00},
		{ID: "t3", State: cmproto.StateDecided, Origin: "京0102", Superior: "京02", Decider: "京02", Receiver: "京0108", Mode: "指令执行",
			DecidedAt: at("2026-06-20"), AcceptBy: "2026-06-27"},
		{ID: "t4", State: cmproto.StateAccepted, Origin: "京0105", Superior: "京01", Decider: "京01", Receiver: "京01", Mode: "提级执行",
			DecidedAt: at("2026-06-25"), AcceptBy: "2026-07-02", AcceptedAt: at("2026-06-25"), AmountOrigin: 7_00},
		{ID: "t5", State: cmproto.StateOffered, Origin: "京0102", Superior: "京02"},
		{ID: "t6", State: cmproto.StateRejected, Origin: "京0102", Superior: "京02"},
	}
}

func TestComputeMesh(t *testing.T) {
	now := at("2026-06-30")
	d := Compute(Input{
		Now: now, Self: court.Supreme, SelfName: "最高人民法院", Operator: true, GuardDays: 30, Transfers: pipelineFixture(),
		Mesh: []api.CourtHealth{
			{Court: "京0105", Province: "京", Online: true}, {Court: "京0108", Province: "京", Online: false, Flags: []string{"silent"}},
			{Court: "最高法", Province: "最高法", Online: true}, {Court: "沪01", Province: "沪", Online: true},
		},
		Alerts: []api.Alert{
			{Kind: "acceptance_overdue", Severity: "warning", Court: "京0108", Transfer: "t3", Since: at("2026-06-28")},
			{Kind: "node_revoked", Severity: "critical", Court: "沪01"},
		},
	})
	if d.Scope != ScopeMesh || d.AsOf != "2026-06-30" || d.Version != Version {
		t.Errorf("scope %q as of %q version %d", d.Scope, d.AsOf, d.Version)
	}
	p := d.Pipeline
	if p.Total != 6 || p.Overdue != 1 {
		t.Errorf("total %d overdue %d, want 6 and 1", p.Total, p.Overdue)
	}
	wantStates := map[string]int{"offered": 1, "decided": 1, "accepted": 1, "handed_over": 0, "received": 1, "closed": 1, "rejected": 1, "withdrawn": 0}
	if len(p.States) != len(States) {
		t.Fatalf("%d states, want %d", len(p.States), len(States))
	}
	for _, s := range p.States {
		if s.Count != wantStates[s.State] {
			t.Errorf("state %s: %d, want %d", s.State, s.Count, wantStates[s.State])
		}
	}
	// Acceptance: 2, 9 and 0 days -> 3.7; receipt: 4 and 21 days -> 12.5.
	if p.AcceptanceSamples != 3 || p.AvgDaysDecisionToAcceptance != 3.7 || p.ReceiptSamples != 2 || p.AvgDaysDecisionToReceipt != 12.5 {
		t.Errorf("averages: %+v", p)
	}
	if len(d.Modes) != 5 || d.Modes[0] != (ModeCount{"指令执行", 3}) || d.Modes[1] != (ModeCount{"提级执行", 1}) || d.Modes[2] != (ModeCount{"集中执行", 0}) {
		t.Errorf("modes %+v", d.Modes)
	}
	want := []CourtIndicators{
		{Court: "京01", Designated: 1, Accepted: 1, AcceptedInTime: 1, OriginFen: 7_00, Open: 1},
		{Court: "京0108", Designated: 3, Accepted: 2, AcceptedInTime: 1, Received: 2, Concluded: 1, RecoveredFen: 50_001_00, OriginFen: 10_000_00, MeasuresLapsed: 1, Open: 1, Concluded6m: 1},
	}
	if len(d.Courts) != len(want) {
		t.Fatalf("courts %+v", d.Courts)
	}
	for i := range want {
		if d.Courts[i] != want[i] {
			t.Errorf("court %d: %+v, want %+v", i, d.Courts[i], want[i])
		}
	}
	if d.Mesh.Online != 3 || d.Mesh.Total != 4 || len(d.Mesh.Provinces) != 3 || d.Mesh.Provinces[0].Province != "最高法" ||
		d.Mesh.Provinces[1] != (ProvinceCount{"京", 1, 2}) || d.Mesh.Provinces[2] != (ProvinceCount{"沪", 1, 1}) {
		t.Errorf("mesh %+v", d.Mesh)
	}
	if len(d.Alerts) != 2 || d.Alerts[0].Kind != "node_revoked" || d.AlertCounts["critical"] != 1 || d.AlertCounts["warning"] != 1 {
		t.Errorf("alerts %+v counts %v", d.Alerts, d.AlertCounts)
	}
}

func TestComputeCourtScope(t *testing.T) {
	d := Compute(Input{
		Now: at("2026-06-30"), Self: "京0102", GuardDays: 30, Transfers: pipelineFixture(),
		Alerts: []api.Alert{
			{Kind: "acceptance_overdue", Severity: "warning", Court: "京0108", Transfer: "t3"}, // t3 is 京0102's case
			{Kind: "node_silent", Severity: "warning", Court: "京0105"},
			{Kind: "bundle_expiring", Severity: "warning"},
		},
	})
	if d.Scope != ScopeCourt || d.Pipeline.Total != 3 || d.Pipeline.Overdue != 1 {
		t.Errorf("scope %s, pipeline %+v", d.Scope, d.Pipeline)
	}
	if len(d.Courts) != 1 || d.Courts[0].Court != "京0108" || d.Courts[0].Designated != 1 {
		t.Errorf("courts %+v", d.Courts)
	}
	if len(d.Alerts) != 2 {
		t.Errorf("alerts %+v: want the overdue acceptance of its case and the bundle, not another court's node", d.Alerts)
	}
}

func TestMessagesComplete(t *testing.T) {
	for k, m := range messages {
		if m[0] == "" || m[1] == "" {
			t.Errorf("message %q lacks a language: %q", k, m)
		}
	}
	for _, s := range States {
		if _, ok := messages["state."+string(s)]; !ok {
			t.Errorf("no label for state %s", s)
		}
	}
	for _, m := range Modes {
		if _, ok := messages["mode."+m]; !ok {
			t.Errorf("no label for mode %s", m)
		}
	}
	for _, c := range court.AssetClasses() {
		if zh := translate(LangZH, "class."+string(c)); zh != c.Label() {
			t.Errorf("asset class %s in Chinese: %q, court calls it %q", c, zh, c.Label())
		}
	}
	for _, k := range []string{"measure_expiring", "decision_overdue", "acceptance_overdue", "handover_overdue", "filing_overdue",
		"supplement_overdue", "supervision_overdue", "refusal_ruling_overdue", "assistance_overdue", "enforcement_overdue", "node_silent", "node_revoked", "bundle_expiring", "audit_inconsistent"} {
		if _, ok := messages["alert."+k]; !ok {
			t.Errorf("no label for alert kind %s", k)
		}
	}
	if got := messageIn(LangEN, "甲 / A b / c"); got != "A b / c" {
		t.Errorf("messageIn en = %q", got)
	}
	if got := messageIn(LangZH, "甲 / A"); got != "甲" {
		t.Errorf("messageIn zh = %q", got)
	}
}

func TestYuan(t *testing.T) {
	for fen, want := range map[int64]string{0: "¥0.00", 5: "¥0.05", 100: "¥1.00", 123456: "¥1,234.56", 1_250_000_00: "¥1,250,000.00", -1_000_00: "-¥1,000.00"} {
		if got := Yuan(fen); got != want {
			t.Errorf("Yuan(%d) = %q, want %q", fen, got, want)
		}
	}
}

// LapseFrom names the first day LapsedDuringHandover holds while a
// dossier is in flight, so that the store can keep the indicator as a sum.
func TestLapseFromAgreesWithLapsedDuringHandover(t *testing.T) {
	cst := time.FixedZone("CST", 8*3600)
	h := time.Date(2025, 3, 10, 23, 30, 0, 0, cst) // late in the day, China time
	cases := []*cmproto.Transfer{
		{HandedOverAt: h},
		{HandedOverAt: h, Overridden: []string{"m1"}, EarliestExpiry: "2025-03-12"},
		{HandedOverAt: h, Overridden: []string{"m1"}, EarliestExpiry: "2025-03-10"},
		{HandedOverAt: h, Overridden: []string{"m1"}, EarliestExpiry: "2025-03-09"}, // lapsed at the origin
		{HandedOverAt: h, Overridden: []string{"m1"}, EarliestExpiry: "2025-06-01"}, // after the window rule
		{HandedOverAt: h, EarliestExpiry: "2025-03-12"},                             // not overridden
	}
	for _, guard := range []int{0, 7, 30} {
		for i, tr := range cases {
			from := LapseFrom(tr, guard)
			for d := range 60 {
				now := time.Date(2025, 3, 10, 12, 0, 0, 0, cst).AddDate(0, 0, d)
				want := LapsedDuringHandover(tr, now, guard)
				if got := !court.DateOf(now).Before(from); got != want {
					t.Errorf("guard %d, case %d, %s: from %s says %v, LapsedDuringHandover %v", guard, i, court.DateOf(now), from, got, want)
				}
			}
		}
	}
	if !LapseFrom(&cmproto.Transfer{}, 30).IsZero() {
		t.Error("not handed over, yet a lapse day")
	}
}
