package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"courtmesh.dev/courtmesh/node/advice"
)

// runTransferRecommend prints the ranking of the courts the superior may
// designate, with each factor as a plain number.
func runTransferRecommend(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "transfer recommend")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	id, err := idArg(fs, "recommend --data DIR TRANSFER")
	if err != nil {
		return err
	}
	cl, err := client(*data)
	if err != nil {
		return err
	}
	var rec advice.Recommendation
	if err := cl.Do(ctx, "GET", "/v1/transfers/"+id+"/recommendation", nil, &rec); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(c.stdout, rec)
	}
	printRecommendation(c.stdout, rec)
	return nil
}

// printRecommendation writes the ranking as a table a judge can check:
// the score is the sum of the points columns.
func printRecommendation(out io.Writer, rec advice.Recommendation) {
	w := rec.Weights
	fprintf(out, "recommendation for transfer %s, decided by %s (inputs %s)\n", rec.Transfer, rec.Decider, rec.InputsHash)
	fprintf(out, "weights: assets %g, near %g, exclude_local %v, load %g, overdue %g (half at %g), track %g (prior %g cases), lapse %g\n",
		w.Assets, w.Near, w.ExcludeLocal, w.Load, w.Overdue, w.LoadHalf, w.Track, w.PriorCases, w.Lapse)
	if len(w.CourtRegions) > 0 {
		var regions []string
		for _, c := range slices.Sorted(maps.Keys(w.CourtRegions)) {
			regions = append(regions, fmt.Sprintf("%s %s", c, w.CourtRegions[c]))
		}
		fprintf(out, "court regions configured: %s\n", strings.Join(regions, ", "))
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fprintln(tw, "RANK\tCOURT\tSCORE\tASSETS district/city\tDISTANCE origin/debtor\tOPEN\tOVERDUE\tIN TIME\tCONCLUDED 6M\tRECOVERY\tLAPSED\tCASES\tPOINTS assets/near/load/track/lapse\tEXCLUDED")
	for _, e := range rec.Ranking {
		f, p := e.Factors, e.Points
		fmt.Fprintf(tw, "%d\t%s\t%.3f\t%.2f/%.2f\t%d/%d\t%d\t%d\t%.2f\t%.2f\t%.2f\t%d\t%d\t%.2f/%.2f/%.2f/%.2f/%.2f\t%s\n",
			e.Rank, e.Court, e.Score, f.AssetShareDistrict, f.AssetShareCity, f.DistanceOrigin, f.DistanceDebtor, f.Open, f.Overdue,
			f.InTimeRate, f.Concluded6mRate, f.RecoveryRate, f.Lapsed, f.Cases, p.Assets, p.Near, p.Load, p.Track, p.Lapse, exclusionText(e))
	}
	tw.Flush()
	if b, ok := rec.Best(); ok {
		fprintf(out, "to follow it: courtmesh transfer decide --mode designated --to %s --recommendation %s --decision NUMBER %s\n", b.Court, rec.InputsHash, rec.Transfer)
	} else {
		fprintln(out, "no court is eligible: decide 提级执行 (--mode elevated), or change the exclusions in [recommend]")
	}
}

// exclusionText is why e is not eligible, in the language of the
// messages, from its code (an unknown code, from a newer node, is shown
// in the node's English).
func exclusionText(e advice.Entry) string {
	switch e.ExcludedCode {
	case "":
		return ""
	case advice.ExcludedOrigin:
		return T("the origin court")
	case advice.ExcludedDecider:
		return T("the deciding court (that is 提级执行, not 指令执行)")
	case advice.ExcludedConfigured:
		return T("excluded in the configuration")
	case advice.ExcludedOriginDistrict:
		return T("in the origin's district")
	case advice.ExcludedDebtorDistrict:
		return T("in the debtor's district")
	}
	if e.Excluded != "" {
		return e.Excluded
	}
	return string(e.ExcludedCode)
}
