package protocol

import (
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
