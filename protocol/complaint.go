package protocol

import (
	"fmt"
	"slices"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/protocol/pb"
)

// Complaints (投诉) are records too, so that they are evidence and reach
// the supervising court through the same logs as the transfers. A
// PartyComplaint is issued by the court whose party service received it;
// its Record's transfer_id is the complaint's own ID (32 hex digits,
// chosen by the issuer), which is also the reference the party is given.
// A ComplaintAnswer carries the same ID and is issued by the supervising
// court, once. The party's text and the answer are sealed: a random data
// key per text, wrapped (HPKE, purpose "complaint") for each reader court.

// ComplaintCategories are the kinds of complaint a party may file.
var ComplaintCategories = []string{"no_progress", "missed_deadline", "lapsed_measure", "conduct", "other"}

// MaxComplaintSealed bounds a sealed complaint or answer text (a text of
// 2,000 characters in UTF-8 is at most 8,000 bytes, plus the AEAD).
const MaxComplaintSealed = 8 << 10

// ComplaintLabel is the SealField label of a complaint's text ("text") or
// of its answer ("answer").
func ComplaintLabel(id court.TransferID, part string) string {
	return "complaint/" + string(id) + "/" + part
}

// ComplaintPurpose is the purpose a complaint's data keys are wrapped for.
const ComplaintPurpose = "complaint"

// Complaint is the state of one complaint as every node keeps it. The
// JSON field names are a stored format.
type Complaint struct {
	Version     int              `json:"version"` // ComplaintVersion
	ID          court.TransferID `json:"id"`
	CaseNumber  string           `json:"case_number"`
	Issuer      court.CourtCode  `json:"issuer"` // the court whose party service received it
	Complained  court.CourtCode  `json:"complained"`
	Supervisor  court.CourtCode  `json:"supervisor"`
	Category    string           `json:"category"`
	PartyRole   string           `json:"party_role"`
	AnswerBy    string           `json:"answer_by"`
	FiledAt     time.Time        `json:"filed_at"`
	SealedText  []byte           `json:"sealed_text"`
	TextKeys    []WrappedKey     `json:"text_keys"`
	AnsweredAt  time.Time        `json:"answered_at,omitzero"`
	SealedReply []byte           `json:"sealed_answer,omitempty"`
	ReplyKeys   []WrappedKey     `json:"answer_keys,omitempty"`
	Records     []RecordRef      `json:"records"`
}

// ComplaintVersion is the version of the stored Complaint this build
// writes.
const ComplaintVersion = 1

// Answered reports whether the supervisor has answered.
func (c *Complaint) Answered() bool { return !c.AnsweredAt.IsZero() }

// Overdue reports whether the complaint is unanswered after its answer-by
// date as of day.
func (c *Complaint) Overdue(day court.Date) bool {
	by, err := court.ParseDate(c.AnswerBy)
	return err == nil && !c.Answered() && day.After(by)
}

// InTime reports whether the complaint was answered by its answer-by date.
func (c *Complaint) InTime() bool {
	by, err := court.ParseDate(c.AnswerBy)
	return err == nil && c.Answered() && !court.DateOf(c.AnsweredAt).After(by)
}

// Readers lists the courts that may read a complaint's text and answer.
func (c *Complaint) Readers() []court.CourtCode {
	out := []court.CourtCode{c.Supervisor}
	for _, x := range []court.CourtCode{c.Complained, c.Issuer} {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// ComplaintSupervisor is the court that supervises a complaint about
// complained: the decider of the case's transfer when there is one and it
// is not the court complained of, else the complained court's parent.
func ComplaintSupervisor(h court.Hierarchy, complained, decider court.CourtCode) (court.CourtCode, error) {
	if decider != "" && decider != complained && court.IsSuperior(h, decider, complained) {
		return decider, nil
	}
	p, ok := h.Parent(complained)
	if !ok {
		return "", court.Errorf(court.ErrInvalid, "court %s has no superior court to supervise a complaint about it", complained)
	}
	return p, nil
}

func checkSealed(field string, sealed []byte, keys []*pb.WrappedKey) error {
	if len(sealed) == 0 || len(sealed) > MaxComplaintSealed {
		return invalid("the %s must be sealed text of at most %d bytes", field, MaxComplaintSealed)
	}
	if len(keys) == 0 {
		return invalid("the %s's data key is wrapped for nobody", field)
	}
	for _, k := range keys {
		if _, err := court.ParseCourtCode(k.GetCourt()); err != nil || len(k.GetWrapped()) == 0 {
			return invalid("wrapped key for %q is malformed", k.GetCourt())
		}
	}
	return nil
}

func checkComplaint(r *Record, c *pb.PartyComplaint, h court.Hierarchy) error {
	if _, err := court.ParseCaseNumber(c.GetCaseNumber()); err != nil {
		return invalid("case number: %v", err)
	}
	complained, err := court.ParseCourtCode(c.GetComplainedCourt())
	if err != nil {
		return invalid("complained court: %v", err)
	}
	sup, err := court.ParseCourtCode(c.GetSupervisorCourt())
	if err != nil {
		return invalid("supervisor court: %v", err)
	}
	if !court.IsSuperior(h, sup, complained) {
		return invalid("%s is not a superior court of %s", sup, complained)
	}
	if !slices.Contains(ComplaintCategories, c.GetCategory()) {
		return invalid("complaint category %q: want one of %v", c.GetCategory(), ComplaintCategories)
	}
	switch court.PartyRole(c.GetPartyRole()) {
	case court.RoleApplicant, court.RoleRespondent:
	default:
		return invalid("party role %q: want applicant or respondent", c.GetPartyRole())
	}
	if _, err := court.ParseDate(c.GetAnswerBy()); err != nil {
		return invalid("answer by: %v", err)
	}
	if err := checkSealed("complaint", c.GetSealedText(), c.GetKeys()); err != nil {
		return err
	}
	for _, need := range []court.CourtCode{sup, complained, r.Issuer} {
		if !slices.ContainsFunc(c.GetKeys(), func(k *pb.WrappedKey) bool { return court.CourtCode(k.GetCourt()) == need }) {
			return invalid("the complaint's text is not sealed for %s", need)
		}
	}
	return nil
}

func wrapped(keys []*pb.WrappedKey) []WrappedKey {
	out := make([]WrappedKey, 0, len(keys))
	for _, k := range keys {
		out = append(out, WrappedKey{Court: court.CourtCode(k.GetCourt()), Serial: k.GetCertificateSerial(), Wrapped: k.GetWrapped()})
	}
	return out
}

// ApplyComplaint applies a complaint record to the complaint's state (nil
// when unknown) and returns the new state. An answer before its complaint
// is ErrHeld; a second complaint under one ID, an answer by another court
// than the supervisor, or a second answer is a conflict.
func ApplyComplaint(c *Complaint, r *Record) (*Complaint, error) {
	ref := RecordRef{Kind: r.Kind, Issuer: r.Issuer, Hash: r.HashHex(), IssuedAt: r.IssuedAt}
	if c != nil && slices.ContainsFunc(c.Records, func(x RecordRef) bool { return x.Hash == ref.Hash }) {
		return nil, ErrDuplicate
	}
	switch b := r.PB.GetBody().(type) {
	case *pb.Record_PartyComplaint:
		if c != nil {
			return nil, fmt.Errorf("complaint %s from %s: the ID is already taken: %w", r.Transfer, r.Issuer, court.ErrConflict)
		}
		p := b.PartyComplaint
		return &Complaint{
			Version: ComplaintVersion, ID: r.Transfer, CaseNumber: p.GetCaseNumber(), Issuer: r.Issuer,
			Complained: court.CourtCode(p.GetComplainedCourt()), Supervisor: court.CourtCode(p.GetSupervisorCourt()),
			Category: p.GetCategory(), PartyRole: p.GetPartyRole(), AnswerBy: p.GetAnswerBy(), FiledAt: r.IssuedAt,
			SealedText: p.GetSealedText(), TextKeys: wrapped(p.GetKeys()), Records: []RecordRef{ref},
		}, nil
	case *pb.Record_ComplaintAnswer:
		if c == nil {
			return nil, fmt.Errorf("answer to unknown complaint %s from %s: %w", r.Transfer, r.Issuer, ErrHeld)
		}
		if r.Issuer != c.Supervisor {
			return nil, fmt.Errorf("answer to complaint %s from %s: only the supervising court %s answers: %w", r.Transfer, r.Issuer, c.Supervisor, court.ErrConflict)
		}
		if c.Answered() {
			return nil, fmt.Errorf("answer to complaint %s from %s: already answered: %w", r.Transfer, r.Issuer, court.ErrConflict)
		}
		n := *c
		n.AnsweredAt = r.IssuedAt
		n.SealedReply = b.ComplaintAnswer.GetSealedText()
		n.ReplyKeys = wrapped(b.ComplaintAnswer.GetKeys())
		n.Records = append(slices.Clip(c.Records), ref)
		return &n, nil
	}
	return nil, fmt.Errorf("%s %s is not a complaint record: %w", r.Kind, r.Transfer, court.ErrInvalid)
}

// IsComplaint reports whether a record belongs to a complaint rather than
// to a transfer.
func (r *Record) IsComplaint() bool {
	return r.Kind == KindComplaint || r.Kind == KindComplaintAnswer
}
