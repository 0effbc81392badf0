package protocol_test

import (
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
)

func TestOverdue(t *testing.T) {
	t.Parallel()
	// Beijing is UTC+8: 16:00 UTC is midnight there.
	decidedAt := time.Date(2026, time.March, 16, 2, 0, 0, 0, time.UTC) // 2026-03-16 in Beijing
	for _, c := range []struct {
		name     string
		acceptBy string
		rules    protocol.Rules
		want     string
	}{
		{"default deadline, 7 days", "", protocol.Rules{}, "2026-03-23"},
		{"deadline in the decision", "2026-03-20", protocol.Rules{}, "2026-03-20"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newStory(t)
			s.rules = c.rules
			tr := s.apply(s.in(protocol.StateOffered), s.rec("京01", decidedAt, decisionBody(pb.Mode_MODE_DESIGNATED, "京0108", c.acceptBy)))
			if tr.AcceptBy != c.want {
				t.Fatalf("accept by %s, want %s", tr.AcceptBy, c.want)
			}
			by, err := court.ParseDate(c.want)
			if err != nil {
				t.Fatal(err)
			}
			lastMoment := by.AddDate(0, 0, 1).Start().Add(-time.Nanosecond)
			if tr.Overdue(lastMoment) || tr.Overdue(decidedAt) {
				t.Errorf("overdue on or before %s", c.want)
			}
			if !tr.Overdue(lastMoment.Add(time.Nanosecond)) {
				t.Errorf("not overdue the day after %s", c.want)
			}
			// Accepted late, the transfer no longer waits on the
			// acceptance but on the origin's handover, 7 days on.
			s.now = decidedAt.AddDate(0, 0, 10)
			acc := s.apply(tr, s.rec("京0108", decidedAt.AddDate(0, 0, 9), acceptanceBody(testNewCase)))
			if c, what, by, ok := acc.Deadline(); !ok || c != "京0105" || what != "handover" || by.String() != "2026-04-01" {
				t.Errorf("accepted: deadline %s %s %s %v, want the origin's handover by 2026-04-01", c, what, by, ok)
			}
			if acc.Overdue(decidedAt.AddDate(0, 0, 16)) || !acc.Overdue(decidedAt.AddDate(0, 0, 17)) {
				t.Error("the handover deadline is not 2026-04-01")
			}
		})
	}
	t.Run("a transfer waiting on a court can be overdue; an offer or an ended one cannot", func(t *testing.T) {
		s := newStory(t)
		late := fixNow.AddDate(1, 0, 0)
		for _, st := range allStates[1:] {
			waits := st == protocol.StateDecided || st == protocol.StateAccepted || st == protocol.StateHandedOver || st == protocol.StateReceived
			if tr := s.in(st); tr.Overdue(late) != waits {
				t.Errorf("%s: overdue %v a year later", st, tr.Overdue(late))
			}
		}
	})
}

func TestWaitingOn(t *testing.T) {
	t.Parallel()
	want := map[protocol.State]court.CourtCode{
		protocol.StateOffered: "京01", protocol.StateDecided: "京0108", protocol.StateAccepted: "京0105",
		protocol.StateHandedOver: "京0108", protocol.StateReceived: "京0108",
		protocol.StateClosed: "", protocol.StateRejected: "", protocol.StateWithdrawn: "",
	}
	s := newStory(t)
	for _, st := range allStates[1:] {
		on, what := s.in(st).WaitingOn()
		if on != want[st] || (on == "") != (what == "") || st.Terminal() != (on == "") {
			t.Errorf("%s: waiting on %q to %q, want %q", st, on, what, want[st])
		}
	}
}
