package importer_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/storage"
	"courtmesh.dev/courtmesh/storage/gen"
	"courtmesh.dev/courtmesh/storage/importer"
)

var refDate = court.Date{Year: 2025, Month: 6, Day: 1}

// TestImportGeneratedCases imports 100 generated cases, reopens the store
// and verifies every chunk of every document and every measure's expiry
// against case.json and the legal limits, and the expiry index against
// the measures.
func TestImportGeneratedCases(t *testing.T) {
	ctx := context.Background()
	nCases := 100
	if testing.Short() {
		nCases = 20
	}
	cases, err := gen.Generate(filepath.Join(t.TempDir(), "cases"), gen.Options{Cases: nCases, Seed: 42, RefDate: refDate})
	if err != nil {
		t.Fatal(err)
	}
	dir := newDataDir(t)
	db := openStore(t, dir)
	for _, c := range cases {
		res, err := importer.Import(ctx, db, c.Dir, importer.Options{})
		if err != nil {
			t.Fatalf("import %s: %v", c.Dir, err)
		}
		if res.Version != 1 || res.Unchanged || res.Documents != c.Documents {
			t.Fatalf("import %s: %+v", c.Dir, res.PutResult)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = openStore(t, dir)
	defer db.Close()
	list, err := db.Cases(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != nCases {
		t.Fatalf("listed %d cases, want %d", len(list), nCases)
	}
	wantExpiring := map[string]bool{}
	for _, c := range cases {
		rep, err := db.VerifyCase(ctx, c.Number)
		if err != nil {
			t.Fatalf("verify %s: %v", c.Number, err)
		}
		if rep.Documents != c.Documents+1 || rep.Bytes < c.Bytes {
			t.Errorf("verify %s: %+v, generated %d documents of %d bytes", c.Number, rep, c.Documents, c.Bytes)
		}
		raw, err := os.ReadFile(filepath.Join(c.Dir, "case.json"))
		if err != nil {
			t.Fatal(err)
		}
		var f importer.CaseFile
		if err := json.Unmarshal(raw, &f); err != nil {
			t.Fatal(err)
		}
		_, v, err := db.Case(c.Number)
		if err != nil {
			t.Fatal(err)
		}
		assets := map[string]court.AssetClass{}
		for _, a := range v.Assets {
			assets[a.ID] = a.Class
		}
		if len(v.Measures) != len(f.Measures) {
			t.Fatalf("%s: %d measures stored, %d in case.json", c.Number, len(v.Measures), len(f.Measures))
		}
		for i, m := range v.Measures {
			in := f.Measures[i]
			if m.ID != in.ID || m.Effective.String() != in.Effective {
				t.Errorf("%s measure %d: stored %s/%s, case.json %s/%s", c.Number, i, m.ID, m.Effective, in.ID, in.Effective)
			}
			if !m.Kind.HasTerm() || (m.Kind == court.MeasureWaiting && m.Status == court.MeasureActive) {
				if !m.Expiry.IsZero() { // a waiting seizure's term starts when it takes effect
					t.Errorf("%s %s: %s has an expiry", c.Number, m.ID, m.Kind)
				}
				continue
			}
			want := in.Expiry
			if want == "" {
				want = court.LegalExpiry(assets[m.Asset], m.Effective).String()
			}
			if m.Expiry.String() != want {
				t.Errorf("%s %s: expiry %s, want %s", c.Number, m.ID, m.Expiry, want)
			}
			if err := court.CheckExpiry(assets[m.Asset], m.Effective, m.Expiry); err != nil {
				t.Errorf("%s %s: %v", c.Number, m.ID, err)
			}
			if m.Status == court.MeasureActive && !m.Expiry.After(refDate.AddDate(0, 0, 30)) {
				wantExpiring[c.Number.String()+"/"+m.ID] = true
			}
		}
	}
	got, err := db.ExpiringMeasures(ctx, refDate, 30)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(wantExpiring) || len(got) == 0 {
		t.Errorf("expiry index lists %d measures within 30 days, the measures say %d", len(got), len(wantExpiring))
	}
	for i, m := range got {
		if !wantExpiring[m.Case.String()+"/"+m.Measure.ID] {
			t.Errorf("index lists %s %s, not an active measure expiring within 30 days", m.Case, m.Measure.ID)
		}
		if m.DaysLeft != refDate.DaysUntil(m.Measure.Expiry) || (i > 0 && m.DaysLeft < got[i-1].DaysLeft) {
			t.Errorf("entry %d: days left %d for expiry %s, not sorted or wrong", i, m.DaysLeft, m.Measure.Expiry)
		}
	}
	// The scenario of case 1: a freeze 20 days from expiry.
	found := false
	for _, m := range got {
		if m.Case == cases[0].Number && m.DaysLeft == 20 && m.Measure.Kind == court.MeasureFreeze {
			found = true
		}
	}
	if !found {
		t.Errorf("the freeze 20 days from expiry of %s is not in the expiry watch", cases[0].Number)
	}
}

func TestReimportAndNewVersion(t *testing.T) {
	ctx := context.Background()
	cases, err := gen.Generate(filepath.Join(t.TempDir(), "cases"), gen.Options{Cases: 1, Seed: 3, RefDate: refDate})
	if err != nil {
		t.Fatal(err)
	}
	c := cases[0]
	db := openStore(t, newDataDir(t))
	defer db.Close()
	r1, err := importer.Import(ctx, db, c.Dir, importer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	before := keys(t, db)
	r2, err := importer.Import(ctx, db, c.Dir, importer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !r2.Unchanged || r2.Version != 1 || !sameKeys(before, keys(t, db)) {
		t.Fatalf("re-import: %+v; keys changed: %v", r2.PutResult, !sameKeys(before, keys(t, db)))
	}

	// Change the case: a new document and a changed status.
	raw, _ := os.ReadFile(filepath.Join(c.Dir, "case.json"))
	var f importer.CaseFile
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	f.Status = string(court.StatusTerminated)
	f.Documents = append(f.Documents, importer.DocumentFile{ID: "dx", Kind: "conclusion", Title: "终本裁定", File: "docs/dx.pdf"})
	if err := os.WriteFile(filepath.Join(c.Dir, "docs/dx.pdf"), []byte("%PDF-1.4 new\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(f)
	if err := os.WriteFile(filepath.Join(c.Dir, "case.json"), out, 0o644); err != nil {
		t.Fatal(err)
	}
	r3, err := importer.Import(ctx, db, c.Dir, importer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r3.Version != 2 || r3.Unchanged {
		t.Fatalf("changed import: %+v", r3.PutResult)
	}
	// Unchanged documents reuse their chunks: only the new document and
	// the new case.json add chunks.
	if r3.NewChunks != 1 {
		t.Errorf("changed import wrote %d new document chunks, want 1 (dedup of unchanged documents)", r3.NewChunks)
	}
	vs, err := db.Versions(c.Number)
	if err != nil || len(vs) != 2 {
		t.Fatalf("versions = %v, %v", vs, err)
	}
	old, err := db.Version(c.Number, 1)
	if err != nil || old.Status != court.StatusActive || old.ContentHash != mustCase(t, db, c.Number, 1) {
		t.Fatalf("version 1 not kept: %v", err)
	}
	if active, _ := db.Cases(ctx, court.StatusActive); len(active) != 0 {
		t.Errorf("status index still lists the case as active")
	}
	if term, _ := db.Cases(ctx, court.StatusTerminated); len(term) != 1 {
		t.Errorf("status index does not list the case as terminated")
	}
	if _, err := db.VerifyCase(ctx, c.Number); err != nil {
		t.Fatal(err)
	}
	_ = r1
}

func mustCase(t *testing.T, db *storage.DB, n court.CaseNumber, ver int) string {
	v, err := db.Version(n, ver)
	if err != nil {
		t.Fatal(err)
	}
	return v.ContentHash
}

// TestExportRoundTrip: export writes back exactly the imported folder, and
// the identity numbers are nowhere in clear in the store.
func TestExportRoundTrip(t *testing.T) {
	ctx := context.Background()
	cases, err := gen.Generate(filepath.Join(t.TempDir(), "cases"), gen.Options{Cases: 2, Seed: 9, RefDate: refDate})
	if err != nil {
		t.Fatal(err)
	}
	dir := newDataDir(t)
	db := openStore(t, dir)
	for _, c := range cases {
		if _, err := importer.Import(ctx, db, c.Dir, importer.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "export")
	rep, err := db.ExportCase(ctx, cases[0].Number, out)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Documents != cases[0].Documents+1 {
		t.Errorf("exported %d files", rep.Documents)
	}
	err = filepath.WalkDir(cases[0].Dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(cases[0].Dir, p)
		want, _ := os.ReadFile(p)
		got, err := os.ReadFile(filepath.Join(out, rel))
		if err != nil || string(got) != string(want) {
			t.Errorf("%s: exported copy differs (%v)", rel, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(filepath.Join(cases[0].Dir, "case.json"))
	var f importer.CaseFile
	json.Unmarshal(raw, &f)
	id := f.Parties[0].IDNumber
	got, err := db.PartyID(cases[0].Number, f.Parties[0].ID)
	if err != nil || got != id {
		t.Fatalf("PartyID = %v", err)
	}
	db.Close()
	// Neither the identity number nor the account appears in the store
	// files (at-rest encryption, and sealed fields under it).
	err = filepath.WalkDir(filepath.Join(dir, storage.StoreDir), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := os.ReadFile(p)
		if strings.Contains(string(b), id) {
			t.Errorf("identity number in clear in %s", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	db = openStore(t, dir)
	defer db.Close()
	if _, err := db.ExportCase(ctx, cases[0].Number, out); !errors.Is(err, court.ErrConflict) {
		t.Errorf("export into a non-empty folder: %v", err)
	}
}

// The same case exported again with its case numbers spelled differently
// (ASCII brackets, a leading space) is the same content: no new version.
func TestRespelledCaseNumberIsSameCase(t *testing.T) {
	ctx := context.Background()
	cases, err := gen.Generate(filepath.Join(t.TempDir(), "cases"), gen.Options{Cases: 1, Seed: 4, RefDate: refDate})
	if err != nil {
		t.Fatal(err)
	}
	c := cases[0]
	db := openStore(t, newDataDir(t))
	defer db.Close()
	if _, err := importer.Import(ctx, db, c.Dir, importer.Options{}); err != nil {
		t.Fatal(err)
	}
	before := keys(t, db)
	path := filepath.Join(c.Dir, "case.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f importer.CaseFile
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	ascii := strings.NewReplacer("（", "(", "）", ")")
	respelled := strings.ReplaceAll(string(raw), f.CaseNumber, " "+ascii.Replace(f.CaseNumber))
	respelled = strings.ReplaceAll(respelled, f.Title.CaseNumber, ascii.Replace(f.Title.CaseNumber))
	if respelled == string(raw) {
		t.Fatal("the test did not re-spell the case numbers")
	}
	if err := os.WriteFile(path, []byte(respelled), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := importer.Import(ctx, db, c.Dir, importer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Unchanged || r.Version != 1 || !sameKeys(before, keys(t, db)) {
		t.Fatalf("re-spelled import: %+v (keys changed: %v), want unchanged version 1", r.PutResult, !sameKeys(before, keys(t, db)))
	}
	if vs, err := db.Versions(c.Number); err != nil || len(vs) != 1 {
		t.Errorf("versions %v, %v", vs, err)
	}
}
