package protocol

import (
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/protocol/pb"
)

// Supervision records: a superior court's directive (督办) to a court
// concerned by a transfer, and that court's report. They ride in the
// transfer's records (so they are evidence, exported with it) without
// moving its state, in any state, closed included.
const (
	KindDirective       Kind = "directive"
	KindDirectiveReport Kind = "directive_report"
)

// Directive is a directive on a transfer as every node holds it.
type Directive struct {
	Hash        string          `json:"hash"` // of the directive record
	Issuer      court.CourtCode `json:"issuer"`
	Court       court.CourtCode `json:"court"`
	Instruction string          `json:"instruction"`
	Due         string          `json:"due"` // YYYY-MM-DD
	IssuedAt    time.Time       `json:"issued_at"`
	Report      string          `json:"report,omitempty"`
	ReportedAt  time.Time       `json:"reported_at,omitzero"`
}

// Overdue reports whether the directive is unanswered after its due day.
func (d *Directive) Overdue(now time.Time) bool {
	due, err := court.ParseDate(d.Due)
	return err == nil && d.ReportedAt.IsZero() && court.DateOf(now).After(due)
}

// MaxDirectives bounds the directives one transfer holds (its record
// stays small).
const MaxDirectives = 64

func supervisionKind(r *pb.Record) Kind {
	switch r.GetBody().(type) {
	case *pb.Record_Directive:
		return KindDirective
	case *pb.Record_DirectiveReport:
		return KindDirectiveReport
	case *pb.Record_Review:
		return KindReview
	case *pb.Record_OriginCheck:
		return KindOriginCheck
	}
	return ""
}

// checkSupervision checks a supervision record's body without state; ok
// is false for any other kind.
func checkSupervision(r *Record) (ok bool, err error) {
	switch b := r.PB.GetBody().(type) {
	case *pb.Record_Directive:
		d := b.Directive
		if _, err := court.ParseCourtCode(d.GetCourt()); err != nil {
			return true, invalid("directed court: %v", err)
		}
		if err := checkFree("instruction", d.GetInstruction(), 500, true); err != nil {
			return true, err
		}
		due, err := optDate("due", d.GetDue())
		if err != nil {
			return true, err
		}
		if due.IsZero() {
			return true, invalid("a directive needs a due date")
		}
		if due.Before(court.DateOf(r.IssuedAt)) {
			return true, invalid("directive due on %s, before it was issued", due)
		}
		return true, nil
	case *pb.Record_DirectiveReport:
		if h, err := hex.DecodeString(b.DirectiveReport.GetDirective()); err != nil || len(h) != 32 {
			return true, invalid("a report names its directive by the record's SHA-256 (64 hex digits)")
		}
		return true, checkFree("report", b.DirectiveReport.GetReport(), 1000, true)
	case *pb.Record_Review:
		return true, checkReview(r)
	case *pb.Record_OriginCheck:
		return true, checkOriginCheck(r)
	}
	return false, nil
}

// applySupervision applies a supervision record to t; ok is false for
// any other kind. A directive comes from a superior of the court it
// directs, which must be the transfer's origin, decider or receiver; a
// report comes from the directed court, once.
func applySupervision(t *Transfer, r *Record, h court.Hierarchy) (n *Transfer, ok bool, err error) {
	if r.Kind != KindDirective && r.Kind != KindDirectiveReport && r.Kind != KindReview && r.Kind != KindOriginCheck {
		return nil, false, nil
	}
	if t == nil {
		return nil, true, fmt.Errorf("%s for unknown transfer %s: %w", r.Kind, r.Transfer, ErrHeld)
	}
	c := *t
	c.Records = insertRef(t.Records, RecordRef{Kind: r.Kind, Issuer: r.Issuer, Hash: r.HashHex(), IssuedAt: r.IssuedAt})
	c.Directives = slices.Clone(t.Directives)
	switch b := r.PB.GetBody().(type) {
	case *pb.Record_Directive:
		to := court.CourtCode(b.Directive.GetCourt())
		if to != t.Origin && to != t.Decider && to != t.Receiver {
			return nil, true, fmt.Errorf("directive %s: %s is not a court of the transfer (origin %s, decider %s, receiver %s): %w", r.Transfer, to, t.Origin, t.Decider, t.Receiver, court.ErrInvalid)
		}
		if !court.IsSuperior(h, r.Issuer, to) {
			return nil, true, fmt.Errorf("directive %s: %s is not a superior court of %s: %w", r.Transfer, r.Issuer, to, court.ErrInvalid)
		}
		if len(t.Directives) >= MaxDirectives {
			return nil, true, fmt.Errorf("directive %s: the transfer already holds %d directives: %w", r.Transfer, MaxDirectives, court.ErrConflict)
		}
		c.Directives = append(c.Directives, Directive{Hash: r.HashHex(), Issuer: r.Issuer, Court: to,
			Instruction: b.Directive.GetInstruction(), Due: b.Directive.GetDue(), IssuedAt: r.IssuedAt})
	case *pb.Record_DirectiveReport:
		want := b.DirectiveReport.GetDirective()
		i := slices.IndexFunc(c.Directives, func(d Directive) bool { return d.Hash == want })
		switch {
		case i < 0:
			return nil, true, fmt.Errorf("report %s from %s on directive %.12s…, which this node has not seen: %w", r.Transfer, r.Issuer, want, ErrHeld)
		case c.Directives[i].Court != r.Issuer:
			return nil, true, fmt.Errorf("report %s: directive %.12s… directs %s, not %s: %w", r.Transfer, want, c.Directives[i].Court, r.Issuer, court.ErrInvalid)
		case !c.Directives[i].ReportedAt.IsZero():
			return nil, true, fmt.Errorf("report %s: directive %.12s… was already answered: %w", r.Transfer, want, court.ErrConflict)
		}
		c.Directives[i].Report, c.Directives[i].ReportedAt = b.DirectiveReport.GetReport(), r.IssuedAt
	case *pb.Record_Review:
		if err := applyReview(t, &c, r, h); err != nil {
			return nil, true, err
		}
	case *pb.Record_OriginCheck:
		if err := applyOriginCheck(t, &c, r); err != nil {
			return nil, true, err
		}
	}
	return &c, true, nil
}
