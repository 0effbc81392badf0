package gen

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/storage/importer"
)

var ref = court.Date{Year: 2025, Month: 6, Day: 1}

func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDeterministic(t *testing.T) {
	a, b, c := t.TempDir(), t.TempDir(), t.TempDir()
	o := Options{Cases: 15, Seed: 4, RefDate: ref, DocSize: 20000}
	if _, err := Generate(a, o); err != nil {
		t.Fatal(err)
	}
	if _, err := Generate(b, o); err != nil {
		t.Fatal(err)
	}
	o.Seed = 5
	if _, err := Generate(c, o); err != nil {
		t.Fatal(err)
	}
	ta, tb, tc := readTree(t, a), readTree(t, b), readTree(t, c)
	if len(ta) != len(tb) {
		t.Fatalf("%d files vs %d", len(ta), len(tb))
	}
	for k, v := range ta {
		if !bytes.Equal(v, tb[k]) {
			t.Fatalf("%s differs between two runs with the same seed", k)
		}
	}
	if bytes.Equal(ta["case-0001/case.json"], tc["case-0001/case.json"]) {
		t.Error("different seeds gave the same case")
	}
}

var xrefEntry = regexp.MustCompile(`(\d{10}) 00000 n `)

// TestPDFValid checks the structure a PDF reader relies on: header, every
// xref offset pointing at its object, startxref pointing at the table.
func TestPDFValid(t *testing.T) {
	for _, pad := range []int64{0, 100000} {
		var buf bytes.Buffer
		n, err := WritePDF(&buf, []string{"hello (world)"}, pad, bytes.NewReader(make([]byte, pad)))
		if err != nil || n != int64(buf.Len()) {
			t.Fatal(err)
		}
		b := buf.Bytes()
		if pad > 0 && (int64(len(b)) < pad*9/10 || int64(len(b)) > pad+1000) {
			t.Errorf("padded to %d, want about %d", len(b), pad)
		}
		if !bytes.HasPrefix(b, []byte("%PDF-1.4\n")) || !bytes.HasSuffix(b, []byte("%%EOF\n")) {
			t.Fatal("header or trailer")
		}
		i := bytes.LastIndex(b, []byte("startxref\n"))
		off, _ := strconv.Atoi(strings.Fields(string(b[i+10:]))[0])
		if !bytes.HasPrefix(b[off:], []byte("xref\n")) {
			t.Fatalf("startxref %d does not point at the xref table", off)
		}
		for k, m := range xrefEntry.FindAllSubmatch(b[off:], -1) {
			o, _ := strconv.Atoi(string(m[1]))
			if want := strconv.Itoa(k+1) + " 0 obj"; !bytes.HasPrefix(b[o:], []byte(want)) {
				t.Fatalf("xref entry %d -> %q, want %q", k+1, b[o:o+10], want)
			}
		}
	}
}

// TestSyntheticRules: numbers can never be real, and every case passes
// the importer's checks.
func TestSyntheticRules(t *testing.T) {
	out := t.TempDir()
	cases, err := Generate(out, Options{Cases: 30, Seed: 1, RefDate: ref})
	if err != nil {
		t.Fatal(err)
	}
	debtors := map[string]int{}
	for _, c := range cases {
		raw, _ := os.ReadFile(filepath.Join(c.Dir, "case.json"))
		if _, errs := importer.ParseCase(raw); len(errs) > 0 {
			t.Fatalf("%s: %v", c.Dir, errs)
		}
		var f importer.CaseFile
		json.Unmarshal(raw, &f)
		filed, _ := court.ParseDate(f.Filed)
		if !filed.Before(ref.AddDate(0, -6, 0)) {
			t.Errorf("%s filed %s, not older than 6 months", f.CaseNumber, filed)
		}
		for _, p := range f.Parties {
			switch p.IDType {
			case "resident_id":
				if !strings.HasPrefix(p.IDNumber, "99") || !court.ValidResidentID(p.IDNumber) {
					t.Errorf("resident id %s", p.IDNumber)
				}
			case "uscc":
				if p.IDNumber[2:4] != "99" || !court.ValidCreditCode(p.IDNumber) {
					t.Errorf("credit code %s", p.IDNumber)
				}
			}
			if p.Phone != "" && !regexp.MustCompile(`^1\d\d\*{4}\d{4}$`).MatchString(p.Phone) {
				t.Errorf("phone %s not masked", p.Phone)
			}
			if p.Role == "respondent" {
				debtors[p.IDNumber]++
			}
		}
		for _, a := range f.Assets {
			if a.Account != "" && !strings.HasPrefix(a.Account, "9999") {
				t.Errorf("account %s", a.Account)
			}
		}
	}
	most := 0
	for _, n := range debtors {
		most = max(most, n)
	}
	if most < 12 {
		t.Errorf("the most frequent debtor has %d cases, want 12 gathered", most)
	}
}
