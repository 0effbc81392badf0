package protocol_test

import (
	"slices"
	"testing"
	"time"

	cmproto "courtmesh.dev/courtmesh/protocol"
)

// TestCheckBackRule: each ground of the rule on its own, at its bound and
// past it, and a check-back review clearing nothing but marking the
// transfer reviewed.
func TestCheckBackRule(t *testing.T) {
	cst := time.FixedZone("CST", 8*3600)
	day := func(s string) time.Time {
		d, err := time.ParseInLocation("2006-01-02", s, cst)
		if err != nil {
			t.Fatal(err)
		}
		return d.Add(10 * time.Hour)
	}
	base := func() *cmproto.Transfer {
		return &cmproto.Transfer{State: cmproto.StateReceived, Origin: "京0105", Receiver: "京0108", FiledOn: "2024-01-10",
			OfferedAt: day("2025-03-01"), AcceptedAt: day("2025-03-10"), HandedOverAt: day("2025-03-12"), ReceivedAt: day("2025-03-13")}
	}
	rule := cmproto.DefaultCheckBackRule
	for _, tc := range []struct {
		name string
		edit func(*cmproto.Transfer)
		want []string
	}{
		{"nothing", func(*cmproto.Transfer) {}, nil},
		{"asset found on day 30", func(tr *cmproto.Transfer) {
			tr.OriginCheck = &cmproto.OriginCheck{OriginLastSearch: "2024-06-01", OriginSearches: 2,
				Assets: []cmproto.EarlierAsset{{AssetUpdate: 1, Class: "deposit", FirstSeen: "2023-01-01", FoundOn: "2025-04-09"}}}
		}, []string{cmproto.CheckBackAssetFound}},
		{"asset found on day 31", func(tr *cmproto.Transfer) {
			tr.OriginCheck = &cmproto.OriginCheck{OriginLastSearch: "2024-06-01", OriginSearches: 2,
				Assets: []cmproto.EarlierAsset{{AssetUpdate: 1, Class: "deposit", FirstSeen: "2023-01-01", FoundOn: "2025-04-10"}}}
		}, nil},
		{"a measure lapsed before the offer", func(tr *cmproto.Transfer) {
			tr.OriginCheck = &cmproto.OriginCheck{MeasuresLapsed: 1}
		}, []string{cmproto.CheckBackMeasuresLapsed}},
		{"held 416 days, concluded in 3 months", func(tr *cmproto.Transfer) {
			tr.State, tr.ClosureKind, tr.ClosedAt = cmproto.StateClosed, cmproto.ClosureFulfilled, day("2025-06-10")
		}, []string{cmproto.CheckBackConcludedFast}},
		{"held 416 days, concluded a day late", func(tr *cmproto.Transfer) {
			tr.State, tr.ClosureKind, tr.ClosedAt = cmproto.StateClosed, cmproto.ClosureFulfilled, day("2025-06-11")
		}, nil},
		{"held 416 days, 终本 in 3 months", func(tr *cmproto.Transfer) {
			tr.State, tr.ClosureKind, tr.ClosedAt = cmproto.StateClosed, cmproto.ClosureTerminal, day("2025-06-10")
		}, nil},
		{"held under a year, concluded fast", func(tr *cmproto.Transfer) {
			tr.FiledOn = "2024-04-01"
			tr.State, tr.ClosureKind, tr.ClosedAt = cmproto.StateClosed, cmproto.ClosureFulfilled, day("2025-04-10")
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := base()
			tc.edit(tr)
			cb := cmproto.CheckBackOf(tr, rule)
			if !slices.Equal(cb.Reasons, tc.want) && !(len(cb.Reasons) == 0 && len(tc.want) == 0) {
				t.Fatalf("reasons %v, want %v (%+v)", cb.Reasons, tc.want, cb)
			}
			if len(tc.want) > 0 && !cmproto.CheckBackCandidate(tr) {
				t.Error("flagged but not a candidate of the statistics' index")
			}
			if cb.Reviewed != nil {
				t.Error("reviewed without a review")
			}
			tr.Reviews = []cmproto.Review{{Issuer: "京01", Finding: "in_order"}, {Issuer: "京01", Finding: "no_fault", CheckBack: true}}
			if cb := cmproto.CheckBackOf(tr, rule); cb.Reviewed == nil || cb.Reviewed.Finding != "no_fault" {
				t.Errorf("the check-back review: %+v", cb.Reviewed)
			}
		})
	}
	if cmproto.CheckBackOf(base(), rule).DaysHeld != 416 {
		t.Errorf("days held %d, want 416 (2024-01-10 to 2025-03-01)", cmproto.CheckBackOf(base(), rule).DaysHeld)
	}
	for _, r := range []cmproto.CheckBackRule{{FoundDays: 91}, {HeldDays: 100, ConcludedMonths: 3}, {HeldDays: 365}, {ConcludedMonths: 13, HeldDays: 365}, {LapsedMeasures: -1}} {
		if r.Validate() == nil {
			t.Errorf("rule %+v was accepted", r)
		}
	}
	if err := rule.Validate(); err != nil {
		t.Errorf("the default rule: %v", err)
	}
}
