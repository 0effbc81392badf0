package main

import (
	"context"
	"fmt"
	"strings"

	"courtmesh.dev/courtmesh/node/api"
)

// The verbs of the modes beyond the move of one case: 督促执行
// (supervise, report), 协同执行 (assist, assist-answer, assist-result,
// assist-detail) and 集中执行 (gather).

func runTransferSupervise(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "transfer supervise")
	bilingual(fs, "作为上级法院对移送申请（或依职权启动的移送）作出督促执行决定：案件仍由原执行法院执行，须在期限内执行并报告；逾期将告警，上级法院可再以 transfer decide 指令或提级执行。",
		"As the superior court, decide an offered (or started) transfer as supervised enforcement (督促执行): the origin keeps the case and must enforce and report by the date; past it an alert is raised and the superior may still move the case with transfer decide.")
	number := fs.String("decision", "", "the 督促 decision's number, e.g. （2026）京01执督3号")
	by := fs.String("enforce-by", "", "the date by which the origin enforces and reports, YYYY-MM-DD")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	id, err := idArg(fs, "supervise --data DIR --decision NUMBER --enforce-by YYYY-MM-DD TRANSFER")
	if err != nil {
		return err
	}
	return transferCall(ctx, c, *data, "/v1/transfers/"+id+"/supervise", api.SuperviseRequest{DecisionNumber: *number, EnforceBy: *by}, *asJSON)
}

func runTransferReport(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "transfer report")
	bilingual(fs, "原执行法院在督促执行中向上级法院报告执行情况；案件已结的，以 --kind 注明结案方式（执行完毕、终结、不予执行、驳回）。",
		"As the origin under supervised enforcement (督促执行), report to the superior what was done; when the case is concluded, name how with --kind (fulfilled, ended, not_enforced, dismissed).")
	amount := fs.Int64("recovered-fen", 0, "total amount recovered so far, in fen")
	status := fs.String("status", "", "what this court did (no personal data: it is broadcast)")
	kind := fs.String("kind", "", "when the case is concluded: fulfilled (执行完毕), ended (终结), not_enforced (不予执行) or dismissed (驳回)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	id, err := idArg(fs, "report --data DIR --status TEXT [--recovered-fen N] [--kind KIND] TRANSFER")
	if err != nil {
		return err
	}
	return transferCall(ctx, c, *data, "/v1/transfers/"+id+"/report", api.SupervisionReportRequest{AmountRecoveredFen: *amount, Status: *status, Kind: *kind}, *asJSON)
}

func runTransferAssist(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "transfer assist")
	bilingual(fs, "请求另一法院协同执行本院案件（案件不移送）：任务种类公开，具体内容（事项、地点、对象）加密后只有协助法院和本院可读。",
		"Ask another court to assist in one of this court's cases without taking it (协同执行): the kinds of task are broadcast; the detail (what, where, against whom) is sealed so that only the assisting court and this one read it.")
	caseNo := fs.String("case", "", "this court's case number (案号)")
	to := fs.String("to", "", "the court asked to assist, e.g. 沪0115")
	tasks := fs.String("tasks", "", "comma-separated: investigate, seize, freeze, detain, serve, deliver, other")
	detail := fs.String("detail", "", "what to do, where and against whom (sealed; never broadcast)")
	answerBy := fs.String("answer-by", "", "the assisting court answers by YYYY-MM-DD (default: 7 days)")
	due := fs.String("due", "", "the assistance is done by YYYY-MM-DD (default: a month after the answer)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *caseNo == "" || *to == "" || *tasks == "" || *detail == "" {
		return errorf("--case, --to, --tasks and --detail are required")
	}
	req := api.AssistRequest{CaseNumber: *caseNo, Court: *to, Tasks: strings.Split(*tasks, ","), Detail: *detail, AnswerBy: *answerBy, Due: *due}
	return transferCall(ctx, c, *data, "/v1/transfers/assist", req, *asJSON)
}

func runTransferAssistAnswer(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "transfer assist-answer")
	bilingual(fs, "作为被请求法院答复协同执行请求：--accept 接受，或 --reason 说明理由拒绝。",
		"As the court asked to assist, take the request on (--accept) or decline it with --reason.")
	accept := fs.Bool("accept", false, "take the request on")
	reason := fs.String("reason", "", "why it is declined (no personal data: it is broadcast)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	id, err := idArg(fs, "assist-answer --data DIR (--accept | --reason TEXT) TRANSFER")
	if err != nil {
		return err
	}
	return transferCall(ctx, c, *data, "/v1/transfers/"+id+"/assist/answer", api.AssistAnswerRequest{Accept: *accept, Reason: *reason}, *asJSON)
}

func runTransferAssistResult(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "transfer assist-result")
	bilingual(fs, "作为协助法院报告协同执行结果（done、partial、not_possible）；具体情况加密后只有请求法院和本院可读。",
		"As the assisting court, report the result (done, partial, not_possible); the detail is sealed to the requesting court and this one.")
	outcome := fs.String("outcome", "", "done, partial or not_possible")
	amount := fs.Int64("recovered-fen", 0, "money the assistance brought in, in fen")
	detail := fs.String("detail", "", "what was done (sealed; never broadcast)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	id, err := idArg(fs, "assist-result --data DIR --outcome done --detail TEXT TRANSFER")
	if err != nil {
		return err
	}
	return transferCall(ctx, c, *data, "/v1/transfers/"+id+"/assist/result", api.AssistResultRequest{Outcome: *outcome, AmountRecoveredFen: *amount, Detail: *detail}, *asJSON)
}

func runTransferAssistDetail(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "transfer assist-detail")
	bilingual(fs, "打开协同执行请求（及结果）的加密内容；仅请求法院和协助法院可读，每次读取均记入审计日志。",
		"Open the sealed detail of a request for assistance (and of its result); only the two courts can, and every read is audited.")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	id, err := idArg(fs, "assist-detail --data DIR TRANSFER")
	if err != nil {
		return err
	}
	cl, err := client(*data)
	if err != nil {
		return err
	}
	var d api.AssistDetail
	if err := cl.Do(ctx, "GET", "/v1/transfers/"+id+"/assistance", nil, &d); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(c.stdout, d)
	}
	fprintf(c.stdout, "Request\t%s\n", d.Request)
	if d.Outcome != "" {
		fprintf(c.stdout, "Result\t%s: %s\n", d.Outcome, d.Result)
	}
	return nil
}

func runTransferGather(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "transfer gather")
	bilingual(fs, "作为上级法院以一份集中执行决定，将同一被执行人在多个法院的案件集中到一个法院执行；被执行人以仅本院可解的匹配密钥识别，身份信息从不在网络中明文传播。--match 列出与某移送同一被执行人的移送申请。",
		"As the superior court, gather one debtor's cases from several courts into one court by one decision (集中执行); the debtor is matched by a key sealed to this court alone, never in clear on the mesh. --match lists the offers against the same debtor as a transfer.")
	match := fs.String("match", "", "list the offered transfers against the same debtor as this one, and stop")
	to := fs.String("to", "", "the court the cases are gathered into")
	number := fs.String("decision", "", "the 集中执行 decision's number")
	by := fs.String("accept-by", "", "acceptance deadline YYYY-MM-DD (default: 7 days)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cl, err := client(*data)
	if err != nil {
		return err
	}
	if *match != "" {
		var ids []string
		if err := cl.Do(ctx, "GET", "/v1/transfers/"+*match+"/same-debtor", nil, &ids); err != nil {
			return err
		}
		if *asJSON {
			return printJSON(c.stdout, ids)
		}
		fmt.Fprintln(c.stdout, strings.Join(ids, " "))
		return nil
	}
	if fs.NArg() < 2 || *to == "" || *number == "" {
		return usagef("usage: courtmesh transfer gather --data DIR --to COURT --decision NUMBER TRANSFER TRANSFER [...] (or --match TRANSFER)")
	}
	var ts []api.Transfer
	if err := cl.Do(ctx, "POST", "/v1/transfers/gather", api.GatherRequest{Transfers: fs.Args(), Receiver: *to, DecisionNumber: *number, AcceptBy: *by}, &ts); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(c.stdout, ts)
	}
	for _, t := range ts {
		fmt.Fprintf(c.stdout, "%s\t%s\t%s -> %s\t%s\n", t.ID, t.CaseNumber, t.Origin, t.Receiver, t.State)
	}
	return nil
}
