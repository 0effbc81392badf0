package dashboard_test

import (
	"encoding/json"
	"fmt"
	"math"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/dashboard"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/storage"
)

// indicatorHistory is the fixed synthetic history of TestStandardIndicators:
// 240 transfers among 20 basic courts 京0101..京0120. Transfer i = 20k + r
// (k = 0..11, r = 0..19) goes from court r to court (r+7) mod 20, decided
// on day i of 2025 (10:00 China time), accepted 1 + k mod 3 days later;
// mode 指令执行 for even k, 提级执行 for odd; claim 1,000,000 fen × (1 + r
// mod 5); the origin had recovered 50,000 fen × (1 + k mod 2). By k mod
// 4: 0 concluded (all recovered), 1 settled (half), 2 terminated (终本,
// nothing), 3 still open (k = 3 has recovered 100,000 fen, k = 7 and 11
// nothing); a closed case closes 30 × (1 + k mod 8) days after filing.
// For k mod 3 = 0 the origin's case is a resumed one (执恢: concluded as
// 终本, resumed to be offered).
func indicatorHistory(final bool) []cmproto.Transfer {
	codes := make([]court.CourtCode, 20)
	for r := range codes {
		codes[r] = court.CourtCode(fmt.Sprintf("京01%02d", r+1))
	}
	cst := time.FixedZone("CST", 8*3600)
	base := time.Date(2025, 1, 1, 10, 0, 0, 0, cst)
	day := func(n int) time.Time { return base.AddDate(0, 0, n) }
	var out []cmproto.Transfer
	for i := range 240 {
		k, r := i/20, i%20
		claim := int64(1_000_000 * (1 + r%5))
		typ := "执"
		if k%3 == 0 {
			typ = "执恢"
		}
		t := cmproto.Transfer{
			ID: court.TransferID(fmt.Sprintf("%032x", i+1)), State: cmproto.StateReceived, CaseNumber: fmt.Sprintf("（2024）%s%s%d号", codes[r], typ, i+1),
			Origin: codes[r], Superior: "京01", Decider: "京01", Receiver: codes[(r+7)%20], Mode: "指令执行",
			AmountOutstanding: claim, AmountOrigin: int64(50_000 * (1 + k%2)), Grounds: []string{"long_unexecuted"},
			OfferedAt: day(i - 10), DecidedAt: day(i), AcceptedAt: day(i + 1 + k%3), HandedOverAt: day(i + 2 + k%3), ReceivedAt: day(i + 2 + k%3),
			NewCaseNumber: fmt.Sprintf("（2025）%s执%d号", codes[(r+7)%20], i+1), Records: []cmproto.RecordRef{},
		}
		if k%2 == 1 {
			t.Mode = "提级执行"
		}
		if k == 3 {
			t.AmountRecovered = 100_000
		}
		if final && k%4 != 3 {
			t.State, t.ClosedAt = cmproto.StateClosed, t.AcceptedAt.AddDate(0, 0, 30*(1+k%8))
			t.Outcome = []string{"concluded", "settled", "terminated"}[k%4]
			t.AmountRecovered = []int64{claim, claim / 2, 0}[k%4]
		}
		out = append(out, t)
	}
	return out
}

// TestStandardIndicators writes the synthetic history through the store
// (first every transfer received, then the closed ones closed: the sums
// follow each rewrite) and compares the indicators read from the sums
// with values computed by hand from the history's definition.
func TestStandardIndicators(t *testing.T) {
	db, err := storage.Open(t.TempDir(), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, final := range []bool{false, true} {
		for _, tr := range indicatorHistory(final) {
			body, err := json.Marshal(&tr)
			if err != nil {
				t.Fatal(err)
			}
			rec, err := storage.TransferRecordFromJSON(body)
			if err != nil {
				t.Fatal(err)
			}
			rec.Stats = dashboard.Contribution(&tr, 30)
			if err := db.PutTransfer(rec); err != nil {
				t.Fatal(err)
			}
		}
	}
	read := func(c court.CourtCode, s dashboard.Slice) dashboard.Indicators {
		t.Helper()
		sums, err := db.TransferStats(c)
		if err != nil {
			t.Fatal(err)
		}
		p, err := s.Prefix()
		if err != nil {
			t.Fatal(err)
		}
		return dashboard.ComputeIndicators(sums, p)
	}
	type want struct {
		filed, closed                                   int64
		claimed, recovered, origin                      int64
		done, actual, term, recovery, in6m, days, accep float64
		progressed, vsOrigin, resumed                   float64
	}
	check := func(name string, got dashboard.Indicators, w want) {
		t.Helper()
		eq := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
		if got.Filed != w.filed || got.Closed != w.closed || got.ClaimedFen != w.claimed || got.RecoveredFen != w.recovered || got.OriginFen != w.origin ||
			!eq(got.FullyEnforced.Value, w.done) || !eq(got.ActuallyDone.Value, w.actual) || !eq(got.Terminated.Value, w.term) ||
			!eq(got.Recovery.Value, w.recovery) || !eq(got.Within6Months.Value, w.in6m) || !eq(got.DaysToClose.Value, w.days) ||
			!eq(got.DaysToAccept.Value, w.accep) || !eq(got.Progressed.Value, w.progressed) || !eq(got.AgainstOrigin.Value, w.vsOrigin) ||
			!eq(got.Resumption.Value, w.resumed) {
			t.Errorf("%s:\n got  %s\n want %+v", name, got, w)
		}
	}

	// 京0101 as receiver: its 12 cases all come from court r = 13 (京0114),
	// claim C = 4,000,000 fen. k = 0..11: closed but k = 3, 7, 11 (9);
	// concluded k = 0, 4, 8; settled 1, 5, 9; terminated 2, 6, 10.
	// Recovered 3C + 3C/2 + 100,000 = 18,100,000 of 12C = 48,000,000.
	// Days to close 30(1 + k mod 8) for the closed: 30+60+90+150+180+210+
	// 30+60+90 = 900, of which all but k = 6 (210) within 6 months.
	// Decision to acceptance 1 + k mod 3: 4 × (1+2+3) = 24 over 12.
	// Progressed: concluded, settled and k = 3: 7. The origin had
	// 6 × 50,000 + 6 × 100,000 = 900,000. Resumed (执恢): k = 0, 3, 6, 9.
	recv := want{filed: 12, closed: 9, claimed: 48_000_000, recovered: 18_100_000, origin: 900_000,
		done: 3.0 / 9, actual: 6.0 / 9, term: 3.0 / 9, recovery: 18_100_000.0 / 48_000_000, in6m: 8.0 / 9, days: 100, accep: 2,
		progressed: 7.0 / 12, vsOrigin: 18_100_000.0 / 900_000, resumed: 4.0 / 12}
	check("京0101 as receiver", read("京0101", dashboard.Slice{Role: "receiver", Court: "京0101"}), recv)
	// 京0114 as origin: the very same 12 cases.
	check("京0114 as origin", read("京0114", dashboard.Slice{Role: "origin", Court: "京0114"}), recv)
	// 京0101 as origin: r = 0, C = 1,000,000: the same shares, amounts / 4.
	check("京0101 as origin", read("京0101", dashboard.Slice{Role: "origin", Court: "京0101"}), want{filed: 12, closed: 9,
		claimed: 12_000_000, recovered: 4_600_000, origin: 900_000, done: 3.0 / 9, actual: 6.0 / 9, term: 3.0 / 9,
		recovery: 4_600_000.0 / 12_000_000, in6m: 8.0 / 9, days: 100, accep: 2, progressed: 7.0 / 12, vsOrigin: 4_600_000.0 / 900_000,
		resumed: 4.0 / 12})

	// The whole mesh: 240 filed, 180 closed (60 of each outcome). Claims
	// 12 × 1,000,000 × Σ(1 + r mod 5) = 12,000,000 × 60 = 720,000,000;
	// recovered Σ(4.5 C_r + 100,000) = 270,000,000 + 2,000,000. Resumed:
	// 4 of every court's 12, 80.
	check("all", read("", dashboard.Slice{}), want{filed: 240, closed: 180, claimed: 720_000_000, recovered: 272_000_000, origin: 18_000_000,
		done: 60.0 / 180, actual: 120.0 / 180, term: 60.0 / 180, recovery: 272.0 / 720, in6m: 160.0 / 180, days: 100, accep: 2,
		progressed: 140.0 / 240, vsOrigin: 272.0 / 18, resumed: 80.0 / 240})
	// 指令执行 (even k): all closed, concluded k = 0, 4, 8 and terminated
	// 2, 6, 10; days 30, 90, 150, 210, 30, 90 (600 over 6; 210 late).
	// Claims 6 × 1,000,000 × Σ(1 + r mod 5) = 360,000,000, recovered 3 C_r
	// each: 180,000,000; the origin 6 × 50,000 × 20. Resumed k = 0, 6.
	check("指令执行", read("", dashboard.Slice{Mode: "指令执行"}), want{filed: 120, closed: 120, claimed: 360_000_000, recovered: 180_000_000,
		origin: 6_000_000, done: 0.5, actual: 0.5, term: 0.5, recovery: 0.5, in6m: 100.0 / 120, days: 100, accep: (1 + 3 + 2 + 1 + 3 + 2) / 6.0,
		progressed: 60.0 / 120, vsOrigin: 30, resumed: 40.0 / 120})
	// 提级执行 (odd k): closed k = 1, 5, 9, all settled (C_r / 2 each),
	// days 60, 180, 60; open 3 (100,000 recovered), 7, 11. Resumed k = 3, 9.
	check("提级执行", read("", dashboard.Slice{Mode: "提级执行"}), want{filed: 120, closed: 60, claimed: 360_000_000, recovered: 92_000_000,
		origin: 12_000_000, done: 0, actual: 1, term: 0, recovery: 92.0 / 360, in6m: 1, days: 100, accep: (2 + 1 + 3 + 2 + 1 + 3) / 6.0,
		progressed: 80.0 / 120, vsOrigin: 92.0 / 12, resumed: 40.0 / 120})
	// Filed in January 2025: day i + 1 + k mod 3 <= 30: k = 0 (i = 0..19,
	// all 20, all resumed) and k = 1 (i = 20..28: 9, none resumed).
	if got := read("", dashboard.Slice{Month: "2025-01"}); got.Filed != 29 || got.Resumption.Num != 20 || got.Resumption.Den != 29 {
		t.Errorf("filed in 2025-01: %d, resumed %d/%d; want 29, 20/29", got.Filed, got.Resumption.Num, got.Resumption.Den)
	}
	if _, err := (dashboard.Slice{Mode: "指令执行", Month: "2025-01"}).Prefix(); err == nil {
		t.Error("two slices at once were accepted")
	}
}

// A case the receiver closes counts by its closure's kind: 执行完毕 is
// fully enforced and actually concluded; 终本 counts in the 终本率; 终结,
// 不予执行 and 驳回 are closed cases that are none of these (实际执结
// counts the cases enforced, performed or settled), and count as
// progressed only if money was recovered. Each kind is also counted
// apart (closure/<kind>) and in the trends. The transfers are closed as
// protocol.Apply closes them (TestConcludeEveryKind): the kind, and the
// legacy outcome word terminated for 终本, concluded for the rest.
func TestClosureKindsInIndicators(t *testing.T) {
	type want struct{ done, actual, term, progressed int64 }
	for _, c := range []struct {
		kind      cmproto.ClosureKind
		recovered int64
		want      want
		trend     string
	}{
		{cmproto.ClosureFulfilled, 1_000_000, want{1, 1, 0, 1}, "concluded"},
		{cmproto.ClosureTerminal, 0, want{0, 0, 1, 0}, "terminated"},
		{cmproto.ClosureEnded, 0, want{0, 0, 0, 0}, "ended"},
		{cmproto.ClosureEnded, 200_000, want{0, 0, 0, 1}, "ended"},
		{cmproto.ClosureNotEnforced, 0, want{0, 0, 0, 0}, "ended"},
		{cmproto.ClosureDismissed, 0, want{0, 0, 0, 0}, "ended"},
	} {
		t.Run(fmt.Sprintf("%s/%d", c.kind, c.recovered), func(t *testing.T) {
			cst := time.FixedZone("CST", 8*3600)
			at := time.Date(2025, 3, 3, 10, 0, 0, 0, cst)
			tr := cmproto.Transfer{
				ID: "00000000000000000000000000000001", State: cmproto.StateClosed, CaseNumber: "（2024）京0105执1号", NewCaseNumber: "（2025）京0108执1号",
				Origin: "京0105", Superior: "京01", Decider: "京01", Receiver: "京0108", Mode: "指令执行", AmountOutstanding: 1_000_000,
				OfferedAt: at, DecidedAt: at.AddDate(0, 0, 1), AcceptedAt: at.AddDate(0, 0, 2), HandedOverAt: at.AddDate(0, 0, 3), ReceivedAt: at.AddDate(0, 0, 3),
				ClosedAt: at.AddDate(0, 2, 0), ClosureKind: c.kind, Outcome: "concluded", AmountRecovered: c.recovered, Records: []cmproto.RecordRef{},
			}
			if c.kind == cmproto.ClosureTerminal {
				tr.Outcome = "terminated"
			}
			sums := dashboard.Contribution(&tr, 30)
			if sums["closure/"+string(c.kind)] != 1 {
				t.Errorf("closure/%s = %d, want 1", c.kind, sums["closure/"+string(c.kind)])
			}
			if got := dashboard.ClosedAs(&tr); got != c.trend {
				t.Errorf("ClosedAs = %q, want %q", got, c.trend)
			}
			if n := sums["trend/京01/2025-05/outcome/"+c.trend]; n != 1 {
				t.Errorf("trend outcome %s in 2025-05: %d, want 1 (%v)", c.trend, n, sums)
			}
			for _, p := range []string{"ind/all/", "ind/r/京0108/", "ind/o/京0105/", "ind/m/指令执行/"} {
				got := dashboard.ComputeIndicators(sums, p)
				g := want{got.FullyEnforced.Num, got.ActuallyDone.Num, got.Terminated.Num, got.Progressed.Num}
				if got.Filed != 1 || got.Closed != 1 || g != c.want || got.FullyEnforced.Den != 1 {
					t.Errorf("%s: filed %d, closed %d, (完毕, 实际执结, 终本, progressed) = %+v; want 1, 1, %+v", p, got.Filed, got.Closed, g, c.want)
				}
			}
		})
	}
}
