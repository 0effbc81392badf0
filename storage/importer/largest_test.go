package importer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"courtmesh.dev/courtmesh/storage/gen"
	"courtmesh.dev/courtmesh/storage/importer"
)

// TestLargestCaseFitsOneTransaction imports a case whose case.json is as
// large as the importer accepts (DefaultMaxCaseJSON), filled with the
// smallest assets and measures that pass its checks: the most entries
// one import writes in its single Badger transaction. It must commit:
// storage.BadgerOptions sizes the memtable, and with it the largest
// transaction Badger takes, for it.
func TestLargestCaseFitsOneTransaction(t *testing.T) {
	ctx := context.Background()
	cases, err := gen.Generate(filepath.Join(t.TempDir(), "cases"), gen.Options{Cases: 1, Seed: 7, RefDate: refDate})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(cases[0].Dir, "case.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f importer.CaseFile
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Assets) == 0 || len(f.Measures) == 0 {
		t.Fatalf("the generated case has %d assets and %d measures; the test copies one of each", len(f.Assets), len(f.Measures))
	}
	// Copies of the first measure's asset, each under one copy of that
	// measure: every asset writes one entry, every running measure two
	// (itself and its expiry index).
	m0 := f.Measures[0]
	var a0 importer.AssetFile
	for _, a := range f.Assets {
		if a.ID == m0.Asset {
			a0 = a
		}
	}
	if a0.ID == "" {
		t.Fatalf("no asset %q for measure %q", m0.Asset, m0.ID)
	}
	a0.Description, a0.Account = "x", ""
	m0.Renews, m0.Releases, m0.Document = "", "", ""
	base := len(raw)
	one, _ := json.Marshal(struct {
		A importer.AssetFile
		M importer.MeasureFile
	}{a0, m0})
	n := (importer.DefaultMaxCaseJSON - base) / (len(one) + 16) // ids grow by a few digits
	for i := range n {
		a, m := a0, m0
		a.ID, m.ID, m.Asset = fmt.Sprintf("A%d", i), fmt.Sprintf("M%d", i), fmt.Sprintf("A%d", i)
		f.Assets = append(f.Assets, a)
		f.Measures = append(f.Measures, m)
	}
	raw, err = json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	for len(raw) > importer.DefaultMaxCaseJSON {
		f.Assets, f.Measures = f.Assets[:len(f.Assets)-1], f.Measures[:len(f.Measures)-1]
		if raw, err = json.Marshal(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	db := openStore(t, newDataDir(t))
	defer db.Close()
	if _, err := importer.Import(ctx, db, cases[0].Dir, importer.Options{}); err != nil {
		t.Fatalf("import of a %d-byte case.json with %d assets and %d measures: %v", len(raw), len(f.Assets), len(f.Measures), err)
	}
	_, v, err := db.Case(cases[0].Number)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Assets) != len(f.Assets) || len(v.Measures) != len(f.Measures) {
		t.Fatalf("stored %d assets and %d measures, imported %d and %d", len(v.Assets), len(v.Measures), len(f.Assets), len(f.Measures))
	}
	t.Logf("case.json of %d bytes: %d assets and %d measures in one transaction", len(raw), len(v.Assets), len(v.Measures))
}
