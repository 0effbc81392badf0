package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	badger "github.com/dgraph-io/badger/v4"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
)

// assetCase stores sampleCase with a deposit frozen by m1 (2025-03-01 to
// 2026-02-28) and a flat (a2) sealed by m2 (2024-06-01 to 2027-05-31).
func assetCase(t testing.TB) (*DB, court.CaseNumber) {
	t.Helper()
	k, err := crypto.GenerateEncKey()
	if err != nil {
		t.Fatal(err)
	}
	db, err := Open(t.TempDir(), Options{Decrypter: k, ChunkSize: crypto.MinChunkSize})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	in := sampleCase(bytes.Repeat([]byte("page "), 1000))
	eff := court.Date{Year: 2024, Month: 6, Day: 1}
	in.Version.Assets = append(in.Version.Assets, court.Asset{ID: "a2", Class: court.AssetRealEstate, Owner: "p2", Source: "national_search"})
	in.Version.Measures = append(in.Version.Measures, court.Measure{ID: "m2", Kind: court.MeasureSeal, Asset: "a2", Effective: eff,
		Expiry: court.LegalExpiry(court.AssetRealEstate, eff), Status: court.MeasureActive, Court: in.Version.Number.Court})
	if _, err := db.PutCase(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	return db, in.Version.Number
}

func day(s string) court.Date {
	d, err := court.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

// indexedIDs lists the measures of case n in the expiry index, soonest
// first.
func indexedIDs(t testing.TB, db *DB) []string {
	t.Helper()
	ms, err := db.ExpiringMeasures(context.Background(), day("2020-01-01"), 36500)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range ms {
		out = append(out, m.Measure.ID+"@"+m.Measure.Expiry.String())
	}
	return out
}

// checkConsistent checks that the version, the measure records and the
// expiry index agree.
func checkConsistent(t testing.TB, db *DB, n court.CaseNumber) {
	t.Helper()
	_, v, err := db.Case(n)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	err = db.bdb.View(func(txn *badger.Txn) error {
		for _, m := range v.Measures {
			var stored court.Measure
			if err := getJSON(txn, measureKey(n, m.ID), &stored); err != nil {
				return err
			}
			if !sameJSON(stored, m) {
				t.Errorf("measure %s: record %+v, version %+v", m.ID, stored, m)
			}
			_, ierr := txn.Get(measureExpiryKey(m.Expiry, n, m.ID))
			if indexed(m) != (ierr == nil) {
				t.Errorf("measure %s (%s): indexed %v, index entry present %v", m.ID, m.Status, indexed(m), ierr == nil)
			}
			if indexed(m) {
				want = append(want, m.ID+"@"+m.Expiry.String())
			}
		}
		for _, a := range v.Assets {
			var stored court.Asset
			if err := getJSON(txn, assetKey(n, a.ID), &stored); err != nil {
				return err
			}
			if !sameJSON(stored, a) {
				t.Errorf("asset %s: record differs from the version", a.ID)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got := indexedIDs(t, db)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("expiry index %v, want %v", got, want)
	}
}

func TestRenewalAppliedInPlace(t *testing.T) {
	db, n := assetCase(t)
	ctx := context.Background()
	before, _ := db.VerifyCase(ctx, n)
	head0, v0, _ := db.Case(n)
	today := day("2026-02-01")

	d, err := court.PlanAssetChange(v0.Case(), court.AssetChange{Kind: court.ChangeRenewal, Measure: "m1"}, today, "京0108")
	if err != nil {
		t.Fatal(err)
	}
	res, err := db.ApplyAssetDelta(n, d, DeltaOptions{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Applied, []string{"m1", "m3"}) || len(res.Conflicts) != 0 {
		t.Fatalf("result %+v", res)
	}
	head, v, _ := db.Case(n)
	if head.Version != head0.Version || !sameJSON(v.Documents, v0.Documents) || v.ContentHash != v0.ContentHash {
		t.Error("the renewal rewrote the version's documents or made a new version")
	}
	if after, err := db.VerifyCase(ctx, n); err != nil || after != before {
		t.Errorf("documents after the renewal: %+v %v", after, err)
	}
	m1, m3 := v.Measures[0], v.Measures[2]
	if m1.Status != court.MeasureRenewed {
		t.Errorf("m1 is %s, want renewed", m1.Status)
	}
	// A deposit freeze renewed from 2026-03-01 runs one year.
	if m3.Kind != court.MeasureRenewal || m3.Renews != "m1" || m3.Effective != day("2026-03-01") || m3.Expiry != day("2027-02-28") || m3.Court != "京0108" {
		t.Errorf("renewal %+v", m3)
	}
	checkConsistent(t, db, n)
	if e := court.EarliestExpiry(v.Measures); e != day("2027-02-28") {
		t.Errorf("earliest expiry %s", e)
	}

	// Applied again (the other court's copy already has it): nothing changes.
	keys, _ := db.Keys()
	res, err = db.ApplyAssetDelta(n, d, DeltaOptions{})
	if err != nil || len(res.Applied) != 0 || len(res.Already) != 2 {
		t.Fatalf("reapplied: %+v %v", res, err)
	}
	if again, _ := db.Keys(); !slices.Equal(keys, again) {
		t.Error("reapplying wrote keys")
	}

	// Undone: back as before, index included.
	if err := db.RevertAssetDelta(n, d, nil); err != nil {
		t.Fatal(err)
	}
	if _, v, _ := db.Case(n); !sameJSON(v.Measures, v0.Measures) {
		t.Errorf("after revert: %+v", v.Measures)
	}
	checkConsistent(t, db, n)
}

func TestAssetChangesKeepTheIndex(t *testing.T) {
	for _, tc := range []struct {
		name    string
		today   string
		change  court.AssetChange
		indexed []string // after, sorted
	}{
		{"release", "2025-06-01", court.AssetChange{Kind: court.ChangeRelease, Measure: "m2"}, []string{"m1@2026-02-28"}},
		{"disposal of a deposit", "2025-06-01", court.AssetChange{Kind: court.ChangeDisposal, Measure: "m1"}, []string{"m2@2027-05-31"}},
		{"lapse", "2026-03-02", court.AssetChange{Kind: court.ChangeLapse, Measure: "m1"}, []string{"m2@2027-05-31"}},
		{"search result with a freeze", "2025-06-01", court.AssetChange{Kind: court.ChangeSearchResult, MeasureKind: court.MeasureFreeze,
			Asset: &court.Asset{ID: "a3", Class: court.AssetSecurities, Owner: "p2", Source: "national_search", AccountMasked: "A12****6789"}},
			[]string{"m1@2026-02-28", "m2@2027-05-31", "m3@2028-05-31"}},
		{"waiting-line seizure (no term until it takes effect)", "2025-06-01", court.AssetChange{Kind: court.ChangeOther, AssetID: "a2", MeasureKind: court.MeasureWaiting, Rank: 1},
			[]string{"m1@2026-02-28", "m2@2027-05-31"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, n := assetCase(t)
			_, v, _ := db.Case(n)
			d, err := court.PlanAssetChange(v.Case(), tc.change, day(tc.today), "京0105")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.ApplyAssetDelta(n, d, DeltaOptions{Strict: true}); err != nil {
				t.Fatal(err)
			}
			checkConsistent(t, db, n)
			got := indexedIDs(t, db)
			slices.Sort(got)
			if !slices.Equal(got, tc.indexed) {
				t.Errorf("indexed %v, want %v", got, tc.indexed)
			}
			// What a delta carries survives its wire form.
			b, _ := json.Marshal(d)
			var back court.AssetDelta
			if err := json.Unmarshal(b, &back); err != nil || !sameJSON(back, d) {
				t.Errorf("delta does not round-trip: %v", err)
			}
		})
	}
}

func TestAssetChangeRefusals(t *testing.T) {
	db, n := assetCase(t)
	_, v, _ := db.Case(n)
	for _, tc := range []struct {
		name   string
		today  string
		change court.AssetChange
		want   error
		words  string
	}{
		{"renewal after expiry", "2026-03-01", court.AssetChange{Kind: court.ChangeRenewal, Measure: "m1"}, ErrConflict, "cannot be renewed"},
		{"renewal beyond the legal term", "2026-02-01", court.AssetChange{Kind: court.ChangeRenewal, Measure: "m1", Expiry: day("2027-03-31")}, ErrInvalid, "legal limit"},
		{"renewal with a gap", "2026-02-01", court.AssetChange{Kind: court.ChangeRenewal, Measure: "m1", Effective: day("2026-03-05")}, ErrInvalid, "without a gap"},
		{"lapse before expiry", "2026-02-28", court.AssetChange{Kind: court.ChangeLapse, Measure: "m1"}, ErrConflict, "not lapsed"},
		{"unknown measure", "2025-06-01", court.AssetChange{Kind: court.ChangeRelease, Measure: "m9"}, ErrNotFound, "no measure"},
		{"freeze on real estate", "2025-06-01", court.AssetChange{Kind: court.ChangeOther, AssetID: "a2", MeasureKind: court.MeasureFreeze}, ErrInvalid, "cannot be applied"},
		{"asset id taken", "2025-06-01", court.AssetChange{Kind: court.ChangeSearchResult, Asset: &court.Asset{ID: "a1", Class: court.AssetVehicle, Source: "national_search"}}, ErrConflict, "already has an asset"},
		{"asset id with a slash", "2025-06-01", court.AssetChange{Kind: court.ChangeSearchResult, Asset: &court.Asset{ID: "a/1", Class: court.AssetVehicle, Source: "national_search"}}, ErrInvalid, "asset id"},
		{"waiting seizure without rank", "2025-06-01", court.AssetChange{Kind: court.ChangeOther, AssetID: "a2", MeasureKind: court.MeasureWaiting}, ErrInvalid, "rank"},
		{"new measure id taken", "2025-06-01", court.AssetChange{Kind: court.ChangeRelease, Measure: "m2", NewMeasure: "m1"}, ErrConflict, "already has a measure"},
		{"unknown kind", "2025-06-01", court.AssetChange{Kind: "auction"}, ErrInvalid, "change kind"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := court.PlanAssetChange(v.Case(), tc.change, day(tc.today), "京0105")
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.words) {
				t.Fatalf("err = %v, want %v mentioning %q", err, tc.want, tc.words)
			}
		})
	}
	// A renewal that starts where the renewed measure started ends where
	// it ends: it adds no time and is refused.
	for _, m := range v.Measures {
		if m.ID == "m1" {
			_, err := court.PlanAssetChange(v.Case(), court.AssetChange{Kind: court.ChangeRenewal, Measure: "m1", Effective: m.Effective}, day("2026-02-01"), "京0105")
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "adds no time") {
				t.Errorf("a renewal adding no time: %v", err)
			}
		}
	}
	// A measure released can be neither released nor renewed again.
	d, err := court.PlanAssetChange(v.Case(), court.AssetChange{Kind: court.ChangeRelease, Measure: "m2"}, day("2025-06-01"), "京0105")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ApplyAssetDelta(n, d, DeltaOptions{Strict: true}); err != nil {
		t.Fatal(err)
	}
	_, v, _ = db.Case(n)
	if _, err := court.PlanAssetChange(v.Case(), court.AssetChange{Kind: court.ChangeRenewal, Measure: "m2"}, day("2025-06-02"), "京0105"); !errors.Is(err, ErrConflict) {
		t.Errorf("renewing a released measure: %v", err)
	}
}

// A delta planned against an older state: strict refuses it; lenient
// reports the conflict; neither writes anything of it.
func TestStaleDeltaConflicts(t *testing.T) {
	db, n := assetCase(t)
	_, v, _ := db.Case(n)
	renew, err := court.PlanAssetChange(v.Case(), court.AssetChange{Kind: court.ChangeRenewal, Measure: "m1"}, day("2026-02-01"), "京0108")
	if err != nil {
		t.Fatal(err)
	}
	release, err := court.PlanAssetChange(v.Case(), court.AssetChange{Kind: court.ChangeRelease, Measure: "m1", NewMeasure: "r1"}, day("2026-02-01"), "京0105")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ApplyAssetDelta(n, release, DeltaOptions{Strict: true}); err != nil {
		t.Fatal(err)
	}
	keys, _ := db.Keys()
	if _, err := db.ApplyAssetDelta(n, renew, DeltaOptions{Strict: true}); !errors.Is(err, ErrConflict) {
		t.Fatalf("strict stale delta: %v", err)
	}
	if after, _ := db.Keys(); !slices.Equal(keys, after) {
		t.Error("a refused delta wrote keys")
	}
	res, err := db.ApplyAssetDelta(n, renew, DeltaOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Conflicts, []string{"m1"}) || len(res.Applied) != 0 {
		t.Errorf("lenient stale delta: %+v", res)
	}
	if after, _ := db.Keys(); !slices.Equal(keys, after) {
		t.Error("a conflicting delta wrote keys")
	}
	_, v, _ = db.Case(n)
	if v.Measures[0].Status != court.MeasureReleased || len(v.Measures) != 3 {
		t.Errorf("the case changed: %+v", v.Measures)
	}
	checkConsistent(t, db, n)
}

func TestPendingAssetUpdatesInOrder(t *testing.T) {
	db, n := assetCase(t)
	const tr = "00112233445566778899aabbccddeeff"
	put := func(num uint64) bool {
		t.Helper()
		added, err := db.PutAssetUpdate(PendingAssetUpdate{Transfer: tr, Issuer: "京0105", Number: num, Kind: "renewal", Sealed: []byte{1}})
		if err != nil {
			t.Fatal(err)
		}
		return added
	}
	if !put(2) || !put(1) || put(2) {
		t.Fatal("want 2 and 1 kept once each")
	}
	ps, err := db.PendingAssetUpdates(tr)
	if err != nil || len(ps) != 2 || ps[0].Number != 1 || ps[1].Number != 2 {
		t.Fatalf("pending %+v %v", ps, err)
	}
	_, v, _ := db.Case(n)
	d, _ := court.PlanAssetChange(v.Case(), court.AssetChange{Kind: court.ChangeRelease, Measure: "m2"}, day("2025-06-01"), "京0105")
	// Update 2 may not go before 1.
	if _, err := db.ApplyAssetDelta(n, d, DeltaOptions{Mark: &AssetUpdateMark{Transfer: tr, Issuer: "京0105", Number: 2}}); !errors.Is(err, ErrConflict) {
		t.Fatalf("update 2 before 1: %v", err)
	}
	if _, v2, _ := db.Case(n); !sameJSON(v2.Measures, v.Measures) {
		t.Fatal("a refused update changed the case")
	}
	if err := db.SkipAssetUpdate(AssetUpdateMark{Transfer: tr, Issuer: "京0105", Number: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ApplyAssetDelta(n, d, DeltaOptions{Mark: &AssetUpdateMark{Transfer: tr, Issuer: "京0105", Number: 2}}); err != nil {
		t.Fatal(err)
	}
	if last, _ := db.AppliedAssetUpdates(tr, "京0105"); last != 2 {
		t.Errorf("applied %d, want 2", last)
	}
	if ps, _ := db.PendingAssetUpdates(""); len(ps) != 0 {
		t.Errorf("still pending: %+v", ps)
	}
	if put(1) || put(2) {
		t.Error("an applied update was kept again")
	}
	// The audit log, which shares no prefix with these keys, still reads.
	if _, err := db.Audit(AuditEntry{Event: "test", Outcome: "ok"}); err != nil {
		t.Fatal(err)
	}
	if es, err := db.AuditEntries(1, 0); err != nil || len(es) != 1 {
		t.Errorf("audit entries %d %v", len(es), err)
	}
}

// FuzzApplyAssetDelta applies arbitrary deltas to a case: whatever is
// accepted, the version, the measure records and the expiry index agree.
func FuzzApplyAssetDelta(f *testing.F) {
	seed := func(d court.AssetDelta) {
		b, _ := json.Marshal(d)
		f.Add(b)
	}
	m1 := court.Measure{ID: "m1", Kind: court.MeasureFreeze, Asset: "a1", Effective: day("2025-03-01"), Expiry: day("2026-02-28"), Status: court.MeasureActive, Court: "京0105"}
	renewed := m1
	renewed.Status = court.MeasureRenewed
	seed(court.AssetDelta{V: 1, Kind: court.ChangeRenewal, Measures: []court.MeasureEdit{{Before: &m1, After: renewed},
		{After: court.Measure{ID: "m3", Kind: court.MeasureRenewal, Asset: "a1", Effective: day("2026-03-01"), Expiry: day("2027-02-28"), Renews: "m1", Status: court.MeasureActive}}}})
	seed(court.AssetDelta{V: 1, Kind: court.ChangeSearchResult, Assets: []court.AssetEdit{{After: court.Asset{ID: "a9", Class: court.AssetVehicle}}},
		Measures: []court.MeasureEdit{{After: court.Measure{ID: "m9", Kind: court.MeasureSeal, Asset: "a9", Effective: day("2025-01-01"), Expiry: day("2026-12-31"), Status: court.MeasureActive}}}})
	seed(court.AssetDelta{V: 1, Kind: court.ChangeOther, Measures: []court.MeasureEdit{{After: court.Measure{ID: "m4", Kind: court.MeasureSeal, Asset: "nope", Status: court.MeasureActive, Expiry: day("2026-01-01")}}}})
	db, n := assetCase(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		var d court.AssetDelta
		if json.Unmarshal(b, &d) != nil {
			return
		}
		if _, err := db.ApplyAssetDelta(n, d, DeltaOptions{Holder: "京0108"}); err != nil && !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrConflict) {
			t.Fatalf("unexpected error kind: %v", err)
		}
		checkConsistent(t, db, n)
	})
}

// TestImportDuringAnAssetUpdate: an asset update applied while an import
// of the same case seals its documents is not overwritten: the import is
// refused at its commit (the case's revision moved), the update stays,
// and the import, run again, sees it.
func TestImportDuringAnAssetUpdate(t *testing.T) {
	db, n := assetCase(t)
	_, v0, err := db.Case(n)
	if err != nil {
		t.Fatal(err)
	}
	d, err := court.PlanAssetChange(v0.Case(), court.AssetChange{Kind: court.ChangeRenewal, Measure: "m1"}, day("2026-02-01"), "京0105")
	if err != nil {
		t.Fatal(err)
	}
	in := sampleCase(bytes.Repeat([]byte("a new document "), 1000))
	in.Version.Assets, in.Version.Measures = v0.Assets, v0.Measures
	open := in.Sources[0].Open
	applied := false
	in.Sources[0].Open = func() (io.ReadCloser, error) {
		if !applied { // while the import reads its first document
			applied = true
			if _, err := db.ApplyAssetDelta(n, d, DeltaOptions{Strict: true}); err != nil {
				t.Errorf("the update during the import: %v", err)
			}
		}
		return open()
	}
	if _, err := db.PutCase(context.Background(), in); !errors.Is(err, ErrConflict) {
		t.Fatalf("an import across an asset update: %v; want a conflict", err)
	}
	_, v, err := db.Case(n)
	if err != nil {
		t.Fatal(err)
	}
	if v.Version != v0.Version || len(v.Measures) != len(v0.Measures)+1 {
		t.Fatalf("after the refused import: version %d with %d measures; want version %d with the renewal (%d)", v.Version, len(v.Measures), v0.Version, len(v0.Measures)+1)
	}
}

// TestWaitingLineMovesOn: when the seizure holding an asset ends (released,
// or lapsed), the first waiting seizure (轮候) takes effect that day as the
// same kind of seizure, with its own legal term from then; the next one
// moves up. A waiting seizure is given no term of its own while it waits.
func TestWaitingLineMovesOn(t *testing.T) {
	for _, tc := range []struct {
		name   string
		today  string
		change court.AssetChange
		from   string // the day the first waiting seizure takes effect
	}{
		{"release", "2025-06-01", court.AssetChange{Kind: court.ChangeRelease, Measure: "m2"}, "2025-06-01"},
		{"lapse", "2027-06-02", court.AssetChange{Kind: court.ChangeLapse, Measure: "m2"}, "2027-06-01"},
		{"disposal (the waiting seizure takes what remains)", "2025-06-01", court.AssetChange{Kind: court.ChangeDisposal, Measure: "m2"}, "2025-06-01"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, n := assetCase(t)
			addWaiting(t, db, n, 2)
			_, v, _ := db.Case(n)
			if _, err := court.PlanAssetChange(v.Case(), court.AssetChange{Kind: court.ChangeOther, AssetID: "a2", MeasureKind: court.MeasureWaiting, Rank: 3, Expiry: day("2026-01-01")}, day("2025-01-10"), "京0105"); !errors.Is(err, ErrInvalid) {
				t.Errorf("a waiting seizure with a term of its own: %v", err)
			}
			byID := applyChange(t, db, n, tc.change, day(tc.today))
			from := day(tc.from)
			w1, w2 := byID["w1"], byID["w2"]
			if w1.Kind != court.MeasureSeal || w1.Status != court.MeasureActive || w1.Effective != from || w1.Expiry != court.LegalExpiry(court.AssetRealEstate, from) || w1.Rank != 0 {
				t.Errorf("the first waiting seizure after the line moved: %+v; want a seal in force from %s for the legal term", w1, from)
			}
			if w2.Kind != court.MeasureWaiting || w2.Rank != 1 || !w2.Expiry.IsZero() {
				t.Errorf("the second waiting seizure: %+v; want first in line, still waiting", w2)
			}
			want := fmt.Sprintf("w1@%s", w1.Expiry)
			if got := indexedIDs(t, db); !slices.Contains(got, want) {
				t.Errorf("expiry index %v lacks %s", got, want)
			}
		})
	}
}

// TestWaitingSeizureWithdrawn: releasing a waiting seizure moves those
// behind it up a place; the seizure holding the asset is untouched.
func TestWaitingSeizureWithdrawn(t *testing.T) {
	db, n := assetCase(t)
	addWaiting(t, db, n, 3)
	got := applyChange(t, db, n, court.AssetChange{Kind: court.ChangeRelease, Measure: "w1"}, day("2025-02-01"))
	_, v, _ := db.Case(n)
	if got["w1"].Status != court.MeasureReleased || got["w2"].Rank != 1 || got["w3"].Rank != 2 || got["m2"].Status != court.MeasureActive || got["m2"].Kind != court.MeasureSeal {
		t.Errorf("after w1 was withdrawn: w1 %s, w2 rank %d, w3 rank %d, m2 %s %s", got["w1"].Status, got["w2"].Rank, got["w3"].Rank, got["m2"].Kind, got["m2"].Status)
	}
	// A seizure registered now queues behind those already waiting, and a
	// waiting seizure has no term to renew.
	if _, err := court.PlanAssetChange(v.Case(), court.AssetChange{Kind: court.ChangeOther, AssetID: "a2", MeasureKind: court.MeasureWaiting, Rank: 1}, day("2025-03-01"), "京0105"); !errors.Is(err, ErrConflict) {
		t.Errorf("a later waiting seizure taking rank 1 ahead of w2: %v", err)
	}
	if _, err := court.PlanAssetChange(v.Case(), court.AssetChange{Kind: court.ChangeOther, AssetID: "a2", MeasureKind: court.MeasureWaiting, Rank: 3}, day("2025-03-01"), "京0105"); err != nil {
		t.Errorf("a later waiting seizure at the end of the line: %v", err)
	}
	if _, err := court.PlanAssetChange(v.Case(), court.AssetChange{Kind: court.ChangeRenewal, Measure: "w2"}, day("2025-03-01"), "京0105"); !errors.Is(err, ErrInvalid) {
		t.Errorf("renewing a waiting seizure: %v", err)
	}
}

// addWaiting registers count waiting seizures w1, w2, ... on the flat a2,
// ranked in that order behind its seal m2.
func addWaiting(t *testing.T, db *DB, n court.CaseNumber, count int) {
	t.Helper()
	for rank := 1; rank <= count; rank++ {
		applyChange(t, db, n, court.AssetChange{Kind: court.ChangeOther, AssetID: "a2", MeasureKind: court.MeasureWaiting, Rank: rank, NewMeasure: fmt.Sprintf("w%d", rank)}, day("2025-01-10"))
	}
}

// applyChange plans c on case n as of today (as 京0105), applies it
// strictly, checks the store's indexes, and returns the case's measures
// by id.
func applyChange(t *testing.T, db *DB, n court.CaseNumber, c court.AssetChange, today court.Date) map[string]court.Measure {
	t.Helper()
	_, v, _ := db.Case(n)
	d, err := court.PlanAssetChange(v.Case(), c, today, "京0105")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ApplyAssetDelta(n, d, DeltaOptions{Strict: true}); err != nil {
		t.Fatal(err)
	}
	checkConsistent(t, db, n)
	_, v, _ = db.Case(n)
	out := map[string]court.Measure{}
	for _, m := range v.Measures {
		out[m.ID] = m
	}
	return out
}
