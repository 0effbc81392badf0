package main

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"courtmesh.dev/courtmesh/node/api"
)

func init() {
	register(&command{name: "jurisdiction", summary: "a superior court's view: the courts under it, their counts, their transfers", run: runJurisdiction})
	register(&command{name: "indicators", summary: "the standard indicators of cross-execution for a court, a mode, a month or all", run: runIndicators})
}

func runJurisdiction(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "jurisdiction")
	scope := fs.String("scope", "", "the superior court whose jurisdiction to show (default: this node's court)")
	courtF := fs.String("court", "", "only transfers concerning this court")
	mode := fs.String("mode", "", "only this mode (指令执行, 提级执行, ...)")
	state := fs.String("state", "", "only this state")
	overdue := fs.Bool("overdue", false, "only overdue transfers")
	limit := fs.Int("limit", 100, "transfers a page (1 to 1000)")
	cursor := fs.String("cursor", "", "continue where the previous page ended")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cl, err := client(*data)
	if err != nil {
		return err
	}
	q := url.Values{}
	for k, v := range map[string]string{"scope": *scope, "court": *courtF, "mode": *mode, "state": *state, "cursor": *cursor} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if *overdue {
		q.Set("overdue", "1")
	}
	if *limit != 100 {
		q.Set("limit", strconv.Itoa(*limit))
	}
	var j api.Jurisdiction
	if err := cl.Do(ctx, "GET", "/v1/jurisdiction?"+q.Encode(), nil, &j); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(c.stdout, j)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 2, 2, ' ', 0)
	fprintf(tw, "COURT\tCOURTS\tOVERDUE\tBY STATE\n")
	for _, r := range j.Rows {
		states := make([]string, 0, len(r.States))
		for st, n := range r.States {
			states = append(states, fmt.Sprintf("%s=%d", st, n))
		}
		sort.Strings(states)
		fmt.Fprintf(tw, "%s %s\t%d\t%d\t%s\n", r.Court, r.Name, r.Courts, r.Overdue, strings.Join(states, " "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(c.stdout)
	if len(j.Transfers) == 0 {
		fprintln(c.stdout, "No transfers.")
	} else if err := printTransferTable(c.stdout, j.Transfers); err != nil {
		return err
	}
	if j.Next != "" {
		fprintf(c.stderr, "More transfers: add --cursor %s\n", j.Next)
	}
	return nil
}

func runIndicators(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "indicators")
	courtF := fs.String("court", "", "a court: its cases as receiver, or as origin with --role origin")
	role := fs.String("role", "", "receiver (default) or origin, with --court")
	mode := fs.String("mode", "", "a mode (指令执行, 提级执行, ...)")
	month := fs.String("month", "", "a month of filing, yyyy-mm")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *role != "" && *courtF == "" {
		return errorf("--role needs --court")
	}
	cl, err := client(*data)
	if err != nil {
		return err
	}
	q := url.Values{}
	for k, v := range map[string]string{"court": *courtF, "role": *role, "mode": *mode, "month": *month} {
		if v != "" {
			q.Set(k, v)
		}
	}
	var out map[string]any
	if err := cl.Do(ctx, "GET", "/v1/indicators?"+q.Encode(), nil, &out); err != nil {
		return err
	}
	return printJSON(c.stdout, out)
}
