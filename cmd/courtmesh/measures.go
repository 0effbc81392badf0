package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"courtmesh.dev/courtmesh/court"
)

func init() {
	register(&command{name: "measures", summary: "watch enforcement measures", subs: []*command{
		{name: "expiring", summary: "list active measures by days to expiry", run: runMeasuresExpiring},
	}})
}

// refDate parses a YYYY-MM-DD flag, defaulting to today in China time.
func refDate(s string) (court.Date, error) {
	if s == "" {
		return court.DateOf(time.Now()), nil
	}
	return court.ParseDate(s)
}

func runMeasuresExpiring(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "measures expiring")
	within := fs.Int("within", 30, "days ahead to look")
	asOf := fs.String("today", "", "reference date (YYYY-MM-DD; default today in China time)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *within < 0 {
		return errorf("--within %d: want 0 or more days", *within)
	}
	today, err := refDate(*asOf)
	if err != nil {
		return err
	}
	st, err := openCases(*data, false)
	if err != nil {
		return err
	}
	defer st.Close()
	res, err := st.Expiring(ctx, today, *within)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(c.stdout, res)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fprintln(tw, "DAYS LEFT\tEXPIRY\tCASE\tMEASURE\tKIND\tASSET CLASS\tCOURT")
	for _, m := range res.Measures {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", m.DaysLeft, m.Expiry, m.Case, m.Measure, m.KindLabel, m.AssetClassLabel, m.Court)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fprintf(c.stderr, "%d active measure(s) expire by %s\n", len(res.Measures), res.Until)
	return nil
}
