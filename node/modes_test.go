package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/config"
	"courtmesh.dev/courtmesh/node/dashboard"
	"courtmesh.dev/courtmesh/node/datadir"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/storage/gen"
	"courtmesh.dev/courtmesh/storage/importer"
)

// importCases generates count cases of court code (seed 7, the data's
// today ref) into its store and returns their numbers in the generator's
// order: cases 2 to 13 of every court are against one debtor (gen's
// gathered debtor), whatever the court.
func (s *scenario) importCases(code court.CourtCode, count int, ref court.Date) []court.CaseNumber {
	s.t.Helper()
	cs, err := gen.Generate(filepath.Join(s.t.TempDir(), "cases"), gen.Options{Cases: count, Seed: 7, Court: code, RefDate: ref})
	if err != nil {
		s.t.Fatal(err)
	}
	var out []court.CaseNumber
	for _, c := range cs {
		if _, err := importer.Import(context.Background(), s.as(code).Store(), c.Dir, importer.Options{}); err != nil {
			s.t.Fatal(err)
		}
		out = append(out, c.Number)
	}
	return out
}

// noneHolds fails the test if any node's stored transfer id holds text.
func (s *scenario) noneHolds(id court.TransferID, text, what string) {
	s.t.Helper()
	for _, n := range s.tm.nodes {
		b, err := n.Store().Transfer(string(id))
		if err != nil {
			s.t.Fatal(err)
		}
		if bytes.Contains(b, []byte(text)) {
			s.t.Fatalf("%s holds %s in clear in transfer %s", n.Status().CourtCode, what, id)
		}
	}
}

// TestSupervisedEnforcement (督促执行): 京01, supervising, orders 京0105
// to enforce two cases by a date; the case stays with 京0105, which
// reports. One case it concludes in time; the other it lets the date
// pass: every node lists it overdue, 京0105 is alerted, and 京01
// escalates it to 指令执行 to 京0108, which files it. Every court's clock
// starts two months behind and then catches up with the calendar.
func TestSupervisedEnforcement(t *testing.T) {
	var offset atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	start := time.Now()
	offset.Store(int64(start.AddDate(0, -2, 0).Sub(start)))
	courts := scenarioCourts()
	tm := startCourtsAt(t, courts, clock(), func(i int, o *node.Options) {
		cfg, err := config.Load(o.Dir.Path(datadir.ConfigFile))
		if err != nil {
			t.Fatal(err)
		}
		cfg.SyncInterval.Duration = time.Second
		o.Config, o.Now = &cfg, clock
	})
	s := &scenario{t: t, tm: tm, by: map[court.CourtCode]*node.Node{}}
	for i, c := range tm.Courts {
		s.by[c.Code] = tm.nodes[i]
	}
	ctx := context.Background()
	cs := s.importCases("京0105", 3, court.DateOf(clock()))
	sup, origin := s.as("京01").Workflow(), s.as("京0105").Workflow()
	today := court.DateOf(clock())
	year := itoa(today.Year)

	// As 京01, open both cases on its own motion (supervision).
	a := must(t)(sup.Start(ctx, api.StartRequest{CaseNumber: cs[0].String(), Origin: "京0105", Grounds: []string{"passive"}, Source: "supervision"})).ID
	b := must(t)(sup.Start(ctx, api.StartRequest{CaseNumber: cs[1].String(), Origin: "京0105", Grounds: []string{"passive"}, Source: "supervision"})).ID
	s.expectEverywhere(a, cmproto.StateOffered)
	s.expectEverywhere(b, cmproto.StateOffered)

	// Refusals: a court other than the superior asked; no date; a date
	// already past; a report before any 督促.
	_, err := s.as("京").Workflow().Supervise(ctx, a, api.SuperviseRequest{DecisionNumber: "（" + year + "）京执督1号", EnforceBy: today.AddDate(0, 0, 30).String()})
	refused(t, "督促 by a court the transfer does not ask", err, court.ErrInvalid, "京01")
	_, err = sup.Supervise(ctx, a, api.SuperviseRequest{DecisionNumber: "（" + year + "）京01执督1号"})
	refused(t, "督促 without a date", err, court.ErrInvalid, "enforce_by")
	_, err = sup.Supervise(ctx, a, api.SuperviseRequest{DecisionNumber: "（" + year + "）京01执督1号", EnforceBy: today.AddDate(0, 0, -1).String()})
	refused(t, "督促 with a date already past", err, court.ErrInvalid, "before the decision")
	_, err = origin.Report(ctx, a, api.SupervisionReportRequest{AmountRecoveredFen: 1, Status: "已查询银行账户"})
	refused(t, "a report before the 督促 decision", err, court.ErrUnavailable, "held")

	// As 京01, decide 督促执行: 京0105 enforces and reports within 30 days.
	by := today.AddDate(0, 0, 30).String()
	for i, id := range []court.TransferID{a, b} {
		tr := must(t)(sup.Supervise(ctx, id, api.SuperviseRequest{DecisionNumber: fmt.Sprintf("（%s）京01执督%d号", year, i+1), EnforceBy: by}))
		if tr.Mode != cmproto.ModeSupervised || tr.Receiver != "" || tr.Supervision.EnforceBy != by {
			t.Fatalf("督促 gave mode %s, receiver %q, %+v", tr.Mode, tr.Receiver, tr.Supervision)
		}
		s.expectEverywhere(id, cmproto.StateSupervised)
		s.agreeEverywhere(id)
		s.sameView(id, "supervised_enforcement", "京0105", by)
	}
	_, err = sup.Supervise(ctx, a, api.SuperviseRequest{DecisionNumber: "（" + year + "）京01执督9号", EnforceBy: by})
	refused(t, "a second 督促 of the same case", err, court.ErrConflict, "督促执行")

	// The case stays with 京0105: no other court reports, receives or
	// concludes; 终本 and 销案 are no report's kind.
	_, err = s.as("京0108").Workflow().Report(ctx, a, api.SupervisionReportRequest{AmountRecoveredFen: 1, Status: "已查询"})
	refused(t, "a report by a court that does not hold the case", err, court.ErrInvalid, "only the origin")
	_, err = s.as("京0108").Workflow().Progress(ctx, a, api.ProgressRequest{AmountRecoveredFen: 1})
	refused(t, "progress by another court under 督促", err, court.ErrConflict, "supervised")
	_, err = origin.Withdraw(ctx, a, "本院正在执行")
	refused(t, "the origin withdrawing under 督促", err, court.ErrConflict, "supervised")
	_, err = origin.Report(ctx, a, api.SupervisionReportRequest{AmountRecoveredFen: 1, Status: "已终本", Kind: "terminal"})
	refused(t, "a report closing by 终本", err, court.ErrInvalid, "终本")

	// As 京0105, report progress on A, then (after the first) a report
	// claiming less recovered is refused.
	tr := must(t)(origin.Report(ctx, a, api.SupervisionReportRequest{AmountRecoveredFen: 5_000_00, Status: "已冻结银行存款并扣划部分款项"}))
	if tr.Supervision.Reports != 1 || tr.Supervision.Recovered != 5_000_00 {
		t.Fatalf("after the report: %+v", tr.Supervision)
	}
	_, err = origin.Report(ctx, a, api.SupervisionReportRequest{AmountRecoveredFen: 1_000_00, Status: "继续执行中"})
	refused(t, "a report stating less recovered than before", err, court.ErrInvalid, "less than")
	// As 京0105, conclude B under 督促: 执行完毕.
	tr = must(t)(origin.Report(ctx, b, api.SupervisionReportRequest{AmountRecoveredFen: 9_000_00, Status: "被执行人已全部履行", Kind: "fulfilled"}))
	if tr.State != cmproto.StateClosed || tr.ClosureKind != cmproto.ClosureFulfilled {
		t.Fatalf("B after the closing report: %s %s", tr.State, tr.ClosureKind)
	}
	s.expectEverywhere(b, cmproto.StateClosed)
	gotB := s.agreeEverywhere(b)
	if st := dashboard.Contribution(gotB, 30); st["mode/"+cmproto.ModeSupervised] != 1 || st["closure/执行完毕"] != 1 {
		t.Fatalf("statistics of B %v: the 督促 and its 执行完毕 are not counted", st)
	}
	s.expectEverywhere(a, cmproto.StateSupervised)
	s.agreeEverywhere(a)

	// Two months pass: A is past its date. Every node lists it overdue,
	// and 京0105 is alerted.
	travel(t, tm, clock, &offset, start)
	for _, n := range s.tm.nodes {
		page, _, err := n.Workflow().List(ctx, api.TransferQuery{Overdue: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) != 1 || page[0].ID != a || page[0].DeadlineFor != "supervised_enforcement" || page[0].DeadlineCourt != "京0105" || page[0].Deadline != by {
			t.Fatalf("%s lists overdue %+v, want only A (supervised_enforcement by %s of 京0105)", n.Status().CourtCode, page, by)
		}
	}
	alerted := false
	for _, al := range s.as("京").Health().AllAlerts(ctx) {
		alerted = alerted || (al.Kind == "supervision_overdue" && al.Transfer == string(a) && al.Court == "京0105")
	}
	if !alerted {
		t.Error("no supervision_overdue alert to 京0105")
	}

	// As 京01, escalate: 指令执行 to 京0108, which accepts and files it.
	year = itoa(court.DateOf(clock()).Year)
	must(t)(sup.Decide(ctx, a, api.DecideRequest{Mode: "designated", Receiver: "京0108", DecisionNumber: "（" + year + "）京01执监91号"}))
	s.expectEverywhere(a, cmproto.StateDecided)
	must(t)(s.as("京0108").Workflow().Accept(ctx, a, api.AcceptRequest{NewCaseNumber: "（" + year + "）京0108执91号"}))
	s.expectEverywhere(a, cmproto.StateAccepted)
	recovered := int64(5_000_00)
	must(t)(origin.Handover(ctx, a, api.HandoverRequest{OverrideReason: "测试：续行已办理", AmountRecoveredFen: &recovered}))
	s.expectEverywhere(a, cmproto.StateHandedOver)
	if _, err := s.as("京0108").Fetcher().Fetch(ctx, a); err != nil {
		t.Fatal(err)
	}
	s.expectEverywhere(a, cmproto.StateReceived)
	got := s.agreeEverywhere(a)
	if got.Mode != cmproto.ModeDesignated || !got.Supervision.Escalated || !got.Supervision.Overdue || got.Supervision.Reports != 1 || got.HandoverRecovered != 5_000_00 {
		t.Fatalf("every node holds mode %s, supervision %+v, recovered at handover %d", got.Mode, got.Supervision, got.HandoverRecovered)
	}
	s.agreeEverywhere(b)
}

// travel moves every court's clock to at and gives the mesh a trust
// bundle in force then.
func travel(t *testing.T, tm *testMesh, clock func() time.Time, offset *atomic.Int64, at time.Time) {
	t.Helper()
	offset.Store(int64(at.Sub(time.Now())))
	bnd, err := tm.CA.Bundle(clock(), 30*24*time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range tm.nodes {
		if _, err := n.InstallBundleRaw(context.Background(), bnd.Raw, bnd.Head); err != nil {
			t.Fatal(err)
		}
	}
	connectAll(t, tm.nodes)
}

// TestAssistanceRequest (协同执行): 京0105 asks 京0102, in another
// district, to investigate and freeze for one of its cases without
// handing it over. The detail travels sealed to the two courts only;
// 京0102 answers, acts and reports the result, sealed back. A second
// request is declined with reasons.
func TestAssistanceRequest(t *testing.T) {
	s := newScenario(t)
	ctx := context.Background()
	cs := s.importCases("京0105", 2, court.DateOf(time.Now()))
	origin, helper := s.as("京0105").Workflow(), s.as("京0102").Workflow()
	const detail = "请查询被执行人在本辖区开立的账户 9999000012345678 并冻结其中存款"
	const result = "已冻结账户 9999000012345678 存款 12000.00 元，冻结期限一年"

	// Refusals: an unknown task; asking itself; no detail; another
	// court's case.
	_, err := origin.Assist(ctx, api.AssistRequest{CaseNumber: cs[0].String(), Court: "京0102", Tasks: []string{"arrest"}, Detail: detail})
	refused(t, "a request naming an unknown task", err, court.ErrInvalid, "arrest")
	_, err = origin.Assist(ctx, api.AssistRequest{CaseNumber: cs[0].String(), Court: "京0105", Tasks: []string{"freeze"}, Detail: detail})
	refused(t, "a court asking itself", err, court.ErrInvalid, "itself")
	_, err = origin.Assist(ctx, api.AssistRequest{CaseNumber: cs[0].String(), Court: "京0102", Tasks: []string{"freeze"}})
	refused(t, "a request without its detail", err, court.ErrInvalid, "detail")
	_, err = s.as("京0108").Workflow().Assist(ctx, api.AssistRequest{CaseNumber: cs[0].String(), Court: "京0102", Tasks: []string{"freeze"}, Detail: detail})
	refused(t, "a request for another court's case", err, court.ErrInvalid, "京0105")

	// As 京0105, ask 京0102 to investigate and freeze.
	tr := must(t)(origin.Assist(ctx, api.AssistRequest{CaseNumber: cs[0].String(), Court: "京0102", Tasks: []string{"investigate", "freeze"}, Detail: detail}))
	id := tr.ID
	s.expectEverywhere(id, cmproto.StateAssistRequested)
	got := s.agreeEverywhere(id)
	if got.Mode != cmproto.ModeAssisted || got.Origin != "京0105" || got.Receiver != "" || got.Assistance.Court != "京0102" || !slices.Equal(got.Assistance.Tasks, []string{"investigate", "freeze"}) {
		t.Fatalf("every node holds mode %s, origin %s, receiver %q, %+v", got.Mode, got.Origin, got.Receiver, got.Assistance)
	}
	s.sameView(id, "assistance_answer", "京0102", got.Assistance.AnswerBy)
	s.noneHolds(id, "9999000012345678", "the account number")
	// Only the two courts open the detail; the answer is the asked court's.
	_, err = s.as("京0108").Workflow().AssistDetail(ctx, id)
	refused(t, "a third court opening the detail", err, court.ErrPermission, "not to this court")
	_, err = s.as("京0108").Workflow().AnswerAssist(ctx, id, api.AssistAnswerRequest{Accept: true})
	refused(t, "an answer by a court not asked", err, court.ErrInvalid, "only the assisting court")
	_, err = helper.AssistResult(ctx, id, api.AssistResultRequest{Outcome: "done", Detail: result})
	refused(t, "a result before the answer", err, court.ErrUnavailable, "held")
	seq := auditHead(t, s.as("京0102"))
	d, err := helper.AssistDetail(ctx, id)
	if err != nil || d.Request != detail {
		t.Fatalf("京0102 opens %q, %v", d.Request, err)
	}
	reads := 0
	for _, e := range auditAfter(t, s.as("京0102"), seq) {
		if e.Event == "assistance.read" && e.Transfer == string(id) && e.Outcome == "ok" {
			reads++
		}
	}
	if reads != 1 {
		t.Fatalf("京0102's audit log holds %d reads of the detail, want 1", reads)
	}

	// As 京0102, take it on, act, report the result.
	must(t)(helper.AnswerAssist(ctx, id, api.AssistAnswerRequest{Accept: true}))
	s.expectEverywhere(id, cmproto.StateAssisting)
	s.sameView(id, "assistance_result", "京0102", got.Assistance.Due)
	_, err = helper.AnswerAssist(ctx, id, api.AssistAnswerRequest{Accept: true})
	refused(t, "a second answer", err, court.ErrConflict, "already answered")
	_, err = helper.AssistResult(ctx, id, api.AssistResultRequest{Outcome: "finished", Detail: result})
	refused(t, "an unknown outcome", err, court.ErrInvalid, "finished")
	must(t)(helper.AssistResult(ctx, id, api.AssistResultRequest{Outcome: "done", AmountRecoveredFen: 12_000_00, Detail: result}))
	s.expectEverywhere(id, cmproto.StateClosed)
	got = s.agreeEverywhere(id)
	if got.Assistance.Outcome != "done" || got.Assistance.Recovered != 12_000_00 || got.Outcome != "assistance_done" {
		t.Fatalf("every node holds %+v, outcome %s", got.Assistance, got.Outcome)
	}
	s.noneHolds(id, "9999000012345678", "the account number")
	d, err = origin.AssistDetail(ctx, id)
	if err != nil || d.Result != result || d.Outcome != "done" {
		t.Fatalf("京0105 opens the result %q (%s), %v", d.Result, d.Outcome, err)
	}
	if st := dashboard.Contribution(got, 30); st["mode/"+cmproto.ModeAssisted] != 1 || st["rcv/京0102/designated"] != 0 {
		t.Fatalf("statistics %v: the 协同 is not counted as a mode, or counted as a move", st)
	}

	// A second request, declined with reasons (a reason is required).
	tr = must(t)(origin.Assist(ctx, api.AssistRequest{CaseNumber: cs[1].String(), Court: "京0102", Tasks: []string{"serve"}, Detail: "请向被执行人送达执行通知书"}))
	s.expectEverywhere(tr.ID, cmproto.StateAssistRequested)
	_, err = helper.AnswerAssist(ctx, tr.ID, api.AssistAnswerRequest{})
	refused(t, "declining without a reason", err, court.ErrInvalid, "reason")
	must(t)(helper.AnswerAssist(ctx, tr.ID, api.AssistAnswerRequest{Reason: "本院近期警力不足，请另行委托"}))
	s.expectEverywhere(tr.ID, cmproto.StateRejected)
	s.agreeEverywhere(tr.ID)
	s.agreeEverywhere(id)
}

// TestGatheredEnforcement (集中执行): 12 cases against one debtor sit in
// three courts (京0105, 京0108, 京0102); each offers them to 京 with the
// debtor's match key sealed to 京 alone. 京 finds them by that key and
// gathers all 12 into 京02 by one decision; every case is accepted,
// handed over and filed there. The debtor's identity number never
// travels in clear.
func TestGatheredEnforcement(t *testing.T) {
	s := newScenario(t)
	ctx := context.Background()
	today := court.DateOf(time.Now())
	year := itoa(today.Year)
	origins := []court.CourtCode{"京0105", "京0108", "京0102"}
	var ids []court.TransferID
	var other court.TransferID
	byID := map[court.TransferID]court.CourtCode{}
	var debtorID string
	for _, o := range origins {
		cs := s.importCases(o, 6, today)
		for i, cn := range cs[:6] {
			if i == 1 {
				continue
			}
			tr := must(t)(s.as(o).Workflow().Offer(ctx, api.OfferRequest{CaseNumber: cn.String(), Superior: "京", Grounds: []string{"serial_cases"}}))
			if len(tr.DebtorMatch) == 0 {
				t.Fatalf("the offer of %s carries no debtor match key", cn)
			}
			if i == 0 {
				if o == "京0105" {
					other = tr.ID // a case against another debtor
				}
				continue
			}
			ids = append(ids, tr.ID)
			byID[tr.ID] = o
			if debtorID == "" {
				var err error
				if debtorID, err = s.as(o).Store().PartyID(cn, "p2"); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if len(ids) != 12 {
		t.Fatalf("%d cases against the gathered debtor, want 12", len(ids))
	}
	for _, id := range append(slices.Clone(ids), other) {
		s.expectEverywhere(id, cmproto.StateOffered)
		s.noneHolds(id, debtorID, "the debtor's identity number")
	}

	// As 京, find the debtor's cases by the match key of one of them.
	hi := s.as("京").Workflow()
	same, err := hi.SameDebtor(ctx, ids[5])
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(ids)
	slices.Sort(want)
	if same[0] != ids[5] || !slices.Equal(slices.Sorted(slices.Values(same)), want) {
		t.Fatalf("same debtor as %s: %v, want the 12 %v", ids[5], same, want)
	}
	_, err = s.as("京01").Workflow().SameDebtor(ctx, ids[0])
	refused(t, "another court matching debtors", err, court.ErrPermission, "only the superior asked")

	// Refusals: a case of another debtor; gathering into one of the
	// origins; a court the offers do not ask; a single case.
	number := "（" + year + "）京执集1号"
	strs := func(ts []court.TransferID) []string {
		var out []string
		for _, id := range ts {
			out = append(out, string(id))
		}
		return out
	}
	_, err = hi.Gather(ctx, api.GatherRequest{Transfers: strs(append(slices.Clone(ids), other)), Receiver: "京02", DecisionNumber: number})
	refused(t, "gathering a case of another debtor", err, court.ErrInvalid, string(other), "another debtor")
	_, err = hi.Gather(ctx, api.GatherRequest{Transfers: strs(ids), Receiver: "京0105", DecisionNumber: number})
	refused(t, "gathering into a court whose own cases are among them", err, court.ErrInvalid, "leave it out")
	_, err = s.as("京02").Workflow().Gather(ctx, api.GatherRequest{Transfers: strs(ids), Receiver: "京02", DecisionNumber: number})
	refused(t, "gathering by a court the offers do not ask", err, court.ErrPermission, "京")
	_, err = hi.Gather(ctx, api.GatherRequest{Transfers: strs(ids[:1]), Receiver: "京02", DecisionNumber: number})
	refused(t, "gathering one case", err, court.ErrInvalid, "at least 2")
	for _, id := range ids {
		if tr, err := hi.Transfer(id); err != nil || tr.State != cmproto.StateOffered {
			t.Fatalf("after the refusals %s is %s (%v), want offered", id, tr.State, err)
		}
	}

	// As 京, gather the 12 into 京02 by one decision.
	ts, err := hi.Gather(ctx, api.GatherRequest{Transfers: strs(ids), Receiver: "京02", DecisionNumber: number})
	if err != nil || len(ts) != 12 {
		t.Fatalf("gather: %d decided, %v", len(ts), err)
	}
	for _, id := range ids {
		s.expectEverywhere(id, cmproto.StateDecided)
		got := s.agreeEverywhere(id)
		if got.Mode != cmproto.ModeGathered || got.Receiver != "京02" || got.DecisionNumber != number || !slices.Equal(got.Gathered, want) {
			t.Fatalf("every node holds %s: mode %s to %s by %s, gathered %v", id, got.Mode, got.Receiver, got.DecisionNumber, got.Gathered)
		}
	}
	_, err = s.as("京0105").Workflow().Offer(ctx, api.OfferRequest{CaseNumber: "", Superior: "京"})
	if err == nil {
		t.Fatal("an offer without a case was accepted")
	}

	// As 京02, accept each under its own number; each origin hands over;
	// 京02 files each with its balance.
	recv := s.as("京02")
	for i, id := range ids {
		must(t)(recv.Workflow().Accept(ctx, id, api.AcceptRequest{NewCaseNumber: fmt.Sprintf("（%s）京02执%d号", year, 700+i)}))
	}
	for _, id := range ids {
		s.expectEverywhere(id, cmproto.StateAccepted)
		must(t)(s.as(byID[id]).Workflow().Handover(ctx, id, api.HandoverRequest{OverrideReason: "测试：续行已办理"}))
	}
	var claimed int64
	for _, id := range ids {
		s.expectEverywhere(id, cmproto.StateHandedOver)
		if _, err := recv.Fetcher().Fetch(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range ids {
		s.expectEverywhere(id, cmproto.StateReceived)
		got := s.agreeEverywhere(id)
		if got.BalanceFen <= 0 || got.Receiver != "京02" {
			t.Fatalf("%s received by %s with balance %d", id, got.Receiver, got.BalanceFen)
		}
		claimed += dashboard.Contribution(got, 30)["rcv/京02/claimed"]
		if st := dashboard.Contribution(got, 30); st["mode/"+cmproto.ModeGathered] != 1 {
			t.Fatalf("statistics of %s %v do not count the 集中", id, st)
		}
		s.noneHolds(id, debtorID, "the debtor's identity number")
	}
	if claimed <= 0 {
		t.Fatal("京02 claims nothing from the gathered cases")
	}
	s.agreeEverywhere(other)
}

// TestReceiverRefusesToSuperior: the receiver refuses a handed-over case
// with reasons to the superior, which rules: it upholds the designation
// (the receiver then files the case), designates another court (here
// itself, 提级执行), or sets its decision aside (the case stays with the
// origin).
func TestReceiverRefusesToSuperior(t *testing.T) {
	s := newScenario(t)
	ctx := context.Background()
	safe, expiring := s.cases("京0105", 6)
	cases := append(safe, expiring...)
	year := itoa(court.DateOf(time.Now()).Year)
	recv, sup := s.as("京0108").Workflow(), s.as("京01").Workflow()
	var ids []court.TransferID
	for _, cn := range cases[:3] {
		ids = append(ids, s.handedOver(t, cn))
	}
	_, err := s.as("京0105").Workflow().Reject(ctx, ids[0], "不同意")
	refused(t, "the origin refusing its own handover", err, court.ErrInvalid, "may not decline")
	for _, id := range ids {
		must(t)(recv.Reject(ctx, id, "案件与本院辖区无关联，且被执行人财产均在外地"))
	}
	for _, id := range ids {
		s.expectEverywhere(id, cmproto.StateRefused)
		got := s.agreeEverywhere(id)
		if got.Refusal == nil || got.Refusal.By != "京0108" || got.Refusal.RuleBy == "" {
			t.Fatalf("every node holds refusal %+v", got.Refusal)
		}
		s.sameView(id, "refusal_ruling", "京01", got.Refusal.RuleBy)
	}
	_, err = recv.Reject(ctx, ids[0], "再次拒收")
	refused(t, "refusing twice", err, court.ErrInvalid, "refused")
	_, err = s.as("京0108").Fetcher().Fetch(ctx, ids[0])
	if err == nil {
		t.Fatal("a refused dossier was fetched")
	}
	_, err = s.as("京").Workflow().Decide(ctx, ids[0], api.DecideRequest{Mode: "designated", Receiver: "京0108", DecisionNumber: "（" + year + "）京执监1号"})
	refused(t, "a ruling by a court other than the decider", err, court.ErrInvalid, "only the decider")

	// Upheld: 京0108 files the case after all.
	must(t)(sup.Decide(ctx, ids[0], api.DecideRequest{Mode: "designated", Receiver: "京0108", DecisionNumber: "（" + year + "）京01执监61号"}))
	s.expectEverywhere(ids[0], cmproto.StateHandedOver)
	if _, err := s.as("京0108").Fetcher().Fetch(ctx, ids[0]); err != nil {
		t.Fatal(err)
	}
	s.expectEverywhere(ids[0], cmproto.StateReceived)
	if got := s.agreeEverywhere(ids[0]); got.Refusal.Ruling != "upheld" {
		t.Fatalf("ruling %q, want upheld", got.Refusal.Ruling)
	}
	// Re-designated: 京01 takes the case itself; it is accepted and
	// handed over anew; 京0108's grant is gone.
	must(t)(sup.Decide(ctx, ids[1], api.DecideRequest{Mode: "elevated", DecisionNumber: "（" + year + "）京01执监62号"}))
	s.expectEverywhere(ids[1], cmproto.StateDecided)
	must(t)(sup.Accept(ctx, ids[1], api.AcceptRequest{NewCaseNumber: "（" + year + "）京01执62号"}))
	s.expectEverywhere(ids[1], cmproto.StateAccepted)
	must(t)(s.as("京0105").Workflow().Handover(ctx, ids[1], api.HandoverRequest{OverrideReason: "测试：续行已办理"}))
	s.expectEverywhere(ids[1], cmproto.StateHandedOver)
	if _, err := s.as("京01").Fetcher().Fetch(ctx, ids[1]); err != nil {
		t.Fatal(err)
	}
	s.expectEverywhere(ids[1], cmproto.StateReceived)
	if got := s.agreeEverywhere(ids[1]); got.Refusal.Ruling != "redesignated" || got.Receiver != "京01" || slices.Contains(got.Readers, "京0108") {
		t.Fatalf("ruling %q, receiver %s, readers %v", got.Refusal.Ruling, got.Receiver, got.Readers)
	}
	// Set aside: the case stays with 京0105.
	must(t)(sup.Reject(ctx, ids[2], "撤销指定执行决定，由原执行法院继续执行"))
	s.expectEverywhere(ids[2], cmproto.StateRejected)
	if got := s.agreeEverywhere(ids[2]); got.Refusal.Ruling != "set_aside" {
		t.Fatalf("ruling %q, want set_aside", got.Refusal.Ruling)
	}
}

// TestOtherCourtsMeasuresDoNotBlock: the 30-day guard counts only the
// measures the origin can renew. A case in a waiting line behind another
// court's seizure that expires in 10 days is offered (the offer
// announces that expiry apart, flagged) and handed over without an
// override; the other court's measure is named in the audit log. (The
// origin's own measures within the guard still block: TestTransferRefusals.)
func TestOtherCourtsMeasuresDoNotBlock(t *testing.T) {
	s := newScenario(t)
	ctx := context.Background()
	today := court.DateOf(time.Now())
	// Find generated data whose waiting-line case has only own measures
	// beyond the guard, then bring the other court's first seizure to 10
	// days from expiry. Bounded and deterministic: the seeds are fixed.
	var dir string
	var cn court.CaseNumber
	for seed := uint64(1); seed <= 60 && dir == ""; seed++ {
		out := filepath.Join(t.TempDir(), "cases")
		cs, err := gen.Generate(out, gen.Options{Cases: 2, Seed: seed, Court: "京0105", RefDate: today})
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(cs[1].Dir, "case.json")
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var f map[string]any
		if err := json.Unmarshal(b, &f); err != nil {
			t.Fatal(err)
		}
		ok, other := true, false
		for _, m := range f["measures"].([]any) {
			m := m.(map[string]any)
			exp, _ := m["expiry"].(string)
			if exp == "" || m["status"] != string(court.MeasureActive) {
				continue
			}
			e, err := court.ParseDate(exp)
			if err != nil {
				t.Fatal(err)
			}
			if m["court"] == "京0105" && today.DaysUntil(e) <= 40 {
				ok = false
			}
			if m["court"] != "京0105" && !other {
				m["expiry"], other = today.AddDate(0, 0, 10).String(), true
			}
		}
		if !ok || !other {
			continue
		}
		if b, err = json.Marshal(f); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		dir, cn = cs[1].Dir, cs[1].Number
	}
	if dir == "" {
		t.Fatal("no generated waiting-line case with the origin's own measures beyond the guard")
	}
	if _, err := importer.Import(ctx, s.as("京0105").Store(), dir, importer.Options{}); err != nil {
		t.Fatal(err)
	}
	ms, err := s.as("京0105").Store().Measures(cn)
	if err != nil {
		t.Fatal(err)
	}
	var held court.Measure
	for _, m := range ms {
		if m.Running() && !m.RenewableBy("京0105") {
			held = m
		}
	}
	if held.ID == "" || today.DaysUntil(held.Expiry) != 10 {
		t.Fatalf("the imported case holds no other court's measure 10 days from expiry: %+v", held)
	}

	tr := must(t)(s.as("京0105").Workflow().Offer(ctx, api.OfferRequest{CaseNumber: cn.String(), Superior: "京01", Grounds: []string{"serial_cases"}}))
	if tr.EarliestOtherCourt != held.Expiry.String() || tr.EarliestExpiry == held.Expiry.String() {
		t.Fatalf("the offer announces own %s, other courts' %s; want the other court's %s apart", tr.EarliestExpiry, tr.EarliestOtherCourt, held.Expiry)
	}
	id := tr.ID
	s.expectEverywhere(id, cmproto.StateOffered)
	if got := s.agreeEverywhere(id); got.EarliestOtherCourt != held.Expiry.String() {
		t.Fatalf("every node holds %q", got.EarliestOtherCourt)
	}
	year := itoa(today.Year)
	must(t)(s.as("京01").Workflow().Decide(ctx, id, api.DecideRequest{Mode: "designated", Receiver: "京0108", DecisionNumber: "（" + year + "）京01执监81号"}))
	s.expectEverywhere(id, cmproto.StateDecided)
	must(t)(s.as("京0108").Workflow().Accept(ctx, id, api.AcceptRequest{NewCaseNumber: "（" + year + "）京0108执81号"}))
	s.expectEverywhere(id, cmproto.StateAccepted)
	seq := auditHead(t, s.as("京0105"))
	must(t)(s.as("京0105").Workflow().Handover(ctx, id, api.HandoverRequest{}))
	s.expectEverywhere(id, cmproto.StateHandedOver)
	flagged := false
	for _, e := range auditAfter(t, s.as("京0105"), seq) {
		flagged = flagged || (e.Event == "handover.other_court_measures" && e.Transfer == string(id) && strings.Contains(e.Detail, held.ID) && strings.Contains(e.Detail, string(held.Court)))
	}
	if !flagged {
		t.Fatal("the other court's measure is not named in the audit log")
	}
	if got := s.agreeEverywhere(id); got.OverrideReason != "" || len(got.Overridden) != 0 {
		t.Fatalf("handed over with override %q %v", got.OverrideReason, got.Overridden)
	}
}
