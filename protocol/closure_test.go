package protocol_test

import (
	"errors"
	"testing"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
)

// Every closure kind parses by its Chinese name and by its English word,
// and sets the case status the law gives it: only 终本 leaves the case
// resumable (terminated), only 销案 (the origin's, on transfer) marks it
// transferred; 执行完毕, 终结, 不予执行 and 驳回 end it (concluded).
func TestParseClosureKind(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		zh, en string
		pb     pb.ClosureKind
		kind   protocol.ClosureKind
		status court.CaseStatus
	}{
		{"执行完毕", "fulfilled", pb.ClosureKind_CLOSURE_FULFILLED, protocol.ClosureFulfilled, court.StatusConcluded},
		{"终本", "terminal", pb.ClosureKind_CLOSURE_TERMINAL, protocol.ClosureTerminal, court.StatusTerminated},
		{"终结", "ended", pb.ClosureKind_CLOSURE_ENDED, protocol.ClosureEnded, court.StatusConcluded},
		{"销案", "cancelled", pb.ClosureKind_CLOSURE_CANCELLED, protocol.ClosureCancelled, court.StatusTransferred},
		{"不予执行", "not_enforced", pb.ClosureKind_CLOSURE_NOT_ENFORCED, protocol.ClosureNotEnforced, court.StatusConcluded},
		{"驳回", "dismissed", pb.ClosureKind_CLOSURE_DISMISSED, protocol.ClosureDismissed, court.StatusConcluded},
	} {
		t.Run(c.en, func(t *testing.T) {
			for _, s := range []string{c.zh, c.en} {
				p, k, err := protocol.ParseClosureKind(s)
				if err != nil || p != c.pb || k != c.kind {
					t.Errorf("ParseClosureKind(%q) = %v, %q, %v; want %v, %q", s, p, k, err, c.pb, c.kind)
				}
			}
			if string(c.kind) != c.zh {
				t.Errorf("kind %q is not named %q", c.kind, c.zh)
			}
			if got := c.kind.CaseStatus(); got != c.status {
				t.Errorf("%s.CaseStatus() = %s, want %s", c.kind, got, c.status)
			}
		})
	}
	for _, s := range []string{"", "完毕", "Fulfilled", "concluded", "terminated", "执行 完毕"} {
		if _, _, err := protocol.ParseClosureKind(s); !errors.Is(err, court.ErrInvalid) {
			t.Errorf("ParseClosureKind(%q): err = %v, want ErrInvalid", s, err)
		}
	}
}

// The receiver concludes a received transfer by each kind it may use:
// the transfer is closed with that kind and the legacy outcome word
// (concluded: the indicators read the kind, dashboard.ClosedAs), the
// amount recovered is the closure's, and no deadline runs any more. 销案
// is the origin's and is refused, and so is 终本 before 3 months.
func TestConcludeEveryKind(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		kind    pb.ClosureKind
		want    protocol.ClosureKind
		outcome string
	}{
		{pb.ClosureKind_CLOSURE_FULFILLED, protocol.ClosureFulfilled, "concluded"},
		{pb.ClosureKind_CLOSURE_TERMINAL, protocol.ClosureTerminal, "terminated"},
		{pb.ClosureKind_CLOSURE_ENDED, protocol.ClosureEnded, "concluded"},
		{pb.ClosureKind_CLOSURE_NOT_ENFORCED, protocol.ClosureNotEnforced, "concluded"},
		{pb.ClosureKind_CLOSURE_DISMISSED, protocol.ClosureDismissed, "concluded"},
	} {
		t.Run(string(c.want), func(t *testing.T) {
			s := newStory(t)
			rcv := s.in(protocol.StateReceived)
			if _, _, _, ok := rcv.Deadline(); !ok {
				t.Fatal("a received transfer runs no deadline")
			}
			cl := &pb.Closure{Kind: c.kind, AmountRecoveredFen: 300_000_00}
			at := step(8)
			if c.want == protocol.ClosureTerminal {
				// 终本 three months after filing lies past the test
				// bundle's life: here, one day after filing is refused
				// (the node's TestTerminalAndResume closes one in time).
				cl.InvestigationSteps, cl.Approval = protocol.TerminalSteps, "applicant_signed"
				_, err := protocol.Apply(rcv, s.rec("京0108", at, &pb.Record{Body: &pb.Record_Closure{Closure: cl}}), s.f.trust, s.rules)
				if !errors.Is(err, court.ErrInvalid) {
					t.Fatalf("终本 an hour after filing: err = %v, want ErrInvalid", err)
				}
				return
			}
			got := s.apply(rcv, s.rec("京0108", at, &pb.Record{Body: &pb.Record_Closure{Closure: cl}}))
			if got.State != protocol.StateClosed || got.ClosureKind != c.want || got.Outcome != c.outcome {
				t.Errorf("closed by %s: state %s, kind %q, outcome %q; want closed, %q, %q", c.want, got.State, got.ClosureKind, got.Outcome, c.want, c.outcome)
			}
			if got.AmountRecovered != 300_000_00 || !got.ClosedAt.Equal(at) {
				t.Errorf("closed by %s: recovered %d at %s, want 30000000 at %s", c.want, got.AmountRecovered, got.ClosedAt, at)
			}
			if _, _, _, ok := got.Deadline(); ok || got.Due != "" || !got.State.Terminal() {
				t.Errorf("closed by %s: a deadline still runs (due %q)", c.want, got.Due)
			}
		})
	}
	s := newStory(t)
	raw := seal(t, s.f.as(t, "京0108"), 9, step(8), testID, &pb.Record{Body: &pb.Record_Closure{Closure: &pb.Closure{Kind: pb.ClosureKind_CLOSURE_CANCELLED}}})
	if _, err := protocol.DecodeRecord(raw, s.f.trust, fixNow); !errors.Is(err, court.ErrInvalid) {
		t.Errorf("the receiver closing by 销案: err = %v, want ErrInvalid", err)
	}
}
