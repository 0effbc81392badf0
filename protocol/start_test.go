package protocol_test

import (
	"errors"
	"strings"
	"testing"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
)

// The applicant may ask again (a new transfer or 提级) about a case moved
// to a receiver once the receiver's conclusion period has passed: not
// on the conclusion day, the day after; not while the case is still
// moving, nor once the receiver concluded it.
func TestAskAgain(t *testing.T) {
	t.Parallel()
	s := newStory(t)
	rcv := s.in(protocol.StateReceived)
	by, err := court.ParseDate(rcv.ConcludeBy)
	if err != nil || rcv.NewCaseNumber == "" {
		t.Fatalf("received transfer: conclude by %q (%v), new case %q", rcv.ConcludeBy, err, rcv.NewCaseNumber)
	}
	filed := court.DateOf(rcv.ReceivedAt)
	if by != filed.AddDate(0, rcv.Periods.ConclusionMonths, 0) {
		t.Fatalf("conclude by %s, want %d months after the filing on %s", by, rcv.Periods.ConclusionMonths, filed)
	}
	for _, c := range []struct {
		name string
		on   court.Date
		ok   bool
	}{
		{"the day of filing", filed, false},
		{"a day before the conclusion deadline", by.AddDate(0, 0, -1), false},
		{"on the conclusion deadline", by, false},
		{"the day after the conclusion deadline", by.AddDate(0, 0, 1), true},
		{"a year later", by.AddDate(1, 0, 0), true},
	} {
		err := protocol.AskAgain(rcv, c.on)
		switch {
		case c.ok && err != nil:
			t.Errorf("%s (%s): %v, want allowed", c.name, c.on, err)
		case !c.ok && !errors.Is(err, court.ErrConflict):
			t.Errorf("%s (%s): err = %v, want ErrConflict", c.name, c.on, err)
		case !c.ok && !strings.Contains(err.Error(), "may ask again (a new transfer or 提级) from "+by.AddDate(0, 0, 1).String()):
			t.Errorf("%s: the refusal %q does not say from when the applicant may ask", c.name, err)
		}
	}
	later := by.AddDate(0, 0, 1)
	// Still moving: the receiver has not filed the case yet.
	if err := protocol.AskAgain(s.in(protocol.StateHandedOver), later); !errors.Is(err, court.ErrConflict) {
		t.Errorf("handed over: err = %v, want ErrConflict", err)
	}
	// Concluded by the receiver.
	closed := s.apply(rcv, s.rec("京0108", step(8), &pb.Record{Body: &pb.Record_Closure{Closure: &pb.Closure{Kind: pb.ClosureKind_CLOSURE_ENDED}}}))
	if err := protocol.AskAgain(closed, later); !errors.Is(err, court.ErrConflict) || !strings.Contains(err.Error(), "终结") {
		t.Errorf("closed by 终结: err = %v, want ErrConflict naming the closure", err)
	}
}
