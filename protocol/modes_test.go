package protocol_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
)

func supervisedBody(enforceBy string) *pb.Record {
	return &pb.Record{Body: &pb.Record_Decision{Decision: &pb.TransferDecision{Mode: pb.Mode_MODE_SUPERVISED, ReceiverCourt: "京0105",
		DecisionNumber: "（2026）京01执督1号", EnforceBy: enforceBy}}}
}

func reportBody(amount int64, kind pb.ClosureKind) *pb.Record {
	return &pb.Record{Body: &pb.Record_SupervisionReport{SupervisionReport: &pb.SupervisionReport{AmountRecoveredFen: amount, Status: "已冻结银行存款", Kind: kind}}}
}

func assistBody() *pb.Record {
	return &pb.Record{Body: &pb.Record_AssistanceRequest{AssistanceRequest: &pb.AssistanceRequest{CaseNumber: testCase, AssistingCourt: "京0102",
		Tasks: []string{"investigate", "freeze"}, AnswerBy: "2026-03-25", Due: "2026-04-30", SealedDetail: []byte("sealed"),
		Keys: []*pb.WrappedKey{{Court: "京0102", Wrapped: []byte("w")}, {Court: "京0105", Wrapped: []byte("w")}}}}}
}

// TestModesRefusedOnTheirOwn: the modes' records that no state can
// make valid are refused when decoded, each saying why.
func TestModesRefusedOnTheirOwn(t *testing.T) {
	t.Parallel()
	f := newFixture(t, t.TempDir())
	at := fixNow.Add(-time.Minute)
	assist := func(mod func(a *pb.AssistanceRequest)) *pb.Record {
		b := assistBody()
		mod(b.GetAssistanceRequest())
		return b
	}
	gathered := func(ids ...string) *pb.Record {
		b := decisionBody(pb.Mode_MODE_GATHERED, "京0108", "")
		b.GetDecision().Gathered = ids
		return b
	}
	other := "fedcba9876543210fedcba9876543210"
	for _, c := range []struct {
		name string
		by   court.CourtCode
		body *pb.Record
		says string
	}{
		{"督促 without a date", "京01", supervisedBody(""), "enforce_by"},
		{"督促 with a date before the decision", "京01", supervisedBody("2026-01-01"), "before the decision"},
		{"a date in another mode", "京01", func() *pb.Record {
			b := decisionBody(pb.Mode_MODE_DESIGNATED, "京0108", "")
			b.GetDecision().EnforceBy = "2026-05-01"
			return b
		}(), "督促执行"},
		{"集中 of one transfer", "京01", gathered(string(testID)), "at least 2"},
		{"集中 unsorted", "京01", gathered(other, string(testID)), "sorted"},
		{"gathered transfers in another mode", "京01", func() *pb.Record {
			b := decisionBody(pb.Mode_MODE_DESIGNATED, "京0108", "")
			b.GetDecision().Gathered = []string{string(testID), other}
			return b
		}(), "集中执行"},
		{"a report closing by 销案", "京0105", reportBody(1, pb.ClosureKind_CLOSURE_CANCELLED), "销案"},
		{"a report closing by 终本", "京0105", reportBody(1, pb.ClosureKind_CLOSURE_TERMINAL), "终本"},
		{"a report without status", "京0105", &pb.Record{Body: &pb.Record_SupervisionReport{SupervisionReport: &pb.SupervisionReport{}}}, "status"},
		{"assistance asked of oneself", "京0105", assist(func(a *pb.AssistanceRequest) { a.AssistingCourt = "京0105" }), "itself"},
		{"assistance for another court's case", "京0108", assistBody(), "京0105"},
		{"assistance without tasks", "京0105", assist(func(a *pb.AssistanceRequest) { a.Tasks = nil }), "tasks"},
		{"assistance with an unknown task", "京0105", assist(func(a *pb.AssistanceRequest) { a.Tasks = []string{"arrest"} }), "arrest"},
		{"assistance due before its answer", "京0105", assist(func(a *pb.AssistanceRequest) { a.Due = "2026-03-20" }), "before answer_by"},
		{"assistance without the detail", "京0105", assist(func(a *pb.AssistanceRequest) { a.SealedDetail = nil }), "sealed"},
		{"assistance sealed to the asked court only", "京0105", assist(func(a *pb.AssistanceRequest) { a.Keys = a.Keys[:1] }), "not wrapped for 京0105"},
		{"a decline without reasons", "京0102", &pb.Record{Body: &pb.Record_AssistanceAnswer{AssistanceAnswer: &pb.AssistanceAnswer{}}}, "reason"},
		{"a result with an unknown outcome", "京0102", &pb.Record{Body: &pb.Record_AssistanceResult{AssistanceResult: &pb.AssistanceResult{Outcome: "finished", SealedDetail: []byte("s")}}}, "finished"},
		{"a result without its detail", "京0102", &pb.Record{Body: &pb.Record_AssistanceResult{AssistanceResult: &pb.AssistanceResult{Outcome: "done"}}}, "sealed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := protocol.DecodeRecord(seal(t, f.as(t, c.by), 1, at, testID, c.body), f.trust, fixNow)
			if !errors.Is(err, court.ErrInvalid) || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("err = %v, want invalid saying %q", err, c.says)
			}
		})
	}
}

// TestSupervisedPath: 督促执行 keeps the case with the origin, whose
// reports count; an escalation after the date moves it as 指令执行.
func TestSupervisedPath(t *testing.T) {
	t.Parallel()
	s := newStory(t)
	cur := s.in(protocol.StateOffered)
	_, err := protocol.Apply(cur, s.rec("京01", step(2), func() *pb.Record {
		b := supervisedBody("2026-04-30")
		b.GetDecision().ReceiverCourt = "京0108"
		return b
	}()), s.f.trust, s.rules)
	if !errors.Is(err, court.ErrInvalid) || !strings.Contains(err.Error(), "stays with the origin") {
		t.Fatalf("督促 naming another receiver: %v", err)
	}
	cur = s.apply(cur, s.rec("京01", step(2), supervisedBody(court.DateOf(step(2)).String())))
	if cur.State != protocol.StateSupervised || cur.Receiver != "" || cur.Mode != protocol.ModeSupervised {
		t.Fatalf("after 督促: %s, receiver %q, mode %s", cur.State, cur.Receiver, cur.Mode)
	}
	if c, what, by, ok := cur.Deadline(); !ok || c != "京0105" || what != "supervised_enforcement" || by != court.DateOf(step(2)) {
		t.Fatalf("deadline %s %s %s %v", c, what, by, ok)
	}
	for _, c := range []struct {
		by   court.CourtCode
		body *pb.Record
		want error
	}{
		{"京0108", reportBody(1, 0), court.ErrInvalid},
		{"京0108", acceptanceBody(testNewCase), court.ErrConflict},
		{"京0105", handoverBody("京0108"), court.ErrConflict},
		{"京01", supervisedBody("2026-06-01"), court.ErrConflict},
	} {
		if _, err := protocol.Apply(cur, s.rec(c.by, step(3), c.body), s.f.trust, s.rules); !errors.Is(err, c.want) {
			t.Errorf("%s by %s under 督促: %v, want %v", kindName(c.body), c.by, err, c.want)
		}
	}
	cur = s.apply(cur, s.rec("京0105", step(3), reportBody(100, 0)))
	if _, err := protocol.Apply(cur, s.rec("京0105", step(4), reportBody(99, 0)), s.f.trust, s.rules); !errors.Is(err, court.ErrInvalid) {
		t.Fatalf("a report stating less recovered: %v", err)
	}
	// The day after enforce_by, 京01 escalates to 指令执行.
	s.now = step(2).Add(26 * time.Hour)
	esc := s.rec("京01", step(2).Add(25*time.Hour), decisionBody(pb.Mode_MODE_DESIGNATED, "京0108", ""))
	cur = s.apply(cur, esc)
	if cur.State != protocol.StateDecided || cur.Mode != protocol.ModeDesignated || cur.Receiver != "京0108" || !cur.Supervision.Escalated || !cur.Supervision.Overdue || cur.Supervision.Reports != 1 {
		t.Fatalf("after the escalation: %s %s to %s, %+v", cur.State, cur.Mode, cur.Receiver, cur.Supervision)
	}
}

// TestSupervisionReportsInAnyOrder: the origin's two reports under 督促执行
// and the superior's escalation after them reach a node in any of the six
// orders gossip can deliver; every order ends in the same transfer (a
// report older than the last applied, or made before an escalation
// applied first, counts and moves nothing newer). A report made after the
// escalation is still refused, and so is a closing report that comes late.
func TestSupervisionReportsInAnyOrder(t *testing.T) {
	t.Parallel()
	s := newStory(t)
	sup := s.apply(s.in(protocol.StateOffered), s.rec("京01", step(2), supervisedBody(court.DateOf(step(2)).String())))
	s.now = step(2).Add(26 * time.Hour)
	r1 := s.rec("京0105", step(3), reportBody(100, 0))
	r2 := s.rec("京0105", step(4), reportBody(300, 0))
	esc := s.rec("京01", step(2).Add(25*time.Hour), decisionBody(pb.Mode_MODE_DESIGNATED, "京0108", ""))
	orders := [][]*protocol.Record{{r1, r2, esc}, {r1, esc, r2}, {r2, r1, esc}, {r2, esc, r1}, {esc, r1, r2}, {esc, r2, r1}}
	var first []byte
	for i, order := range orders {
		cur := sup
		for _, r := range order {
			cur = s.apply(cur, r)
		}
		if cur.State != protocol.StateDecided || cur.Supervision.Reports != 2 || cur.Supervision.Recovered != 300 || !cur.Supervision.ReportedAt.Equal(step(4)) {
			t.Errorf("order %d: %s, %+v; want decided with 2 reports, 300 fen as of the second", i, cur.State, cur.Supervision)
		}
		j, err := json.Marshal(cur)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = j
		} else if !bytes.Equal(j, first) {
			t.Errorf("order %d ends otherwise than order 0:\n%s\n%s", i, j, first)
		}
	}
	escalated := s.apply(sup, esc)
	for _, c := range []struct {
		name string
		r    *protocol.Record
		want error
	}{
		{"a report made after the escalation", s.rec("京0105", step(2).Add(25*time.Hour+time.Minute), reportBody(400, 0)), court.ErrConflict},
		{"a closing report made before it", s.rec("京0105", step(5), reportBody(400, pb.ClosureKind_CLOSURE_FULFILLED)), court.ErrConflict},
	} {
		if _, err := protocol.Apply(escalated, c.r, s.f.trust, s.rules); !errors.Is(err, c.want) {
			t.Errorf("%s, after the escalation: %v, want %v", c.name, err, c.want)
		}
	}
	// Older than the last report: stating more than the later one is
	// refused; at the same instant it is stale.
	after2 := s.apply(sup, r2)
	if _, err := protocol.Apply(after2, s.rec("京0105", step(3), reportBody(500, 0)), s.f.trust, s.rules); !errors.Is(err, court.ErrInvalid) {
		t.Errorf("an older report stating more than a later one: %v, want invalid", err)
	}
}

// TestAssistancePath: 协同执行 from the request to the result, and the
// steps out of order.
func TestAssistancePath(t *testing.T) {
	t.Parallel()
	s := newStory(t)
	cur := s.apply(nil, s.rec("京0105", step(1), assistBody()))
	if cur.State != protocol.StateAssistRequested || cur.Mode != protocol.ModeAssisted || cur.Assistance.Court != "京0102" {
		t.Fatalf("after the request: %s %s %+v", cur.State, cur.Mode, cur.Assistance)
	}
	result := &pb.Record{Body: &pb.Record_AssistanceResult{AssistanceResult: &pb.AssistanceResult{Outcome: "partial", SealedDetail: []byte("s")}}}
	if _, err := protocol.Apply(cur, s.rec("京0102", step(2), result), s.f.trust, s.rules); !errors.Is(err, protocol.ErrHeld) {
		t.Fatalf("a result before the answer: %v", err)
	}
	yes := &pb.Record{Body: &pb.Record_AssistanceAnswer{AssistanceAnswer: &pb.AssistanceAnswer{Accepted: true}}}
	if _, err := protocol.Apply(cur, s.rec("京0108", step(2), yes), s.f.trust, s.rules); !errors.Is(err, court.ErrInvalid) {
		t.Fatalf("an answer by a court not asked: %v", err)
	}
	if _, err := protocol.Apply(cur, s.rec("京0105", step(2), offerBody()), s.f.trust, s.rules); !errors.Is(err, court.ErrConflict) {
		t.Fatalf("an offer of the same transfer: %v", err)
	}
	cur = s.apply(cur, s.rec("京0102", step(2), yes))
	if _, err := protocol.Apply(cur, s.rec("京0102", step(3), yes), s.f.trust, s.rules); !errors.Is(err, court.ErrConflict) {
		t.Fatalf("a second answer: %v", err)
	}
	cur = s.apply(cur, s.rec("京0102", step(3), result))
	if cur.State != protocol.StateClosed || cur.Outcome != "assistance_partial" {
		t.Fatalf("after the result: %s %s", cur.State, cur.Outcome)
	}
}
