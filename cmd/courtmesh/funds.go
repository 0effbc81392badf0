package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"

	"courtmesh.dev/courtmesh/node/api"
)

func init() {
	register(&command{name: "funds", summary: "the funds ledger (执行款) of transferred cases", subs: []*command{
		{name: "record", summary: "record money received or paid out to the applicant in this court's case of a transfer", run: runFundsRecord},
		{name: "forward", summary: "forward money this court holds to the other court of the transfer", run: runFundsForward},
		{name: "list", summary: "show a transfer's ledger", run: runFundsList},
		{name: "reconcile", summary: "check a transfer's ledger: money held past the deadline, forwards not received, reports that disagree", run: runFundsReconcile},
	}})
	register(&command{name: "sanctions", summary: "credit sanctions (信用惩戒) that must survive a transfer", subs: []*command{
		{name: "list", summary: "list a transfer's sanctions and who must act", run: runSanctionsList},
		{name: "declare", summary: "as the origin, declare a sanction of the case in force at handover", run: sanctionAct("in_force")},
		{name: "reissue", summary: "as the receiver, record a sanction re-issued under the new case number", run: sanctionAct("reissued")},
		{name: "lift", summary: "as the origin, record a sanction lifted once the receiver re-issued it", run: sanctionAct("lifted")},
	}})
	register(&command{name: "notices", summary: "notices to assisting bodies (协助执行通知书) for moved measures", subs: []*command{
		{name: "list", summary: "as the receiver, list (and draft) the notices of a transfer's moved measures", run: runNoticesList},
		{name: "mark", summary: "record a notice sent or acknowledged", run: runNoticesMark},
		{name: "print", summary: "write a notice as a print-ready A4 HTML page", run: runNoticesPrint},
	}})
}

// parseYuan reads an amount in yuan (12345.67) as fen.
func parseYuan(s string) (int64, error) {
	s = strings.TrimSpace(strings.ReplaceAll(s, ",", ""))
	whole, frac, _ := strings.Cut(s, ".")
	if len(frac) > 2 || whole == "" {
		return 0, errorf("amount %q: want yuan with at most 2 decimals (12345.67)", s)
	}
	frac += strings.Repeat("0", 2-len(frac))
	y, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, errorf("amount %q: want yuan with at most 2 decimals (12345.67)", s)
	}
	f, err := strconv.ParseInt(frac, 10, 64)
	if err != nil || f < 0 {
		return 0, errorf("amount %q: want yuan with at most 2 decimals (12345.67)", s)
	}
	if strings.HasPrefix(whole, "-") {
		return y*100 - f, nil
	}
	return y*100 + f, nil
}

// oneArg is the one TRANSFER argument of a command.
func oneArg(fs interface {
	NArg() int
	Arg(int) string
}, usage string) (string, error) {
	if fs.NArg() != 1 {
		return "", usagef("usage: courtmesh %s", usage)
	}
	return fs.Arg(0), nil
}

func yuanOf(fen int64) string { return fmt.Sprintf("%d.%02d", fen/100, fen%100) }

func fundsEntry(ctx context.Context, c *cli, args []string, name string, forward bool) error {
	fs, data := newFlags(c, "funds "+name)
	var req api.FundsEntryRequest
	amount := fs.String("amount", "", "amount in yuan (12345.67)")
	if !forward {
		fs.StringVar(&req.Kind, "kind", "received", "received or paid_out (to the applicant)")
		fs.StringVar(&req.Source, "source", "", "received: deduction (扣划), auction, voluntary, forward (from the other court), other")
		fs.Uint64Var(&req.ForwardNumber, "forward", 0, "received from a forward: the other court's entry number (default: its oldest not received)")
		fs.StringVar(&req.Measure, "measure", "", "the measure the money came from (a deduction's freeze)")
	}
	fs.StringVar(&req.On, "on", "", "YYYY-MM-DD the money moved (default today)")
	refFile := fs.String("reference-file", "", "a file holding the bank's reference of the payment (sealed; guards against counting it twice); - reads standard input")
	accountFile := fs.String("account-file", "", "a file holding the account paid from or to (sealed); - reads standard input")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if forward {
		req.Kind = "forwarded"
	}
	id, err := oneArg(fs, "funds "+name+" --data DIR --amount YUAN TRANSFER")
	if err != nil {
		return err
	}
	if *amount == "" {
		return errorf("--amount is required")
	}
	if req.AmountFen, err = parseYuan(*amount); err != nil {
		return err
	}
	if *refFile != "" {
		if req.Reference, err = readSecret(c, *refFile, "bank reference"); err != nil {
			return err
		}
	}
	if *accountFile != "" {
		if req.Account, err = readSecret(c, *accountFile, "account number"); err != nil {
			return err
		}
	}
	cl, err := client(*data)
	if err != nil {
		return err
	}
	var l api.FundsLedger
	if err := cl.Do(ctx, "POST", "/v1/transfers/"+url.PathEscape(id)+"/funds", req, &l); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(c.stdout, l)
	}
	return printLedger(c.stdout, l)
}

func runFundsRecord(ctx context.Context, c *cli, args []string) error {
	return fundsEntry(ctx, c, args, "record", false)
}

func runFundsForward(ctx context.Context, c *cli, args []string) error {
	return fundsEntry(ctx, c, args, "forward", true)
}

func printLedger(w io.Writer, l api.FundsLedger) error {
	fprintf(w, "Transfer %s: %s -> %s, claim %s yuan\n", l.Transfer, l.Origin, l.Receiver, yuanOf(l.ClaimFen))
	fprintf(w, "recovered %s, paid out %s, held by the origin %s, by the receiver %s, in transit %s (yuan)\n",
		yuanOf(l.RecoveredFen), yuanOf(l.PaidOutFen), yuanOf(l.OriginHeldFen), yuanOf(l.ReceiverHeldFen), yuanOf(l.InTransitFen))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fprintln(tw, "COURT\tNO\tKIND\tYUAN\tON\tSOURCE")
	for _, e := range l.Entries {
		src := e.Source
		if e.ForwardNumber != 0 {
			src = sprintf("forward %d", e.ForwardNumber)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", e.Court, e.Number, e.Kind, yuanOf(e.AmountFen), e.On, orDash(src))
	}
	return tw.Flush()
}

func runFundsList(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "funds list")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	id, err := oneArg(fs, "funds list --data DIR TRANSFER")
	if err != nil {
		return err
	}
	cl, err := client(*data)
	if err != nil {
		return err
	}
	var l api.FundsLedger
	if err := cl.Do(ctx, "GET", "/v1/transfers/"+url.PathEscape(id)+"/funds", nil, &l); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(c.stdout, l)
	}
	return printLedger(c.stdout, l)
}

// errUnbalanced: funds reconcile found problems (exit status 1).
var errUnbalanced = errors.New("the ledger does not balance")

func runFundsReconcile(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "funds reconcile")
	asOf := fs.String("today", "", "reference date (YYYY-MM-DD; default today in China time)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	id, err := oneArg(fs, "funds reconcile --data DIR TRANSFER")
	if err != nil {
		return err
	}
	cl, err := client(*data)
	if err != nil {
		return err
	}
	path := "/v1/transfers/" + url.PathEscape(id) + "/funds/reconcile"
	if *asOf != "" {
		path += "?as_of=" + url.QueryEscape(*asOf)
	}
	var r api.FundsReconciliation
	if err := cl.Do(ctx, "GET", path, nil, &r); err != nil {
		return err
	}
	if *asJSON {
		if err := printJSON(c.stdout, r); err != nil {
			return err
		}
	} else {
		if err := printLedger(c.stdout, r.FundsLedger); err != nil {
			return err
		}
		for _, p := range r.Problems {
			fprintf(c.stdout, "PROBLEM: %s\n", p)
		}
		if r.Balanced {
			fprintf(c.stdout, "balanced as of %s\n", r.AsOf)
		}
	}
	if !r.Balanced {
		return errUnbalanced
	}
	return nil
}

func runSanctionsList(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "sanctions list")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	id, err := oneArg(fs, "sanctions list --data DIR TRANSFER")
	if err != nil {
		return err
	}
	cl, err := client(*data)
	if err != nil {
		return err
	}
	var l api.SanctionList
	if err := cl.Do(ctx, "GET", "/v1/transfers/"+url.PathEscape(id)+"/sanctions", nil, &l); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(c.stdout, l)
	}
	return printSanctions(c.stdout, l)
}

func printSanctions(w io.Writer, l api.SanctionList) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fprintln(tw, "ID\tKIND\tUNTIL\tREISSUE BY\tREISSUED\tLIFTED\tWAITING ON")
	for _, s := range l.Sanctions {
		wait := "-"
		if s.Waiting != "" {
			wait = s.Waiting + " (" + s.Todo + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.KindLabel, orDash(s.Until), s.ReissueBy, orDash(s.ReissuedOn), orDash(s.LiftedOn), wait)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fprintf(w, "%d to re-issue by the receiver, %d to lift by the origin\n", l.ToReissue, l.ToLift)
	return nil
}

func sanctionAct(action string) func(context.Context, *cli, []string) error {
	verb := map[string]string{"in_force": "declare", "reissued": "reissue", "lifted": "lift"}[action]
	return func(ctx context.Context, c *cli, args []string) error {
		fs, data := newFlags(c, "sanctions "+verb)
		req := api.SanctionRequest{Action: action}
		fs.StringVar(&req.ID, "id", "", "the sanction (s1, s2, ...; declare: default the next)")
		fs.StringVar(&req.Kind, "kind", "", "dishonest_listing (失信名单), consumption_restriction (限制消费令), exit_restriction (限制出境), other")
		fs.StringVar(&req.Until, "until", "", "YYYY-MM-DD the term ends")
		fs.StringVar(&req.On, "on", "", "YYYY-MM-DD of the act (default today)")
		fs.StringVar(&req.Decision, "decision", "", "the decision document's number (sealed)")
		respFile := fs.String("respondent-file", "", "a file holding the respondent's name (sealed); - reads standard input")
		asJSON := fs.Bool("json", false, "print JSON")
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		id, err := oneArg(fs, "sanctions "+verb+" --data DIR [--id S] TRANSFER")
		if err != nil {
			return err
		}
		if *respFile != "" {
			if req.Respondent, err = readSecret(c, *respFile, "respondent"); err != nil {
				return err
			}
		}
		cl, err := client(*data)
		if err != nil {
			return err
		}
		var l api.SanctionList
		if err := cl.Do(ctx, "POST", "/v1/transfers/"+url.PathEscape(id)+"/sanctions", req, &l); err != nil {
			return err
		}
		if *asJSON {
			return printJSON(c.stdout, l)
		}
		return printSanctions(c.stdout, l)
	}
}

func printWorklist(w io.Writer, l api.NoticeWorklist) error {
	fprintf(w, "Notices of transfer %s (case %s): %d not acknowledged\n", l.Transfer, l.Case, l.Unacknowledged)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fprintln(tw, "MEASURE\tKIND\tBODY\tSTATUS\tDRAFTED\tSENT\tACKNOWLEDGED\tMEASURE EXPIRY")
	for _, n := range l.Notices {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", n.Measure, orDash(n.MeasureKind), n.BodyLabel, n.Status, orDash(n.DraftedOn), orDash(n.SentOn), orDash(n.AckOn), orDash(n.MeasureExpiry))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(l.MissingItems) > 0 {
		fprintf(w, "dossier items the handover did not name: %s\n", strings.Join(l.MissingItems, ", "))
	}
	return nil
}

func runNoticesList(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "notices list")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	id, err := oneArg(fs, "notices list --data DIR TRANSFER")
	if err != nil {
		return err
	}
	cl, err := client(*data)
	if err != nil {
		return err
	}
	var l api.NoticeWorklist
	if err := cl.Do(ctx, "GET", "/v1/transfers/"+url.PathEscape(id)+"/notices", nil, &l); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(c.stdout, l)
	}
	return printWorklist(c.stdout, l)
}

func runNoticesMark(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "notices mark")
	var req api.NoticeRequest
	measure := fs.String("measure", "", "the measure whose notice changed")
	fs.StringVar(&req.Status, "status", "", "sent or acknowledged")
	fs.StringVar(&req.On, "on", "", "YYYY-MM-DD (default today)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	id, err := oneArg(fs, "notices mark --data DIR --measure M --status sent TRANSFER")
	if err != nil {
		return err
	}
	if *measure == "" || req.Status == "" {
		return errorf("--measure and --status are required")
	}
	cl, err := client(*data)
	if err != nil {
		return err
	}
	var l api.NoticeWorklist
	if err := cl.Do(ctx, "POST", "/v1/transfers/"+url.PathEscape(id)+"/notices/"+url.PathEscape(*measure), req, &l); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(c.stdout, l)
	}
	return printWorklist(c.stdout, l)
}

func runNoticesPrint(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "notices print")
	measure := fs.String("measure", "", "the measure whose notice to print")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	id, err := oneArg(fs, "notices print --data DIR --measure M TRANSFER > notice.html")
	if err != nil {
		return err
	}
	if *measure == "" {
		return errorf("--measure is required")
	}
	cl, err := client(*data)
	if err != nil {
		return err
	}
	var doc []byte
	if err := cl.Do(ctx, "GET", "/v1/transfers/"+url.PathEscape(id)+"/notices/"+url.PathEscape(*measure)+"/document", nil, &doc); err != nil {
		return err
	}
	_, err = c.stdout.Write(doc)
	return err
}

func runDossierItems(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "dossier items")
	name := fs.Bool("name", false, "as the origin, after the handover: name the items from the case's documents (a signed record the receiver sees)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	id, err := oneArg(fs, "dossier items --data DIR [--name] TRANSFER")
	if err != nil {
		return err
	}
	cl, err := client(*data)
	if err != nil {
		return err
	}
	method := "GET"
	if *name {
		method = "POST"
	}
	var d api.DossierItems
	if err := cl.Do(ctx, method, "/v1/transfers/"+url.PathEscape(id)+"/dossier-items", nil, &d); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(c.stdout, d)
	}
	if !d.Named {
		fprintf(c.stdout, "the origin has not named the dossier items of transfer %s yet\n", d.Transfer)
		return nil
	}
	for _, it := range d.Carried {
		fprintf(c.stdout, "carried  %s (%s)\n", it.Label, it.Item)
	}
	for _, it := range d.Missing {
		req := ""
		if it.Required {
			req = "  REQUIRED: ask the origin to supplement it"
		}
		fprintf(c.stdout, "missing  %s (%s)%s\n", it.Label, it.Item, req)
	}
	return nil
}
