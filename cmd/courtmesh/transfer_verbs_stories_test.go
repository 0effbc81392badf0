package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/nodetest"
	cmproto "courtmesh.dev/courtmesh/protocol"
)

// The stories of TestTransferVerbsEndToEnd, each on the one mesh.

// startToConclusion: case 17 of 京0105 (a handover the receiver will
// find incomplete) from 京01's own motion to its conclusion at 京0108.
func (m *verbMesh) startToConclusion(t *testing.T) {
	c := m.cases[16]
	id := m.startAndSupervise(t, c.CaseNumber)
	newCase := m.escalateAndHandOver(t, id)
	m.returnAndSupplement(t, id, filepath.Join(m.dir, c.Supplement), c.Missing)
	m.receiveAndConclude(t, id, newCase)
}

// startAndSupervise: `transfer start` by 京01 on its own motion, naming
// passive enforcement; `transfer supervise` (督促执行); `transfer report`
// by 京0105. It returns the transfer's id.
func (m *verbMesh) startAndSupervise(t *testing.T, cn string) string {
	e, sup, origin := m.e, m.sup, m.origin
	m.refused(t, "a start by a court that is not the origin's superior", exitInvalid, []string{"not a superior court of 京0105"},
		"transfer", "start", "--json", "--data", m.recv.dir, "--case", cn, "--origin", "京0105", "--grounds", "passive")
	m.refused(t, "a start on an unknown ground", exitInvalid, []string{"laziness"},
		"transfer", "start", "--json", "--data", sup.dir, "--case", cn, "--origin", "京0105", "--grounds", "laziness")

	var tr api.Transfer
	e.mustJSON(t, &tr, "transfer", "start", "--json", "--data", sup.dir, "--case", cn, "--origin", "京0105", "--grounds", "passive")
	id := string(tr.ID)
	if tr.State != cmproto.StateOffered || tr.CaseNumber != cn || tr.Superior != "京01" || tr.StartedBy != "own_motion" {
		t.Fatalf("transfer start --json: %s", agreed(tr))
	}
	got := m.everywhere(t, id, "started by 京01 on its own motion", func(tr api.Transfer) bool {
		return tr.State == cmproto.StateOffered && tr.StartedBy == "own_motion" && len(tr.Grounds) == 1 && strings.Contains(strings.ToLower(tr.Grounds[0]), "passive")
	})
	if got.Origin != "京0105" || got.WaitingOn != "京01" {
		t.Fatalf("started: origin %s, waiting on %s", got.Origin, got.WaitingOn)
	}
	m.refused(t, "the origin withdrawing a transfer its superior started", exitInvalid, []string{"cannot withdraw"},
		"transfer", "withdraw", "--data", origin.dir, "--reason", "本院正在执行", id)

	// 督促执行: 京0105 enforces and reports within 30 days.
	number := fmt.Sprintf("（%d）京01执督1号", m.year)
	m.refused(t, "督促 with a date already past", exitInvalid, []string{"before the decision"},
		"transfer", "supervise", "--json", "--data", sup.dir, "--decision", number, "--enforce-by", m.today.AddDate(0, 0, -1).String(), id)
	by := m.today.AddDate(0, 0, 30).String()
	e.mustJSON(t, &tr, "transfer", "supervise", "--json", "--data", sup.dir, "--decision", number, "--enforce-by", by, id)
	if tr.State != cmproto.StateSupervised || tr.Mode != cmproto.ModeSupervised || tr.Supervision == nil || tr.Supervision.EnforceBy != by {
		t.Fatalf("transfer supervise --json: %s", agreed(tr))
	}
	got = m.everywhere(t, id, "under 督促执行", state(cmproto.StateSupervised))
	if got.Mode != cmproto.ModeSupervised || got.Receiver != "" || got.DecisionNumber != number || got.Deadline != by || got.DeadlineFor != "supervised_enforcement" || got.DeadlineCourt != "京0105" {
		t.Fatalf("supervised: %s", agreed(got))
	}

	m.refused(t, "a report by a court that does not hold the case", exitInvalid, []string{"only the origin"},
		"transfer", "report", "--json", "--data", m.recv.dir, "--recovered-fen", "100", "--status", "已查询", id)
	e.mustJSON(t, &tr, "transfer", "report", "--json", "--data", origin.dir, "--recovered-fen", "500000", "--status", "已冻结银行存款并扣划部分款项", id)
	if tr.Supervision == nil || tr.Supervision.Reports != 1 || tr.Supervision.Recovered != 500000 {
		t.Fatalf("transfer report --json: %s", agreed(tr))
	}
	m.everywhere(t, id, "with 京0105's report", func(tr api.Transfer) bool {
		return tr.Supervision != nil && tr.Supervision.Reports == 1 && tr.Supervision.Recovered == 500000 && tr.Supervision.LastStatus != ""
	})
	return id
}

// escalateAndHandOver: 京01 escalates the 督促 to 指令执行 to 京0108
// (`transfer decide`), 京0108 accepts, 京0105 hands over. The deadlines
// are those 京01's decision fixed. It returns 京0108's new case number.
func (m *verbMesh) escalateAndHandOver(t *testing.T, id string) string {
	e, sup, origin, recv := m.e, m.sup, m.origin, m.recv
	var tr api.Transfer
	number := fmt.Sprintf("（%d）京01执监91号", m.year)
	e.mustJSON(t, &tr, "transfer", "decide", "--json", "--data", sup.dir, "--mode", "designated", "--to", "京0108", "--decision", number, id)
	if tr.State != cmproto.StateDecided || tr.Mode != cmproto.ModeDesignated {
		t.Fatalf("transfer decide --json after the 督促: %s", agreed(tr))
	}
	got := m.everywhere(t, id, "escalated to 指令执行", state(cmproto.StateDecided))
	if got.Mode != cmproto.ModeDesignated || got.Receiver != "京0108" || got.DecisionNumber != number || got.Supervision == nil || !got.Supervision.Escalated || got.Supervision.Reports != 1 ||
		got.AcceptBy != lastRecord(t, got, cmproto.KindDecision).AddDate(0, 0, 7).String() || got.DeadlineFor != "acceptance" || got.DeadlineCourt != "京0108" {
		t.Fatalf("escalated: %s", agreed(got))
	}

	newCase := nodetest.CaseNo(time.Now(), "京0108", court.TypeEnforcement, 9101)
	e.mustJSON(t, &tr, "transfer", "accept", "--json", "--data", recv.dir, "--case", newCase, id)
	got = m.everywhere(t, id, "accepted", state(cmproto.StateAccepted))
	// 京01's handover_days (5), not 京0108's (9) nor the default (7).
	if got.NewCaseNumber != newCase || got.HandoverBy != lastRecord(t, got, cmproto.KindAcceptance).AddDate(0, 0, 5).String() || got.DeadlineFor != "handover" || got.DeadlineCourt != "京0105" {
		t.Fatalf("accepted: %s", agreed(got))
	}

	// A supplement before any return; a conclusion before the receipt.
	m.refused(t, "a supplement before any handover", exitConflict, []string{"supplement answers"},
		"transfer", "supplement", "--json", "--data", origin.dir, id)
	e.mustJSON(t, &tr, "transfer", "handover", "--json", "--data", origin.dir, "--recovered-fen", "500000", id)
	if tr.State != cmproto.StateHandedOver || tr.HandoverVersion != 1 || tr.ChunkCount == 0 {
		t.Fatalf("transfer handover --json: %s", agreed(tr))
	}
	got = m.everywhere(t, id, "handed over", state(cmproto.StateHandedOver))
	// 京01's return_days (12), not 京0108's (20) nor the default (15).
	if got.ReturnBy != lastRecord(t, got, cmproto.KindHandover).AddDate(0, 0, 12).String() || got.HandoverRecovered != 500000 || got.BalanceFen != got.ClaimFen-500000 {
		t.Fatalf("handed over: %s", agreed(got))
	}
	m.refused(t, "a conclusion of a case not received", exitConflict, []string{"only the receiver concludes a case it received"},
		"transfer", "conclude", "--json", "--data", recv.dir, "--kind", "ended", id)
	return newCase
}

// returnAndSupplement: 京0108 returns the handover, naming the papers
// missing; 京0105 imports them (`case import` of the supplement folder)
// and supplements the handover.
func (m *verbMesh) returnAndSupplement(t *testing.T, id, supplementDir string, missing []string) {
	e, origin, recv := m.e, m.origin, m.recv
	before := m.e.showJSON(t, origin, id)
	m.refused(t, "a return by the origin", exitInvalid, []string{"only the receiver"},
		"transfer", "return", "--json", "--data", origin.dir, "--missing", strings.Join(missing, ","), id)
	m.refused(t, "a return naming an unknown item", exitInvalid, []string{"passport"},
		"transfer", "return", "--json", "--data", recv.dir, "--missing", "passport", id)
	var tr api.Transfer
	e.mustJSON(t, &tr, "transfer", "return", "--json", "--data", recv.dir, "--missing", strings.Join(missing, ","), "--note", "缺报告财产令及网络查控结果", id)
	if tr.State != cmproto.StateReturned || !slices.Equal(tr.Missing, missing) {
		t.Fatalf("transfer return --json: %s", agreed(tr))
	}
	got := m.everywhere(t, id, "returned", state(cmproto.StateReturned))
	// 京01's supplement_days (25), not 京0108's (40) nor the default (30).
	if !slices.Equal(got.Missing, missing) || got.SupplementBy != lastRecord(t, got, cmproto.KindReturn).AddDate(0, 0, 25).String() ||
		got.Deadline != got.SupplementBy || got.DeadlineFor != "supplement" || got.DeadlineCourt != "京0105" || got.ReturnNote == "" {
		t.Fatalf("returned: %s (note %q)", agreed(got), got.ReturnNote)
	}
	m.refused(t, "a supplement with nothing new", exitConflict, []string{"import the missing papers"},
		"transfer", "supplement", "--json", "--data", origin.dir, id)

	e.must(t, "case", "import", "--data", origin.dir, supplementDir)
	e.mustJSON(t, &tr, "transfer", "supplement", "--json", "--data", origin.dir, "--recovered-fen", "500000", id)
	if tr.State != cmproto.StateHandedOver || tr.HandoverVersion != 2 || tr.ChunkCount <= before.ChunkCount {
		t.Fatalf("transfer supplement --json: %s (version 1 had %d chunks)", agreed(tr), before.ChunkCount)
	}
	got = m.everywhere(t, id, "supplemented", func(tr api.Transfer) bool { return tr.State == cmproto.StateHandedOver && tr.HandoverVersion == 2 })
	if got.SupplementBy != "" || got.ReturnBy != lastRecord(t, got, cmproto.KindSupplement).AddDate(0, 0, 12).String() || string(got.MerkleRoot) == string(before.MerkleRoot) {
		t.Fatalf("supplemented: %s", agreed(got))
	}
}

// receiveAndConclude: 京0108 fetches the supplemented dossier and files
// the case, then concludes it as 终结 (`transfer conclude`).
func (m *verbMesh) receiveAndConclude(t *testing.T, id, newCase string) {
	e, recv := m.e, m.recv
	var p api.FetchProgress
	e.mustJSON(t, &p, "dossier", "fetch", "--json", "--data", recv.dir, id)
	if p.State != "done" || p.NewCase != newCase || p.Verified != p.Chunks {
		t.Fatalf("dossier fetch: %+v", p)
	}
	got := m.everywhere(t, id, "received", state(cmproto.StateReceived))
	filed := lastRecord(t, got, cmproto.KindReceipt)
	if got.InvestigateBy != filed.AddDate(0, 1, 0).String() || got.ConcludeBy != filed.AddDate(0, 6, 0).String() || got.HandoverVersion != 2 {
		t.Fatalf("received: %s", agreed(got))
	}
	if d := m.caseDetail(t, recv, newCase); d.ClaimFen != got.BalanceFen || !containsAll(docKinds(d), m.cases[16].Missing) {
		t.Fatalf("京0108 filed %s with claim %d (balance %d) and documents %v; want the balance and the supplemented %v", newCase, d.ClaimFen, got.BalanceFen, docKinds(d), m.cases[16].Missing)
	}

	m.refused(t, "a conclusion of an unknown kind", exitInvalid, []string{"closure kind"},
		"transfer", "conclude", "--json", "--data", recv.dir, "--kind", "abandoned", id)
	m.refused(t, "a conclusion by the origin", exitConflict, []string{"only the receiver concludes"},
		"transfer", "conclude", "--json", "--data", m.origin.dir, "--kind", "ended", id)
	var tr api.Transfer
	e.mustJSON(t, &tr, "transfer", "conclude", "--json", "--data", recv.dir, "--kind", "ended", "--recovered-fen", "100000", id)
	if tr.State != cmproto.StateClosed || tr.ClosureKind != string(cmproto.ClosureEnded) {
		t.Fatalf("transfer conclude --json: %s", agreed(tr))
	}
	got = m.everywhere(t, id, "concluded as 终结", state(cmproto.StateClosed))
	if got.ClosureKind != string(cmproto.ClosureEnded) || got.AmountRecovered != 100000 {
		t.Fatalf("concluded: %s", agreed(got))
	}
	if d := m.caseDetail(t, recv, newCase); d.Status != string(court.StatusConcluded) {
		t.Errorf("京0108's case %s is %q after 终结, want %q", newCase, d.Status, court.StatusConcluded)
	}
}

func docKinds(d api.CaseDetail) []string {
	var ks []string
	for _, doc := range d.Documents {
		ks = append(ks, doc.Kind)
	}
	return ks
}

// assist: 京0105 asks 京0102 to assist in case 1 without handing it over
// (协同执行); 京0102 takes it on and reports the result. The detail is
// sealed: no court's view of the transfer shows it.
func (m *verbMesh) assist(t *testing.T) {
	e, origin, helper := m.e, m.origin, m.helper
	cn := m.cases[0].CaseNumber
	const detail = "请查询被执行人在本辖区开立的账户 9999000012345678 并冻结其中存款"
	const result = "已冻结账户 9999000012345678 存款 12000.00 元"
	m.refused(t, "a court asking itself to assist", exitInvalid, []string{"itself"},
		"transfer", "assist", "--json", "--data", origin.dir, "--case", cn, "--to", "京0105", "--tasks", "freeze", "--detail", detail)
	var tr api.Transfer
	e.mustJSON(t, &tr, "transfer", "assist", "--json", "--data", origin.dir, "--case", cn, "--to", "京0102", "--tasks", "investigate,freeze", "--detail", detail)
	id := string(tr.ID)
	if tr.State != cmproto.StateAssistRequested || tr.Mode != cmproto.ModeAssisted {
		t.Fatalf("transfer assist --json: %s", agreed(tr))
	}
	got := m.everywhere(t, id, "asking 京0102's assistance", state(cmproto.StateAssistRequested))
	if a := got.Assistance; got.Mode != cmproto.ModeAssisted || got.Receiver != "" || a == nil || a.Court != "京0102" || !slices.Equal(a.Tasks, []string{"investigate", "freeze"}) ||
		a.AnswerBy != m.today.AddDate(0, 0, 7).String() || got.DeadlineFor != "assistance_answer" || got.DeadlineCourt != "京0102" {
		t.Fatalf("assistance requested: %s", agreed(got))
	}
	for _, c := range m.courts {
		if out := e.must(t, "transfer", "show", "--json", "--data", c.dir, id); strings.Contains(out, "9999000012345678") {
			t.Errorf("transfer show on %s shows the sealed detail:\n%s", c.code, out)
		}
	}

	m.refused(t, "an answer by a court not asked", exitInvalid, []string{"only the assisting court"},
		"transfer", "assist-answer", "--json", "--data", m.recv.dir, "--accept", id)
	e.mustJSON(t, &tr, "transfer", "assist-answer", "--json", "--data", helper.dir, "--accept", id)
	if tr.State != cmproto.StateAssisting {
		t.Fatalf("transfer assist-answer --json: %s", agreed(tr))
	}
	got = m.everywhere(t, id, "assisted by 京0102", state(cmproto.StateAssisting))
	if got.Deadline != got.Assistance.Due || got.DeadlineFor != "assistance_result" || got.DeadlineCourt != "京0102" {
		t.Fatalf("assisting: %s", agreed(got))
	}

	m.refused(t, "a result of an unknown outcome", exitInvalid, []string{"finished"},
		"transfer", "assist-result", "--json", "--data", helper.dir, "--outcome", "finished", "--detail", result, id)
	e.mustJSON(t, &tr, "transfer", "assist-result", "--json", "--data", helper.dir, "--outcome", "done", "--recovered-fen", "1200000", "--detail", result, id)
	if tr.State != cmproto.StateClosed {
		t.Fatalf("transfer assist-result --json: %s", agreed(tr))
	}
	got = m.everywhere(t, id, "closed with the assistance's result", state(cmproto.StateClosed))
	if got.Assistance.Outcome != "done" || got.Assistance.Recovered != 1200000 || got.Outcome != "assistance_done" {
		t.Fatalf("assistance done: %s", agreed(got))
	}
	var d api.AssistDetail
	e.mustJSON(t, &d, "transfer", "assist-detail", "--json", "--data", origin.dir, id)
	if d.Request != detail || d.Result != result || d.Outcome != "done" {
		t.Fatalf("transfer assist-detail --json on 京0105: %+v", d)
	}
	m.refused(t, "a third court opening the detail", exitPermission, []string{"not to this court"},
		"transfer", "assist-detail", "--json", "--data", m.recv.dir, id)
}

// request: 京01 records the applicant's request to move a case 京0105
// has not enforced in 6 months (申请变更执行法院), which it must answer
// within its 9 days, and answers it: rejected with reasons.
func (m *verbMesh) request(t *testing.T) {
	e, sup := m.e, m.sup
	cn := m.cases[14].CaseNumber
	filed := m.caseDetail(t, m.origin, cn).Filed
	if f, err := court.ParseDate(filed); err != nil || f.After(m.today.AddDate(0, -6, 0)) {
		t.Fatalf("case 15 (%s) was filed on %q (%v): not 6 months ago, no request can name it", cn, filed, err)
	}
	m.refused(t, "a request for a case filed 2 months before", exitInvalid, []string{"6 months"},
		"transfer", "request", "--json", "--data", sup.dir, "--case", cn, "--origin", "京0105", "--grounds", "long_unexecuted", "--filed", m.today.AddDate(0, -2, 0).String())
	var tr api.Transfer
	e.mustJSON(t, &tr, "transfer", "request", "--json", "--data", sup.dir, "--case", cn, "--origin", "京0105", "--grounds", "long_unexecuted,passive", "--filed", filed)
	id := string(tr.ID)
	if tr.State != cmproto.StateOffered || tr.StartedBy != "applicant_request" {
		t.Fatalf("transfer request --json: %s", agreed(tr))
	}
	answerBy := m.today.AddDate(0, 0, 9).String() // 京01's request_answer_days
	got := m.everywhere(t, id, "requested by the applicant", state(cmproto.StateOffered))
	if got.StartedBy != "applicant_request" || got.RequestedOn != m.today.String() || got.AnswerBy != answerBy || len(got.Grounds) != 2 ||
		got.Deadline != answerBy || got.DeadlineFor != "decision" || got.DeadlineCourt != "京01" {
		t.Fatalf("requested: %s", agreed(got))
	}

	// The answer: 京01 rejects the request with its reasons.
	const reason = "经审查，执行法院已采取有效措施"
	m.refused(t, "the origin withdrawing the applicant's request", exitInvalid, []string{"cannot withdraw"},
		"transfer", "withdraw", "--json", "--data", m.origin.dir, "--reason", "本院正在执行", id)
	e.mustJSON(t, &tr, "transfer", "reject", "--json", "--data", sup.dir, "--reason", reason, id)
	if tr.State != cmproto.StateRejected {
		t.Fatalf("transfer reject --json: %s", agreed(tr))
	}
	got = m.everywhere(t, id, "answered", state(cmproto.StateRejected))
	if got.Reason != reason || got.AnswerBy != answerBy {
		t.Fatalf("answered: %s", agreed(got))
	}
}

// gather: 京0105 offers cases 3 and 4, of one debtor, to 京01, which
// finds them by the sealed match key and gathers them into 京0108 by one
// decision (集中执行).
func (m *verbMesh) gather(t *testing.T) {
	e, sup, origin := m.e, m.sup, m.origin
	var ids []string
	for _, c := range m.cases[2:4] {
		var tr api.Transfer
		e.mustJSON(t, &tr, "transfer", "offer", "--json", "--data", origin.dir, "--case", c.CaseNumber, "--superior", "京01", "--grounds", "serial_cases")
		ids = append(ids, string(tr.ID))
	}
	for _, id := range ids {
		m.everywhere(t, id, "offered", state(cmproto.StateOffered))
	}
	var same []string
	e.mustJSON(t, &same, "transfer", "gather", "--json", "--data", sup.dir, "--match", ids[0])
	if len(same) != 2 || same[0] != ids[0] || same[1] != ids[1] {
		t.Fatalf("transfer gather --match %s: %v, want %v", ids[0], same, ids)
	}
	m.refused(t, "another court matching debtors", exitPermission, []string{"only the superior asked"},
		"transfer", "gather", "--json", "--data", m.recv.dir, "--match", ids[0])
	number := fmt.Sprintf("（%d）京01执集1号", m.year)
	m.refused(t, "gathering into a court whose own cases are among them", exitInvalid, []string{"leave it out"},
		"transfer", "gather", "--json", "--data", sup.dir, "--to", "京0105", "--decision", number, ids[0], ids[1])

	var ts []api.Transfer
	e.mustJSON(t, &ts, "transfer", "gather", "--json", "--data", sup.dir, "--to", "京0108", "--decision", number, ids[0], ids[1])
	if len(ts) != 2 {
		t.Fatalf("transfer gather --json decided %d transfers, want 2", len(ts))
	}
	want := slices.Sorted(slices.Values(ids))
	for _, id := range ids {
		got := m.everywhere(t, id, "gathered into 京0108", state(cmproto.StateDecided))
		var gathered []string
		for _, g := range got.Gathered {
			gathered = append(gathered, string(g))
		}
		if got.Mode != cmproto.ModeGathered || got.Receiver != "京0108" || got.DecisionNumber != number || !slices.Equal(gathered, want) ||
			got.AcceptBy == "" || got.DeadlineFor != "acceptance" || got.DeadlineCourt != "京0108" {
			t.Fatalf("gathered: %s", agreed(got))
		}
	}
}
