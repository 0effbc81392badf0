package main

import (
	"context"
	"io"
	"path/filepath"
	"strings"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/storage/gen"
)

func init() {
	register(&command{name: "gen", summary: "write synthetic enforcement cases (demo and test data)", run: runGen})
}

func runGen(ctx context.Context, c *cli, args []string) error {
	fs := newFlagSet(c, "gen")
	out := fs.String("out", "", "directory to write case folders to (must be empty or absent)")
	cases := fs.Int("cases", 10, "number of cases")
	seed := fs.Uint64("seed", 1, "random seed; the same seed gives the same files")
	courtCode := fs.String("court", "京0105", "court code (法院代字) holding the cases")
	courts := fs.String("courts", "", "comma-separated court codes: write the same data for each into OUT/<court>; with --cases 6 or more, cases 3 to 6 of every court are against one debtor (e.g. 12 cases of one debtor across 3 courts, for 集中执行)")
	docSize := fs.Int64("doc-size", 0, "pad every document to about this many bytes (0: a few KB)")
	asOf := fs.String("today", "", "reference date of the data (YYYY-MM-DD; default today in China time)")
	asJSON := fs.Bool("json", false, "print every case written as JSON: folder, case number, documents, scenario, and for a handover returned incomplete the kinds missing and the supplement folder")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *out == "" {
		fprintln(c.stderr, "usage: courtmesh gen --out DIR [--cases N] [--seed S] [--court 京0105 | --courts A,B,C] [--doc-size BYTES] [--today YYYY-MM-DD] [--json]")
		return errUsage
	}
	cc, err := court.ParseCourtCode(*courtCode)
	if err != nil {
		return err
	}
	ref, err := refDate(*asOf)
	if err != nil {
		return err
	}
	if *courts != "" {
		total := 0
		var first []gen.Case
		var all []genCase
		for _, code := range strings.Split(*courts, ",") {
			cc, err := court.ParseCourtCode(strings.TrimSpace(code))
			if err != nil {
				return err
			}
			res, err := gen.Generate(filepath.Join(*out, string(cc)), gen.Options{Cases: *cases, Seed: *seed, Court: cc, DocSize: *docSize, RefDate: ref})
			if err != nil {
				return err
			}
			total += len(res)
			if first == nil {
				first = res
			}
			all = append(all, genCases(*out, cc, res)...)
		}
		if *asJSON {
			return printJSON(c.stdout, all)
		}
		fprintf(c.stdout, "wrote %d cases to %s, one folder per court; cases 3 to %d of every court are against one debtor, reference date %s\n", total, *out, min(*cases, 14), ref)
		printScenarios(c.stdout, first, false)
		return ctx.Err()
	}
	res, err := gen.Generate(*out, gen.Options{Cases: *cases, Seed: *seed, Court: cc, DocSize: *docSize, RefDate: ref})
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(c.stdout, genCases(*out, cc, res))
	}
	var total int64
	for _, r := range res {
		total += r.Bytes
	}
	fprintf(c.stdout, "wrote %d cases (%d bytes of documents) to %s, reference date %s\n", len(res), total, *out, ref)
	printScenarios(c.stdout, res, true)
	return ctx.Err()
}

// genCase is a case written, as gen --json prints it; folders are
// relative to --out.
type genCase struct {
	Court      court.CourtCode `json:"court"`
	Folder     string          `json:"folder"`
	CaseNumber string          `json:"case_number"`
	Documents  int             `json:"documents"`
	Bytes      int64           `json:"bytes"`
	Scenario   gen.Scenario    `json:"scenario,omitempty"`
	Missing    []string        `json:"missing,omitempty"`    // the kinds of dossier item the case folder lacks
	Supplement string          `json:"supplement,omitempty"` // the same case with the missing papers
}

func genCases(out string, cc court.CourtCode, cs []gen.Case) []genCase {
	rel := func(p string) string {
		if r, err := filepath.Rel(out, p); err == nil {
			return filepath.ToSlash(r)
		}
		return p
	}
	res := make([]genCase, 0, len(cs))
	for _, c := range cs {
		g := genCase{Court: cc, Folder: rel(c.Dir), CaseNumber: c.Number.String(), Documents: c.Documents, Bytes: c.Bytes, Scenario: c.Scenario, Missing: c.Missing}
		if c.Supplement != "" {
			g.Supplement = rel(c.Supplement)
		}
		res = append(res, g)
	}
	return res
}

// printScenarios prints one line for each scenario the cases carry
// (gen.Scenarios): the case folders (with their case numbers when
// numbers; under --courts every court has the same folders and its own
// numbers).
func printScenarios(w io.Writer, cs []gen.Case, numbers bool) {
	by := map[gen.Scenario][]gen.Case{}
	for _, c := range cs {
		if c.Scenario != "" {
			by[c.Scenario] = append(by[c.Scenario], c)
		}
	}
	if len(by) == 0 {
		return
	}
	if numbers {
		fprintln(w, "scenarios (--json lists every case):")
	} else {
		fprintln(w, "scenarios (the same folders in every court's; --json lists every case):")
	}
	list := func(cs []gen.Case) string {
		var out []string
		for _, c := range cs {
			if numbers {
				out = append(out, filepath.Base(c.Dir)+" "+c.Number.String())
			} else {
				out = append(out, filepath.Base(c.Dir))
			}
		}
		return strings.Join(out, ", ")
	}
	for _, sc := range gen.Scenarios {
		cs := by[sc]
		if len(cs) == 0 {
			continue
		}
		switch sc {
		case gen.ScenarioNearExpiry:
			fprintf(w, "  a deposit freeze 20 days from expiry: %s\n", list(cs))
		case gen.ScenarioWaitingLine:
			fprintf(w, "  a waiting-line chain across three courts: %s\n", list(cs))
		case gen.ScenarioGathered:
			fprintf(w, "  %d cases against one debtor (for 集中执行): %s to %s\n", len(cs), filepath.Base(cs[0].Dir), filepath.Base(cs[len(cs)-1].Dir))
		case gen.ScenarioResumed:
			fprintf(w, "  终本 then 执恢 (a resumed case): %s\n", list(cs))
		case gen.ScenarioReturned:
			fprintf(w, "  a handover returned incomplete, its dossier lacking %s (the papers are in the folder's %s/: import it after the return, then `transfer supplement`): %s\n",
				strings.Join(cs[0].Missing, ", "), gen.SupplementDir, list(cs))
		}
	}
}
