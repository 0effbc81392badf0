package protocol_test

import (
	"errors"
	"testing"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
)

const complaintID court.TransferID = "c0ffee00c0ffee00c0ffee00c0ffee00"

func complaintBody(mod func(*pb.PartyComplaint)) *pb.Record {
	c := &pb.PartyComplaint{
		CaseNumber: "（2025）京0105执123号", ComplainedCourt: "京0108", SupervisorCourt: "京01", Category: "no_progress",
		AnswerBy: "2026-04-01", SealedText: []byte("sealed"), PartyRole: "applicant",
		Keys: []*pb.WrappedKey{{Court: "京01", Wrapped: []byte("k")}, {Court: "京0108", Wrapped: []byte("k")}, {Court: "京0105", Wrapped: []byte("k")}},
	}
	if mod != nil {
		mod(c)
	}
	return &pb.Record{Body: &pb.Record_PartyComplaint{PartyComplaint: c}}
}

func answerBody() *pb.Record {
	return &pb.Record{Body: &pb.Record_ComplaintAnswer{ComplaintAnswer: &pb.ComplaintAnswer{
		SealedText: []byte("sealed answer"), Keys: []*pb.WrappedKey{{Court: "京0105", Wrapped: []byte("k")}},
	}}}
}

// TestComplaintRecords checks what a complaint record must carry and the
// complaint's state machine: one complaint per ID, answered once, by its
// supervising court only, an early answer held.
func TestComplaintRecords(t *testing.T) {
	f := newFixture(t, t.TempDir())
	origin := f.as(t, "京0105")
	bad := map[string]func(*pb.PartyComplaint){
		"supervisor not a superior":    func(c *pb.PartyComplaint) { c.SupervisorCourt = "京02" },
		"supervisor is the court":      func(c *pb.PartyComplaint) { c.SupervisorCourt = "京0108" },
		"unknown category":             func(c *pb.PartyComplaint) { c.Category = "rude" },
		"no case number":               func(c *pb.PartyComplaint) { c.CaseNumber = "" },
		"bad answer-by":                func(c *pb.PartyComplaint) { c.AnswerBy = "soon" },
		"bad role":                     func(c *pb.PartyComplaint) { c.PartyRole = "witness" },
		"text in clear, not sealed":    func(c *pb.PartyComplaint) { c.SealedText = nil },
		"oversized text":               func(c *pb.PartyComplaint) { c.SealedText = make([]byte, protocol.MaxComplaintSealed+1) },
		"not sealed to the supervisor": func(c *pb.PartyComplaint) { c.Keys = c.Keys[1:] },
		"not sealed to the issuer":     func(c *pb.PartyComplaint) { c.Keys = c.Keys[:2] },
	}
	seq := uint64(1)
	for name, mod := range bad {
		raw := seal(t, origin, seq, fixNow, complaintID, complaintBody(mod))
		seq++
		if _, err := protocol.DecodeRecord(raw, f.trust, fixNow); !errors.Is(err, court.ErrInvalid) {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}
	r, err := protocol.DecodeRecord(seal(t, origin, seq, fixNow, complaintID, complaintBody(nil)), f.trust, fixNow)
	if err != nil || r.Kind != protocol.KindComplaint || !r.IsComplaint() {
		t.Fatalf("a good complaint: %v", err)
	}
	ans, err := protocol.DecodeRecord(seal(t, f.as(t, "京01"), 1, fixNow.Add(1), complaintID, answerBody()), f.trust, fixNow.Add(1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := protocol.ApplyComplaint(nil, ans); !errors.Is(err, protocol.ErrHeld) {
		t.Errorf("an answer before its complaint: %v, want held", err)
	}
	c, err := protocol.ApplyComplaint(nil, r)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := protocol.ApplyComplaint(c, r); !errors.Is(err, protocol.ErrDuplicate) {
		t.Errorf("the complaint again: %v", err)
	}
	other, _ := protocol.DecodeRecord(seal(t, origin, seq+1, fixNow, complaintID, complaintBody(nil)), f.trust, fixNow)
	if _, err := protocol.ApplyComplaint(c, other); !errors.Is(err, court.ErrConflict) {
		t.Errorf("a second complaint under the ID: %v", err)
	}
	wrong, _ := protocol.DecodeRecord(seal(t, f.as(t, "京0108"), 1, fixNow, complaintID, answerBody()), f.trust, fixNow)
	if _, err := protocol.ApplyComplaint(c, wrong); !errors.Is(err, court.ErrConflict) {
		t.Errorf("an answer by the court complained of: %v", err)
	}
	done, err := protocol.ApplyComplaint(c, ans)
	if err != nil || !done.Answered() || !done.InTime() || done.Overdue(court.DateOf(fixNow).AddDate(1, 0, 0)) {
		t.Fatalf("answered: %+v, %v", done, err)
	}
	again, _ := protocol.DecodeRecord(seal(t, f.as(t, "京01"), 2, fixNow.Add(2), complaintID, answerBody()), f.trust, fixNow.Add(2))
	if _, err := protocol.ApplyComplaint(done, again); !errors.Is(err, court.ErrConflict) {
		t.Errorf("a second answer: %v", err)
	}
	d1, _ := court.ParseDate("2026-04-01")
	if !c.Overdue(d1.AddDate(0, 0, 1)) || c.Overdue(d1) {
		t.Errorf("overdue the day after 2026-04-01, not on it")
	}
	for _, x := range []struct{ complained, decider, want court.CourtCode }{
		{"京0108", "京01", "京01"}, {"京0108", "", "京01"}, {"京01", "京01", "京"}, {"京0102", "", "京02"}, {"京0108", "京02", "京01"},
	} {
		if got, err := protocol.ComplaintSupervisor(f.trust, x.complained, x.decider); err != nil || got != x.want {
			t.Errorf("supervisor of a complaint about %s (decider %q): %s, %v; want %s", x.complained, x.decider, got, err, x.want)
		}
	}
}
