package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/devmesh"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/storage/gen"
	"courtmesh.dev/courtmesh/storage/importer"
)

// demoModes plays the modes beyond the move of one case: a 协同执行
// request answered with its sealed result, a 督促执行 that 京01 escalates
// to 提级执行, and a 集中执行 of one debtor's cases from 京0105 and 京0106
// into 京0108 by one decision. The cases are 京0105's from demoTransfer
// (seed 2024: cases 3 to 6 are against one debtor) and the same data
// generated for 京0106.
//
// It is long on purpose: one story, the three modes played in order on
// one mesh, each step using what the one before made.
func demoModes(ctx context.Context, d *demo, dir string, courts []devmesh.Court, nodes []*node.Node, moved court.CaseNumber) error {
	by := map[court.CourtCode]*node.Node{}
	for i, c := range courts {
		by[c.Code] = nodes[i]
	}
	origin, sup, other, recv := by["京0105"], by["京01"], by["京0106"], by["京0108"]
	cs, err := origin.Store().Cases(ctx, "")
	if err != nil {
		return err
	}
	free := map[string]court.CaseNumber{}
	for _, c := range cs {
		free[c.Number.String()] = c.Number
	}
	gcs, err := gen.Generate(filepath.Join(dir, "cases-京0105"+"-again"), gen.Options{Cases: 6, Seed: 2024, Court: "京0105", RefDate: court.DateOf(d.now())})
	if err != nil {
		return err
	}
	// The cases not moved already: 0 and 1 against other debtors, 2 to 5
	// against the gathered one.
	var plain, debtor []int
	for i, c := range gcs {
		if c.Number == moved {
			continue
		}
		if i < 2 {
			plain = append(plain, i)
		} else {
			debtor = append(debtor, i)
		}
	}
	if len(plain) < 1 || len(debtor) < 3 {
		return errorf("demo: too few cases left after the transfer of %s", moved)
	}
	nth := func(i int) (court.CaseNumber, error) {
		n, ok := free[gcs[i].Number.String()]
		if !ok {
			return n, errorf("demo: case %s is not in 京0105's store", gcs[i].Number)
		}
		return n, nil
	}

	// 协同执行.
	a, err := nth(plain[0])
	if err != nil {
		return err
	}
	d.say("京0105 asks 京0108 to assist in %s (investigate and freeze) without handing it over; the detail is sealed to the two courts.", a)
	tr, err := origin.Workflow().Assist(ctx, api.AssistRequest{CaseNumber: a.String(), Court: "京0108", Tasks: []string{"investigate", "freeze"},
		Detail: "请查询被执行人在海淀区开立的账户 9999 0108 0000 0002 并冻结存款"})
	if err != nil {
		return err
	}
	if err := demoEverywhere(ctx, nodes, tr.ID, cmproto.StateAssistRequested); err != nil {
		return err
	}
	if _, err := recv.Workflow().AnswerAssist(ctx, tr.ID, api.AssistAnswerRequest{Accept: true}); err != nil {
		return err
	}
	if err := demoEverywhere(ctx, nodes, tr.ID, cmproto.StateAssisting); err != nil {
		return err
	}
	if _, err := recv.Workflow().AssistResult(ctx, tr.ID, api.AssistResultRequest{Outcome: "done", AmountRecoveredFen: 8_000_00,
		Detail: "已冻结账户 9999 0108 0000 0002 存款 8000.00 元"}); err != nil {
		return err
	}
	if err := demoEverywhere(ctx, nodes, tr.ID, cmproto.StateClosed); err != nil {
		return err
	}
	res, err := origin.Workflow().AssistDetail(ctx, tr.ID)
	if err != nil {
		return err
	}
	if _, err := by["京01"].Workflow().AssistDetail(ctx, tr.ID); err == nil {
		return errorf("demo: 京01 opened a request for assistance sealed to 京0105 and 京0108")
	}
	d.ok("京0108 took it on and reported: %s; 京0105 opens the result (audited): %q; 京01 cannot", res.Outcome, res.Result)

	// 督促执行, escalated.
	b, err := nth(debtor[len(debtor)-1])
	if err != nil {
		return err
	}
	d.say("京01 orders 京0105 to enforce %s within 15 days and report (督促执行); after 京0105's report 京01 escalates to 提级执行.", b)
	tr, err = sup.Workflow().Start(ctx, api.StartRequest{CaseNumber: b.String(), Origin: "京0105", Grounds: []string{"passive"}, Source: "supervision"})
	if err != nil {
		return err
	}
	if err := demoEverywhere(ctx, nodes, tr.ID, cmproto.StateOffered); err != nil {
		return err
	}
	by15 := court.DateOf(d.now()).AddDate(0, 0, 15).String()
	if _, err := sup.Workflow().Supervise(ctx, tr.ID, api.SuperviseRequest{DecisionNumber: d.caseNo("京01", "执督", 1), EnforceBy: by15}); err != nil {
		return err
	}
	if err := demoEverywhere(ctx, nodes, tr.ID, cmproto.StateSupervised); err != nil {
		return err
	}
	if _, err := origin.Workflow().Report(ctx, tr.ID, api.SupervisionReportRequest{AmountRecoveredFen: 2_000_00, Status: "已约谈被执行人，执行到位部分款项"}); err != nil {
		return err
	}
	// The escalation follows the report on every court: a report that
	// reached a court only after the decision would not count there.
	if err := demoEverywhereThat(ctx, nodes, tr.ID, "the origin's report under 督促执行", func(t api.Transfer) bool {
		return t.State == cmproto.StateSupervised && t.Supervision != nil && t.Supervision.Reports == 1
	}); err != nil {
		return err
	}
	if _, err := sup.Workflow().Decide(ctx, tr.ID, api.DecideRequest{Mode: "elevated", DecisionNumber: d.caseNo("京01", "执监", 2)}); err != nil {
		return err
	}
	if err := demoEverywhere(ctx, nodes, tr.ID, cmproto.StateDecided); err != nil {
		return err
	}
	v, err := recv.Workflow().Transfer(tr.ID)
	if err != nil {
		return err
	}
	d.ok("every court holds %s: %s to %s, escalated from 督促执行 (enforce by %s, %d report)", tr.ID, v.Mode, v.Receiver, v.Supervision.EnforceBy, v.Supervision.Reports)

	// 集中执行.
	d.say("京0106 holds cases against the same debtor. 京0105 and 京0106 offer them to 京01, each offer carrying the debtor's match key sealed to 京01 alone; 京01 finds the debtor's cases by it and gathers them into 京0108 by one decision (集中执行).")
	ocs, err := gen.Generate(filepath.Join(dir, "cases-京0106"), gen.Options{Cases: 6, Seed: 2024, Court: "京0106", RefDate: court.DateOf(d.now())})
	if err != nil {
		return err
	}
	var ids []string
	for _, c := range ocs[3:5] {
		if _, err := importer.Import(ctx, other.Store(), c.Dir, importer.Options{}); err != nil {
			return err
		}
		t, err := other.Workflow().Offer(ctx, api.OfferRequest{CaseNumber: c.Number.String(), Superior: "京01", Grounds: []string{"serial_cases"}})
		if err != nil {
			return err
		}
		ids = append(ids, string(t.ID))
	}
	for _, i := range debtor[:2] {
		n, err := nth(i)
		if err != nil {
			return err
		}
		t, err := origin.Workflow().Offer(ctx, api.OfferRequest{CaseNumber: n.String(), Superior: "京01", Grounds: []string{"serial_cases"}})
		if err != nil {
			return err
		}
		ids = append(ids, string(t.ID))
	}
	for _, id := range ids {
		if err := demoEverywhere(ctx, nodes, court.TransferID(id), cmproto.StateOffered); err != nil {
			return err
		}
	}
	same, err := sup.Workflow().SameDebtor(ctx, court.TransferID(ids[0]))
	if err != nil {
		return err
	}
	d.ok("京01 finds %d offers against the debtor of %s", len(same), ids[0])
	gathered, err := sup.Workflow().Gather(ctx, api.GatherRequest{Transfers: ids, Receiver: "京0108", DecisionNumber: d.caseNo("京01", "执集", 1)})
	if err != nil {
		return err
	}
	var nos []string
	for i, t := range gathered {
		if err := demoEverywhere(ctx, nodes, t.ID, cmproto.StateDecided); err != nil {
			return err
		}
		no := d.caseNo("京0108", "执", 3100+i)
		if _, err := recv.Workflow().Accept(ctx, t.ID, api.AcceptRequest{NewCaseNumber: no}); err != nil {
			return err
		}
		nos = append(nos, no)
	}
	for _, t := range gathered {
		if err := demoEverywhere(ctx, nodes, t.ID, cmproto.StateAccepted); err != nil {
			return err
		}
	}
	d.ok("%d cases from 京0105 and 京0106 gathered by one decision, filed by 京0108 as %s; the debtor's identity never left the origins in clear", len(gathered), strings.Join(nos, ", "))

	// A return and a supplement, on the first case 京0106 hands over.
	g := gathered[0]
	d.say("京0106 hands over the dossier of %s; 京0108 finds the valuation report missing and returns it within 15 days; 京0106 imports the report and supplements with a new version; 京0108 fetches the supplemented dossier and files the case.", g.CaseNumber)
	if _, err := other.Workflow().Handover(ctx, g.ID, api.HandoverRequest{OverrideReason: "演示：续行已办理"}); err != nil {
		return err
	}
	if err := demoEverywhere(ctx, nodes, g.ID, cmproto.StateHandedOver); err != nil {
		return err
	}
	if _, err := recv.Workflow().Return(ctx, g.ID, api.ReturnRequest{Missing: []string{"valuation"}, Note: "缺少评估报告"}); err != nil {
		return err
	}
	if err := demoEverywhere(ctx, nodes, g.ID, cmproto.StateReturned); err != nil {
		return err
	}
	caseDir := ""
	for _, c := range ocs {
		if c.Number.String() == g.CaseNumber {
			caseDir = c.Dir
		}
	}
	if err := addDemoDocument(caseDir, "valuation-report", "valuation", "评估报告（补正）"); err != nil {
		return err
	}
	if _, err := importer.Import(ctx, other.Store(), caseDir, importer.Options{}); err != nil {
		return err
	}
	v2, err := other.Workflow().Supplement(ctx, g.ID, api.HandoverRequest{OverrideReason: "演示：续行已办理"})
	if err != nil {
		return err
	}
	if err := demoEverywhere(ctx, nodes, g.ID, cmproto.StateHandedOver); err != nil {
		return err
	}
	p, err := recv.Fetcher().Fetch(ctx, g.ID)
	if err != nil {
		return err
	}
	if err := demoEverywhere(ctx, nodes, g.ID, cmproto.StateReceived); err != nil {
		return err
	}
	d.ok("handover version %d (missing: %s); 京0108 fetched %d chunk(s) of %d, verified, and filed %s", v2.HandoverVersion, strings.Join(v2.Missing, ", "), p.Fetched, p.Chunks, p.NewCase)
	return nil
}

// addDemoDocument adds a document of a kind to a generated case folder
// (a paper the origin found and imports again).
func addDemoDocument(dir, id, kind, title string) error {
	path := filepath.Join(dir, "case.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	docs, _ := m["documents"].([]any)
	m["documents"] = append(docs, map[string]any{"id": id, "kind": kind, "title": title, "file": "docs/" + id + ".pdf"})
	if b, err = json.MarshalIndent(m, "", "  "); err != nil {
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "docs", id+".pdf"), bytes.Repeat([]byte("%PDF-1.4 synthetic valuation report\n"), 2000), 0o644)
}
