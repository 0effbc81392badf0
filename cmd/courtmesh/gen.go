package main

import (
	"context"
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
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *out == "" {
		fprintln(c.stderr, "usage: courtmesh gen --out DIR [--cases N] [--seed S] [--court 京0105] [--doc-size BYTES] [--today YYYY-MM-DD]")
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
		}
		fprintf(c.stdout, "wrote %d cases to %s, one folder per court; cases 3 to %d of every court are against one debtor, reference date %s\n", total, *out, min(*cases, 14), ref)
		return ctx.Err()
	}
	res, err := gen.Generate(*out, gen.Options{Cases: *cases, Seed: *seed, Court: cc, DocSize: *docSize, RefDate: ref})
	if err != nil {
		return err
	}
	var total int64
	for _, r := range res {
		total += r.Bytes
	}
	fprintf(c.stdout, "wrote %d cases (%d bytes of documents) to %s, reference date %s\n", len(res), total, *out, ref)
	return ctx.Err()
}
