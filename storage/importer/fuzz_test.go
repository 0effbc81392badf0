package importer_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/storage/gen"
	"courtmesh.dev/courtmesh/storage/importer"
)

// FuzzParseCase: the decoder and validator never panic; every error names
// a path; an accepted case has an enforcement case number, a valid court
// and expiries on every measure with a term.
func FuzzParseCase(f *testing.F) {
	cases, err := gen.Generate(filepath.Join(f.TempDir(), "cases"), gen.Options{Cases: 3, Seed: 1, RefDate: refDate})
	if err != nil {
		f.Fatal(err)
	}
	for _, c := range cases {
		b, err := os.ReadFile(filepath.Join(c.Dir, "case.json"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"format":"courtmesh-case/1","parties":[{"id":"p1"}],"measures":[{"kind":"renewal","renews":"m1","id":"m1"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, errs := importer.ParseCase(data)
		for _, e := range errs {
			if e.Path == "" || e.Msg == "" {
				t.Fatalf("error without path or message: %+v", e)
			}
		}
		if len(errs) > 0 {
			return
		}
		if p == nil {
			t.Fatal("no errors and no result")
		}
		v := p.Version
		if !v.Number.Type.IsEnforcement() || v.Court.Validate() != nil || v.Number.Court != v.Court {
			t.Fatalf("accepted case with number %s court %s", v.Number, v.Court)
		}
		for _, m := range v.Measures {
			waiting := m.Kind == court.MeasureWaiting && m.Status == court.MeasureActive
			if m.Kind.HasTerm() && !waiting && m.Expiry.IsZero() {
				t.Fatalf("accepted measure %s (%s) without expiry", m.ID, m.Kind)
			}
			if waiting && !m.Expiry.IsZero() {
				t.Fatalf("accepted a waiting seizure %s with a term before it took effect", m.ID)
			}
		}
		for _, pt := range v.Parties {
			if len(pt.IDSealed) > 0 || (pt.IDMasked != "" && !strings.Contains(pt.IDMasked, "*") && len(pt.IDMasked) > 2) {
				t.Fatalf("party %s: unmasked identity %q", pt.ID, pt.IDMasked)
			}
		}
		// Accepted input re-encodes and is accepted again.
		var f importer.CaseFile
		if err := json.Unmarshal(data, &f); err != nil {
			t.Fatalf("accepted input does not decode into CaseFile: %v", err)
		}
		b, _ := json.Marshal(f)
		if _, errs := importer.ParseCase(b); len(errs) > 0 {
			t.Fatalf("re-encoded case rejected: %v", errs)
		}
	})
}
