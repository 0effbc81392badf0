package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestGenPrintsScenarios: gen prints one line for each scenario its
// cases carry, naming the folders (and case numbers); the line of the
// handover returned incomplete names the dossier item kinds the folder
// lacks, which its supplement/ holds.
func TestGenPrintsScenarios(t *testing.T) {
	out := filepath.Join(t.TempDir(), "g")
	o, err := runCLI(t, "gen", "--out", out, "--cases", "20", "--seed", "9", "--today", "2025-06-01")
	if err != nil {
		t.Fatalf("%v\n%s", err, o)
	}
	t.Logf("gen printed:\n%s", o)
	number := func(folder string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(out, folder, "case.json"))
		if err != nil {
			t.Fatal(err)
		}
		var cj struct {
			CaseNumber string `json:"case_number"`
		}
		if err := json.Unmarshal(b, &cj); err != nil {
			t.Fatal(err)
		}
		return cj.CaseNumber
	}
	for _, want := range []string{
		"scenarios (--json lists every case):\n",
		"  a deposit freeze 20 days from expiry: case-0001 " + number("case-0001") + "\n",
		"  a waiting-line chain across three courts: case-0002 " + number("case-0002") + "\n",
		"  12 cases against one debtor (for 集中执行): case-0003 to case-0014\n",
		"  终本 then 执恢 (a resumed case): case-0016 " + number("case-0016") + "\n",
		"  a handover returned incomplete, its dossier lacking report_order, search_result (the papers are in the folder's supplement/: import it after the return, then `transfer supplement`): case-0017 " + number("case-0017") + "\n",
	} {
		if !strings.Contains(o, want) {
			t.Errorf("gen did not print %q", want)
		}
	}
	if !strings.Contains(number("case-0016"), "执恢") {
		t.Errorf("case-0016 is %s, not a resumed case", number("case-0016"))
	}
	kinds := func(dir string) []string {
		b, err := os.ReadFile(filepath.Join(dir, "case.json"))
		if err != nil {
			t.Fatal(err)
		}
		var cj struct {
			Documents []struct {
				Kind string `json:"kind"`
			} `json:"documents"`
		}
		if err := json.Unmarshal(b, &cj); err != nil {
			t.Fatal(err)
		}
		var ks []string
		for _, d := range cj.Documents {
			ks = append(ks, d.Kind)
		}
		return ks
	}
	have, full := kinds(filepath.Join(out, "case-0017")), kinds(filepath.Join(out, "case-0017", "supplement"))
	for _, k := range []string{"report_order", "search_result"} {
		if slices.Contains(have, k) || !slices.Contains(full, k) {
			t.Errorf("%s: case-0017 has %v, its supplement %v", k, have, full)
		}
	}
	if n := number(filepath.Join("case-0017", "supplement")); n != number("case-0017") {
		t.Errorf("the supplement is case %s, the folder %s", n, number("case-0017"))
	}

	// Every entry of the output is a case folder (scripts import them
	// all).
	if ents, err := os.ReadDir(out); err != nil || len(ents) != 20 {
		t.Errorf("%d entries in %s (%v), want the 20 case folders", len(ents), out, err)
	}

	// --json, under --courts: every case of every court, the scenario
	// case with what it lacks and where its supplement is.
	out2 := filepath.Join(t.TempDir(), "g")
	o, err = runCLI(t, "gen", "--out", out2, "--courts", "京0105,京0108", "--cases", "17", "--seed", "9", "--today", "2025-06-01", "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, o)
	}
	var cs []genCase
	if err := json.Unmarshal([]byte(o), &cs); err != nil || len(cs) != 34 {
		t.Fatalf("gen --json printed %d cases (%v):\n%s", len(cs), err, o)
	}
	for _, c := range cs {
		returned := filepath.Base(c.Folder) == "case-0017"
		if returned != (c.Scenario == "returned_incomplete") {
			t.Errorf("%s is scenario %q", c.Folder, c.Scenario)
		}
		if !returned {
			continue
		}
		if c.Folder != string(c.Court)+"/case-0017" || c.Supplement != c.Folder+"/supplement" || !slices.Equal(c.Missing, []string{"report_order", "search_result"}) {
			t.Errorf("gen --json: %+v", c)
		}
		if _, err := os.Stat(filepath.Join(out2, c.Supplement, "case.json")); err != nil {
			t.Error(err)
		}
	}
}
