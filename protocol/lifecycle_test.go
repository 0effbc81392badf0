package protocol_test

import (
	"errors"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
)

// TestHandoverBalance: the handover states the claim and what the origin
// recovered; the state machine checks them against the offer and derives
// the receiver's claim, the balance.
func TestHandoverBalance(t *testing.T) {
	t.Parallel()
	// The offer: 1,500,000.00 outstanding, 20,000.00 recovered.
	const claim = 1_500_000_00 + 20_000_00
	with := func(claimFen, recovered int64) *pb.Record {
		b := handoverBody("京0108", "京01")
		b.GetHandover().ClaimFen, b.GetHandover().RecoveredFen = claimFen, recovered
		return b
	}
	for _, c := range []struct {
		name             string
		claim, recovered int64
		want             error
		balance          int64
	}{
		{"older build: the offer's outstanding", 0, 0, nil, 1_500_000_00},
		{"recovered as offered", claim, 20_000_00, nil, 1_500_000_00},
		{"more recovered since", claim, 520_000_00, nil, 1_000_000_00},
		{"another claim than the offer's", claim + 1, 20_000_00, court.ErrInvalid, 0},
		{"less recovered than offered", claim, 10_000_00, court.ErrInvalid, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newStory(t)
			acc := s.in(protocol.StateAccepted)
			next, err := protocol.Apply(acc, s.rec("京0105", step(5), with(c.claim, c.recovered)), s.f.trust, s.rules)
			if c.want != nil {
				if !errors.Is(err, c.want) {
					t.Fatalf("err = %v, want %v", err, c.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if next.BalanceFen != c.balance || next.ClaimFen != c.claim {
				t.Fatalf("balance %d, claim %d; want %d, %d", next.BalanceFen, next.ClaimFen, c.balance, c.claim)
			}
		})
	}
}

// TestDecisionPeriods: the decision fixes every deadline; the dates
// follow from the signed times of the records that start them, and a
// period out of bounds is refused.
func TestDecisionPeriods(t *testing.T) {
	t.Parallel()
	s := newStory(t)
	d := decisionBody(pb.Mode_MODE_DESIGNATED, "京0108", "2026-03-20")
	dd := d.GetDecision()
	dd.HandoverDays, dd.FilingDays, dd.InvestigationMonths, dd.ConclusionMonths = 3, 2, 2, 4
	tr := s.apply(s.in(protocol.StateOffered), s.rec("京01", step(2), d))
	if tr.Periods == nil || *tr.Periods != (protocol.Periods{HandoverDays: 3, FilingDays: 2, InvestigationMonths: 2, ConclusionMonths: 4, ReturnDays: 15, SupplementDays: 30}) {
		t.Fatalf("periods %+v", tr.Periods)
	}
	tr = s.apply(tr, s.rec("京0108", step(3), acceptanceBody(testNewCase)))
	accepted := court.DateOf(step(3))
	if tr.HandoverBy != accepted.AddDate(0, 0, 3).String() || tr.Due != tr.HandoverBy {
		t.Fatalf("handover by %s (due %s), want %s", tr.HandoverBy, tr.Due, accepted.AddDate(0, 0, 3))
	}
	tr = s.apply(tr, s.rec("京0105", step(4), handoverBody("京0108", "京01")))
	if tr.FileBy != court.DateOf(step(4)).AddDate(0, 0, 2).String() {
		t.Fatalf("file by %s", tr.FileBy)
	}
	tr = s.apply(tr, s.rec("京0108", step(5), receiptBody(testRoot)))
	filed := court.DateOf(step(5))
	if tr.InvestigateBy != filed.AddDate(0, 2, 0).String() || tr.ConcludeBy != filed.AddDate(0, 4, 0).String() || tr.Due != tr.InvestigateBy {
		t.Fatalf("investigate by %s, conclude by %s, due %s", tr.InvestigateBy, tr.ConcludeBy, tr.Due)
	}
	tr = s.apply(tr, s.rec("京0108", step(6), closureBody("concluded")))
	if tr.Due != "" || tr.Overdue(fixNow.AddDate(5, 0, 0)) {
		t.Fatalf("a closed transfer is due %q", tr.Due)
	}
}

func TestDecisionPeriodsOutOfBounds(t *testing.T) {
	t.Parallel()
	s := newStory(t)
	d := decisionBody(pb.Mode_MODE_DESIGNATED, "京0108", "")
	d.GetDecision().ConclusionMonths = protocol.MaxPeriodMonths + 1
	s.seq["京01"]++
	_, err := protocol.DecodeRecord(seal(t, s.f.as(t, "京01"), s.seq["京01"], step(2), testID, d), s.f.trust, fixNow)
	if !errors.Is(err, court.ErrInvalid) {
		t.Fatalf("decision with conclusion months %d: %v, want ErrInvalid", protocol.MaxPeriodMonths+1, err)
	}
}

// TestReturnPeriod: a return is possible within the decision's return
// period of the handover and before the receipt; a supplement follows
// only a return.
func TestReturnPeriod(t *testing.T) {
	t.Parallel()
	ret := &pb.Record{Body: &pb.Record_HandoverReturn{HandoverReturn: &pb.HandoverReturn{Missing: []string{"valuation"}}}}
	t.Run("on the last day", func(t *testing.T) {
		s := newStory(t)
		h := s.in(protocol.StateHandedOver)
		by, _ := court.ParseDate(h.ReturnBy)
		s.now = by.Start().Add(3 * time.Hour)
		tr := s.apply(h, s.rec("京0108", by.Start().Add(time.Hour), ret))
		if tr.State != protocol.StateReturned || tr.SupplementBy != by.AddDate(0, 0, 30).String() {
			t.Fatalf("returned: %s, supplement by %s", tr.State, tr.SupplementBy)
		}
		sup := &pb.Record{Body: &pb.Record_Supplement{Supplement: &pb.Supplement{Manifest: handoverBody("京0108", "京01").GetHandover()}}}
		tr = s.apply(tr, s.rec("京0105", by.Start().Add(2*time.Hour), sup))
		if tr.State != protocol.StateHandedOver || tr.HandoverVersion != 2 || tr.ReturnBy != by.AddDate(0, 0, 15).String() {
			t.Fatalf("supplemented: %s, version %d, return by %s", tr.State, tr.HandoverVersion, tr.ReturnBy)
		}
	})
	t.Run("the day after", func(t *testing.T) {
		s := newStory(t)
		h := s.in(protocol.StateHandedOver)
		by, _ := court.ParseDate(h.ReturnBy)
		late := by.AddDate(0, 0, 1).Start().Add(time.Hour)
		s.now = late
		if _, err := protocol.Apply(h, s.rec("京0108", late, ret), s.f.trust, s.rules); !errors.Is(err, court.ErrInvalid) {
			t.Fatalf("a return after %s: %v, want ErrInvalid", h.ReturnBy, err)
		}
	})
	t.Run("after the receipt", func(t *testing.T) {
		s := newStory(t)
		if _, err := protocol.Apply(s.in(protocol.StateReceived), s.rec("京0108", step(6), ret), s.f.trust, s.rules); !errors.Is(err, court.ErrConflict) {
			t.Fatalf("a return after the receipt: %v, want ErrConflict", err)
		}
	})
	t.Run("a supplement before its return is held", func(t *testing.T) {
		s := newStory(t)
		sup := &pb.Record{Body: &pb.Record_Supplement{Supplement: &pb.Supplement{Manifest: handoverBody("京0108", "京01").GetHandover()}}}
		if _, err := protocol.Apply(s.in(protocol.StateHandedOver), s.rec("京0105", step(5), sup), s.f.trust, s.rules); !errors.Is(err, protocol.ErrHeld) {
			t.Fatalf("a supplement before the return: %v, want ErrHeld", err)
		}
	})
}
