package protocol

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/protocol/pb"
)

// The modes beyond the move of one case (法发〔2024〕9号): 督促执行 (the
// superior orders the origin to enforce by a date; power stays; the
// origin reports; the superior may escalate to a move), 协同执行 (another
// court assists without taking the case) and 集中执行 (one debtor's cases
// from several courts gathered into one court by one decision, each then
// handed over and filed as in 指令执行). Also here: the receiver's
// refusal of a handed-over case to the superior, which rules on it.

// The mode names, as Transfer.Mode holds them.
const (
	ModeDesignated = "指令执行"
	ModeElevated   = "提级执行"
	ModeSupervised = "督促执行"
	ModeAssisted   = "协同执行"
	ModeGathered   = "集中执行"
)

// Modes lists every mode, in the order the dashboard shows them.
var Modes = []string{ModeDesignated, ModeElevated, ModeGathered, ModeSupervised, ModeAssisted}

// The kinds of the modes' records.
const (
	KindSupervisionReport Kind = "supervision_report"
	KindAssistRequest     Kind = "assistance_request"
	KindAssistAnswer      Kind = "assistance_answer"
	KindAssistResult      Kind = "assistance_result"
)

// MaxGathered bounds the transfers one 集中执行 decision gathers (the
// decision lists them all and must stay a small gossip message).
const MaxGathered = 200

// RefusalRulingDays is the time the superior has to rule on a receiver's
// refusal of a handed-over case, from the refusal: a protocol constant,
// so that every node agrees on when it is overdue.
const RefusalRulingDays = 15

// AssistTasks are the kinds of task a request for assistance names:
// investigate property (查询/调查), seal up (查封), freeze (冻结), detain
// (扣押), serve papers (送达), hand over property or money (交付), other.
var AssistTasks = []string{"investigate", "seize", "freeze", "detain", "serve", "deliver", "other"}

// AssistOutcomes are the outcomes an assisting court reports.
var AssistOutcomes = []string{"done", "partial", "not_possible"}

// AssistPurpose is the key purpose an assistance request's data key is
// wrapped under (crypto.WrapDataKey), bound to the transfer ID.
const AssistPurpose = "assistance"

// AssistLabel is the field label a request's ("request") or result's
// ("result") detail is sealed under.
func AssistLabel(id court.TransferID, part string) string {
	return "assistance/" + string(id) + "/" + part
}

// MatchInfo is the HPKE info an offer's debtor match key is sealed under
// (crypto.Wrap to the superior), bound to the transfer ID.
func MatchInfo(id court.TransferID) []byte {
	return []byte("courtmesh debtor match v1\x00" + string(id))
}

// Supervision is a transfer's 督促执行 as every node holds it.
type Supervision struct {
	EnforceBy   string    `json:"enforce_by"` // YYYY-MM-DD: the origin enforces and reports by
	Reports     int       `json:"reports"`
	LastStatus  string    `json:"last_status,omitempty"`
	ReportedAt  time.Time `json:"reported_at,omitzero"`
	Recovered   int64     `json:"amount_recovered_fen"`           // by the origin, as last reported
	Escalated   bool      `json:"escalated,omitempty"`            // the superior moved the case after all
	EscalatedAt time.Time `json:"escalated_at,omitzero"`          // when
	Overdue     bool      `json:"overdue_at_escalation,omitzero"` // the escalation came after enforce_by
}

func (s *Supervision) enforceBy() string {
	if s == nil {
		return ""
	}
	return s.EnforceBy
}

// Assistance is a transfer's 协同执行 as every node holds it.
type Assistance struct {
	Court        court.CourtCode `json:"court"` // the assisting court
	Tasks        []string        `json:"tasks"`
	AnswerBy     string          `json:"answer_by"`
	Due          string          `json:"due"`
	SealedDetail []byte          `json:"sealed_detail"`
	Keys         []WrappedKey    `json:"keys"`
	AnsweredAt   time.Time       `json:"answered_at,omitzero"`
	Outcome      string          `json:"outcome,omitempty"`
	Recovered    int64           `json:"amount_recovered_fen,omitempty"`
	SealedResult []byte          `json:"sealed_result,omitempty"`
	ResultAt     time.Time       `json:"result_at,omitzero"`
}

func (a *Assistance) court() court.CourtCode {
	if a == nil {
		return ""
	}
	return a.Court
}

func (a *Assistance) answerBy() string {
	if a == nil {
		return ""
	}
	return a.AnswerBy
}

func (a *Assistance) due() string {
	if a == nil {
		return ""
	}
	return a.Due
}

// Refusal is the receiver's refusal of a handed-over case, and the
// superior's ruling on it.
type Refusal struct {
	By        court.CourtCode `json:"by"`
	Reason    string          `json:"reason"`
	At        time.Time       `json:"at"`
	RuleBy    string          `json:"rule_by"`          // YYYY-MM-DD: the superior rules by
	Ruling    string          `json:"ruling,omitempty"` // upheld | redesignated | set_aside
	RuledAt   time.Time       `json:"ruled_at,omitzero"`
	Refusals  int             `json:"refusals"` // how many refusals this transfer saw
	RuledWith string          `json:"ruled_with,omitempty"`
}

func (f *Refusal) ruleBy() string {
	if f == nil || f.Ruling != "" {
		return ""
	}
	return f.RuleBy
}

func modesKind(r *pb.Record) Kind {
	switch r.GetBody().(type) {
	case *pb.Record_SupervisionReport:
		return KindSupervisionReport
	case *pb.Record_AssistanceRequest:
		return KindAssistRequest
	case *pb.Record_AssistanceAnswer:
		return KindAssistAnswer
	case *pb.Record_AssistanceResult:
		return KindAssistResult
	}
	return ""
}

// checkDecisionMode checks what a decision's mode requires, without
// state.
func checkDecisionMode(r *Record, d *pb.TransferDecision) error {
	enforceBy, err := optDate("enforce by", d.GetEnforceBy())
	if err != nil {
		return err
	}
	switch d.GetMode() {
	case pb.Mode_MODE_SUPERVISED:
		if enforceBy.IsZero() {
			return invalid("a 督促执行 decision sets the date the origin enforces by (enforce_by)")
		}
		if enforceBy.Before(court.DateOf(r.IssuedAt)) {
			return invalid("enforce_by %s is before the decision", enforceBy)
		}
	default:
		if !enforceBy.IsZero() {
			return invalid("enforce_by belongs to a 督促执行 decision")
		}
	}
	g := d.GetGathered()
	if d.GetMode() != pb.Mode_MODE_GATHERED {
		if len(g) > 0 {
			return invalid("gathered transfers belong to a 集中执行 decision")
		}
		return nil
	}
	switch {
	case len(g) < 2:
		return invalid("a 集中执行 decision gathers at least 2 transfers, not %d", len(g))
	case len(g) > MaxGathered:
		return invalid("a 集中执行 decision gathers at most %d transfers, not %d", MaxGathered, len(g))
	}
	for i, id := range g {
		if _, err := court.ParseTransferID(id); err != nil {
			return invalid("gathered transfer %q: %v", id, err)
		}
		if i > 0 && g[i-1] >= id {
			return invalid("gathered transfers must be sorted and distinct (%s after %s)", id, g[i-1])
		}
	}
	return nil
}

// checkModes checks the modes' records without state; ok is false for
// any other kind.
func checkModes(r *Record) (ok bool, err error) {
	switch b := r.PB.GetBody().(type) {
	case *pb.Record_SupervisionReport:
		s := b.SupervisionReport
		if err := checkAmount("amount recovered", s.GetAmountRecoveredFen()); err != nil {
			return true, err
		}
		if err := checkFree("status", s.GetStatus(), 500, true); err != nil {
			return true, err
		}
		switch k := s.GetKind(); {
		case k == pb.ClosureKind_CLOSURE_KIND_UNSPECIFIED:
		case closureKindOf(k) == "":
			return true, invalid("unknown closure kind %d", k)
		case k == pb.ClosureKind_CLOSURE_CANCELLED:
			return true, invalid("销案 closes a case that moves; under 督促执行 the case stays with the origin")
		case k == pb.ClosureKind_CLOSURE_TERMINAL:
			return true, invalid("终本 needs its investigation steps and approval (民诉法解释 art. 517): the superior escalates the case, or the origin reports progress")
		}
		return true, nil
	case *pb.Record_AssistanceRequest:
		return true, checkAssistRequest(r, b.AssistanceRequest)
	case *pb.Record_AssistanceAnswer:
		a := b.AssistanceAnswer
		return true, checkFree("reason", a.GetReason(), 500, !a.GetAccepted())
	case *pb.Record_AssistanceResult:
		a := b.AssistanceResult
		if !slices.Contains(AssistOutcomes, a.GetOutcome()) {
			return true, invalid("assistance outcome %q: want %s", a.GetOutcome(), strings.Join(AssistOutcomes, ", "))
		}
		if err := checkAmount("amount recovered", a.GetAmountRecoveredFen()); err != nil {
			return true, err
		}
		if len(a.GetSealedDetail()) == 0 || len(a.GetSealedDetail()) > MaxComplaintSealed {
			return true, invalid("the result's detail must be sealed, at most %d bytes", MaxComplaintSealed)
		}
		return true, nil
	}
	return false, nil
}

func checkAssistRequest(r *Record, a *pb.AssistanceRequest) error {
	if _, err := EnforcementCase("case number", a.GetCaseNumber(), r.Issuer); err != nil {
		return err
	}
	c, err := court.ParseCourtCode(a.GetAssistingCourt())
	if err != nil {
		return invalid("assisting court: %v", err)
	}
	if c == r.Issuer {
		return invalid("a court does not ask itself for assistance")
	}
	if len(a.GetTasks()) == 0 {
		return invalid("a request for assistance names its tasks: at least one of %s", strings.Join(AssistTasks, ", "))
	}
	for i, k := range a.GetTasks() {
		if !slices.Contains(AssistTasks, k) {
			return invalid("assistance task %q: want one of %s", k, strings.Join(AssistTasks, ", "))
		}
		if slices.Contains(a.GetTasks()[:i], k) {
			return invalid("assistance task %s named twice", k)
		}
	}
	answer, err := optDate("answer by", a.GetAnswerBy())
	if err != nil {
		return err
	}
	due, err := optDate("due", a.GetDue())
	if err != nil {
		return err
	}
	switch {
	case answer.IsZero() || due.IsZero():
		return invalid("a request for assistance names answer_by and due")
	case answer.Before(court.DateOf(r.IssuedAt)):
		return invalid("answer_by %s is before the request", answer)
	case due.Before(answer):
		return invalid("due %s is before answer_by %s", due, answer)
	}
	if err := checkSealed("request's detail", a.GetSealedDetail(), a.GetKeys()); err != nil {
		return err
	}
	for _, want := range []court.CourtCode{c, r.Issuer} {
		if !slices.ContainsFunc(a.GetKeys(), func(k *pb.WrappedKey) bool { return court.CourtCode(k.GetCourt()) == want }) {
			return invalid("the request's data key is not wrapped for %s", want)
		}
	}
	return nil
}

func applyAssistRequest(r *Record) *Transfer {
	a := r.PB.GetAssistanceRequest()
	t := &Transfer{
		ID: r.Transfer, State: StateAssistRequested, CaseNumber: a.GetCaseNumber(), Origin: r.Issuer,
		Mode: ModeAssisted, OfferedAt: r.IssuedAt,
		Assistance: &Assistance{Court: court.CourtCode(a.GetAssistingCourt()), Tasks: a.GetTasks(), AnswerBy: a.GetAnswerBy(),
			Due: a.GetDue(), SealedDetail: a.GetSealedDetail()},
		Records: []RecordRef{{Kind: r.Kind, Issuer: r.Issuer, Hash: r.HashHex(), IssuedAt: r.IssuedAt}},
	}
	if n, err := court.ParseCaseNumber(t.CaseNumber); err == nil {
		t.CaseNumber = n.String()
	}
	for _, k := range a.GetKeys() {
		t.Assistance.Keys = append(t.Assistance.Keys, WrappedKey{Court: court.CourtCode(k.GetCourt()), Serial: k.GetCertificateSerial(), Wrapped: k.GetWrapped()})
	}
	return t
}

func gatheredIDs(d *pb.TransferDecision) []court.TransferID {
	out := make([]court.TransferID, 0, len(d.GetGathered()))
	for _, id := range d.GetGathered() {
		out = append(out, court.TransferID(id))
	}
	return out
}

// applySupervisedDecision applies a 督促执行 decision to an offered
// transfer: the superior asked orders the origin to enforce by a date;
// the case stays with the origin (no receiver).
func applySupervisedDecision(t, n *Transfer, r *Record, d *pb.TransferDecision, h court.Hierarchy) (*Transfer, error) {
	if r.Issuer != t.Superior {
		return nil, fmt.Errorf("decision %s by %s: the offer asked %s to decide: %w", r.Transfer, r.Issuer, t.Superior, court.ErrInvalid)
	}
	if !court.IsSuperior(h, r.Issuer, t.Origin) {
		return nil, fmt.Errorf("decision %s: %s is not a superior court of %s: %w", r.Transfer, r.Issuer, t.Origin, court.ErrInvalid)
	}
	if recv := court.CourtCode(d.GetReceiverCourt()); recv != t.Origin {
		return nil, fmt.Errorf("decision %s: under 督促执行 the case stays with the origin %s, not %s: %w", r.Transfer, t.Origin, recv, court.ErrInvalid)
	}
	n.State, n.Mode, n.Decider, n.DecisionNumber, n.DecidedAt = StateSupervised, ModeSupervised, r.Issuer, d.GetDecisionNumber(), r.IssuedAt
	p := periodsOf(d)
	n.Periods = &p
	n.Supervision = &Supervision{EnforceBy: d.GetEnforceBy()}
	return n, nil
}

// applyModes applies the records of the modes, and the decisions and
// rejections that act on their states; ok is false when the ordinary
// state machine applies r. n is t with r's reference added.
func applyModes(t, n *Transfer, r *Record, h court.Hierarchy, held func() (*Transfer, error), conflict func(string, ...any) (*Transfer, error)) (*Transfer, bool, error) {
	wrap := func(x *Transfer, err error) (*Transfer, bool, error) { return x, true, err }
	switch b := r.PB.GetBody().(type) {
	case *pb.Record_SupervisionReport:
		return wrap(applySupervisionReport(t, n, r, b.SupervisionReport, held, conflict))
	case *pb.Record_AssistanceAnswer, *pb.Record_AssistanceResult:
		return wrap(applyAssist(t, n, r, held, conflict))
	case *pb.Record_Decision:
		switch t.State {
		case StateSupervised:
			// Escalation: the superior moves the case after all (指令,
			// 提级 or 集中), as it would have decided the offer.
			if b.Decision.GetMode() == pb.Mode_MODE_SUPERVISED {
				return wrap(conflict("the case is already under 督促执行 until %s", t.Supervision.enforceBy()))
			}
			before := *t
			before.State = StateOffered
			next, err := apply(&before, r, h, Rules{})
			if err != nil {
				return wrap(nil, err)
			}
			s := *t.Supervision
			s.Escalated, s.EscalatedAt = true, r.IssuedAt
			if by, err := court.ParseDate(s.EnforceBy); err == nil && court.DateOf(r.IssuedAt).After(by) {
				s.Overdue = true
			}
			next.Supervision = &s
			return wrap(next, nil)
		case StateRefused:
			return wrap(applyRuling(t, n, r, b.Decision, h))
		}
	case *pb.Record_Rejection:
		switch {
		case (t.State == StateHandedOver || t.State == StateReturned) && r.Issuer == t.Receiver:
			// The receiver refuses the case with reasons, to the superior.
			f := Refusal{Refusals: 1}
			if t.Refusal != nil {
				f.Refusals = t.Refusal.Refusals + 1
			}
			f.By, f.Reason, f.At = r.Issuer, b.Rejection.GetReason(), r.IssuedAt
			f.RuleBy = court.DateOf(r.IssuedAt).AddDate(0, 0, RefusalRulingDays).String()
			n.State, n.Refusal, n.FileBy, n.ReturnBy, n.SupplementBy = StateRefused, &f, "", "", ""
			return wrap(n, nil)
		case t.State == StateRefused && r.Issuer == t.Decider:
			// The superior sets its decision aside: the case stays with
			// the origin.
			f := *t.Refusal
			f.Ruling, f.RuledAt = "set_aside", r.IssuedAt
			n.State, n.Reason, n.Refusal = StateRejected, b.Rejection.GetReason(), &f
			return wrap(n, nil)
		case t.State == StateSupervised || t.State == StateAssistRequested || t.State == StateAssisting || t.State == StateRefused:
			return wrap(nil, fmt.Errorf("rejection %s by %s, which may not decline it while it is %s: %w", r.Transfer, r.Issuer, t.State, court.ErrInvalid))
		}
	}
	switch t.State {
	case StateSupervised, StateAssistRequested, StateAssisting, StateRefused:
		if r.Kind == KindWithdrawal && t.State != StateRefused && r.Issuer == t.Origin && t.Mode == ModeAssisted {
			n.State, n.Reason = StateWithdrawn, r.PB.GetWithdrawal().GetReason()
			return wrap(n, nil)
		}
		return wrap(conflict("the transfer is %s (%s): a %s has no place in it", t.State, t.Mode, r.Kind))
	}
	return nil, false, nil
}

func applySupervisionReport(t, n *Transfer, r *Record, s *pb.SupervisionReport, held func() (*Transfer, error), conflict func(string, ...any) (*Transfer, error)) (*Transfer, error) {
	if r.Issuer != t.Origin {
		return nil, fmt.Errorf("supervision report %s by %s; only the origin %s reports under 督促执行: %w", r.Transfer, r.Issuer, t.Origin, court.ErrInvalid)
	}
	closing := closureKindOf(s.GetKind()) != ""
	switch {
	case t.State == StateOffered:
		return held() // the 督促 decision has not arrived yet
	case t.State == StateSupervised:
	case !closing && t.Supervision != nil && t.Supervision.Escalated && r.IssuedAt.Before(t.Supervision.EscalatedAt):
		// Records apply on arrival, and gossip may cross them: a report
		// the origin made before the escalation that reaches this node
		// after it counts as it would have counted first, and moves
		// nothing else. (A closing report cannot: had it come first, the
		// escalation would have been refused; it stays a conflict.)
	default:
		return conflict("the transfer is %s, not under 督促执行", t.State)
	}
	sv := *t.Supervision
	if !r.IssuedAt.After(sv.ReportedAt) {
		// Older than the last report applied (crossed in gossip): it
		// joins the count and changes no newer field, so that every node
		// ends alike whatever the order. Not at the same instant (one
		// issuer dates its records strictly apart), and not a closing
		// one, for the reason above.
		switch {
		case r.IssuedAt.Equal(sv.ReportedAt) || closing:
			return nil, fmt.Errorf("supervision report %s from %s not newer than the last report: %w", r.Transfer, r.Issuer, court.ErrStale)
		case s.GetAmountRecoveredFen() > sv.Recovered:
			return nil, fmt.Errorf("supervision report %s states %d fen recovered, more than the %d of a later report: %w", r.Transfer, s.GetAmountRecoveredFen(), sv.Recovered, court.ErrInvalid)
		}
		sv.Reports++
		n.Supervision = &sv
		return n, nil
	}
	if s.GetAmountRecoveredFen() < sv.Recovered {
		return nil, fmt.Errorf("supervision report %s states %d fen recovered, less than the %d reported before: %w", r.Transfer, s.GetAmountRecoveredFen(), sv.Recovered, court.ErrInvalid)
	}
	sv.Reports++
	sv.LastStatus, sv.ReportedAt, sv.Recovered = s.GetStatus(), r.IssuedAt, s.GetAmountRecoveredFen()
	n.Supervision = &sv
	if closing {
		k := closureKindOf(s.GetKind())
		n.State, n.ClosureKind, n.Outcome, n.ClosedAt, n.AmountRecovered = StateClosed, k, outcomeOf(k), r.IssuedAt, s.GetAmountRecoveredFen()
	}
	return n, nil
}

func applyAssist(t, n *Transfer, r *Record, held func() (*Transfer, error), conflict func(string, ...any) (*Transfer, error)) (*Transfer, error) {
	if t.Assistance == nil {
		return conflict("the transfer is no request for assistance")
	}
	if r.Issuer != t.Assistance.Court {
		return nil, fmt.Errorf("%s %s by %s; only the assisting court %s answers this request: %w", r.Kind, r.Transfer, r.Issuer, t.Assistance.Court, court.ErrInvalid)
	}
	a := *t.Assistance
	switch b := r.PB.GetBody().(type) {
	case *pb.Record_AssistanceAnswer:
		if t.State != StateAssistRequested {
			return conflict("the request was already answered")
		}
		a.AnsweredAt = r.IssuedAt
		n.Assistance = &a
		if !b.AssistanceAnswer.GetAccepted() {
			n.State, n.Reason = StateRejected, b.AssistanceAnswer.GetReason()
			return n, nil
		}
		n.State = StateAssisting
	case *pb.Record_AssistanceResult:
		switch t.State {
		case StateAssistRequested:
			return held() // the answer has not arrived yet
		case StateAssisting:
		default:
			return conflict("the result was already reported")
		}
		res := b.AssistanceResult
		a.Outcome, a.Recovered, a.SealedResult, a.ResultAt = res.GetOutcome(), res.GetAmountRecoveredFen(), res.GetSealedDetail(), r.IssuedAt
		n.Assistance = &a
		n.State, n.Outcome, n.ClosedAt = StateClosed, "assistance_"+res.GetOutcome(), r.IssuedAt
	}
	return n, nil
}

// applyRuling applies the superior's decision on a receiver's refusal:
// the same receiver upholds the designation (the receiver files the case
// handed over); another court re-designates (the case is accepted and
// handed over anew; the refusing court's grant ends).
func applyRuling(t, n *Transfer, r *Record, d *pb.TransferDecision, h court.Hierarchy) (*Transfer, error) {
	if r.Issuer != t.Decider {
		return nil, fmt.Errorf("decision %s by %s: only the decider %s rules on %s's refusal: %w", r.Transfer, r.Issuer, t.Decider, t.Refusal.By, court.ErrInvalid)
	}
	f := *t.Refusal
	f.RuledAt, f.RuledWith = r.IssuedAt, d.GetDecisionNumber()
	recv := court.CourtCode(d.GetReceiverCourt())
	if recv == t.Receiver {
		if d.GetMode() == pb.Mode_MODE_SUPERVISED {
			return nil, fmt.Errorf("decision %s: a ruling on a refusal keeps the mode or designates another court: %w", r.Transfer, court.ErrInvalid)
		}
		f.Ruling = "upheld"
		n.State, n.Refusal = StateHandedOver, &f
		p := periodsOf(d)
		n.Periods = &p
		n.FileBy = court.DateOf(r.IssuedAt).AddDate(0, 0, p.FilingDays).String()
		return n, nil
	}
	if d.GetMode() == pb.Mode_MODE_SUPERVISED || d.GetMode() == pb.Mode_MODE_GATHERED {
		return nil, fmt.Errorf("decision %s: a case refused by its receiver is re-designated (指令执行 or 提级执行): %w", r.Transfer, court.ErrInvalid)
	}
	before := *t
	before.State = StateOffered
	before.NewCaseNumber, before.AcceptedAt, before.HandedOverAt, before.HandoverBy = "", time.Time{}, time.Time{}, ""
	before.MerkleRoot, before.SealedCaseHash, before.ChunkCount, before.SealedBytes, before.HandoverVersion = nil, nil, 0, 0, 0
	before.Missing, before.ReturnNote, before.Readers, before.WrappedKeys, before.RevokedGrants = nil, "", nil, nil, nil
	before.ClaimFen, before.HandoverRecovered, before.BalanceFen, before.OverrideReason, before.Overridden = 0, 0, 0, "", nil
	next, err := apply(&before, r, h, Rules{})
	if err != nil {
		return nil, err
	}
	f.Ruling = "redesignated"
	next.Refusal = &f
	return next, nil
}
