package protocol

import (
	"cmp"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/protocol/pb"
)

// Start sources as the transfer state names them.
var startSources = map[pb.StartSource]string{
	pb.StartSource_START_OWN_MOTION:        "own_motion",
	pb.StartSource_START_SUPERVISION:       "supervision",
	pb.StartSource_START_PETITION:          "petition",
	pb.StartSource_START_APPLICANT_REQUEST: "applicant_request",
}

// ParseStartSource reads a start source: own_motion, supervision,
// petition or applicant_request.
func ParseStartSource(s string) (pb.StartSource, error) {
	for k, v := range startSources {
		if v == s {
			return k, nil
		}
	}
	return 0, invalid("start source %q: want own_motion, supervision, petition or applicant_request", s)
}

// checkStart checks a superior's start of a transfer without state: the
// issuer is a superior court of the origin, the case is the origin's
// enforcement case, and an applicant's request names the dates the law
// turns on (6 months since filing, 民诉法 art. 237) and the answer's.
func checkStart(r *Record, s *pb.TransferStart, h court.Hierarchy) error {
	origin, err := court.ParseCourtCode(s.GetOriginCourt())
	if err != nil {
		return invalid("origin court: %v", err)
	}
	if !court.IsSuperior(h, r.Issuer, origin) {
		return invalid("%s is not a superior court of %s: only a superior starts a transfer of its case", r.Issuer, origin)
	}
	if _, err := EnforcementCase("case number", s.GetCaseNumber(), origin); err != nil {
		return err
	}
	if err := checkGrounds(s.GetGrounds()); err != nil {
		return err
	}
	if _, ok := startSources[s.GetSource()]; !ok {
		return invalid("unknown start source %d", s.GetSource())
	}
	filed, err := optDate("filed on", s.GetFiledOn())
	if err != nil {
		return err
	}
	requested, err := optDate("requested on", s.GetRequestedOn())
	if err != nil {
		return err
	}
	answer, err := optDate("answer by", s.GetAnswerBy())
	if err != nil {
		return err
	}
	if s.GetSource() != pb.StartSource_START_APPLICANT_REQUEST {
		if !requested.IsZero() || !answer.IsZero() {
			return invalid("requested_on and answer_by belong to an applicant's request")
		}
		return nil
	}
	switch {
	case filed.IsZero() || requested.IsZero() || answer.IsZero():
		return invalid("an applicant's request names filed_on, requested_on and answer_by")
	case requested.After(court.DateOf(r.IssuedAt)):
		return invalid("the applicant's request is dated %s, after it was recorded", requested)
	case answer.Before(requested):
		return invalid("answer_by %s is before the request (%s)", answer, requested)
	}
	if limit := requested.AddDate(0, -6, 0); filed.After(limit) {
		return invalid("case filed on %s was not 6 months unenforced when the applicant asked on %s (民诉法 art. 237: filed on or before %s)", filed, requested, limit)
	}
	return nil
}

func checkGrounds(gs []pb.Ground) error {
	if len(gs) == 0 {
		return invalid("at least one ground is needed")
	}
	for _, g := range gs {
		if _, ok := pb.Ground_name[int32(g)]; !ok || g == pb.Ground_GROUND_UNSPECIFIED {
			return invalid("unknown ground %d", g)
		}
	}
	return nil
}

func applyStart(r *Record) *Transfer {
	s := r.PB.GetStart()
	t := &Transfer{
		ID: r.Transfer, State: StateOffered, CaseNumber: s.GetCaseNumber(),
		Origin: court.CourtCode(s.GetOriginCourt()), Superior: r.Issuer, OfferedAt: r.IssuedAt,
		StartedBy: startSources[s.GetSource()], RequestedOn: s.GetRequestedOn(), AnswerBy: s.GetAnswerBy(), FiledOn: s.GetFiledOn(),
		Records: []RecordRef{{Kind: r.Kind, Issuer: r.Issuer, Hash: r.HashHex(), IssuedAt: r.IssuedAt}},
	}
	if n, err := court.ParseCaseNumber(t.CaseNumber); err == nil {
		t.CaseNumber = n.String()
	}
	for _, g := range s.GetGrounds() {
		t.Grounds = append(t.Grounds, g.String())
	}
	return t
}

// AskAgain checks an applicant's new request (申请变更执行法院, a new
// transfer or 提级) about the case that transfer prev moved, made on the
// date requested, against prev: while the receiver's conclusion period
// runs (prev received, its conclusion due by ConcludeBy, fixed by the
// decision) the receiver has the case and the request is refused;
// the day after ConcludeBy the applicant may ask again (委托执行规定
// (2020) by analogy: a case with assets concluded within 6 months, then
// the applicant may ask the superior). A case the receiver has closed
// is no longer enforced under prev: after 终本 it is resumed (执恢) and
// offered under that number. It returns court.ErrConflict with the
// date from which the applicant may ask.
func AskAgain(prev *Transfer, requested court.Date) error {
	switch {
	case prev.State == StateClosed:
		return court.Errorf(court.ErrConflict, "case %s was concluded by %s in transfer %s (%s): an applicant's request moves a case in enforcement; resume a 终本 case (执恢) and offer it under that number",
			prev.NewCaseNumber, prev.Receiver, prev.ID, cmp.Or(string(prev.ClosureKind), prev.Outcome))
	case prev.State != StateReceived:
		return court.Errorf(court.ErrConflict, "case %s is in transfer %s (%s), not yet enforced by %s: the applicant may ask again only after the receiver's conclusion period", prev.NewCaseNumber, prev.ID, prev.State, prev.Receiver)
	}
	by, err := court.ParseDate(prev.ConcludeBy)
	if err != nil {
		return nil // a transfer of an older build: no conclusion date fixed
	}
	if !requested.After(by) {
		return court.Errorf(court.ErrConflict, "case %s received by %s in transfer %s is due for conclusion by %s: the applicant may ask again (a new transfer or 提级) from %s, not on %s",
			prev.NewCaseNumber, prev.Receiver, prev.ID, by, by.AddDate(0, 0, 1), requested)
	}
	return nil
}
