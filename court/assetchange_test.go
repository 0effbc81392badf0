package court

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func day(s string) Date {
	d, err := ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

// assetCase is a case of 京0105 with a deposit (a1) frozen by m1
// (2025-03-01 to 2026-02-28) and a flat (a2) sealed by m2 (2024-06-01 to
// 2027-05-31).
func assetCase() Case {
	n := MustParseCaseNumber("（2024）京0105执7号")
	return Case{Number: n, Court: n.Court, Status: StatusActive,
		Parties: []Party{{ID: "p1", Role: RoleApplicant, Kind: PartyNatural, Name: "张某甲"}, {ID: "p2", Role: RoleRespondent, Kind: PartyLegal, Name: "某某科技有限公司"}},
		Assets:  []Asset{{ID: "a1", Class: AssetDeposit, Owner: "p2"}, {ID: "a2", Class: AssetRealEstate, Owner: "p2", Source: "national_search"}},
		Measures: []Measure{
			{ID: "m1", Kind: MeasureFreeze, Asset: "a1", Effective: day("2025-03-01"), Expiry: LegalExpiry(AssetDeposit, day("2025-03-01")), Status: MeasureActive, Court: n.Court},
			{ID: "m2", Kind: MeasureSeal, Asset: "a2", Effective: day("2024-06-01"), Expiry: LegalExpiry(AssetRealEstate, day("2024-06-01")), Status: MeasureActive, Court: n.Court},
		}}
}

// apply returns c after d, as a store applies it: every item in its after
// state, added ones appended.
func apply(c Case, d AssetDelta) Case {
	c.Assets, c.Measures = slices.Clone(c.Assets), d.Preview(c.Measures)
	for _, e := range d.Assets {
		if i := slices.IndexFunc(c.Assets, func(a Asset) bool { return a.ID == e.After.ID }); i >= 0 {
			c.Assets[i] = e.After
		} else {
			c.Assets = append(c.Assets, e.After)
		}
	}
	return c
}

// plan plans ch on c as of today (as 京0105), checks the delta's form and
// returns c after it.
func plan(t *testing.T, c Case, ch AssetChange, today Date) Case {
	t.Helper()
	d, err := PlanAssetChange(c, ch, today, "京0105")
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Check(); err != nil {
		t.Fatalf("planned delta fails its own check: %v", err)
	}
	return apply(c, d)
}

func byID(c Case) map[string]Measure {
	out := map[string]Measure{}
	for _, m := range c.Measures {
		out[m.ID] = m
	}
	return out
}

func TestPlanRenewal(t *testing.T) {
	t.Parallel()
	c := assetCase()
	d, err := PlanAssetChange(c, AssetChange{Kind: ChangeRenewal, Measure: "m1"}, day("2026-02-01"), "京0108")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Measures) != 2 || d.Measures[0].Before == nil || d.Measures[1].Before != nil {
		t.Fatalf("delta %+v: want m1 changed and the renewal added", d)
	}
	after := byID(apply(c, d))
	m1, m3 := after["m1"], after["m3"]
	if m1.Status != MeasureRenewed {
		t.Errorf("m1 is %s, want renewed", m1.Status)
	}
	// A deposit freeze renewed from 2026-03-01 runs one year, held by the
	// court that renewed it.
	if m3.Kind != MeasureRenewal || m3.Renews != "m1" || m3.Effective != day("2026-03-01") || m3.Expiry != day("2027-02-28") || m3.Court != "京0108" || m3.Status != MeasureActive {
		t.Errorf("renewal %+v", m3)
	}
	if e := EarliestExpiry(apply(c, d).Measures); e != day("2027-02-28") {
		t.Errorf("earliest expiry %s, want 2027-02-28", e)
	}
	if e := EarliestExpiry(c.Measures); e != day("2026-02-28") {
		t.Errorf("earliest expiry before %s, want 2026-02-28", e)
	}
	if s := d.Summary(); !strings.HasPrefix(s, "renewal: m1 active -> renewed; new renewal m3 on a1") {
		t.Errorf("summary %q", s)
	}
}

func TestPlannedDeltasRoundTrip(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		today  string
		change AssetChange
	}{
		{"release", "2025-06-01", AssetChange{Kind: ChangeRelease, Measure: "m2"}},
		{"disposal of a deposit", "2025-06-01", AssetChange{Kind: ChangeDisposal, Measure: "m1"}},
		{"lapse", "2026-03-02", AssetChange{Kind: ChangeLapse, Measure: "m1"}},
		{"search result with a freeze", "2025-06-01", AssetChange{Kind: ChangeSearchResult, MeasureKind: MeasureFreeze,
			Asset: &Asset{ID: "a3", Class: AssetSecurities, Owner: "p2", Source: "national_search", AccountMasked: "A12****6789"}}},
		{"waiting-line seizure", "2025-06-01", AssetChange{Kind: ChangeOther, AssetID: "a2", MeasureKind: MeasureWaiting, Rank: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := PlanAssetChange(assetCase(), tc.change, day(tc.today), "京0105")
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Check(); err != nil {
				t.Fatal(err)
			}
			// What a delta carries survives its wire form.
			b, _ := json.Marshal(d)
			var back AssetDelta
			if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, d) {
				t.Errorf("delta does not round-trip: %v\n%s", err, b)
			}
		})
	}
}

func TestDisposalDeducts(t *testing.T) {
	t.Parallel()
	after := byID(plan(t, assetCase(), AssetChange{Kind: ChangeDisposal, Measure: "m1"}, day("2025-06-01")))
	if after["m1"].Status != MeasureExecuted || after["m3"].Kind != MeasureDeduct || after["m3"].Status != MeasureExecuted {
		t.Errorf("a deposit disposed of: m1 %s, m3 %+v; want m1 executed and a deduction", after["m1"].Status, after["m3"])
	}
	// A flat is sold, not deducted: no measure of its own.
	after = byID(plan(t, assetCase(), AssetChange{Kind: ChangeDisposal, Measure: "m2"}, day("2025-06-01")))
	if len(after) != 2 || after["m2"].Status != MeasureExecuted {
		t.Errorf("a flat disposed of: %+v", after)
	}
}

func TestAssetChangeRefusals(t *testing.T) {
	t.Parallel()
	c := assetCase()
	for _, tc := range []struct {
		name   string
		today  string
		change AssetChange
		want   error
		words  string
	}{
		{"renewal after expiry", "2026-03-01", AssetChange{Kind: ChangeRenewal, Measure: "m1"}, ErrConflict, "cannot be renewed"},
		{"renewal beyond the legal term", "2026-02-01", AssetChange{Kind: ChangeRenewal, Measure: "m1", Expiry: day("2027-03-31")}, ErrInvalid, "legal limit"},
		{"renewal with a gap", "2026-02-01", AssetChange{Kind: ChangeRenewal, Measure: "m1", Effective: day("2026-03-05")}, ErrInvalid, "without a gap"},
		{"renewal adding no time", "2026-02-01", AssetChange{Kind: ChangeRenewal, Measure: "m1", Effective: day("2025-03-01")}, ErrInvalid, "adds no time"},
		{"lapse before expiry", "2026-02-28", AssetChange{Kind: ChangeLapse, Measure: "m1"}, ErrConflict, "not lapsed"},
		{"unknown measure", "2025-06-01", AssetChange{Kind: ChangeRelease, Measure: "m9"}, ErrNotFound, "no measure"},
		{"no measure named", "2025-06-01", AssetChange{Kind: ChangeRelease}, ErrInvalid, "measure id"},
		{"freeze on real estate", "2025-06-01", AssetChange{Kind: ChangeOther, AssetID: "a2", MeasureKind: MeasureFreeze}, ErrInvalid, "cannot be applied"},
		{"unknown asset", "2025-06-01", AssetChange{Kind: ChangeOther, AssetID: "a9", MeasureKind: MeasureSeal}, ErrNotFound, "no asset"},
		{"asset id taken", "2025-06-01", AssetChange{Kind: ChangeSearchResult, Asset: &Asset{ID: "a1", Class: AssetVehicle, Source: "national_search"}}, ErrConflict, "already has an asset"},
		{"asset id with a slash", "2025-06-01", AssetChange{Kind: ChangeSearchResult, Asset: &Asset{ID: "a/1", Class: AssetVehicle, Source: "national_search"}}, ErrInvalid, "asset id"},
		{"asset of no party", "2025-06-01", AssetChange{Kind: ChangeSearchResult, Asset: &Asset{ID: "a3", Class: AssetVehicle, Owner: "p9", Source: "national_search"}}, ErrNotFound, "no party"},
		{"asset of unknown source", "2025-06-01", AssetChange{Kind: ChangeSearchResult, Asset: &Asset{ID: "a3", Class: AssetVehicle, Source: "rumour"}}, ErrInvalid, "asset source"},
		{"waiting seizure without rank", "2025-06-01", AssetChange{Kind: ChangeOther, AssetID: "a2", MeasureKind: MeasureWaiting}, ErrInvalid, "rank"},
		{"rank on a seal", "2025-06-01", AssetChange{Kind: ChangeOther, AssetID: "a2", MeasureKind: MeasureSeal, Rank: 2}, ErrInvalid, "only a waiting-line seizure"},
		{"new measure id taken", "2025-06-01", AssetChange{Kind: ChangeRelease, Measure: "m2", NewMeasure: "m1"}, ErrConflict, "already has a measure"},
		{"unknown kind", "2025-06-01", AssetChange{Kind: "auction"}, ErrInvalid, "change kind"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := PlanAssetChange(c, tc.change, day(tc.today), "京0105")
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.words) {
				t.Fatalf("err = %v, want %v mentioning %q", err, tc.want, tc.words)
			}
		})
	}
	// A measure released can be neither released nor renewed again.
	released := plan(t, c, AssetChange{Kind: ChangeRelease, Measure: "m2"}, day("2025-06-01"))
	for _, k := range []AssetChangeKind{ChangeRenewal, ChangeRelease} {
		if _, err := PlanAssetChange(released, AssetChange{Kind: k, Measure: "m2"}, day("2025-06-02"), "京0105"); !errors.Is(err, ErrConflict) {
			t.Errorf("%s of a released measure: %v", k, err)
		}
	}
}

// addWaiting registers count waiting seizures w1, w2, ... on the flat a2,
// ranked in that order behind its seal m2.
func addWaiting(t *testing.T, c Case, count int) Case {
	t.Helper()
	for rank := 1; rank <= count; rank++ {
		c = plan(t, c, AssetChange{Kind: ChangeOther, AssetID: "a2", MeasureKind: MeasureWaiting, Rank: rank, NewMeasure: fmt.Sprintf("w%d", rank)}, day("2025-01-10"))
	}
	return c
}

// TestWaitingLineMovesOn: when the seizure holding an asset ends
// (released, lapsed, or carried out), the first waiting seizure (轮候)
// takes effect that day as the same kind of seizure, with its own legal
// term from then; the next one moves up. A waiting seizure is given no
// term of its own while it waits.
func TestWaitingLineMovesOn(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		today  string
		change AssetChange
		from   string // the day the first waiting seizure takes effect
	}{
		{"release", "2025-06-01", AssetChange{Kind: ChangeRelease, Measure: "m2"}, "2025-06-01"},
		{"lapse", "2027-06-02", AssetChange{Kind: ChangeLapse, Measure: "m2"}, "2027-06-01"},
		{"disposal (the waiting seizure takes what remains)", "2025-06-01", AssetChange{Kind: ChangeDisposal, Measure: "m2"}, "2025-06-01"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := addWaiting(t, assetCase(), 2)
			if w1 := byID(c)["w1"]; w1.Kind != MeasureWaiting || !w1.Expiry.IsZero() || w1.Running() {
				t.Errorf("a waiting seizure while it waits: %+v; want no term", w1)
			}
			if _, err := PlanAssetChange(c, AssetChange{Kind: ChangeOther, AssetID: "a2", MeasureKind: MeasureWaiting, Rank: 3, Expiry: day("2026-01-01")}, day("2025-01-10"), "京0105"); !errors.Is(err, ErrInvalid) {
				t.Errorf("a waiting seizure with a term of its own: %v", err)
			}
			after := byID(plan(t, c, tc.change, day(tc.today)))
			from := day(tc.from)
			w1, w2 := after["w1"], after["w2"]
			if w1.Kind != MeasureSeal || w1.Status != MeasureActive || w1.Effective != from || w1.Expiry != LegalExpiry(AssetRealEstate, from) || w1.Rank != 0 {
				t.Errorf("the first waiting seizure after the line moved: %+v; want a seal in force from %s for the legal term", w1, from)
			}
			if w2.Kind != MeasureWaiting || w2.Rank != 1 || !w2.Expiry.IsZero() {
				t.Errorf("the second waiting seizure: %+v; want first in line, still waiting", w2)
			}
		})
	}
}

// TestWaitingLineHeld: the line does not move while another seizure still
// holds the asset, and a renewal carries the seizure (and its hold) on.
func TestWaitingLineHeld(t *testing.T) {
	t.Parallel()
	c := addWaiting(t, assetCase(), 1)
	c = plan(t, c, AssetChange{Kind: ChangeOther, AssetID: "a2", MeasureKind: MeasureSeal, NewMeasure: "s2"}, day("2025-02-01"))
	after := byID(plan(t, c, AssetChange{Kind: ChangeRelease, Measure: "m2"}, day("2025-06-01")))
	if w1 := after["w1"]; w1.Kind != MeasureWaiting || w1.Rank != 1 {
		t.Errorf("w1 moved while s2 still holds the asset: %+v", w1)
	}
	// Renewed, m2's term runs on in its renewal: released then, the line moves.
	c = addWaiting(t, assetCase(), 1)
	c = plan(t, c, AssetChange{Kind: ChangeRenewal, Measure: "m2", NewMeasure: "r2"}, day("2027-05-01"))
	after = byID(plan(t, c, AssetChange{Kind: ChangeRelease, Measure: "r2"}, day("2027-07-01")))
	if w1 := after["w1"]; w1.Kind != MeasureSeal || w1.Effective != day("2027-07-01") {
		t.Errorf("after the renewal of the seal was released: w1 %+v; want a seal from 2027-07-01", w1)
	}
}

// TestWaitingSeizureWithdrawn: releasing a waiting seizure moves those
// behind it up a place; the seizure holding the asset is untouched.
func TestWaitingSeizureWithdrawn(t *testing.T) {
	t.Parallel()
	c := plan(t, addWaiting(t, assetCase(), 3), AssetChange{Kind: ChangeRelease, Measure: "w1"}, day("2025-02-01"))
	got := byID(c)
	if got["w1"].Status != MeasureReleased || got["w2"].Rank != 1 || got["w3"].Rank != 2 || got["m2"].Status != MeasureActive || got["m2"].Kind != MeasureSeal {
		t.Errorf("after w1 was withdrawn: w1 %s, w2 rank %d, w3 rank %d, m2 %s %s", got["w1"].Status, got["w2"].Rank, got["w3"].Rank, got["m2"].Kind, got["m2"].Status)
	}
	// A seizure registered now queues behind those already waiting, and a
	// waiting seizure has no term to renew.
	if _, err := PlanAssetChange(c, AssetChange{Kind: ChangeOther, AssetID: "a2", MeasureKind: MeasureWaiting, Rank: 1}, day("2025-03-01"), "京0105"); !errors.Is(err, ErrConflict) {
		t.Errorf("a later waiting seizure taking rank 1 ahead of w2: %v", err)
	}
	if _, err := PlanAssetChange(c, AssetChange{Kind: ChangeOther, AssetID: "a2", MeasureKind: MeasureWaiting, Rank: 3}, day("2025-03-01"), "京0105"); err != nil {
		t.Errorf("a later waiting seizure at the end of the line: %v", err)
	}
	if _, err := PlanAssetChange(c, AssetChange{Kind: ChangeRenewal, Measure: "w2"}, day("2025-03-01"), "京0105"); !errors.Is(err, ErrInvalid) {
		t.Errorf("renewing a waiting seizure: %v", err)
	}
}

func TestAssetDeltaCheck(t *testing.T) {
	t.Parallel()
	m := Measure{ID: "m1", Kind: MeasureSeal, Asset: "a1", Effective: day("2025-01-01"), Expiry: day("2026-12-31"), Status: MeasureActive}
	noExpiry := m
	noExpiry.Expiry = Date{}
	renamed := m
	renamed.ID = "m2"
	for _, tc := range []struct {
		name string
		d    AssetDelta
		ok   bool
	}{
		{"fine", AssetDelta{V: AssetDeltaVersion, Kind: ChangeOther, Measures: []MeasureEdit{{After: m}}}, true},
		{"other version", AssetDelta{V: 2, Kind: ChangeOther, Measures: []MeasureEdit{{After: m}}}, false},
		{"unknown kind", AssetDelta{V: 1, Kind: "auction", Measures: []MeasureEdit{{After: m}}}, false},
		{"empty", AssetDelta{V: 1, Kind: ChangeOther}, false},
		{"listed twice", AssetDelta{V: 1, Kind: ChangeOther, Measures: []MeasureEdit{{After: m}, {After: m}}}, false},
		{"active seal without expiry", AssetDelta{V: 1, Kind: ChangeOther, Measures: []MeasureEdit{{After: noExpiry}}}, false},
		{"id changed", AssetDelta{V: 1, Kind: ChangeOther, Measures: []MeasureEdit{{Before: &m, After: renamed}}}, false},
		{"bad asset id", AssetDelta{V: 1, Kind: ChangeSearchResult, Assets: []AssetEdit{{After: Asset{ID: "../a", Class: AssetVehicle}}}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.d.Check()
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrInvalid)) {
				t.Errorf("Check() = %v, want ok %v", err, tc.ok)
			}
		})
	}
}
