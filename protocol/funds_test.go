package protocol_test

import (
	"errors"
	"testing"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
)

func fundsBody(n uint64, kind string, amount int64, source, cn string, fwd uint64, digest byte) *pb.Record {
	f := &pb.FundsEntry{Number: n, Kind: kind, AmountFen: amount, On: "2026-03-16", Source: source, CaseNumber: cn, ForwardNumber: fwd}
	if digest != 0 {
		f.ReferenceDigest = make32(digest)
	}
	return &pb.Record{Body: &pb.Record_FundsEntry{FundsEntry: f}}
}

// TestLedgerValidators checks the pure rules of the funds ledger: what a
// record may carry on its own (checkBody) and what it may do to the
// transfer (Apply), without a node.
func TestLedgerValidators(t *testing.T) {
	t.Parallel()
	// Alone: refused by DecodeRecord, whatever the transfer.
	for _, c := range []struct {
		name string
		by   court.CourtCode
		body *pb.Record
	}{
		{"negative", "京0105", fundsBody(1, "received", -1, "voluntary", testCase, 0, 0)},
		{"zero", "京0105", fundsBody(1, "received", 0, "voluntary", testCase, 0, 0)},
		{"over a trillion yuan", "京0105", fundsBody(1, "received", protocol.MaxAmountFen+1, "voluntary", testCase, 0, 0)},
		{"number 0", "京0105", fundsBody(0, "received", 1, "voluntary", testCase, 0, 0)},
		{"unknown kind", "京0105", fundsBody(1, "refund", 1, "", testCase, 0, 0)},
		{"unknown source", "京0105", fundsBody(1, "received", 1, "gift", testCase, 0, 0)},
		{"forward without its number", "京0108", fundsBody(1, "received", 1, "forward", testNewCase, 0, 0)},
		{"another court's case", "京0105", fundsBody(1, "received", 1, "voluntary", testNewCase, 0, 0)},
		{"not an enforcement case", "京0105", fundsBody(1, "received", 1, "voluntary", "（2025）京0105民初1号", 0, 0)},
	} {
		s := newStory(t)
		s.seq[c.by]++
		_, err := protocol.DecodeRecord(seal(t, s.f.as(t, c.by), s.seq[c.by], fixNow, testID, c.body), s.f.trust, fixNow)
		if !errors.Is(err, court.ErrInvalid) {
			t.Errorf("%s: %v, want invalid", c.name, err)
		}
	}

	// Against the transfer.
	s := newStory(t)
	tr := s.in(protocol.StateReceived)
	if _, err := protocol.Apply(s.in(protocol.StateAccepted), s.rec("京0105", fixNow, fundsBody(1, "received", 1, "voluntary", testCase, 0, 0)), s.f.trust, s.rules); !errors.Is(err, protocol.ErrHeld) {
		t.Errorf("funds before the handover: %v, want held", err)
	}
	try := func(by court.CourtCode, body *pb.Record) (*protocol.Transfer, error) {
		return protocol.Apply(tr, s.rec(by, fixNow, body), s.f.trust, s.rules)
	}
	wantErr := func(what string, err, kind error) {
		t.Helper()
		if !errors.Is(err, kind) {
			t.Errorf("%s: %v, want %v", what, err, kind)
		}
	}
	_, err := try("京0105", fundsBody(1, "received", 1, "voluntary", "（2024）京0105执9号", 0, 0))
	wantErr("a case of the origin outside the transfer", err, court.ErrInvalid)
	_, err = try("京01", fundsBody(1, "received", 1, "voluntary", "（2026）京01执1号", 0, 0))
	wantErr("a court outside the transfer", err, court.ErrInvalid)
	_, err = try("京0105", fundsBody(2, "received", 1, "voluntary", testCase, 0, 0))
	wantErr("entry 2 before 1", err, protocol.ErrHeld)
	_, err = try("京0105", fundsBody(1, "paid_out", 1, "", testCase, 0, 0))
	wantErr("paid out from nothing", err, court.ErrConflict)

	tr = s.apply(tr, s.rec("京0105", fixNow, fundsBody(1, "received", 500, "deduction", testCase, 0, 0xD1)))
	_, err = try("京0108", fundsBody(1, "received", 500, "deduction", testNewCase, 0, 0xD1))
	wantErr("the same payment at the other court", err, court.ErrConflict)
	_, err = try("京0105", fundsBody(2, "forwarded", 501, "", testCase, 0, 0))
	wantErr("forward larger than held", err, court.ErrConflict)
	_, err = try("京0105", fundsBody(1, "received", 7, "voluntary", testCase, 0, 0))
	wantErr("entry 1 again", err, court.ErrStale)
	_, err = try("京0108", fundsBody(1, "received", 500, "forward", testNewCase, 2, 0))
	wantErr("a forward not seen yet", err, protocol.ErrHeld)

	tr = s.apply(tr, s.rec("京0105", fixNow, fundsBody(2, "forwarded", 500, "", testCase, 0, 0)))
	if l := tr.Ledger; l.OriginHeldFen != 0 || l.InTransitFen != 500 || l.RecoveredFen != 500 || l.OriginHeldSince != "" {
		t.Errorf("after the forward: %+v", l)
	}
	_, err = try("京0108", fundsBody(1, "received", 499, "forward", testNewCase, 2, 0))
	wantErr("a forward received for another amount", err, court.ErrConflict)
	tr = s.apply(tr, s.rec("京0108", fixNow, fundsBody(1, "received", 500, "forward", testNewCase, 2, 0)))
	_, err = try("京0108", fundsBody(2, "received", 500, "forward", testNewCase, 2, 0))
	wantErr("the forward received twice", err, court.ErrConflict)
	tr = s.apply(tr, s.rec("京0108", fixNow, fundsBody(2, "paid_out", 500, "", testNewCase, 0, 0)))
	if l := tr.Ledger; l.RecoveredFen != 500 || l.PaidOutFen != 500 || l.ReceiverHeldFen != 0 || l.InTransitFen != 0 || len(l.Entries) != 4 {
		t.Errorf("the ledger at the end: %+v", l)
	}
	// Closed: nothing more (the transfer's terminal state).
	closed := s.apply(tr, s.rec("京0108", fixNow, closureBody("concluded")))
	if _, err := protocol.Apply(closed, s.rec("京0105", fixNow, fundsBody(3, "received", 1, "voluntary", testCase, 0, 0)), s.f.trust, s.rules); !errors.Is(err, court.ErrConflict) {
		t.Errorf("funds after the closure: %v, want conflict", err)
	}
}

// TestSanctionValidators checks the order the sanction records must keep:
// declared by the origin, re-issued once by the receiver, lifted by the
// origin only after the re-issue.
func TestSanctionValidators(t *testing.T) {
	t.Parallel()
	s := newStory(t)
	tr := s.in(protocol.StateReceived)
	body := func(id, action, cn string) *pb.Record {
		return &pb.Record{Body: &pb.Record_Sanction{Sanction: &pb.Sanction{SanctionId: id, Kind: "consumption_restriction", Action: action, CaseNumber: cn, On: "2026-03-16"}}}
	}
	try := func(by court.CourtCode, b *pb.Record) error {
		_, err := protocol.Apply(tr, s.rec(by, fixNow, b), s.f.trust, s.rules)
		return err
	}
	if err := try("京0108", body("s1", "reissued", testNewCase)); !errors.Is(err, protocol.ErrHeld) {
		t.Errorf("re-issue before the declaration: %v, want held", err)
	}
	if err := try("京0108", body("s1", "in_force", testNewCase)); !errors.Is(err, court.ErrInvalid) {
		t.Errorf("declared by the receiver: %v, want invalid", err)
	}
	tr = s.apply(tr, s.rec("京0105", fixNow, body("s1", "in_force", testCase)))
	if err := try("京0105", body("s1", "lifted", testCase)); !errors.Is(err, court.ErrConflict) {
		t.Errorf("lifted before the re-issue: %v, want conflict", err)
	}
	tr = s.apply(tr, s.rec("京0108", fixNow, body("s1", "reissued", testNewCase)))
	if err := try("京0108", body("s1", "reissued", testNewCase)); !errors.Is(err, court.ErrConflict) {
		t.Errorf("re-issued twice: %v, want conflict", err)
	}
	tr = s.apply(tr, s.rec("京0105", fixNow, body("s1", "lifted", testCase)))
	if len(tr.Sanctions) != 1 || !tr.Sanctions[0].Done() || tr.Sanctions[0].NewCase != testNewCase {
		t.Errorf("sanctions at the end: %+v", tr.Sanctions)
	}
}
