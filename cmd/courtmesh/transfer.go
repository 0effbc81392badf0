package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/workflow"
)

func init() {
	register(&command{name: "transfer", summary: "offer, decide, accept, hand over and follow case transfers (交叉执行)", subs: []*command{
		{name: "offer", summary: "offer one of this court's cases to a superior court", run: runTransferOffer},
		{name: "recommend", summary: "rank the courts a superior may designate, with the reasons (factors as plain numbers)", run: runTransferRecommend},
		{name: "start", summary: "open a transfer of a lower court's case on this superior court's own motion (依职权)", run: runTransferStart(false)},
		{name: "request", summary: "record the applicant's request to move a case (申请变更执行法院, 民诉法 art. 237) as the superior court", run: runTransferStart(true)},
		{name: "decide", summary: "decide an offer as a superior court (指令执行 or 提级执行)", run: runTransferDecide},
		{name: "supervise", summary: "decide an offer as supervised enforcement (督促执行): the origin enforces and reports by a date", run: runTransferSupervise},
		{name: "report", summary: "report under supervised enforcement (督促执行) as the origin", run: runTransferReport},
		{name: "gather", summary: "gather one debtor's cases from several courts into one court by one decision (集中执行)", run: runTransferGather},
		{name: "assist", summary: "ask another court to assist in a case without taking it (协同执行)", run: runTransferAssist},
		{name: "assist-answer", summary: "take a request for assistance on, or decline it (协同执行)", run: runTransferAssistAnswer},
		{name: "assist-result", summary: "report the result of an assistance (协同执行)", run: runTransferAssistResult},
		{name: "assist-detail", summary: "open the sealed detail of a request for assistance (audited)", run: runTransferAssistDetail},
		{name: "accept", summary: "accept a designated transfer under a new case number", run: runTransferAccept},
		{name: "reject", summary: "decline an offer (decider), a designation or a handed-over case (receiver, to the superior), or set a refused decision aside (decider)", run: runTransferReason("reject")},
		{name: "withdraw", summary: "withdraw this court's offer before handover", run: runTransferReason("withdraw")},
		{name: "handover", summary: "hand the dossier over (refused while measures expire within 30 days)", run: runTransferHandover},
		{name: "return", summary: "return an incomplete handover, naming what is missing (receiver, within 15 days)", run: runTransferReturn},
		{name: "supplement", summary: "supplement a returned handover with a new version (origin, within 30 days)", run: runTransferSupplement},
		{name: "progress", summary: "report progress as the receiving court", run: runTransferProgress},
		{name: "close", summary: "conclude a received case (outcome only; see conclude)", run: runTransferClose},
		{name: "conclude", summary: "conclude a received case with its closure kind (结案: 执行完毕, 终本, 终结, 不予执行, 驳回)", run: runTransferConclude},
		{name: "list", summary: "list transfers: state, who must act, what is overdue", run: runTransferList},
		{name: "show", summary: "show one transfer and its records", run: runTransferShow},
	}})
}

// transferCall posts body to a transfer endpoint and prints the result.
func transferCall(ctx context.Context, c *cli, data, path string, body any, asJSON bool) error {
	cl, err := client(data)
	if err != nil {
		return err
	}
	var t api.Transfer
	if err := cl.Do(ctx, "POST", path, body, &t); err != nil {
		return err
	}
	if asJSON {
		return printJSON(c.stdout, t)
	}
	printTransfer(c.stdout, t)
	return nil
}

func idArg(fs interface {
	NArg() int
	Arg(int) string
}, usage string) (string, error) {
	if fs.NArg() != 1 {
		return "", usagef("usage: courtmesh transfer %s", usage)
	}
	return url.PathEscape(fs.Arg(0)), nil
}

func runTransferOffer(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "transfer offer")
	caseNo := fs.String("case", "", "the case number (案号) to offer, e.g. （2024）京0105执1234号")
	resumeAs := fs.String("resume-as", "", "for a case concluded as 终本: the 执恢 number it is resumed under (恢复执行) and offered as")
	sup := fs.String("superior", "", "the superior court asked to decide, e.g. 京01")
	grounds := fs.String("grounds", "long_unexecuted", "comma-separated: long_unexecuted, interference, serial_cases, capacity, passive (消极执行)")
	recovered := fs.Int64("recovered-fen", -1, "amount already recovered, in fen (default: 0)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *caseNo == "" || *sup == "" {
		return errorf("--case and --superior are required")
	}
	req := api.OfferRequest{CaseNumber: *caseNo, Superior: *sup, Grounds: strings.Split(*grounds, ","), ResumeAs: *resumeAs}
	if *recovered >= 0 {
		req.AmountRecoveredFen = recovered
	}
	return transferCall(ctx, c, *data, "/v1/transfers", req, *asJSON)
}

func runTransferStart(request bool) func(context.Context, *cli, []string) error {
	return func(ctx context.Context, c *cli, args []string) error {
		name := "transfer start"
		if request {
			name = "transfer request"
		}
		fs, data := newFlags(c, name)
		if request {
			bilingual(fs, "作为上级法院登记申请执行人变更执行法院的申请（民诉法第237条：立案满6个月未执行），并在答复期限内作出决定或驳回；原执行法院不得撤回，须按决定移交。",
				"As the superior court, record the applicant's request to move a case (民诉法 art. 237: unenforced 6 months after filing); it must be answered (decided or rejected) by the answer date; the origin cannot withdraw it and hands over when the decision says so.")
		} else {
			bilingual(fs, "作为上级法院依职权（或依执行监督、信访）启动下级法院案件的移送，不需原执行法院申请；原执行法院不得撤回，须按决定移交。",
				"As the superior court, open the transfer of a lower court's case on its own motion (or from supervision or a petition), without the origin's offer; the origin cannot withdraw it and hands over when the decision says so.")
		}
		caseNo := fs.String("case", "", "the origin's case number (案号), e.g. （2024）京0105执1234号")
		origin := fs.String("origin", "", "the origin court, e.g. 京0105")
		grounds := fs.String("grounds", "passive", "comma-separated: long_unexecuted, interference, serial_cases, capacity, passive (消极执行)")
		source := fs.String("source", "own_motion", "own_motion, supervision or petition")
		filed := fs.String("filed", "", "when the origin filed the case, YYYY-MM-DD (required for a request)")
		requested := fs.String("requested", "", "when the applicant's request reached this court, YYYY-MM-DD (a request; default today)")
		answerBy := fs.String("answer-by", "", "answer the request by YYYY-MM-DD (default: request_answer_days after it arrived)")
		asJSON := fs.Bool("json", false, "print JSON")
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		if *caseNo == "" || *origin == "" {
			return errorf("--case and --origin are required")
		}
		req := api.StartRequest{CaseNumber: *caseNo, Origin: *origin, Grounds: strings.Split(*grounds, ","), Source: *source, FiledOn: *filed}
		if request {
			req.Source, req.RequestedOn, req.AnswerBy = "applicant_request", *requested, *answerBy
			if req.RequestedOn == "" {
				req.RequestedOn = court.DateOf(time.Now()).String()
			}
		}
		return transferCall(ctx, c, *data, "/v1/transfers/start", req, *asJSON)
	}
}

func runTransferDecide(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "transfer decide")
	mode := fs.String("mode", "designated", "designated (指令执行) or elevated (提级执行)")
	recv := fs.String("to", "", "the designated receiving court (not for elevated)")
	number := fs.String("decision", "", "the decision document's number, e.g. （2026）京01执监7号")
	by := fs.String("accept-by", "", "acceptance deadline YYYY-MM-DD (default: 7 days)")
	seen := fs.String("recommendation", "", "the inputs hash of the recommendation you decided on (courtmesh transfer recommend); refused as stale if it changed since")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	id, err := idArg(fs, "decide --data DIR --mode designated --to COURT --decision NUMBER TRANSFER")
	if err != nil {
		return err
	}
	return transferCall(ctx, c, *data, "/v1/transfers/"+id+"/decide", api.DecideRequest{Mode: *mode, Receiver: *recv, DecisionNumber: *number, AcceptBy: *by, RecommendationHash: *seen}, *asJSON)
}

func runTransferAccept(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "transfer accept")
	number := fs.String("case", "", "this court's new case number, e.g. （2026）京0108执1201号")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	id, err := idArg(fs, "accept --data DIR --case NEW_NUMBER TRANSFER")
	if err != nil {
		return err
	}
	return transferCall(ctx, c, *data, "/v1/transfers/"+id+"/accept", api.AcceptRequest{NewCaseNumber: *number}, *asJSON)
}

func runTransferReason(verb string) func(context.Context, *cli, []string) error {
	return func(ctx context.Context, c *cli, args []string) error {
		fs, data := newFlags(c, "transfer "+verb)
		reason := fs.String("reason", "", "the reason (no personal data: it is broadcast)")
		asJSON := fs.Bool("json", false, "print JSON")
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		id, err := idArg(fs, verb+" --data DIR --reason TEXT TRANSFER")
		if err != nil {
			return err
		}
		return transferCall(ctx, c, *data, "/v1/transfers/"+id+"/"+verb, api.ReasonRequest{Reason: *reason}, *asJSON)
	}
}

func runTransferHandover(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "transfer handover")
	override := fs.String("override", "", "hand over although measures expire within 30 days, for this reason (recorded and audited)")
	recovered := fs.Int64("recovered-fen", -1, "amount this court recovered up to now, in fen (default: what the offer announced); the receiver's claim is the balance")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	id, err := idArg(fs, "handover --data DIR [--override REASON] [--recovered-fen N] TRANSFER")
	if err != nil {
		return err
	}
	req := api.HandoverRequest{OverrideReason: *override}
	if *recovered >= 0 {
		req.AmountRecoveredFen = recovered
	}
	return transferCall(ctx, c, *data, "/v1/transfers/"+id+"/handover", req, *asJSON)
}

func runTransferReturn(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "transfer return")
	bilingual(fs, "受理法院在移交后15日内（以决定为准）将不完整的卷宗退回移送法院，列明缺少的材料种类；移送法院须在30日内补正。",
		"As the receiving court, return an incomplete handover within the return period (15 days unless the decision says otherwise), naming the kinds of dossier item missing; the origin must supplement within 30 days.")
	missing := fs.String("missing", "", "comma-separated kinds of dossier item missing: title, application, notice, report_order, search_result, ruling, assist_notice, valuation, settlement, consumption_restriction, dishonest_listing, terminal, other")
	note := fs.String("note", "", "optional note (no personal data: it is broadcast)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	id, err := idArg(fs, "return --data DIR --missing KIND[,KIND] [--note TEXT] TRANSFER")
	if err != nil {
		return err
	}
	var ms []string
	if *missing != "" {
		ms = strings.Split(*missing, ",")
	}
	return transferCall(ctx, c, *data, "/v1/transfers/"+id+"/return", api.ReturnRequest{Missing: ms, Note: *note}, *asJSON)
}

func runTransferSupplement(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "transfer supplement")
	bilingual(fs, "移送法院在补正期限内以新版本移交卷宗（先导入补充的材料）；受理法院只需取回新增的数据块。",
		"As the origin, answer a return with a new version of the handover (import the missing papers first); the receiver fetches only the chunks it does not hold.")
	override := fs.String("override", "", "hand over although measures expire within 30 days, for this reason (recorded and audited)")
	recovered := fs.Int64("recovered-fen", -1, "amount this court recovered up to now, in fen (default: as announced before)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	id, err := idArg(fs, "supplement --data DIR [--override REASON] [--recovered-fen N] TRANSFER")
	if err != nil {
		return err
	}
	req := api.HandoverRequest{OverrideReason: *override}
	if *recovered >= 0 {
		req.AmountRecoveredFen = recovered
	}
	return transferCall(ctx, c, *data, "/v1/transfers/"+id+"/supplement", req, *asJSON)
}

func runTransferProgress(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "transfer progress")
	amount := fs.Int64("recovered-fen", 0, "total amount recovered so far, in fen")
	status := fs.String("status", "", "short status for supervisors (no personal data)")
	publish := fs.Bool("publish", false, "also show the status to the case's parties on their status page")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	id, err := idArg(fs, "progress --data DIR --recovered-fen N TRANSFER")
	if err != nil {
		return err
	}
	return transferCall(ctx, c, *data, "/v1/transfers/"+id+"/progress", api.ProgressRequest{AmountRecoveredFen: *amount, Status: *status, Publish: *publish}, *asJSON)
}

func runTransferClose(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "transfer close")
	outcome := fs.String("outcome", "concluded", "concluded, terminated (终本) or settled")
	amount := fs.Int64("recovered-fen", 0, "total amount recovered, in fen")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	id, err := idArg(fs, "close --data DIR --outcome concluded --recovered-fen N TRANSFER")
	if err != nil {
		return err
	}
	return transferCall(ctx, c, *data, "/v1/transfers/"+id+"/close", api.CloseRequest{Outcome: *outcome, AmountRecoveredFen: *amount}, *asJSON)
}

// bilingual sets a flag set's usage to a description in Chinese and
// English, the language of the messages first (the other stays, for the
// legal terms), then the flags.
func bilingual(fs *flag.FlagSet, zh, en string) {
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "%s\n  %s\n  %s\n\n", fs.Name(), inLang(zh, en), inLang(en, zh))
		printDefaults(fs)
	}
}

func runTransferConclude(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "transfer conclude")
	bilingual(fs, "以结案方式结束本院收到的移送案件：执行完毕、终本（立案满3个月，列明已完成的财产调查措施并经申请执行人签字或合议庭及院长批准）、终结、不予执行、驳回；本院案件状态随之变更。",
		"Conclude a case this court received, with its closure kind: fulfilled (执行完毕), terminal (终本: from 3 months after filing, listing the investigation steps done and the approval), ended (终结), not_enforced (不予执行), dismissed (驳回); the filed case takes the matching status.")
	kind := fs.String("kind", "", "fulfilled (执行完毕), terminal (终本), ended (终结), not_enforced (不予执行) or dismissed (驳回)")
	amount := fs.Int64("recovered-fen", 0, "total amount recovered, in fen")
	steps := fs.String("steps", "", "for 终本: comma-separated investigation steps done (online_search, report_order, on_site, consumption_restriction required; dishonest_listing, audit, reward_notice, search_warrant)")
	approval := fs.String("approval", "", "for 终本: applicant_signed or panel_and_president")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	id, err := idArg(fs, "conclude --data DIR --kind KIND [--steps S1,S2 --approval A] [--recovered-fen N] TRANSFER")
	if err != nil {
		return err
	}
	req := api.ConcludeRequest{Kind: *kind, AmountRecoveredFen: *amount, Approval: *approval}
	if *steps != "" {
		req.InvestigationSteps = strings.Split(*steps, ",")
	}
	return transferCall(ctx, c, *data, "/v1/transfers/"+id+"/conclude", req, *asJSON)
}

func runTransferList(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "transfer list")
	state := fs.String("state", "", "only transfers in this state (offered, decided, accepted, handed_over, received, closed, rejected, withdrawn)")
	overdue := fs.Bool("overdue", false, "only overdue transfers")
	courtF := fs.String("court", "", "only transfers this court takes part in (origin, decider or receiver), e.g. 京0105")
	limit := fs.Int("limit", 100, "transfers a page (1 to 1000), newest offer first")
	cursor := fs.String("cursor", "", "continue a listing where the previous page ended (printed after it)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *data != "" && !nodeRunning(*data) {
		// The node is stopped: read its store here, as the node would.
		q := api.TransferQuery{State: *state, Court: court.CourtCode(*courtF), Overdue: *overdue, Cursor: *cursor, Limit: *limit}
		if q.Court != "" {
			if err := q.Court.Validate(); err != nil {
				return err
			}
		}
		db, err := openStore(*data, false)
		if err != nil {
			return err
		}
		defer db.Close()
		ts, next, err := workflow.List(ctx, db, time.Now(), q)
		if err != nil {
			return err
		}
		return printTransferList(c, ts, next, *asJSON)
	}
	cl, err := client(*data)
	if err != nil {
		return err
	}
	overdueQ := ""
	if *overdue {
		overdueQ = "1"
	}
	path := "/v1/transfers" + pageQuery(url.Values{"state": {*state}, "overdue": {overdueQ}, "court": {*courtF}}, *cursor, *limit)
	var ts []api.Transfer
	next, err := cl.Page(ctx, path, &ts)
	if err != nil {
		return err
	}
	return printTransferList(c, ts, next, *asJSON)
}

func printTransferList(c *cli, ts []api.Transfer, next string, asJSON bool) error {
	if next != "" {
		// After the page, on stderr: a script reading the JSON on stdout
		// still gets one array.
		defer fprintf(c.stderr, "More transfers: add --cursor %s\n", next)
	}
	if asJSON {
		return printJSON(c.stdout, ts)
	}
	if len(ts) == 0 {
		fprintln(c.stdout, "No transfers.")
		return nil
	}
	return printTransferTable(c.stdout, ts)
}

// printTransferTable prints transfers one a line, dated in China time
// (court.DateOf) whatever the server's time zone, as the rest of the CLI.
func printTransferTable(w io.Writer, ts []api.Transfer) error {
	tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', 0)
	fprintln(tw, "TRANSFER\tCASE\tFROM -> TO\tSTATE\tWAITING ON\tOFFERED")
	for _, t := range ts {
		to := string(t.Receiver)
		if to == "" {
			to = "?"
		}
		st := string(t.State)
		if t.Overdue {
			st += " (OVERDUE: " + t.DeadlineFor + " by " + t.Deadline + ", " + t.DeadlineCourt + ")"
		} else if t.Deadline != "" {
			st += " (" + t.DeadlineFor + " by " + t.Deadline + ")"
		}
		waiting := ""
		if t.WaitingOn != "" {
			waiting = t.WaitingOn + ": " + t.WaitingFor
		}
		fmt.Fprintf(tw, "%s\t%s\t%s -> %s\t%s\t%s\t%s\n", t.ID, t.CaseNumber, t.Origin, to, st, waiting, court.DateOf(t.OfferedAt).String())
	}
	return tw.Flush()
}

func runTransferShow(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "transfer show")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	id, err := idArg(fs, "show --data DIR TRANSFER")
	if err != nil {
		return err
	}
	cl, err := client(*data)
	if err != nil {
		return err
	}
	var t api.Transfer
	if err := cl.Do(ctx, "GET", "/v1/transfers/"+id, nil, &t); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(c.stdout, t)
	}
	printTransfer(c.stdout, t)
	return nil
}

func yuan(fen int64) string { return fmt.Sprintf("%d.%02d 元", fen/100, fen%100) }

func printTransfer(w io.Writer, t api.Transfer) {
	tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', 0)
	fprintf(tw, "Transfer\t%s\n", t.ID)
	fprintf(tw, "Case\t%s (origin %s)\n", t.CaseNumber, t.Origin)
	st := string(t.State)
	if t.Overdue {
		st += "  OVERDUE"
	}
	fprintf(tw, "State\t%s\n", st)
	if t.Deadline != "" {
		fprintf(tw, "Deadline\t%s by %s (%s)\n", t.DeadlineFor, t.Deadline, t.DeadlineCourt)
	}
	if t.WaitingOn != "" {
		fprintf(tw, "Waiting on\t%s to %s\n", t.WaitingOn, t.WaitingFor)
	}
	if t.StartedBy != "" {
		fprintf(tw, "Started\tby %s (%s); grounds %s", t.Superior, t.StartedBy, strings.Join(t.Grounds, ", "))
		if t.AnswerBy != "" {
			fprintf(tw, "; request of %s, answer by %s", t.RequestedOn, t.AnswerBy)
		}
		fmt.Fprintln(tw)
	} else {
		fprintf(tw, "Asked\t%s; grounds %s\n", t.Superior, strings.Join(t.Grounds, ", "))
	}
	fprintf(tw, "Outstanding\t%s (origin recovered %s)\n", yuan(t.AmountOutstanding), yuan(t.AmountOrigin))
	if t.Decider != "" {
		fprintf(tw, "Decision\t%s by %s, %s -> %s; accept by %s\n", t.DecisionNumber, t.Decider, t.Mode, t.Receiver, t.AcceptBy)
	}
	if t.RecommendationHash != "" {
		if t.RecommendedRank > 0 {
			fprintf(tw, "Advice\tthe court chosen was ranked %d in the recommendation (inputs %s)\n", t.RecommendedRank, t.RecommendationHash)
		} else {
			fprintf(tw, "Advice\tthe court chosen was not listed in the recommendation (inputs %s)\n", t.RecommendationHash)
		}
	}
	if len(t.RegionAssets) > 0 || t.DebtorRegion != "" {
		var parts []string
		for _, h := range t.RegionAssets {
			parts = append(parts, fmt.Sprintf("%s %s x%d (%s)", h.Region, h.Class, h.Count, court.ValueBand(h.Band)))
		}
		fprintf(tw, "Assets by region\t%s; debtor's region %s\n", strings.Join(parts, ", "), t.DebtorRegion)
	}
	if t.NewCaseNumber != "" {
		fprintf(tw, "New case\t%s\n", t.NewCaseNumber)
	}
	var dl []string
	for _, d := range []struct{ what, by string }{{"hand over", t.HandoverBy}, {"file", t.FileBy}, {"investigate", t.InvestigateBy}, {"conclude", t.ConcludeBy}} {
		if d.by != "" {
			dl = append(dl, d.what+" by "+d.by)
		}
	}
	if len(dl) > 0 {
		fprintf(tw, "Deadlines\t%s\n", strings.Join(dl, "; "))
	}
	if t.ClaimFen > 0 {
		fprintf(tw, "Balance\t%s: the receiver's claim (claim %s, origin recovered %s by the handover)\n", yuan(t.BalanceFen), yuan(t.ClaimFen), yuan(t.HandoverRecovered))
	}
	if len(t.Missing) > 0 {
		fprintf(tw, "Returned\tmissing %s %s (handover version %d)\n", strings.Join(t.Missing, ", "), t.ReturnNote, t.HandoverVersion)
	}
	if t.ChunkCount > 0 {
		fprintf(tw, "Dossier\t%d chunks, %d bytes, Merkle root %x\n", t.ChunkCount, t.SealedBytes, t.MerkleRoot)
	}
	if t.OverrideReason != "" {
		fprintf(tw, "Override\t%s (measures %s)\n", t.OverrideReason, strings.Join(t.Overridden, ", "))
	}
	if t.AmountRecovered > 0 || t.ProgressStatus != "" {
		fprintf(tw, "Recovered\t%s %s\n", yuan(t.AmountRecovered), t.ProgressStatus)
	}
	if t.ClosureKind != "" {
		fprintf(tw, "Closed as\t%s", t.ClosureKind)
		if len(t.InvestigationDone) > 0 {
			fprintf(tw, " (investigation: %s; approval: %s)", strings.Join(t.InvestigationDone, ", "), t.Approval)
		}
		fmt.Fprintln(tw)
	}
	if sv := t.Supervision; sv != nil {
		fprintf(tw, "Supervision\t督促执行: enforce and report by %s; %d report(s), %s recovered %s", sv.EnforceBy, sv.Reports, yuan(sv.Recovered), sv.LastStatus)
		if sv.Escalated {
			fprintf(tw, "; escalated on %s", court.DateOf(sv.EscalatedAt))
		}
		fmt.Fprintln(tw)
	}
	if len(t.Gathered) > 0 {
		fprintf(tw, "Gathered\t集中执行: %d transfers by one decision\n", len(t.Gathered))
	}
	if a := t.Assistance; a != nil {
		fprintf(tw, "Assistance\t协同执行 by %s: %s; answer by %s, done by %s", a.Court, strings.Join(a.Tasks, ", "), a.AnswerBy, a.Due)
		if a.Outcome != "" {
			fprintf(tw, "; result %s (%s)", a.Outcome, yuan(a.Recovered))
		}
		fmt.Fprintln(tw)
	}
	if f := t.Refusal; f != nil {
		fprintf(tw, "Refused\tby %s on %s: %s; ruling by %s", f.By, court.DateOf(f.At), f.Reason, f.RuleBy)
		if f.Ruling != "" {
			fprintf(tw, "; ruled %s (%s)", f.Ruling, f.RuledWith)
		}
		fmt.Fprintln(tw)
	}
	if t.Reason != "" {
		fprintf(tw, "Reason\t%s\n", t.Reason)
	}
	fprintf(tw, "Records\t\n")
	for _, r := range t.Records {
		fprintf(tw, "  %s\t%s by %s, record %s…\n", court.InChina(r.IssuedAt).Format("2006-01-02 15:04:05"), r.Kind, r.Issuer, r.Hash[:12])
	}
	tw.Flush()
}
