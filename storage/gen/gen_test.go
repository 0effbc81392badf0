package gen

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
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

// TestReturnedIncomplete: case 17 and every 29th after it are handovers
// the receiver will return as incomplete. The case folder lacks the
// papers of the kinds ReturnedMissing names and imports as it is; its
// supplement folder is the same case with them, byte for byte the same
// other papers; no measure of it expires within 40 days; and every
// scenario is where the package comment says.
func TestReturnedIncomplete(t *testing.T) {
	out := t.TempDir()
	cases, err := Generate(out, Options{Cases: 50, Seed: 3, RefDate: ref, DocSize: 3000})
	if err != nil {
		t.Fatal(err)
	}
	var returned []int
	for i, c := range cases {
		if c.Scenario == ScenarioReturned {
			returned = append(returned, i+1)
		}
	}
	if !slices.Equal(returned, []int{17, 46}) {
		t.Fatalf("returned-incomplete cases %v, want 17 and 46", returned)
	}
	parse := func(path string) (importer.CaseFile, *importer.Parsed) {
		t.Helper()
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		p, errs := importer.ParseCase(raw)
		if len(errs) > 0 {
			t.Fatalf("%s: %v", path, errs)
		}
		var f importer.CaseFile
		if err := json.Unmarshal(raw, &f); err != nil {
			t.Fatal(err)
		}
		return f, p
	}
	kinds := func(f importer.CaseFile) []string {
		var out []string
		for _, d := range f.Documents {
			out = append(out, d.Kind)
		}
		return out
	}
	for _, n := range returned {
		c := cases[n-1]
		if !slices.Equal(c.Missing, ReturnedMissing) || c.Supplement != filepath.Join(c.Dir, SupplementDir) {
			t.Fatalf("case %d: missing %v, supplement %q", n, c.Missing, c.Supplement)
		}
		have, _ := parse(filepath.Join(c.Dir, "case.json"))
		full, p := parse(filepath.Join(c.Supplement, "case.json"))
		if p.Version.Number != c.Number || have.CaseNumber != full.CaseNumber {
			t.Fatalf("case %d: the supplement is case %s, the folder %s, want %s", n, full.CaseNumber, have.CaseNumber, c.Number)
		}
		for _, m := range ReturnedMissing {
			if slices.Contains(kinds(have), m) || !slices.Contains(kinds(full), m) {
				t.Errorf("case %d: %s in the case folder %v, in the supplement %v", n, m, kinds(have), kinds(full))
			}
		}
		if len(have.Documents) != c.Documents || len(full.Documents) != c.Documents+len(ReturnedMissing) {
			t.Errorf("case %d: %d documents, %d in the supplement, Case says %d", n, len(have.Documents), len(full.Documents), c.Documents)
		}
		// The papers the case folder holds are the supplement's.
		var size int64
		for _, d := range have.Documents {
			a, _ := os.ReadFile(filepath.Join(c.Dir, d.File))
			b, _ := os.ReadFile(filepath.Join(c.Supplement, d.File))
			if len(a) == 0 || !bytes.Equal(a, b) {
				t.Errorf("case %d: %s differs from the supplement's", n, d.File)
			}
			size += int64(len(a))
		}
		if size != c.Bytes {
			t.Errorf("case %d: %d bytes of documents, Case says %d", n, size, c.Bytes)
		}
		for _, m := range have.Measures {
			if e, err := court.ParseDate(m.Expiry); err == nil && m.Status == "active" && ref.DaysUntil(e) <= 40 {
				t.Errorf("case %d: measure %s expires %s, within 40 days of %s", n, m.ID, e, ref)
			}
		}
		if !slices.Equal(have.Measures, full.Measures) {
			t.Errorf("case %d: the supplement's measures differ", n)
		}
	}

	listed := map[Scenario][]string{}
	for _, c := range cases {
		if c.Scenario != "" {
			listed[c.Scenario] = append(listed[c.Scenario], filepath.Base(c.Dir))
		}
	}
	want := map[Scenario][]string{
		ScenarioNearExpiry:  {"case-0001"},
		ScenarioWaitingLine: {"case-0002"},
		ScenarioGathered:    {"case-0003", "case-0004", "case-0005", "case-0006", "case-0007", "case-0008", "case-0009", "case-0010", "case-0011", "case-0012", "case-0013", "case-0014"},
		ScenarioResumed:     {"case-0016", "case-0024", "case-0047"},
		ScenarioReturned:    {"case-0017", "case-0046"},
	}
	if !reflect.DeepEqual(listed, want) {
		t.Fatalf("the scenarios are at %v, want %v", listed, want)
	}
	// Every entry of the output is a case folder.
	ents, err := os.ReadDir(out)
	if err != nil || len(ents) != len(cases) {
		t.Fatalf("%d entries in the output (%v), want the %d case folders", len(ents), err, len(cases))
	}

}

// TestPrefix: a run of N cases is the first N cases of a longer run with
// the same seed (README), scenarios included.
func TestPrefix(t *testing.T) {
	long, short := t.TempDir(), t.TempDir()
	if _, err := Generate(long, Options{Cases: 30, Seed: 6, RefDate: ref}); err != nil {
		t.Fatal(err)
	}
	if _, err := Generate(short, Options{Cases: 18, Seed: 6, RefDate: ref}); err != nil {
		t.Fatal(err)
	}
	tl, ts := readTree(t, long), readTree(t, short)
	for k, v := range ts {
		if !bytes.Equal(v, tl[k]) {
			t.Errorf("%s differs between 18 and 30 cases", k)
		}
	}
	if _, ok := ts["case-0017/supplement/case.json"]; !ok {
		t.Error("18 cases hold no case 17 supplement")
	}
}
