package protocol_test

import (
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
)

// fuzzStates are transfers in several states, for the fuzzers to apply
// what they decode to.
func fuzzStates(f *testing.F, fx *fixture) []*protocol.Transfer {
	var cur *protocol.Transfer
	out := []*protocol.Transfer{nil}
	steps := []struct {
		by   string
		body *pb.Record
	}{
		{"京0105", offerBody()},
		{"京01", decisionBody(pb.Mode_MODE_DESIGNATED, "京0108", "")},
		{"京0108", acceptanceBody(testNewCase)},
		{"京0105", handoverBody("京0108", "京01")},
		{"京0108", receiptBody(testRoot)},
		{"京0108", closureBody("concluded")},
	}
	for i, s := range steps {
		r, err := protocol.DecodeRecord(seal(f, fx.as(f, courtCode(s.by)), uint64(i+1), step(i+1), testID, s.body), fx.trust, fixNow)
		if err != nil {
			f.Fatal(err)
		}
		if cur, err = protocol.Apply(cur, r, fx.trust, protocol.Rules{}); err != nil {
			f.Fatal(err)
		}
		out = append(out, cur)
	}
	return out
}

// checkDecoded checks what DecodeRecord promises and applies an accepted
// record to every state: nothing may panic, and an error is one of the
// state machine's.
func checkDecoded(t *testing.T, fx *fixture, states []*protocol.Transfer, raw []byte, r *protocol.Record, err error) {
	if err != nil {
		if r != nil && !errors.Is(err, court.ErrInvalid) {
			t.Fatalf("record returned with an error that is not court.ErrInvalid: %v", err)
		}
		return
	}
	if r == nil || r.Kind == "" || r.Seq == 0 || r.Issuer != r.Signer.Code || string(r.Raw) != string(raw) {
		t.Fatalf("accepted record is inconsistent: %+v", r)
	}
	if _, perr := court.ParseTransferID(string(r.Transfer)); perr != nil {
		t.Fatalf("accepted record with transfer id %q", r.Transfer)
	}
	for _, cur := range states {
		next, aerr := protocol.Apply(cur, r, fx.trust, protocol.Rules{})
		switch {
		case aerr == nil:
			if next == nil || !next.Applied(r.HashHex()) {
				t.Fatalf("Apply accepted but did not record %s", r.Kind)
			}
			next.Overdue(fixNow)
			next.WaitingOn()
		case errors.Is(aerr, protocol.ErrHeld), errors.Is(aerr, court.ErrConflict), errors.Is(aerr, court.ErrInvalid),
			errors.Is(aerr, protocol.ErrDuplicate), errors.Is(aerr, court.ErrStale):
		default:
			t.Fatalf("Apply error of no known kind: %v", aerr)
		}
	}
}

func courtCode(s string) court.CourtCode { return court.CourtCode(s) }

// FuzzDecodeRecord feeds arbitrary bytes to DecodeRecord.
func FuzzDecodeRecord(f *testing.F) {
	fx := newFixture(f, f.TempDir())
	states := fuzzStates(f, fx)
	for i, v := range validBodies() {
		f.Add(seal(f, fx.as(f, v.issuer), uint64(i+1), step(i+1), testID, v.body()))
	}
	f.Add(seal(f, fx.revoked, 1, step(1), testID, offerBody()))
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x00})
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := protocol.DecodeRecord(raw, fx.trust, fixNow)
		checkDecoded(t, fx, states, raw, r, err)
	})
}

// FuzzDecodeRecordPayload signs arbitrary payload bytes in a valid
// envelope of a certified court, so that the fuzzer reaches the body
// checks and the state machine past the signature.
func FuzzDecodeRecordPayload(f *testing.F) {
	fx := newFixture(f, f.TempDir())
	states := fuzzStates(f, fx)
	signers := []string{"京0105", "京01", "京0108", "京", "京0102"}
	for i, v := range validBodies() {
		b := v.body()
		b.Version, b.IssuerCourt, b.Sequence, b.IssuedAt, b.TransferId = protocol.RecordVersion, string(v.issuer), uint64(i+1), step(i+1).UnixMilli(), string(testID)
		payload, err := proto.Marshal(b)
		if err != nil {
			f.Fatal(err)
		}
		for j, s := range signers {
			if s == string(v.issuer) {
				f.Add(uint8(j), payload)
			}
		}
	}
	f.Add(uint8(0), []byte{})
	f.Fuzz(func(t *testing.T, who uint8, payload []byte) {
		p := fx.as(t, courtCode(signers[int(who)%len(signers)]))
		env, err := crypto.Seal(p.key, p.cert.Serial, protocol.PayloadRecord, payload)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := env.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		r, err := protocol.DecodeRecord(raw, fx.trust, fixNow)
		checkDecoded(t, fx, states, raw, r, err)
		if len(raw) <= protocol.MaxGossipMessage && r == nil && err == nil {
			t.Fatal("no record and no error")
		}
	})
}

// The fuzzers' seeds decode as they should: a control that the harness
// reaches the state machine at all.
func TestFuzzSeedsReachApply(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, t.TempDir())
	applied := 0
	for i, v := range validBodies() {
		raw := seal(t, fx.as(t, v.issuer), uint64(i+1), fixNow.Add(-time.Hour), testID, v.body())
		r, err := protocol.DecodeRecord(raw, fx.trust, fixNow)
		if err != nil {
			t.Fatalf("%s: %v", v.kind, err)
		}
		if _, err := protocol.Apply(nil, r, fx.trust, protocol.Rules{}); err == nil {
			applied++
		}
	}
	if applied != 1 {
		t.Errorf("%d kinds apply to an unknown transfer, want 1 (the offer)", applied)
	}
}
