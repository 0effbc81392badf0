package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"text/tabwriter"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/audit"
	"courtmesh.dev/courtmesh/node/party"
)

func init() {
	register(&command{name: "complaint", summary: "the parties' complaints (投诉) this court supervises or that are about it (through the running node)", subs: []*command{
		{name: "list", summary: "list complaints: --which supervising (default), about or overdue", run: runComplaintList},
		{name: "show", summary: "show one complaint with its text (audited, with --purpose)", run: runComplaintShow},
		{name: "answer", summary: "answer a complaint this court supervises (--text, sealed to its readers)", run: runComplaintAnswer},
		{name: "indicators", summary: "complaints per court complained of: answered, in time, overdue", run: runComplaintIndicators},
	}})
}

// runCaseCodes issues the query codes of a case's parties and prints
// them: the only time they exist in clear (the store keeps argon2id
// hashes). Through the node when it runs, else on the stopped node's
// store (which needs the encryption key: the codes bind the last 4
// characters of each party's sealed identity number).
func runCaseCodes(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "case codes")
	reissue := fs.Bool("reissue", false, "replace codes already issued (the old ones stop working)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fprintln(c.stderr, "usage: courtmesh case codes --data DIR [--reissue] CASE-NUMBER")
		return errUsage
	}
	n, err := court.ParseCaseNumber(fs.Arg(0))
	if err != nil {
		return err
	}
	if *data == "" {
		return errorf("--data is required: the node's data directory")
	}
	var res api.CodesResult
	if nodeRunning(*data) {
		cl, err := client(*data)
		if err != nil {
			return err
		}
		err = fromAPI(cl.Do(ctx, "POST", "/v1/cases/"+url.PathEscape(n.String())+"/codes", api.CodesRequest{Reissue: *reissue}, &res))
		if err != nil {
			return err
		}
	} else {
		db, err := openStore(*data, true)
		if err != nil {
			return err
		}
		defer db.Close()
		a, err := audit.New(audit.Deps{Store: db})
		if err != nil {
			return err
		}
		if res, err = party.Codes(ctx, db, a, n, *reissue, time.Now()); err != nil {
			return err
		}
	}
	if *asJSON {
		return printJSON(c.stdout, res)
	}
	fprintf(c.stdout, "查询码 query codes of %s (shown once: hand each to its party with the notice)\n", res.Case)
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fprintln(tw, "PARTY\tROLE\tNAME\tCODE")
	for _, is := range res.Codes {
		code := is.Code
		if code == "" {
			code = "- (" + is.Skipped + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", is.Party, is.Role, is.Name, code)
	}
	return tw.Flush()
}

// complaintClient is the running node's API; complaints need the node
// (an answer is a signed record sent to the mesh).
func complaintClient(data string) (*api.Client, error) {
	if data == "" {
		return nil, errorf("--data is required: the node's data directory")
	}
	if !nodeRunning(data) {
		return nil, court.Errorf(court.ErrUnavailable, "the node of %s is not running: complaints are read and answered through it (start it with `courtmesh run --data %s`)", data, data)
	}
	return client(data)
}

func runComplaintList(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "complaint list")
	which := fs.String("which", "supervising", "supervising, about or overdue")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		fprintln(c.stderr, "usage: courtmesh complaint list --data DIR [--which supervising|about|overdue]")
		return errUsage
	}
	cl, err := complaintClient(*data)
	if err != nil {
		return err
	}
	var all []api.ComplaintInfo
	cursor := ""
	for range 10_000 {
		q := url.Values{"which": {*which}, "limit": {"1000"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var page api.ComplaintList
		if err := fromAPI(cl.Do(ctx, "GET", "/v1/complaints?"+q.Encode(), nil, &page)); err != nil {
			return err
		}
		all = append(all, page.Complaints...)
		if cursor = page.Next; cursor == "" {
			break
		}
	}
	if *asJSON {
		return printJSON(c.stdout, all)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fprintln(tw, "REF\tCASE\tCATEGORY\tABOUT\tSUPERVISOR\tFILED\tANSWER BY\tSTATE")
	for _, x := range all {
		state := T("open")
		switch {
		case !x.Answered.IsZero() && x.InTime:
			state = T("answered in time")
		case !x.Answered.IsZero():
			state = T("answered late")
		case x.Overdue:
			state = T("OVERDUE")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", x.Ref, x.Case, x.Category, x.Complained, x.Supervisor, court.DateOf(x.Filed), x.AnswerBy, state)
	}
	return tw.Flush()
}

func runComplaintShow(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "complaint show")
	purpose := fs.String("purpose", "", "why the complaint is read, for the audit log (default: complaint handling)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fprintln(c.stderr, "usage: courtmesh complaint show --data DIR [--purpose WHY] REF")
		return errUsage
	}
	cl, err := complaintClient(*data)
	if err != nil {
		return err
	}
	var x api.ComplaintInfo
	p := "/v1/complaints/" + url.PathEscape(fs.Arg(0))
	if *purpose != "" {
		p += "?" + url.Values{"purpose": {*purpose}}.Encode()
	}
	if err := fromAPI(cl.Do(ctx, "GET", p, nil, &x)); err != nil {
		return err
	}
	return printJSON(c.stdout, x)
}

func runComplaintAnswer(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "complaint answer")
	text := fs.String("text", "", "the answer to the party (at most 2,000 characters); - reads it from standard input")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 || *text == "" {
		fprintln(c.stderr, "usage: courtmesh complaint answer --data DIR --text ANSWER REF")
		return errUsage
	}
	if *text == "-" {
		b, err := readAllLimited(os.Stdin, 64<<10)
		if err != nil {
			return err
		}
		*text = string(b)
	}
	cl, err := complaintClient(*data)
	if err != nil {
		return err
	}
	var x api.ComplaintInfo
	if err := fromAPI(cl.Do(ctx, "POST", "/v1/complaints/"+url.PathEscape(fs.Arg(0))+"/answer", api.AnswerRequest{Text: *text}, &x)); err != nil {
		return err
	}
	fprintf(c.stdout, "complaint %s answered (answer by %s; in time: %t)\n", x.Ref, x.AnswerBy, x.InTime)
	return nil
}

func runComplaintIndicators(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "complaint indicators")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cl, err := complaintClient(*data)
	if err != nil {
		return err
	}
	var res []api.ComplaintIndicator
	if err := fromAPI(cl.Do(ctx, "GET", "/v1/complaints/indicators", nil, &res)); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(c.stdout, res)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fprintln(tw, "COURT\tCOMPLAINTS\tANSWERED\tIN TIME\tOVERDUE")
	for _, x := range res {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\n", x.Court, x.Total, x.Answered, x.InTime, x.Overdue)
	}
	return tw.Flush()
}

// readAllLimited reads r up to max bytes, refusing more.
func readAllLimited(r io.Reader, max int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, court.Errorf(court.ErrInvalid, "the text on standard input is longer than %d bytes", max)
	}
	return b, nil
}
