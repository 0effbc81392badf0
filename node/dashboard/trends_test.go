package dashboard

import (
	"testing"
	"time"

	cmproto "courtmesh.dev/courtmesh/protocol"
)

// TestTrends: the monthly transfers by mode and outcome, recovery by
// receiving court and load over time of a superior, from the sums of
// Contribution alone, as the store keeps them.
func TestTrends(t *testing.T) {
	now := time.Date(2026, 6, 20, 4, 0, 0, 0, time.UTC)
	at := func(m time.Month, d int) time.Time { return time.Date(2026, m, d, 2, 0, 0, 0, time.UTC) }
	ts := []*cmproto.Transfer{
		// Designated in March, accepted in March, closed in May.
		{ID: "01", State: cmproto.StateClosed, Origin: "京0105", Superior: "京01", Decider: "京01", Receiver: "京0108", Mode: "指令执行",
			AmountOutstanding: 1000_00, AmountRecovered: 400_00, Outcome: "concluded",
			DecidedAt: at(3, 2), AcceptedAt: at(3, 5), ClosedAt: at(5, 10)},
		// Designated in April, accepted in April, still open.
		{ID: "02", State: cmproto.StateReceived, Origin: "京0105", Superior: "京01", Decider: "京01", Receiver: "京0108", Mode: "指令执行",
			AmountOutstanding: 500_00, DecidedAt: at(4, 1), AcceptedAt: at(4, 3), ReceivedAt: at(4, 6)},
		// Elevated in June.
		{ID: "03", State: cmproto.StateAccepted, Origin: "京0105", Superior: "京01", Decider: "京01", Receiver: "京01", Mode: "提级执行",
			DecidedAt: at(6, 1), AcceptedAt: at(6, 1)},
		// Withdrawn in May.
		{ID: "04", State: cmproto.StateWithdrawn, Origin: "京0105", Superior: "京01",
			Records: []cmproto.RecordRef{{Kind: cmproto.KindOffer, IssuedAt: at(4, 20)}, {Kind: cmproto.KindWithdrawal, IssuedAt: at(5, 2)}}},
		// Another superior's, out of 京01's court scope.
		{ID: "05", State: cmproto.StateDecided, Origin: "京0102", Superior: "京02", Decider: "京02", Receiver: "京0108", Mode: "指令执行", DecidedAt: at(6, 3)},
	}
	stats := map[string]int64{}
	for _, tr := range ts {
		for k, v := range Contribution(tr, 30) {
			stats[k] += v
		}
	}
	d := Compute(Input{Now: now, Self: "京01", Operator: true, Stats: stats, Counts: map[cmproto.State]int{}})
	if len(d.Trends) != 2 || d.Trends[0].Superior != "京01" || d.Trends[1].Superior != "京02" {
		t.Fatalf("trends of %d superiors: %+v", len(d.Trends), d.Trends)
	}
	tr := d.Trends[0]
	if len(tr.Months) != TrendMonths || tr.Months[0].Month != "2025-07" || tr.Months[TrendMonths-1].Month != "2026-06" {
		t.Fatalf("months %v .. %v", tr.Months[0].Month, tr.Months[len(tr.Months)-1].Month)
	}
	byMonth := map[string]TrendMonth{}
	for _, m := range tr.Months {
		byMonth[m.Month] = m
	}
	if byMonth["2026-03"].Modes["指令执行"] != 1 || byMonth["2026-04"].Modes["指令执行"] != 1 || byMonth["2026-06"].Modes["提级执行"] != 1 ||
		byMonth["2026-05"].Outcomes["concluded"] != 1 || byMonth["2026-05"].Outcomes["withdrawn"] != 1 || byMonth["2026-06"].Modes["指令执行"] != 0 {
		t.Errorf("months %+v", byMonth)
	}
	if len(tr.Recovery) != 1 || tr.Recovery[0] != (CourtRecovery{Court: "京0108", RecoveredFen: 400_00, ClaimedFen: 1000_00, Rate: 0.4}) {
		t.Errorf("recovery %+v", tr.Recovery)
	}
	want := map[string][]int{"京0108": {0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 1, 1}, "京01": {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}}
	if len(tr.Load) != 2 {
		t.Fatalf("load %+v", tr.Load)
	}
	for _, l := range tr.Load {
		w := want[l.Court]
		for i := range w {
			if l.Open[i] != w[i] {
				t.Errorf("load of %s: %v, want %v", l.Court, l.Open, w)
				break
			}
		}
	}
	// A court's own dashboard shows its own trend only.
	d = Compute(Input{Now: now, Self: "京01", Stats: stats, Counts: map[cmproto.State]int{}})
	if len(d.Trends) != 1 || d.Trends[0].Superior != "京01" {
		t.Errorf("court scope trends: %+v", d.Trends)
	}
}
