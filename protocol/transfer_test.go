package protocol_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
)

// story signs the records of the test transfer (京0105 offers to 京01,
// which designates 京0108) and applies them.
type story struct {
	t     *testing.T
	f     *fixture
	seq   map[court.CourtCode]uint64
	rules protocol.Rules
	now   time.Time // when records are checked; zero: fixNow
}

func newStory(t *testing.T) *story {
	return &story{t: t, f: newFixture(t, t.TempDir()), seq: map[court.CourtCode]uint64{}}
}

// rec signs body as court by at the given time, as the next record of its
// log, and decodes it; the record must be valid on its own.
func (s *story) rec(by court.CourtCode, at time.Time, body *pb.Record) *protocol.Record {
	s.t.Helper()
	s.seq[by]++
	now := fixNow
	if !s.now.IsZero() {
		now = s.now
	}
	r, err := protocol.DecodeRecord(seal(s.t, s.f.as(s.t, by), s.seq[by], at, testID, body), s.f.trust, now)
	if err != nil {
		s.t.Fatalf("%s by %s does not decode: %v", kindName(body), by, err)
	}
	return r
}

func kindName(b *pb.Record) string { return fmt.Sprintf("%T", b.GetBody()) }

// apply applies r to cur, failing the test on an error.
func (s *story) apply(cur *protocol.Transfer, r *protocol.Record) *protocol.Transfer {
	s.t.Helper()
	next, err := protocol.Apply(cur, r, s.f.trust, s.rules)
	if err != nil {
		s.t.Fatalf("apply %s by %s: %v", r.Kind, r.Issuer, err)
	}
	return next
}

// Times of the normal path, an hour apart, all before fixNow.
func step(i int) time.Time { return fixNow.Add(time.Duration(i-10) * time.Hour) }

// path returns the records that lead the test transfer to state, in order.
func (s *story) path(state protocol.State) []*protocol.Record {
	s.t.Helper()
	offer := s.rec("京0105", step(1), offerBody())
	switch state {
	case "":
		return nil
	case protocol.StateOffered:
		return []*protocol.Record{offer}
	case protocol.StateRejected:
		return []*protocol.Record{offer, s.rec("京01", step(2), rejectionBody())}
	case protocol.StateWithdrawn:
		return []*protocol.Record{offer, s.rec("京0105", step(2), withdrawalBody())}
	}
	rs := []*protocol.Record{offer, s.rec("京01", step(2), decisionBody(pb.Mode_MODE_DESIGNATED, "京0108", ""))}
	for _, next := range []struct {
		after protocol.State
		by    court.CourtCode
		body  *pb.Record
	}{
		{protocol.StateDecided, "京0108", acceptanceBody(testNewCase)},
		{protocol.StateAccepted, "京0105", handoverBody("京0108", "京01")},
		{protocol.StateHandedOver, "京0108", receiptBody(testRoot)},
		{protocol.StateReceived, "京0108", closureBody("concluded")},
	} {
		if state == next.after {
			return rs
		}
		rs = append(rs, s.rec(next.by, step(len(rs)+1), next.body))
	}
	if state != protocol.StateClosed {
		s.t.Fatalf("no path to state %q", state)
	}
	return rs
}

// in returns the test transfer in state (nil for "").
func (s *story) in(state protocol.State) *protocol.Transfer {
	s.t.Helper()
	var cur *protocol.Transfer
	for _, r := range s.path(state) {
		cur = s.apply(cur, r)
	}
	if state != "" && cur.State != state {
		s.t.Fatalf("path to %s ended in %s", state, cur.State)
	}
	return cur
}

var allStates = []protocol.State{"", protocol.StateOffered, protocol.StateDecided, protocol.StateAccepted, protocol.StateHandedOver,
	protocol.StateReceived, protocol.StateClosed, protocol.StateRejected, protocol.StateWithdrawn}

// TestApplyEveryKindInEveryState applies one record of every kind, signed
// by the court that may send it, to the transfer in every state.
func TestApplyEveryKindInEveryState(t *testing.T) {
	t.Parallel()
	const (
		held     = "held"
		conflict = "conflict"
		invalid  = "invalid"
	)
	// want[kind] lists the outcome in the order of allStates: a state
	// name for a legal transition, else the error.
	type row struct {
		kind protocol.Kind
		by   court.CourtCode
		body func() *pb.Record
		want [9]string
	}
	// Each row lists the first six states; every kind is a conflict after
	// the three terminal ones.
	terminal := [3]string{conflict, conflict, conflict}
	rows := []row{
		{protocol.KindOffer, "京0105", func() *pb.Record {
			b := offerBody()
			b.GetOffer().AmountOutstandingFen++ // a different offer with the same id
			return b
		}, [9]string{"offered", conflict, conflict, conflict, conflict, conflict}},
		{protocol.KindDecision, "京01", func() *pb.Record { return decisionBody(pb.Mode_MODE_DESIGNATED, "京0108", "") },
			[9]string{held, "decided", conflict, conflict, conflict, conflict}},
		{protocol.KindAcceptance, "京0108", func() *pb.Record { return acceptanceBody(testNewCase) },
			[9]string{held, held, "accepted", conflict, conflict, conflict}},
		{protocol.KindRejection, "京0108", rejectionBody,
			[9]string{held, held, "rejected", invalid, "refused", invalid}}, // a handed-over case is refused to the superior (modes.go)
		{protocol.KindWithdrawal, "京0105", withdrawalBody,
			[9]string{held, "withdrawn", "withdrawn", "withdrawn", conflict, conflict}},
		{protocol.KindHandover, "京0105", func() *pb.Record { return handoverBody("京0108", "京01") },
			[9]string{held, held, held, "handed_over", conflict, conflict}},
		{protocol.KindReceipt, "京0108", func() *pb.Record { return receiptBody(testRoot) },
			[9]string{held, held, held, held, "received", conflict}},
		{protocol.KindProgress, "京0108", func() *pb.Record { return progressBody(3_000_00) },
			[9]string{held, held, held, "accepted", "handed_over", "received"}},
		{protocol.KindClosure, "京0108", func() *pb.Record { return closureBody("terminated") },
			[9]string{held, held, held, held, held, "closed"}},
		{protocol.KindRevokeGrant, "京0105", grantRevocationBody,
			[9]string{held, held, held, held, "handed_over", "received"}},
		// Before the decision nobody knows the receiver: its update is
		// held, as its receipt is, until the decision arrives.
		{protocol.KindAssetUpdate, "京0108", assetUpdateBody,
			[9]string{held, held, held, held, "handed_over", "received"}},
		{protocol.KindAssetUpdate, "京0105", assetUpdateBody,
			[9]string{held, held, held, held, "handed_over", "received"}},
	}
	errOf := map[string]error{held: protocol.ErrHeld, conflict: court.ErrConflict, invalid: court.ErrInvalid}
	for _, rw := range rows {
		copy(rw.want[6:], terminal[:])
		// A withdrawal and another court's record cross in flight: the
		// withdrawal wins whatever the order (TestApplyCrossingWithdrawal).
		// The withdrawn transfer of the matrix was withdrawn while
		// offered, so a record crossing it has the outcome it has there.
		switch rw.kind {
		case protocol.KindWithdrawal:
			rw.want[7] = "withdrawn" // after a rejection
		case protocol.KindDecision:
			rw.want[8] = "withdrawn"
		case protocol.KindAcceptance, protocol.KindRejection, protocol.KindProgress:
			rw.want[8] = held // the decision may be on its way
		}
		for i, state := range allStates {
			name := string(state)
			if name == "" {
				name = "unknown"
			}
			t.Run(fmt.Sprintf("%s by %s/%s", rw.kind, rw.by, name), func(t *testing.T) {
				s := newStory(t)
				cur := s.in(state)
				var before protocol.Transfer
				if cur != nil {
					before = *cur
				}
				r := s.rec(rw.by, fixNow.Add(-time.Minute), rw.body())
				next, err := protocol.Apply(cur, r, s.f.trust, s.rules)
				want := rw.want[i]
				if werr, isErr := errOf[want]; isErr {
					if !errors.Is(err, werr) || next != nil {
						t.Fatalf("Apply = %v, %v; want %v", next, err, werr)
					}
					for other, oerr := range errOf {
						if other != want && errors.Is(err, oerr) {
							t.Errorf("err %v is also %v", err, oerr)
						}
					}
				} else {
					if err != nil {
						t.Fatalf("Apply: %v, want state %s", err, want)
					}
					if next.State != protocol.State(want) || !next.Applied(r.HashHex()) || next.ID != testID {
						t.Fatalf("Apply -> %s (applied %v), want %s", next.State, next.Applied(r.HashHex()), want)
					}
					// Idempotent: the same record again is a duplicate.
					if again, err := protocol.Apply(next, r, s.f.trust, s.rules); !errors.Is(err, protocol.ErrDuplicate) || again != nil {
						t.Errorf("the same %s again: %v, %v; want ErrDuplicate", r.Kind, again, err)
					}
				}
				// Apply never changes its input.
				if cur != nil && (cur.State != before.State || len(cur.Records) != len(before.Records)) {
					t.Errorf("Apply modified its input: %s/%d records, was %s/%d", cur.State, len(cur.Records), before.State, len(before.Records))
				}
			})
		}
	}
}

// Every record of the path, applied again to the state it led to (or to
// any later one), is a duplicate, even after a terminal state.
func TestApplyDuplicate(t *testing.T) {
	t.Parallel()
	for _, state := range allStates[1:] {
		t.Run(string(state), func(t *testing.T) {
			s := newStory(t)
			var cur *protocol.Transfer
			rs := s.path(state)
			for _, r := range rs {
				cur = s.apply(cur, r)
			}
			for _, r := range rs {
				if _, err := protocol.Apply(cur, r, s.f.trust, s.rules); !errors.Is(err, protocol.ErrDuplicate) {
					t.Errorf("%s again: %v, want ErrDuplicate", r.Kind, err)
				}
			}
			if len(cur.Records) != len(rs) {
				t.Errorf("%d records applied, history has %d", len(rs), len(cur.Records))
			}
		})
	}
}

func TestApplyDecision(t *testing.T) {
	t.Parallel()
	type tc struct {
		name      string
		by        court.CourtCode
		asked     court.CourtCode // the superior the offer asked; default by
		mode      pb.Mode
		receiver  court.CourtCode
		want      error
		wantMode  string
		wantState protocol.State
	}
	for _, c := range []tc{
		// Controls.
		{name: "intermediate court designates a basic court below it", by: "京01", mode: pb.Mode_MODE_DESIGNATED, receiver: "京0108", wantMode: "指令执行"},
		{name: "high court designates a court under another intermediate court", by: "京", mode: pb.Mode_MODE_DESIGNATED, receiver: "京0102", wantMode: "指令执行"},
		{name: "high court designates an intermediate court", by: "京", mode: pb.Mode_MODE_DESIGNATED, receiver: "京02", wantMode: "指令执行"},
		{name: "intermediate court takes the case itself", by: "京01", mode: pb.Mode_MODE_ELEVATED, receiver: "京01", wantMode: "提级执行"},
		{name: "high court takes the case itself", by: "京", mode: pb.Mode_MODE_ELEVATED, receiver: "京", wantMode: "提级执行"},

		// 京02 is superior of 京0102 (by its certified parent), not of 京0105.
		{name: "superior of the receiver only", by: "京02", mode: pb.Mode_MODE_DESIGNATED, receiver: "京0102", want: court.ErrInvalid},
		// 京01 is superior of 京0105 but 京0102's certified parent is 京02,
		// whatever its code suggests.
		{name: "superior of the origin only", by: "京01", mode: pb.Mode_MODE_DESIGNATED, receiver: "京0102", want: court.ErrInvalid},
		{name: "superior of neither", by: "京02", mode: pb.Mode_MODE_DESIGNATED, receiver: "京0108", want: court.ErrInvalid},
		{name: "a peer court decides", by: "京0108", mode: pb.Mode_MODE_DESIGNATED, receiver: "京0102", want: court.ErrInvalid},
		{name: "the origin decides for itself", by: "京0105", mode: pb.Mode_MODE_DESIGNATED, receiver: "京0108", want: court.ErrInvalid},
		{name: "a peer takes the case itself", by: "京0108", mode: pb.Mode_MODE_ELEVATED, receiver: "京0108", want: court.ErrInvalid},
		{name: "receiver is the origin", by: "京01", mode: pb.Mode_MODE_DESIGNATED, receiver: "京0105", want: court.ErrInvalid},
		{name: "elevated to another court", by: "京01", mode: pb.Mode_MODE_ELEVATED, receiver: "京0108", want: court.ErrInvalid},
		{name: "high court elevates to an intermediate court", by: "京", mode: pb.Mode_MODE_ELEVATED, receiver: "京01", want: court.ErrInvalid},
		{name: "designated to the decider itself", by: "京01", mode: pb.Mode_MODE_DESIGNATED, receiver: "京01", want: court.ErrInvalid},
		// A superior of both, but not the one the offer asked.
		{name: "a superior the offer did not ask", by: "京", asked: "京01", mode: pb.Mode_MODE_DESIGNATED, receiver: "京0108", want: court.ErrInvalid},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newStory(t)
			cur := s.in(protocol.StateOffered)
			// The offer asked the decider, unless the case says otherwise:
			// these cases test the hierarchy, not who was asked.
			cur.Superior = c.by
			if c.asked != "" {
				cur.Superior = c.asked
			}
			r := s.rec(c.by, step(3), decisionBody(c.mode, c.receiver, ""))
			next, err := protocol.Apply(cur, r, s.f.trust, s.rules)
			if c.want != nil {
				if !errors.Is(err, c.want) || next != nil {
					t.Fatalf("Apply = %v, %v; want %v", next, err, c.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if next.State != protocol.StateDecided || next.Decider != c.by || next.Receiver != c.receiver || next.Mode != c.wantMode ||
				next.DecisionNumber == "" || !next.DecidedAt.Equal(step(3)) {
				t.Fatalf("decided: %+v", next)
			}
			// The designated court (the decider itself for 提级执行) accepts
			// under a case number of its own.
			newCase := fmt.Sprintf("（2026）%s执5号", c.receiver)
			acc := s.apply(next, s.rec(c.receiver, step(4), acceptanceBody(newCase)))
			if acc.State != protocol.StateAccepted || acc.NewCaseNumber != newCase || !acc.AcceptedAt.Equal(step(4)) {
				t.Fatalf("accepted: %+v", acc)
			}
		})
	}

	t.Run("a second decision", func(t *testing.T) {
		s := newStory(t)
		cur := s.in(protocol.StateDecided)
		for _, r := range []*protocol.Record{
			s.rec("京", step(5), decisionBody(pb.Mode_MODE_DESIGNATED, "京0102", "")),
			s.rec("京01", step(5), decisionBody(pb.Mode_MODE_DESIGNATED, "京0108", "2026-04-01")),
		} {
			if _, err := protocol.Apply(cur, r, s.f.trust, s.rules); !errors.Is(err, court.ErrConflict) {
				t.Errorf("second decision by %s: %v, want court.ErrConflict", r.Issuer, err)
			}
		}
	})
}

// Each step by a court that may not take it is invalid; the same step by
// the right court (the control) is applied.
func TestApplyWrongCourt(t *testing.T) {
	t.Parallel()
	type tc struct {
		name  string
		state protocol.State
		body  func() *pb.Record
		right court.CourtCode
		wrong []court.CourtCode
	}
	for _, c := range []tc{
		{"acceptance", protocol.StateDecided, func() *pb.Record { return acceptanceBody(testNewCase) }, "京0108", nil},
		{"handover", protocol.StateAccepted, func() *pb.Record { return handoverBody("京0108", "京01") }, "京0105", []court.CourtCode{"京0108", "京01", "京"}},
		{"receipt", protocol.StateHandedOver, func() *pb.Record { return receiptBody(testRoot) }, "京0108", []court.CourtCode{"京0105", "京01", "京0102"}},
		{"progress", protocol.StateReceived, func() *pb.Record { return progressBody(1) }, "京0108", []court.CourtCode{"京0105", "京01", "京0102"}},
		{"closure", protocol.StateReceived, func() *pb.Record { return closureBody("settled") }, "京0108", []court.CourtCode{"京0105", "京01", "京0102"}},
		{"withdrawal while offered", protocol.StateOffered, withdrawalBody, "京0105", []court.CourtCode{"京01", "京0108", "京"}},
		{"grant revocation", protocol.StateHandedOver, grantRevocationBody, "京0105", []court.CourtCode{"京0108", "京01"}},
		{"asset update", protocol.StateReceived, assetUpdateBody, "京0108", []court.CourtCode{"京01", "京0102", "京"}},
		{"withdrawal while decided", protocol.StateDecided, withdrawalBody, "京0105", []court.CourtCode{"京01", "京0108"}},
		{"rejection while decided", protocol.StateDecided, rejectionBody, "京0108", []court.CourtCode{"京0105", "京01", "京0102"}},
		{"rejection while offered", protocol.StateOffered, rejectionBody, "京01", []court.CourtCode{"京0105"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newStory(t)
			cur := s.in(c.state)
			if _, err := protocol.Apply(cur, s.rec(c.right, step(8), c.body()), s.f.trust, s.rules); err != nil {
				t.Fatalf("control: by %s: %v", c.right, err)
			}
			wrong := c.wrong
			if c.body().GetAcceptance() != nil {
				// The acceptance carries a case number of its signer.
				for _, w := range []court.CourtCode{"京0102", "京01", "京0105"} {
					r := s.rec(w, step(8), acceptanceBody(fmt.Sprintf("（2026）%s执9号", w)))
					if _, err := protocol.Apply(cur, r, s.f.trust, s.rules); !errors.Is(err, court.ErrInvalid) {
						t.Errorf("acceptance by %s: %v, want court.ErrInvalid", w, err)
					}
				}
			}
			for _, w := range wrong {
				if _, err := protocol.Apply(cur, s.rec(w, step(8), c.body()), s.f.trust, s.rules); !errors.Is(err, court.ErrInvalid) {
					t.Errorf("by %s: %v, want court.ErrInvalid", w, err)
				}
			}
		})
	}

	t.Run("the receiver's steps by the origin before any decision", func(t *testing.T) {
		// Nobody is designated yet, so the receiver's steps are held: but
		// the origin can never be the receiver.
		s := newStory(t)
		cur := s.in(protocol.StateOffered)
		for _, body := range []func() *pb.Record{func() *pb.Record { return receiptBody(testRoot) }, func() *pb.Record { return progressBody(1) }, func() *pb.Record { return closureBody("settled") }} {
			if _, err := protocol.Apply(cur, s.rec("京0108", step(8), body()), s.f.trust, s.rules); !errors.Is(err, protocol.ErrHeld) {
				t.Errorf("%s by 京0108: %v, want ErrHeld", kindName(body()), err)
			}
			if _, err := protocol.Apply(cur, s.rec("京0105", step(8), body()), s.f.trust, s.rules); !errors.Is(err, court.ErrInvalid) {
				t.Errorf("%s by the origin: %v, want court.ErrInvalid", kindName(body()), err)
			}
		}
	})
	t.Run("handover wraps no key for the receiver", func(t *testing.T) {
		s := newStory(t)
		cur := s.in(protocol.StateAccepted)
		if _, err := protocol.Apply(cur, s.rec("京0105", step(8), handoverBody("京01")), s.f.trust, s.rules); !errors.Is(err, court.ErrInvalid) {
			t.Errorf("err = %v, want court.ErrInvalid", err)
		}
	})
	t.Run("a rejection held while offered is judged when the decision arrives", func(t *testing.T) {
		s := newStory(t)
		cur := s.in(protocol.StateOffered)
		rej := s.rec("京0102", step(3), rejectionBody())
		if _, err := protocol.Apply(cur, rej, s.f.trust, s.rules); !errors.Is(err, protocol.ErrHeld) {
			t.Fatalf("rejection by a court not yet designated: %v, want ErrHeld", err)
		}
		askedHigh := *cur
		askedHigh.Superior = "京"
		to0102 := s.apply(&askedHigh, s.rec("京", step(2), decisionBody(pb.Mode_MODE_DESIGNATED, "京0102", "")))
		if next, err := protocol.Apply(to0102, rej, s.f.trust, s.rules); err != nil || next.State != protocol.StateRejected {
			t.Errorf("once designated: %v, %v; want rejected", next, err)
		}
		to0108 := s.apply(cur, s.rec("京01", step(2), decisionBody(pb.Mode_MODE_DESIGNATED, "京0108", "")))
		if _, err := protocol.Apply(to0108, rej, s.f.trust, s.rules); !errors.Is(err, court.ErrInvalid) {
			t.Errorf("once another court is designated: %v, want court.ErrInvalid", err)
		}
	})
}

func TestApplyConflicts(t *testing.T) {
	t.Parallel()
	t.Run("receipt with a wrong Merkle root", func(t *testing.T) {
		s := newStory(t)
		cur := s.in(protocol.StateHandedOver)
		if _, err := protocol.Apply(cur, s.rec("京0108", step(8), receiptBody(make32(0xCC))), s.f.trust, s.rules); !errors.Is(err, court.ErrConflict) {
			t.Errorf("err = %v, want court.ErrConflict", err)
		}
		if next, err := protocol.Apply(cur, s.rec("京0108", step(8), receiptBody(testRoot)), s.f.trust, s.rules); err != nil || next.State != protocol.StateReceived {
			t.Errorf("control: %v, %v", next, err)
		}
	})
	t.Run("a second, different acceptance", func(t *testing.T) {
		s := newStory(t)
		cur := s.in(protocol.StateAccepted)
		if _, err := protocol.Apply(cur, s.rec("京0108", step(8), acceptanceBody("（2026）京0108执78号")), s.f.trust, s.rules); !errors.Is(err, court.ErrConflict) {
			t.Errorf("err = %v, want court.ErrConflict", err)
		}
	})
	t.Run("a second handover", func(t *testing.T) {
		s := newStory(t)
		cur := s.in(protocol.StateHandedOver)
		b := handoverBody("京0108", "京01")
		b.GetHandover().MerkleRoot = make32(0xDD)
		if _, err := protocol.Apply(cur, s.rec("京0105", step(8), b), s.f.trust, s.rules); !errors.Is(err, court.ErrConflict) {
			t.Errorf("err = %v, want court.ErrConflict", err)
		}
	})
	for _, state := range []protocol.State{protocol.StateClosed, protocol.StateRejected, protocol.StateWithdrawn} {
		t.Run("every kind after "+string(state), func(t *testing.T) {
			s := newStory(t)
			cur := s.in(state)
			for _, v := range validBodies() {
				if state == protocol.StateRejected && v.kind == protocol.KindWithdrawal ||
					state == protocol.StateWithdrawn && slices.Contains([]protocol.Kind{protocol.KindDecision, protocol.KindAcceptance, protocol.KindRejection, protocol.KindProgress}, v.kind) {
					continue // crossing a withdrawal: TestApplyCrossingWithdrawal
				}
				if _, err := protocol.Apply(cur, s.rec(v.issuer, step(9), v.body()), s.f.trust, s.rules); !errors.Is(err, court.ErrConflict) {
					t.Errorf("%s by %s: %v, want court.ErrConflict", v.kind, v.issuer, err)
				}
			}
		})
	}
}

// TestApplyCrossingWithdrawal: the origin withdraws while the superior
// (before a decision) or the designated receiver (before its acceptance)
// rejects, or while the superior decides and the receiver accepts. Nodes
// see the records in any order and must end alike: withdrawn, with every
// record and every field the same.
func TestApplyCrossingWithdrawal(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		from     protocol.State
		rejecter court.CourtCode
	}{
		{protocol.StateOffered, "京01"},
		{protocol.StateDecided, "京0108"},
	} {
		t.Run(string(tc.from), func(t *testing.T) {
			s := newStory(t)
			base := s.in(tc.from)
			w := s.rec("京0105", step(5), withdrawalBody())
			r := s.rec(tc.rejecter, step(6), rejectionBody())
			end := func(first, second *protocol.Record) *protocol.Transfer {
				t.Helper()
				mid, err := protocol.Apply(base, first, s.f.trust, s.rules)
				if err != nil {
					t.Fatalf("%s first: %v", first.Kind, err)
				}
				out, err := protocol.Apply(mid, second, s.f.trust, s.rules)
				if err != nil {
					t.Fatalf("%s after %s: %v", second.Kind, first.Kind, err)
				}
				return out
			}
			a, b := end(w, r), end(r, w)
			if a.State != protocol.StateWithdrawn || a.Reason != "被执行人已主动履行" {
				t.Fatalf("withdrawal first: %s (%q), want withdrawn with its reason", a.State, a.Reason)
			}
			ja, _ := json.Marshal(a)
			jb, _ := json.Marshal(b)
			if !bytes.Equal(ja, jb) {
				t.Fatalf("the two orders disagree:\n%s\n%s", ja, jb)
			}
			if !a.Applied(w.HashHex()) || !a.Applied(r.HashHex()) {
				t.Fatal("one of the two records is not kept")
			}
			// Only the pair: a third ending still conflicts.
			again := s.rec(tc.rejecter, step(7), &pb.Record{Body: &pb.Record_Rejection{Rejection: &pb.Rejection{Reason: "另一理由"}}})
			if _, err := protocol.Apply(a, again, s.f.trust, s.rules); !errors.Is(err, court.ErrConflict) {
				t.Fatalf("a second rejection: %v, want court.ErrConflict", err)
			}
		})
	}
	t.Run("decision and acceptance in every order", func(t *testing.T) {
		// What a node does: a held record waits and is retried after
		// every record applied.
		applyAll := func(s *story, cur *protocol.Transfer, rs []*protocol.Record) *protocol.Transfer {
			t.Helper()
			var held []*protocol.Record
			for _, r := range rs {
				next, err := protocol.Apply(cur, r, s.f.trust, s.rules)
				if errors.Is(err, protocol.ErrHeld) {
					held = append(held, r)
					continue
				}
				if err != nil {
					t.Fatalf("%s: %v", r.Kind, err)
				}
				cur = next
				for retry := true; retry; {
					retry = false
					for i, h := range held {
						if next, err := protocol.Apply(cur, h, s.f.trust, s.rules); err == nil {
							cur, held, retry = next, slices.Delete(held, i, i+1), true
							break
						}
					}
				}
			}
			if len(held) > 0 {
				t.Fatalf("%d records still held", len(held))
			}
			return cur
		}
		for _, last := range []string{"acceptance", "rejection"} {
			s := newStory(t)
			base := s.in(protocol.StateOffered)
			rs := []*protocol.Record{
				s.rec("京0105", step(3), withdrawalBody()),
				s.rec("京01", step(4), decisionBody(pb.Mode_MODE_DESIGNATED, "京0108", "")),
				s.rec("京0108", step(5), acceptanceBody(testNewCase)),
			}
			if last == "rejection" {
				rs[2] = s.rec("京0108", step(5), rejectionBody())
			}
			var first []byte
			for _, order := range [][3]int{{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}} {
				end := applyAll(s, base, []*protocol.Record{rs[order[0]], rs[order[1]], rs[order[2]]})
				if end.State != protocol.StateWithdrawn || end.Decider != "京01" || end.Receiver != "京0108" || len(end.Records) != 4 {
					t.Fatalf("%s, order %v: %s, decider %q, receiver %q, %d records", last, order, end.State, end.Decider, end.Receiver, len(end.Records))
				}
				j, _ := json.Marshal(end)
				if first == nil {
					first = j
				} else if !bytes.Equal(j, first) {
					t.Fatalf("%s, order %v disagrees with order [0 1 2]:\n%s\n%s", last, order, j, first)
				}
			}
		}
	})
	t.Run("no race once accepted", func(t *testing.T) {
		// A withdrawal after the acceptance: the receiver may no longer
		// reject, so its rejection is not the other half of a race.
		s := newStory(t)
		out, err := protocol.Apply(s.in(protocol.StateAccepted), s.rec("京0105", step(5), withdrawalBody()), s.f.trust, s.rules)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := protocol.Apply(out, s.rec("京0108", step(6), rejectionBody()), s.f.trust, s.rules); !errors.Is(err, court.ErrInvalid) {
			t.Fatalf("rejection after an accepted transfer was withdrawn: %v, want court.ErrInvalid (as before the withdrawal)", err)
		}
	})
	t.Run("not the superior after its decision", func(t *testing.T) {
		s := newStory(t)
		out, err := protocol.Apply(s.in(protocol.StateDecided), s.rec("京0105", step(5), withdrawalBody()), s.f.trust, s.rules)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := protocol.Apply(out, s.rec("京01", step(6), rejectionBody()), s.f.trust, s.rules); !errors.Is(err, court.ErrInvalid) {
			t.Fatalf("the superior's rejection after its own decision: %v, want court.ErrInvalid (as before the withdrawal)", err)
		}
	})
}

func TestApplyProgress(t *testing.T) {
	t.Parallel()
	s := newStory(t)
	cur := s.in(protocol.StateReceived)
	p1 := s.apply(cur, s.rec("京0108", step(7), progressBody(100)))
	if p1.State != protocol.StateReceived || p1.AmountRecovered != 100 || p1.ProgressStatus == "" {
		t.Fatalf("after progress: %+v", p1)
	}
	// A report not after the last one (crossed in gossip) joins the
	// record list and changes nothing newer.
	for _, at := range []time.Time{step(6), step(7)} {
		old, err := protocol.Apply(p1, s.rec("京0108", at, progressBody(50)), s.f.trust, s.rules)
		if err != nil || old.AmountRecovered != 100 || len(old.Records) != len(p1.Records)+1 {
			t.Errorf("progress issued %v, not after the last: %v; want it recorded and the amount kept at 100", at, err)
		}
	}
	p2 := s.apply(p1, s.rec("京0108", step(8), progressBody(300)))
	if p2.AmountRecovered != 300 {
		t.Errorf("amount %d after a newer report, want 300", p2.AmountRecovered)
	}
	// Two reports in either order: the same transfer.
	r1, r2 := s.rec("京0108", step(7), progressBody(100)), s.rec("京0108", step(8), progressBody(300))
	ab := s.apply(s.apply(cur, r1), r2)
	ba := s.apply(s.apply(cur, r2), r1)
	ja, _ := json.Marshal(ab)
	jb, _ := json.Marshal(ba)
	if !bytes.Equal(ja, jb) {
		t.Errorf("two progress reports applied in either order differ:\n%s\n%s", ja, jb)
	}
	closed := s.apply(p2, s.rec("京0108", step(9), closureBody("settled")))
	if closed.State != protocol.StateClosed || closed.Outcome != "settled" || closed.AmountRecovered != 1_000_000_00 || !closed.ClosedAt.Equal(step(9)) {
		t.Errorf("closed: %+v", closed)
	}
}

// The normal path fills in every field of the transfer, from its records.
func TestApplyStory(t *testing.T) {
	t.Parallel()
	s := newStory(t)
	tr := s.in(protocol.StateClosed)
	if tr.CaseNumber != testCase || tr.Origin != "京0105" || tr.Superior != "京01" || tr.Decider != "京01" || tr.Receiver != "京0108" ||
		tr.Mode != "指令执行" || tr.NewCaseNumber != testNewCase || tr.ChunkCount != 12 || string(tr.MerkleRoot) != string(testRoot) ||
		tr.AmountOutstanding != 1_500_000_00 || tr.AmountOrigin != 20_000_00 || len(tr.Grounds) != 2 || tr.EarliestExpiry != "2026-09-01" ||
		len(tr.Records) != 6 || tr.OfferedAt.IsZero() || tr.HandedOverAt.IsZero() || tr.ReceivedAt.IsZero() {
		t.Errorf("closed transfer: %+v", tr)
	}
}
