package protocol

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/protocol/pb"
)

// State is where a transfer stands.
type State string

// The transfer states, in the order a transfer normally passes them.
const (
	StateOffered    State = "offered"     // waiting for the superior's decision
	StateDecided    State = "decided"     // waiting for the receiver's acceptance
	StateAccepted   State = "accepted"    // waiting for the origin's handover
	StateHandedOver State = "handed_over" // waiting for the receiver's fetch and receipt
	StateReceived   State = "received"    // the receiver enforces; progress until closure
	StateClosed     State = "closed"      // concluded at the receiver
	StateRejected   State = "rejected"    // declined by the decider or the receiver
	StateWithdrawn  State = "withdrawn"   // withdrawn by the origin
	StateReturned   State = "returned"    // the receiver returned an incomplete handover: waiting for the origin's supplement
	// The states of the modes beyond the move of one case (modes.go).
	StateSupervised      State = "supervised"           // 督促执行: the origin enforces by the superior's date and reports
	StateRefused         State = "refused"              // the receiver refused the handed-over case with reasons: waiting for the superior's ruling
	StateAssistRequested State = "assistance_requested" // 协同执行: waiting for the assisting court's answer
	StateAssisting       State = "assisting"            // 协同执行: the assisting court acts; waiting for its result
)

// Terminal reports whether no further step may follow.
func (s State) Terminal() bool {
	return s == StateClosed || s == StateRejected || s == StateWithdrawn
}

// Rules are node-local parameters of the state machine. There are none
// left: every deadline of a transfer is fixed by its signed decision
// (Periods), so that every node derives the same dates and agrees on
// what is overdue whatever its own configuration says.
type Rules struct{}

// RecordRef is an applied record, as kept in the transfer's history.
type RecordRef struct {
	Kind     Kind            `json:"kind"`
	Issuer   court.CourtCode `json:"issuer"`
	Hash     string          `json:"hash"`
	IssuedAt time.Time       `json:"issued_at"`
}

// WrappedKey is the dossier's data key wrapped (HPKE) for one reader.
type WrappedKey struct {
	Court   court.CourtCode `json:"court"`
	Serial  uint64          `json:"certificate_serial"`
	Wrapped []byte          `json:"wrapped"`
}

// Transfer is the state of one transfer, derived only from its records.
// It carries no personal data.
type Transfer struct {
	ID                court.TransferID `json:"id"`
	State             State            `json:"state"`
	CaseNumber        string           `json:"case_number"`
	FiledOn           string           `json:"filed_on,omitempty"` // when the origin filed the case (the offer's or start's filed_on); empty from older builds
	Origin            court.CourtCode  `json:"origin"`
	Superior          court.CourtCode  `json:"superior"`
	Grounds           []string         `json:"grounds"`
	AmountOutstanding int64            `json:"amount_outstanding_fen"`
	AmountOrigin      int64            `json:"amount_recovered_by_origin_fen"`
	EarliestExpiry    string           `json:"earliest_measure_expiry,omitempty"`
	// EarliestOtherCourt is the earliest expiry of the running measures
	// other courts hold on the case's assets (announced apart: only they
	// renew them; never blocking the handover). Empty if none.
	EarliestOtherCourt string           `json:"earliest_other_court_expiry,omitempty"`
	RegionAssets       []RegionAssets   `json:"region_assets,omitempty"` // the offer's region summary; empty from older builds
	DebtorRegion       court.RegionCode `json:"debtor_region,omitempty"`
	// StartedBy is, for a transfer the superior opened itself (no offer),
	// why: own_motion, supervision, petition or applicant_request; empty
	// for the origin's offer. RequestedOn and AnswerBy are, for an
	// applicant's request, when it reached the superior and the date by
	// which the superior must answer it (decide or reject).
	StartedBy          string          `json:"started_by,omitempty"`
	RequestedOn        string          `json:"requested_on,omitempty"`
	AnswerBy           string          `json:"answer_by,omitempty"`
	Decider            court.CourtCode `json:"decider,omitempty"`
	Mode               string          `json:"mode,omitempty"`
	Receiver           court.CourtCode `json:"receiver,omitempty"`
	DecisionNumber     string          `json:"decision_number,omitempty"`
	RecommendedRank    uint32          `json:"recommended_rank,omitempty"`    // the chosen court's rank in the recommendation the decider saw
	RecommendationHash []byte          `json:"recommendation_hash,omitempty"` // that recommendation's inputs hash; empty: none consulted
	AcceptBy           string          `json:"accept_by,omitempty"`
	// The deadlines after the acceptance, each derived once from the
	// decision's periods and the signed time of the record that starts
	// it, so that every node holds the same dates.
	Periods       *Periods `json:"periods,omitempty"`        // fixed by the decision
	HandoverBy    string   `json:"handover_by,omitempty"`    // the origin hands over (from the acceptance)
	FileBy        string   `json:"file_by,omitempty"`        // the receiver confirms receipt and files (from the handover)
	InvestigateBy string   `json:"investigate_by,omitempty"` // the receiver reports its property investigation (from the receipt)
	ConcludeBy    string   `json:"conclude_by,omitempty"`    // the receiver concludes (from the receipt)
	ReturnBy      string   `json:"return_by,omitempty"`      // the receiver may return an incomplete handover until (from the handover or supplement)
	SupplementBy  string   `json:"supplement_by,omitempty"`  // the origin supplements a returned handover by (from the return)
	// HandoverVersion counts the handover's versions: 1 for the handover,
	// one more for each supplement. Missing is what the last return
	// named, ReturnNote its note.
	HandoverVersion   int      `json:"handover_version,omitempty"`
	Missing           []string `json:"missing,omitempty"`
	ReturnNote        string   `json:"return_note,omitempty"`
	Due               string   `json:"due,omitempty"` // the deadline the transfer waits on now (Deadline), for the store's index
	NewCaseNumber     string   `json:"new_case_number,omitempty"`
	MerkleRoot        []byte   `json:"merkle_root,omitempty"`
	SealedCaseHash    []byte   `json:"sealed_case_hash,omitempty"`       // the case record every source serves; empty from older builds
	ClaimFen          int64    `json:"claim_fen,omitempty"`              // the origin's claim as filed, stated in the handover; 0 from older builds
	HandoverRecovered int64    `json:"handover_recovered_fen,omitempty"` // what the origin recovered before handing over, stated in the handover
	BalanceFen        int64    `json:"balance_fen,omitempty"`            // the receiver's claim: the amount still unrecovered at handover
	ChunkCount        uint32   `json:"chunk_count,omitempty"`
	SealedBytes       uint64   `json:"sealed_bytes,omitempty"`
	OverrideReason    string   `json:"override_reason,omitempty"`
	Overridden        []string `json:"overridden_measures,omitempty"`
	AmountRecovered   int64    `json:"amount_recovered_fen"`
	ProgressStatus    string   `json:"progress_status,omitempty"`
	// ProgressPublished is the last progress status the receiver chose to
	// publish to the case's parties (Progress.publish), and the day it did.
	ProgressPublished   string            `json:"progress_published,omitempty"`
	ProgressPublishedOn string            `json:"progress_published_on,omitempty"`
	ProgressPublishedAt time.Time         `json:"progress_published_at,omitzero"` // its signed time: the newest is kept whatever the arrival order
	Outcome             string            `json:"outcome,omitempty"`
	ClosureKind         ClosureKind       `json:"closure_kind,omitempty"`        // how the receiver's case ended; empty from older builds (see Outcome)
	InvestigationDone   []string          `json:"investigation_steps,omitempty"` // for 终本: the steps done
	Approval            string            `json:"approval,omitempty"`            // for 终本: applicant_signed or panel_and_president
	Readers             []court.CourtCode `json:"readers,omitempty"`             // courts the data key was wrapped for
	WrappedKeys         []WrappedKey      `json:"wrapped_keys,omitempty"`        // the data key, wrapped for each reader
	GrantUntil          int64             `json:"grant_until,omitempty"`         // unix seconds; 0: until revoked or closed
	RevokedGrants       []court.CourtCode `json:"revoked_grants,omitempty"`      // readers whose grant the origin revoked
	AssetUpdates        int               `json:"asset_updates"`
	LatestExpiryNote    string            `json:"latest_update_earliest_expiry,omitempty"`
	Reason              string            `json:"reason,omitempty"` // of a rejection or withdrawal
	OfferedAt           time.Time         `json:"offered_at"`
	DecidedAt           time.Time         `json:"decided_at,omitzero"`
	AcceptedAt          time.Time         `json:"accepted_at,omitzero"`
	HandedOverAt        time.Time         `json:"handed_over_at,omitzero"`
	ReceivedAt          time.Time         `json:"received_at,omitzero"`
	ClosedAt            time.Time         `json:"closed_at,omitzero"`
	Records             []RecordRef       `json:"records"`
	// Beyond the handshake (funds.go): the funds ledger, the credit
	// sanctions, the notices to assisting bodies, the dossier items.
	Ledger          *Ledger         `json:"ledger,omitempty"`
	Sanctions       []SanctionState `json:"sanctions,omitempty"`
	Notices         []NoticeState   `json:"notices,omitempty"`
	DossierItems    []string        `json:"dossier_items,omitempty"`
	DossierItemsSet bool            `json:"dossier_items_set,omitempty"`
	Directives      []Directive     `json:"directives,omitempty"`   // 督办 and their reports (supervision.go)
	Reviews         []Review        `json:"reviews,omitempty"`      // 抽查 and 倒查 reviews (spotcheck.go)
	OriginCheck     *OriginCheck    `json:"origin_check,omitempty"` // the receiver's latest report for 倒查 (checkback.go)
	// The modes beyond the move of one case (modes.go): 督促执行, 集中执行,
	// 协同执行, and the receiver's refusal to the superior.
	Supervision *Supervision       `json:"supervision,omitempty"`
	Gathered    []court.TransferID `json:"gathered,omitempty"` // 集中执行: the transfers the one decision gathered
	Assistance  *Assistance        `json:"assistance,omitempty"`
	Refusal     *Refusal           `json:"refusal,omitempty"`
	DebtorMatch []byte             `json:"debtor_match,omitempty"` // the offer's debtor match key, sealed to the superior
}

// Applied reports whether the record with this hash is part of t.
func (t *Transfer) Applied(hash string) bool {
	return slices.ContainsFunc(t.Records, func(r RecordRef) bool { return r.Hash == hash })
}

// Deadline is the deadline the transfer waits on now: the court that
// must act, what it must do, and the last day (civil date in China) to
// do it. ok is false when no deadline runs (offered: the superior's
// answer has no date here; ended; or a transfer from an older build
// whose deadline was never fixed).
func (t *Transfer) Deadline() (c court.CourtCode, what string, by court.Date, ok bool) {
	var s string
	switch t.State {
	case StateOffered:
		c, what, s = t.Superior, "decision", t.AnswerBy
	case StateDecided:
		c, what, s = t.Receiver, "acceptance", t.AcceptBy
	case StateAccepted:
		c, what, s = t.Origin, "handover", t.HandoverBy
	case StateHandedOver:
		c, what, s = t.Receiver, "filing", t.FileBy
	case StateReturned:
		c, what, s = t.Origin, "supplement", t.SupplementBy
	case StateSupervised:
		c, what, s = t.Origin, "supervised_enforcement", t.Supervision.enforceBy()
	case StateRefused:
		c, what, s = t.Decider, "refusal_ruling", t.Refusal.ruleBy()
	case StateAssistRequested:
		c, what, s = t.Assistance.court(), "assistance_answer", t.Assistance.answerBy()
	case StateAssisting:
		c, what, s = t.Assistance.court(), "assistance_result", t.Assistance.due()
	case StateReceived:
		if t.lastProgressAt().After(t.ReceivedAt) || t.ReceivedAt.IsZero() {
			c, what, s = t.Receiver, "conclusion", t.ConcludeBy
		} else {
			c, what, s = t.Receiver, "investigation", t.InvestigateBy
		}
	}
	d, err := court.ParseDate(s)
	if s == "" || err != nil {
		return "", "", court.Date{}, false
	}
	return c, what, d, true
}

// Overdue reports whether the court that must act let the deadline the
// transfer waits on pass (checked against the civil date in China).
func (t *Transfer) Overdue(now time.Time) bool {
	_, _, by, ok := t.Deadline()
	return ok && court.DateOf(now).After(by)
}

// WaitingOn says which court must act next and what it must do.
func (t *Transfer) WaitingOn() (court.CourtCode, string) {
	switch t.State {
	case StateOffered:
		return t.Superior, "decide (指令执行 or 提级执行)"
	case StateDecided:
		return t.Receiver, "accept and file the case"
	case StateAccepted:
		return t.Origin, "hand the dossier over"
	case StateHandedOver:
		if slices.Contains(t.RevokedGrants, t.Receiver) {
			// The receiver can no longer fetch, so it will never confirm:
			// the transfer waits on the origin, not on the receiver.
			return t.Origin, "the receiver's grant was revoked before it confirmed receipt: its fetch cannot resume; settle with the receiving and superior courts how the case goes on"
		}
		return t.Receiver, "fetch the dossier and confirm receipt"
	case StateReturned:
		return t.Origin, "supplement the returned handover (" + strings.Join(t.Missing, ", ") + ")"
	case StateSupervised:
		return t.Origin, "enforce under the superior's supervision (督促执行) by " + t.Supervision.enforceBy() + ", and report"
	case StateRefused:
		return t.Decider, "rule on " + string(t.Receiver) + "'s refusal of the case: uphold the designation, designate another court, or set the decision aside"
	case StateAssistRequested:
		return t.Assistance.court(), "answer the request for assistance (协同执行)"
	case StateAssisting:
		return t.Assistance.court(), "assist and report the result by " + t.Assistance.due()
	case StateReceived:
		return t.Receiver, "enforce; report progress until closure"
	}
	return "", ""
}

// Apply applies r to t (nil when no record of the transfer is known yet)
// and returns the new state; t is not modified. It returns ErrHeld when a
// predecessor is missing, ErrDuplicate for a record already applied,
// court.ErrStale for an outdated progress report, and court.ErrConflict or court.ErrInvalid
// for a record that contradicts the transfer. h is the certified court
// hierarchy.
//
// It is long on purpose: the state machine is one switch over record
// kinds, so that every transition can be read and checked in one place.
func Apply(t *Transfer, r *Record, h court.Hierarchy, rules Rules) (*Transfer, error) {
	n, err := apply(t, r, h, rules)
	if err != nil {
		return nil, err
	}
	n.Due = ""
	if _, _, by, ok := n.Deadline(); ok {
		n.Due = by.String()
	}
	return n, nil
}

// apply is the state machine's step: it applies r to t (nil before the
// transfer's first record) and returns the new state, or ErrDuplicate,
// ErrHeld for a record that must wait for another, or the kind of its
// refusal. It is long on purpose: one switch over every record kind,
// each case the whole rule of that kind, so that the transitions read
// in one place.
func apply(t *Transfer, r *Record, h court.Hierarchy, rules Rules) (*Transfer, error) {
	if t != nil && t.Applied(r.HashHex()) {
		return nil, ErrDuplicate
	}
	if n, ok, err := applySupervision(t, r, h); ok {
		return n, err
	}
	if t == nil {
		switch r.Kind {
		case KindOffer:
			return applyOffer(r), nil
		case KindStart:
			return applyStart(r), nil
		case KindAssistRequest:
			return applyAssistRequest(r), nil
		}
		return nil, fmt.Errorf("%s for unknown transfer %s: %w", r.Kind, r.Transfer, ErrHeld)
	}
	n := *t
	n.Records = insertRef(t.Records, RecordRef{Kind: r.Kind, Issuer: r.Issuer, Hash: r.HashHex(), IssuedAt: r.IssuedAt})
	conflict := func(format string, a ...any) (*Transfer, error) {
		return nil, fmt.Errorf("%s %s from %s: %s: %w", r.Kind, r.Transfer, r.Issuer, fmt.Sprintf(format, a...), court.ErrConflict)
	}
	held := func() (*Transfer, error) {
		return nil, fmt.Errorf("%s %s from %s while the transfer is %s: %w", r.Kind, r.Transfer, r.Issuer, t.State, ErrHeld)
	}
	if t.State.Terminal() {
		return afterEnd(t, r, &n, h, rules, conflict)
	}
	if next, ok, err := applyModes(t, &n, r, h, held, conflict); ok {
		return next, err
	}
	switch b := r.PB.GetBody().(type) {
	case *pb.Record_Offer, *pb.Record_Start, *pb.Record_AssistanceRequest:
		return conflict("the transfer is already opened (by %s)", t.Records[0].Issuer)
	case *pb.Record_Decision:
		if t.State != StateOffered {
			return conflict("the transfer was already decided by %s", t.Decider)
		}
		d := b.Decision
		if d.GetMode() == pb.Mode_MODE_SUPERVISED {
			return applySupervisedDecision(t, &n, r, d, h)
		}
		recv := court.CourtCode(d.GetReceiverCourt())
		if r.Issuer != t.Superior {
			// One court decides: the superior the offer asked. Two
			// superiors deciding at once would leave nodes disagreeing on
			// which decision came first.
			return nil, fmt.Errorf("decision %s by %s: the offer asked %s to decide: %w", r.Transfer, r.Issuer, t.Superior, court.ErrInvalid)
		}
		if !court.IsSuperior(h, r.Issuer, t.Origin) || (recv != r.Issuer && !court.IsSuperior(h, r.Issuer, recv)) {
			return nil, fmt.Errorf("decision %s: %s is not a superior court of both %s and %s: %w", r.Transfer, r.Issuer, t.Origin, recv, court.ErrInvalid)
		}
		if recv == t.Origin {
			return nil, fmt.Errorf("decision %s: the receiving court must differ from the origin %s: %w", r.Transfer, t.Origin, court.ErrInvalid)
		}
		switch d.GetMode() {
		case pb.Mode_MODE_GATHERED:
			if !slices.Contains(d.GetGathered(), string(r.Transfer)) {
				return nil, fmt.Errorf("decision %s: a 集中执行 decision lists the transfer it decides among those it gathers: %w", r.Transfer, court.ErrInvalid)
			}
			n.Mode, n.Gathered = ModeGathered, gatheredIDs(d)
		case pb.Mode_MODE_ELEVATED:
			if recv != r.Issuer {
				return nil, fmt.Errorf("decision %s: 提级执行 moves the case to the decider itself, not to %s: %w", r.Transfer, recv, court.ErrInvalid)
			}
			n.Mode = ModeElevated
		default:
			if recv == r.Issuer {
				return nil, fmt.Errorf("decision %s: a superior taking the case itself decides 提级执行, not 指令执行: %w", r.Transfer, court.ErrInvalid)
			}
			n.Mode = ModeDesignated
		}
		n.State, n.Decider, n.Receiver, n.DecisionNumber, n.DecidedAt = StateDecided, r.Issuer, recv, d.GetDecisionNumber(), r.IssuedAt
		n.RecommendedRank, n.RecommendationHash = d.GetRecommendedRank(), d.GetRecommendationHash()
		// The deadlines are the decision's, never this node's
		// configuration: a decision naming none (an older build's) gets
		// the protocol's defaults.
		p := periodsOf(d)
		n.Periods = &p
		n.AcceptBy = d.GetAcceptBy()
		if n.AcceptBy == "" {
			n.AcceptBy = court.DateOf(r.IssuedAt).AddDate(0, 0, DefaultPeriods.AcceptDays).String()
		}
	case *pb.Record_Acceptance:
		switch {
		case t.State == StateOffered:
			return held()
		case t.State != StateDecided:
			return conflict("the transfer was already accepted")
		case r.Issuer != t.Receiver:
			return nil, fmt.Errorf("acceptance %s by %s, but %s designated %s: %w", r.Transfer, r.Issuer, t.Decider, t.Receiver, court.ErrInvalid)
		}
		n.State, n.NewCaseNumber, n.AcceptedAt = StateAccepted, b.Acceptance.GetNewCaseNumber(), r.IssuedAt
		n.HandoverBy = court.DateOf(r.IssuedAt).AddDate(0, 0, t.periods().HandoverDays).String()
	case *pb.Record_Rejection:
		switch {
		case t.State == StateOffered && r.Issuer == t.Superior:
		case t.State == StateDecided && r.Issuer == t.Receiver:
		case t.State == StateOffered && r.Issuer != t.Origin:
			return held() // perhaps the receiver, declining a decision we have not seen yet
		default:
			return nil, fmt.Errorf("rejection %s by %s, which may not decline it while it is %s: %w", r.Transfer, r.Issuer, t.State, court.ErrInvalid)
		}
		n.State, n.Reason = StateRejected, b.Rejection.GetReason()
	case *pb.Record_Withdrawal:
		if r.Issuer != t.Origin {
			return nil, fmt.Errorf("withdrawal %s by %s; only the origin %s may withdraw: %w", r.Transfer, r.Issuer, t.Origin, court.ErrInvalid)
		}
		if t.StartedBy != "" {
			return nil, fmt.Errorf("withdrawal %s by %s: the superior %s started this transfer (%s); the origin cannot withdraw it, and hands over when the decision says so: %w",
				r.Transfer, r.Issuer, t.Superior, t.StartedBy, court.ErrInvalid)
		}
		if t.State != StateOffered && t.State != StateDecided && t.State != StateAccepted {
			return conflict("the dossier was already handed over")
		}
		n.State, n.Reason = StateWithdrawn, b.Withdrawal.GetReason()
	case *pb.Record_Handover:
		if r.Issuer != t.Origin {
			return nil, fmt.Errorf("handover %s by %s; only the origin %s hands over: %w", r.Transfer, r.Issuer, t.Origin, court.ErrInvalid)
		}
		switch t.State {
		case StateOffered, StateDecided:
			return held()
		case StateAccepted:
		default:
			return conflict("the dossier was already handed over")
		}
		if err := applyManifest(&n, t, r, b.Handover); err != nil {
			return nil, err
		}
		n.HandoverVersion = 1
	case *pb.Record_HandoverReturn:
		if err := byReceiver(r, t); err != nil {
			return nil, err
		}
		switch t.State {
		case StateOffered, StateDecided, StateAccepted:
			return held()
		case StateHandedOver:
		case StateReturned:
			return conflict("the handover was already returned; the origin must supplement it first")
		default:
			return conflict("the receipt confirmed the dossier; it can no longer be returned")
		}
		if by, err := court.ParseDate(t.ReturnBy); err == nil && court.DateOf(r.IssuedAt).After(by) {
			return nil, fmt.Errorf("return %s by %s: the return period ended on %s (%d days after the handover); confirm receipt, or refuse the case with reasons to %s: %w",
				r.Transfer, r.Issuer, t.ReturnBy, t.periods().ReturnDays, t.Decider, court.ErrInvalid)
		}
		n.State, n.Missing, n.ReturnNote, n.FileBy = StateReturned, b.HandoverReturn.GetMissing(), b.HandoverReturn.GetNote(), ""
		n.SupplementBy = court.DateOf(r.IssuedAt).AddDate(0, 0, t.periods().SupplementDays).String()
	case *pb.Record_Supplement:
		if r.Issuer != t.Origin {
			return nil, fmt.Errorf("supplement %s by %s; only the origin %s supplements its handover: %w", r.Transfer, r.Issuer, t.Origin, court.ErrInvalid)
		}
		switch t.State {
		case StateOffered, StateDecided, StateAccepted, StateHandedOver:
			return held() // the return it answers has not arrived yet
		case StateReturned:
		default:
			return conflict("the receipt confirmed the dossier; there is nothing to supplement")
		}
		if err := applyManifest(&n, t, r, b.Supplement.GetManifest()); err != nil {
			return nil, err
		}
		n.HandoverVersion, n.SupplementBy = max(t.HandoverVersion, 1)+1, ""
	case *pb.Record_Receipt:
		if err := byReceiver(r, t); err != nil {
			return nil, err
		}
		switch t.State {
		case StateOffered, StateDecided, StateAccepted:
			return held()
		case StateHandedOver:
		default:
			return conflict("receipt already confirmed")
		}
		if !bytes.Equal(b.Receipt.GetMerkleRoot(), t.MerkleRoot) {
			return conflict("the receipt's Merkle root does not match the handover manifest")
		}
		n.State, n.ReceivedAt = StateReceived, r.IssuedAt
		filed := court.DateOf(r.IssuedAt)
		n.InvestigateBy = filed.AddDate(0, t.periods().InvestigationMonths, 0).String()
		n.ConcludeBy = filed.AddDate(0, t.periods().ConclusionMonths, 0).String()
	case *pb.Record_Progress:
		if err := byReceiver(r, t); err != nil {
			return nil, err
		}
		if t.State == StateOffered || t.State == StateDecided {
			return held()
		}
		// Reports apply in arrival order, which gossip may cross: a report
		// older than the last one applied joins the record list and
		// changes no newer field, so that every node ends alike whatever
		// the order.
		if r.IssuedAt.After(t.lastProgressAt()) {
			n.AmountRecovered, n.ProgressStatus = b.Progress.GetAmountRecoveredFen(), b.Progress.GetStatus()
		}
		if b.Progress.GetPublish() && b.Progress.GetStatus() != "" && r.IssuedAt.After(t.ProgressPublishedAt) {
			// What the parties see: the last status the receiver chose to
			// publish, kept until it publishes another.
			n.ProgressPublished, n.ProgressPublishedOn, n.ProgressPublishedAt = b.Progress.GetStatus(), court.DateOf(r.IssuedAt).String(), r.IssuedAt
		}
	case *pb.Record_Closure:
		if err := byReceiver(r, t); err != nil {
			return nil, err
		}
		if t.State != StateReceived {
			return held()
		}
		if err := checkTerminalAge(r, t); err != nil {
			return nil, err
		}
		n.State, n.Outcome, n.ClosedAt = StateClosed, b.Closure.GetOutcome(), r.IssuedAt
		if k := closureKindOf(b.Closure.GetKind()); k != "" {
			n.ClosureKind, n.Outcome = k, outcomeOf(k)
			n.InvestigationDone, n.Approval = b.Closure.GetInvestigationSteps(), b.Closure.GetApproval()
		}
		n.AmountRecovered = b.Closure.GetAmountRecoveredFen()
	case *pb.Record_GrantRevocation:
		if r.Issuer != t.Origin {
			return nil, fmt.Errorf("grant revocation %s by %s; only the origin %s grants: %w", r.Transfer, r.Issuer, t.Origin, court.ErrInvalid)
		}
		switch t.State {
		case StateOffered, StateDecided, StateAccepted:
			return held()
		}
		c := court.CourtCode(b.GrantRevocation.GetCourt())
		if !slices.Contains(t.Readers, c) {
			return nil, fmt.Errorf("grant revocation %s: %s holds no grant: %w", r.Transfer, c, court.ErrInvalid)
		}
		if slices.Contains(t.RevokedGrants, c) {
			return nil, fmt.Errorf("grant of %s in %s already revoked: %w", c, r.Transfer, court.ErrStale)
		}
		n.RevokedGrants = append(slices.Clone(t.RevokedGrants), c)
	case *pb.Record_AssetUpdate:
		// Before the decision the receiver is unknown: hold the update
		// (below) rather than refuse what may be the receiver's, as for
		// its receipt; records of different issuers arrive in any order.
		if r.Issuer != t.Origin && t.Receiver != "" && r.Issuer != t.Receiver {
			return nil, fmt.Errorf("asset update %s by %s; only %s and %s exchange asset updates: %w", r.Transfer, r.Issuer, t.Origin, t.Receiver, court.ErrInvalid)
		}
		switch t.State {
		case StateOffered, StateDecided, StateAccepted:
			return held()
		}
		n.AssetUpdates++
		if e := b.AssetUpdate.GetEarliestExpiry(); e != "" {
			n.LatestExpiryNote = e
		}
	case *pb.Record_FundsEntry, *pb.Record_Sanction, *pb.Record_AssistNotice, *pb.Record_DossierItems:
		return applyMore(t, &n, r, held, conflict)
	default:
		return nil, fmt.Errorf("record %s: %w: unknown kind", r.Transfer, court.ErrInvalid)
	}
	return &n, nil
}

// afterEnd applies r to a transfer that already ended (n is t with r's
// reference added). The origin's withdrawal can cross other courts'
// records in flight: the superior decides or rejects, the designated
// receiver accepts or rejects, while the withdrawal travels. Nodes see
// them in either order and must end alike, so the withdrawal wins
// whatever the order:
//
//   - a withdrawal arriving at a transfer rejected (the rejection was its
//     only ending) ends it withdrawn: a withdrawal is valid in every state
//     a rejection ends;
//   - a record of another court arriving at a transfer withdrawn (its
//     only ending) is applied to the state the withdrawal ended (offered,
//     decided or accepted: derived from the decision and acceptance
//     applied), with the outcome it has there (applied, held, refused),
//     and the transfer stays withdrawn, with the withdrawal's reason.
//
// Anything else conflicts, as does a third ending. The records are kept
// in canonical order (see insertRef), so every node holds the same list.
func afterEnd(t *Transfer, r *Record, n *Transfer, h court.Hierarchy, rules Rules, conflict func(string, ...any) (*Transfer, error)) (*Transfer, error) {
	ends := 0
	for _, x := range t.Records {
		if x.Kind == KindRejection || x.Kind == KindWithdrawal {
			ends++
		}
	}
	switch {
	case ends != 1:
	case t.State == StateRejected && r.Kind == KindWithdrawal && r.Issuer == t.Origin:
		n.State, n.Reason = StateWithdrawn, r.PB.GetWithdrawal().GetReason()
		return n, nil
	case t.State == StateWithdrawn && slices.Contains(crossing, r.Kind):
		before := *t
		switch {
		case t.Decider == "":
			before.State = StateOffered
		case t.AcceptedAt.IsZero():
			before.State = StateDecided
		default:
			before.State = StateAccepted
		}
		next, err := Apply(&before, r, h, rules)
		if err != nil {
			return nil, err
		}
		next.State, next.Reason = StateWithdrawn, t.Reason
		return next, nil
	}
	return conflict("the transfer is already %s", t.State)
}

// crossing lists the kinds of record another court may have issued
// before it heard of a withdrawal: the superior's decision or rejection,
// the receiver's acceptance, rejection or (from an older node) progress.
// Everything else after a withdrawal can only follow it, and conflicts.
var crossing = []Kind{KindDecision, KindAcceptance, KindRejection, KindProgress}

// insertRef returns rs with ref inserted in canonical order: by issue
// time, then hash. Records usually arrive in that order; when they cross
// (see afterEnd), every node still holds the same list.
func insertRef(rs []RecordRef, ref RecordRef) []RecordRef {
	i, _ := slices.BinarySearchFunc(rs, ref, func(a, b RecordRef) int {
		if c := a.IssuedAt.Compare(b.IssuedAt); c != 0 {
			return c
		}
		return strings.Compare(a.Hash, b.Hash)
	})
	return slices.Insert(slices.Clone(rs), i, ref)
}

// MayFetch reports whether court c may fetch the transfer's dossier at
// now: the data key was wrapped for it at handover, the origin has not
// revoked its grant, the grant has not run out and the case is not
// closed. The origin itself always may. The error's kind says why not:
// court.ErrInvalid (no dossier in this state), court.ErrPermission (no
// grant), court.ErrRevoked (the grant revoked or run out); a serving node
// sends it to the asker as the refusal's code.
func (t *Transfer) MayFetch(c court.CourtCode, now time.Time) error {
	if c == t.Origin {
		return nil
	}
	switch {
	case t.State != StateHandedOver && t.State != StateReceived:
		return fmt.Errorf("transfer %s is %s: there is no dossier to fetch: %w", t.ID, t.State, court.ErrInvalid)
	case !slices.Contains(t.Readers, c):
		return court.Errorf(court.ErrPermission, "%s holds no grant in transfer %s (the dossier was handed over to %v)", c, t.ID, t.Readers)
	case slices.Contains(t.RevokedGrants, c):
		return court.Errorf(court.ErrRevoked, "the origin %s revoked the grant of %s in transfer %s", t.Origin, c, t.ID)
	case t.GrantUntil != 0 && now.Unix() > t.GrantUntil:
		return court.Errorf(court.ErrRevoked, "the grant of %s in transfer %s ended on %s", c, t.ID, time.Unix(t.GrantUntil, 0).UTC().Format(time.DateOnly))
	}
	return nil
}

func byReceiver(r *Record, t *Transfer) error {
	if t.Receiver != "" && r.Issuer != t.Receiver {
		return fmt.Errorf("%s %s by %s; only the receiver %s may send it: %w", r.Kind, r.Transfer, r.Issuer, t.Receiver, court.ErrInvalid)
	}
	if t.Receiver == "" && r.Issuer == t.Origin {
		return fmt.Errorf("%s %s by the origin %s: %w", r.Kind, r.Transfer, r.Issuer, court.ErrInvalid)
	}
	return nil
}

// periods are the transfer's periods: the decision's, or the defaults
// for a transfer decided by an older build.
func (t *Transfer) periods() Periods {
	if t.Periods == nil {
		return DefaultPeriods
	}
	return *t.Periods
}

// lastProgressAt is the time of the newest progress record applied.
func (t *Transfer) lastProgressAt() time.Time {
	var last time.Time
	for _, r := range t.Records {
		if r.Kind == KindProgress && r.IssuedAt.After(last) {
			last = r.IssuedAt
		}
	}
	return last
}

func applyOffer(r *Record) *Transfer {
	o := r.PB.GetOffer()
	t := &Transfer{
		ID: r.Transfer, State: StateOffered, CaseNumber: o.GetCaseNumber(),
		Origin: court.CourtCode(o.GetOriginCourt()), Superior: court.CourtCode(o.GetSuperiorCourt()),
		AmountOutstanding: o.GetAmountOutstandingFen(), AmountOrigin: o.GetAmountRecoveredFen(),
		EarliestExpiry: o.GetEarliestMeasureExpiry(), EarliestOtherCourt: o.GetEarliestOtherCourtExpiry(), OfferedAt: r.IssuedAt, FiledOn: o.GetFiledOn(),
		RegionAssets: regionSummary(o), DebtorRegion: court.RegionCode(o.GetDebtorRegion()), DebtorMatch: o.GetDebtorMatch(),
		Records: []RecordRef{{Kind: r.Kind, Issuer: r.Issuer, Hash: r.HashHex(), IssuedAt: r.IssuedAt}},
	}
	if n, err := court.ParseCaseNumber(t.CaseNumber); err == nil {
		t.CaseNumber = n.String()
	}
	for _, g := range o.GetGrounds() {
		t.Grounds = append(t.Grounds, g.String())
	}
	return t
}
