package protocol

import (
	"encoding/hex"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/protocol/pb"
)

// Transfer topics, stream protocols and payload types.
const (
	// TopicTransfers carries transfer records and log-head announcements.
	TopicTransfers = "/courtmesh/transfers/1"
	// ProtoSync serves ranges of record logs and log heads.
	ProtoSync = "/courtmesh/sync/1.0.0"
	// PayloadRecord is the envelope payload type of a transfer record.
	PayloadRecord = "courtmesh/record/v1"
	// PayloadLogHeads is the envelope payload type of a log-heads message.
	PayloadLogHeads = "courtmesh/log-heads/v1"
	// RecordVersion is the Record version this build writes.
	RecordVersion = 1
)

// Errors of record validation and the transfer state machine, besides
// court's kinds (court.ErrInvalid, court.ErrConflict, court.ErrStale),
// which validation returns directly. The gossipsub validators map invalid
// and conflicting records to Reject, duplicate and stale ones to Ignore;
// ErrHeld means "keep it until its predecessor arrives".
var (
	// ErrDuplicate: a record already applied (court.ErrStale).
	ErrDuplicate = court.Errorf(court.ErrStale, "duplicate record")
	// ErrHeld: a record whose predecessor this node has not seen yet; it
	// is kept and applied when that arrives (court.ErrUnavailable: as an
	// action, it must wait for the mesh to sync and be tried again).
	ErrHeld = court.Errorf(court.ErrUnavailable, "held until its predecessor arrives")
)

// TransferID names a transfer (court.TransferID; kept here as an alias
// for the callers that still say court.TransferID).
type TransferID = court.TransferID

// Kind is the kind of a transfer record.
type Kind string

// The record kinds.
const (
	KindOffer       Kind = "offer"
	KindDecision    Kind = "decision"
	KindAcceptance  Kind = "acceptance"
	KindRejection   Kind = "rejection"
	KindWithdrawal  Kind = "withdrawal"
	KindHandover    Kind = "handover"
	KindReceipt     Kind = "receipt"
	KindProgress    Kind = "progress"
	KindClosure     Kind = "closure"
	KindRevokeGrant Kind = "grant_revocation"
	KindAssetUpdate Kind = "asset_update"
	// KindComplaint and KindComplaintAnswer name a complaint, not a
	// transfer, in their Record's transfer_id (see complaint.go).
	KindComplaint       Kind = "party_complaint"
	KindComplaintAnswer Kind = "complaint_answer"
	KindReturn          Kind = "handover_return"
	KindSupplement      Kind = "supplement"
	KindStart           Kind = "start"
)

func kindOf(r *pb.Record) Kind {
	if k := supervisionKind(r); k != "" {
		return k
	}
	if k := modesKind(r); k != "" {
		return k
	}
	switch r.GetBody().(type) {
	case *pb.Record_Offer:
		return KindOffer
	case *pb.Record_Decision:
		return KindDecision
	case *pb.Record_Acceptance:
		return KindAcceptance
	case *pb.Record_Rejection:
		return KindRejection
	case *pb.Record_Withdrawal:
		return KindWithdrawal
	case *pb.Record_Handover:
		return KindHandover
	case *pb.Record_Receipt:
		return KindReceipt
	case *pb.Record_Progress:
		return KindProgress
	case *pb.Record_Closure:
		return KindClosure
	case *pb.Record_GrantRevocation:
		return KindRevokeGrant
	case *pb.Record_AssetUpdate:
		return KindAssetUpdate
	case *pb.Record_HandoverReturn:
		return KindReturn
	case *pb.Record_Supplement:
		return KindSupplement
	case *pb.Record_Start:
		return KindStart
	case *pb.Record_FundsEntry:
		return KindFunds
	case *pb.Record_Sanction:
		return KindSanction
	case *pb.Record_AssistNotice:
		return KindAssistNotice
	case *pb.Record_DossierItems:
		return KindDossierItems
	case *pb.Record_PartyComplaint:
		return KindComplaint
	case *pb.Record_ComplaintAnswer:
		return KindComplaintAnswer
	}
	return ""
}

// Record is a decoded, signature-checked transfer record.
type Record struct {
	Raw    []byte   // the envelope exactly as signed and received
	Hash   [32]byte // the suite's hash of Raw (SHA-256, SM3 under SM)
	Env    *crypto.Envelope
	Signer *crypto.Certificate
	// Revocation is set when the signer's certificate is revoked and the
	// record lies in the trusted part of its log (crypto.Trust.OpenRecord):
	// the record stands only if it belongs to the chain the revocation
	// pins, which the node checks against its copy of the log.
	Revocation *crypto.Revocation
	PB         *pb.Record
	Kind       Kind
	Issuer     court.CourtCode
	Seq        uint64
	IssuedAt   time.Time
	Transfer   court.TransferID
}

// SignerPeer is the peer ID of the node that signed (its log's name).
func (r *Record) SignerPeer() peer.ID { return r.Signer.PeerID }

// HashHex is the record's hash in hex.
func (r *Record) HashHex() string { return hex.EncodeToString(r.Hash[:]) }

// MaxAmountFen bounds amounts: one trillion yuan, in fen.
const MaxAmountFen = 1_000_000_000_000 * 100

// MaxClockSkew is how far ahead of the checking node's clock a record may
// be dated.
const MaxClockSkew = 5 * time.Minute

// DatedAheadError is DecodeRecord's refusal of an authentic record dated
// more than MaxClockSkew after the checking node's clock: its signer's
// clock is probably ahead. It wraps crypto.ErrNotYetValid. The record may
// be accepted once the checking clock reaches Due; until then a node need
// not fetch or check it again.
type DatedAheadError struct {
	Signer   peer.ID         // whose log holds it
	Issuer   court.CourtCode // the signer's court
	Seq      uint64          // its position in the signer's log
	Transfer string          // the transfer it names, unchecked
	Hash     [32]byte        // of the raw record
	IssuedAt time.Time       // the date it carries
	Now      time.Time       // the checking node's clock
}

func (e *DatedAheadError) Error() string {
	return fmt.Sprintf("record %d from %s is dated %s, after now (%s): %v", e.Seq, e.Issuer,
		e.IssuedAt.UTC().Format(time.RFC3339), e.Now.UTC().Format(time.RFC3339), crypto.ErrNotYetValid)
}

func (e *DatedAheadError) Unwrap() error { return crypto.ErrNotYetValid }

// Due is when the record stops being dated ahead by the checking clock.
func (e *DatedAheadError) Due() time.Time { return e.IssuedAt.Add(-MaxClockSkew) }

// RevokedRecordError is DecodeRecord's refusal of an authentic record
// signed by a revoked key outside the trusted part of its log. It names
// the signer, the record's position and the transfer it names (unchecked),
// and wraps crypto.RevokedRecordError (so crypto.ErrRevoked).
type RevokedRecordError struct {
	*crypto.RevokedRecordError
	Transfer string   // the transfer it names, unchecked
	Hash     [32]byte // of the raw record
}

func (e *RevokedRecordError) Unwrap() error { return e.RevokedRecordError }

// SealRecord signs a record body as the given certificate.
func SealRecord(s crypto.Signer, cert *crypto.Certificate, seq uint64, at time.Time, id court.TransferID, body *pb.Record) ([]byte, error) {
	body.Version = RecordVersion
	body.IssuerCourt = string(cert.Code)
	body.Sequence = seq
	body.IssuedAt = at.UnixMilli()
	body.TransferId = string(id)
	env, err := crypto.SealMessage(s, cert.Serial, PayloadRecord, body)
	if err != nil {
		return nil, err
	}
	return env.Marshal()
}

// DecodeRecord decodes raw, checks that a court certified and in force at
// now signed it (or, for a revoked court, that the record lies in the
// trusted part of its log: see Record.Revocation), and checks every field that needs no transfer state. When
// the envelope is authentic but the body is invalid it returns both the
// record and the error.
func DecodeRecord(raw []byte, t *crypto.Trust, now time.Time) (*Record, error) {
	env, err := crypto.UnmarshalEnvelope(raw, MaxGossipMessage)
	if err != nil {
		return nil, err
	}
	// The payload is read before the signer is checked only for its
	// position, which a revoked signer's revocation may still trust;
	// OpenRecord checks the signature over it before anything is used.
	var p pb.Record
	perr := proto.Unmarshal(env.Payload, &p)
	signer, rev, err := t.OpenRecord(env, PayloadRecord, p.GetSequence(), now)
	if re, ok := errors.AsType[*crypto.RevokedRecordError](err); ok {
		return nil, &RevokedRecordError{RevokedRecordError: re, Transfer: p.GetTransferId(), Hash: env.Suite.Sum(raw)}
	}
	if err != nil {
		return nil, err
	}
	if !signer.HasRole(crypto.RoleCourt) {
		return nil, fmt.Errorf("record signed by %s, which has no court role: %w", signer.Code, crypto.ErrNotAuthorised)
	}
	if perr != nil {
		return nil, fmt.Errorf("record: %w: %v", crypto.ErrMalformed, perr)
	}
	r := &Record{Raw: raw, Hash: env.Suite.Sum(raw), Env: env, Signer: signer, Revocation: rev, PB: &p, Kind: kindOf(&p),
		Issuer: court.CourtCode(p.GetIssuerCourt()), Seq: p.GetSequence(), IssuedAt: time.UnixMilli(p.GetIssuedAt())}
	if p.GetVersion() != RecordVersion {
		return nil, fmt.Errorf("record: %w: version %d", crypto.ErrMalformed, p.GetVersion())
	}
	if r.Issuer != signer.Code {
		return nil, fmt.Errorf("record claims issuer %s but %s signed it: %w", r.Issuer, signer.Code, crypto.ErrNotAuthorised)
	}
	if r.Seq == 0 {
		return nil, fmt.Errorf("record: %w: sequence 0", crypto.ErrMalformed)
	}
	if r.IssuedAt.After(now.Add(MaxClockSkew)) {
		// Refused without keeping it: it may be accepted once its time
		// has come, but a record dated ahead must not act now (an offer
		// dated a year ahead would pass the 6-month rule today).
		return nil, &DatedAheadError{Signer: signer.PeerID, Issuer: r.Issuer, Seq: r.Seq, Transfer: p.GetTransferId(),
			Hash: r.Hash, IssuedAt: r.IssuedAt, Now: now}
	}
	if r.Transfer, err = court.ParseTransferID(p.GetTransferId()); err != nil {
		return nil, err
	}
	if r.Kind == "" {
		return nil, fmt.Errorf("record %s: %w: no body", r.Transfer, crypto.ErrMalformed)
	}
	if err := checkBody(r, t); err != nil {
		// Authentic but invalid: return the record too, so that the node
		// can keep it in the signer's log as evidence (and so its log has
		// no gap), while refusing to act on it.
		return r, fmt.Errorf("%s %s from %s: %w", r.Kind, r.Transfer, r.Issuer, err)
	}
	return r, nil
}

// invalid is a record field's refusal (court.ErrInvalid). It reads as the
// message alone: a wrapped parse error already says "invalid …", and a
// prefix made it "invalid: case number: invalid case number …".
func invalid(format string, a ...any) error {
	return court.Errorf(court.ErrInvalid, format, a...)
}

func checkText(field, s string, max int, required bool) error {
	if required && s == "" {
		return invalid("%s is required", field)
	}
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > max {
		return invalid("%s must be valid text of at most %d characters", field, max)
	}
	return nil
}

// checkFree is checkText for free text that every court receives: it
// also refuses personal data (CheckFreeText).
func checkFree(field, s string, max int, required bool) error {
	if err := checkText(field, s, max, required); err != nil {
		return err
	}
	return CheckFreeText(field, s)
}

func checkAmount(field string, v int64) error {
	if v < 0 || v > MaxAmountFen {
		return invalid("%s %d fen is out of range (0 to one trillion yuan)", field, v)
	}
	return nil
}

func optDate(field, s string) (court.Date, error) {
	if s == "" {
		return court.Date{}, nil
	}
	d, err := court.ParseDate(s)
	if err != nil {
		return d, invalid("%s: %v", field, err)
	}
	return d, nil
}

// EnforcementCase parses a case number that must be an enforcement case
// (执 or 执恢) of court c.
func EnforcementCase(field, s string, c court.CourtCode) (court.CaseNumber, error) {
	n, err := court.ParseCaseNumber(s)
	if err != nil {
		return n, invalid("%s: %v", field, err)
	}
	if n.Type != court.TypeEnforcement && n.Type != court.TypeResumed {
		return n, invalid("%s %s is a %s case, not an enforcement case (执 or 执恢)", field, n, n.Type)
	}
	if n.Court != c {
		return n, invalid("%s %s belongs to %s, not %s", field, n, n.Court, c)
	}
	return n, nil
}

// checkReceiverNumber checks the number a receiver files a transferred
// case under: a first-enforcement (执) number, counted as a new case
// (法明传〔2018〕335号), of the year of the acceptance or the year
// before (a number taken in late December may be used in early January).
func checkReceiverNumber(n court.CaseNumber, at time.Time) error {
	if n.Type != court.TypeEnforcement {
		return invalid("new case number %s is a %s case: a transferred case is filed as a first enforcement (执)", n, n.Type)
	}
	if y := court.DateOf(at).Year; n.Year != y && n.Year != y-1 {
		return invalid("new case number %s is of %d: a transferred case is filed under a number of %d (or %d)", n, n.Year, y, y-1)
	}
	return nil
}

// ReceiverNumber parses the number a receiver court c files a
// transferred case under at now: an 执 number of c of this year or the
// last (see the acceptance record's rule).
func ReceiverNumber(field, s string, c court.CourtCode, now time.Time) (court.CaseNumber, error) {
	n, err := EnforcementCase(field, s, c)
	if err != nil {
		return n, err
	}
	return n, checkReceiverNumber(n, now)
}

// checkManifest checks a handover manifest (of a handover or a
// supplement) without state.
func checkManifest(m *pb.HandoverManifest) error {
	if len(m.GetMerkleRoot()) != 32 || m.GetChunkCount() == 0 {
		return invalid("handover needs a 32-byte Merkle root and at least one chunk")
	}
	if len(m.GetSnapshotHash()) != 32 {
		return invalid("handover needs a 32-byte snapshot hash")
	}
	if h := m.GetSealedCaseHash(); len(h) != 0 && len(h) != 32 {
		return invalid("handover's sealed case hash must be 32 bytes (or absent)")
	}
	if len(m.GetKeys()) == 0 {
		return invalid("handover wraps the data key for nobody")
	}
	for _, k := range m.GetKeys() {
		if _, err := court.ParseCourtCode(k.GetCourt()); err != nil || len(k.GetWrapped()) == 0 {
			return invalid("wrapped key for %q is malformed", k.GetCourt())
		}
	}
	if err := checkFree("override reason", m.GetOverrideReason(), 500, len(m.GetOverriddenMeasures()) > 0); err != nil {
		return err
	}
	if err := checkDossierItems(m.GetDossierItems()); err != nil {
		return err
	}
	if err := checkAmount("claim", m.GetClaimFen()); err != nil {
		return err
	}
	if err := checkAmount("amount recovered", m.GetRecoveredFen()); err != nil {
		return err
	}
	switch claim := m.GetClaimFen(); {
	case claim == 0 && m.GetRecoveredFen() != 0:
		return invalid("handover states %d fen recovered but no claim", m.GetRecoveredFen())
	case claim != 0 && m.GetRecoveredFen() >= claim:
		return invalid("handover states %d fen recovered of a %d fen claim: nothing is left to enforce; conclude the case (执行完毕) instead", m.GetRecoveredFen(), claim)
	}
	return nil
}

// checkBody checks what each kind of record carries, without state.
//
// It is long on purpose: one switch over every record kind, each case
// what that kind must carry.
func checkBody(r *Record, h court.Hierarchy) error {
	if ok, err := checkSupervision(r); ok {
		return err
	}
	if ok, err := checkModes(r); ok {
		return err
	}
	switch b := r.PB.GetBody().(type) {
	case *pb.Record_Offer:
		o := b.Offer
		origin, err := court.ParseCourtCode(o.GetOriginCourt())
		if err != nil {
			return invalid("origin court: %v", err)
		}
		if origin != r.Issuer {
			return invalid("offer for origin %s signed by %s", origin, r.Issuer)
		}
		if _, err := EnforcementCase("case number", o.GetCaseNumber(), origin); err != nil {
			return err
		}
		sup, err := court.ParseCourtCode(o.GetSuperiorCourt())
		if err != nil {
			return invalid("superior court: %v", err)
		}
		if !court.IsSuperior(h, sup, origin) {
			return invalid("%s is not a superior court of %s", sup, origin)
		}
		if len(o.GetGrounds()) == 0 {
			return invalid("an offer needs at least one ground")
		}
		if err := checkGrounds(o.GetGrounds()); err != nil {
			return err
		}
		if err := checkAmount("amount outstanding", o.GetAmountOutstandingFen()); err != nil {
			return err
		}
		if err := checkAmount("amount recovered", o.GetAmountRecoveredFen()); err != nil {
			return err
		}
		if o.GetAmountOutstandingFen() == 0 {
			return invalid("nothing outstanding: a case with no amount left is concluded, not transferred")
		}
		for _, a := range o.GetAssets() {
			if _, err := court.ParseAssetClass(a.GetAssetClass()); err != nil {
				return invalid("asset class: %v", err)
			}
		}
		if _, err := optDate("earliest measure expiry", o.GetEarliestMeasureExpiry()); err != nil {
			return err
		}
		if _, err := optDate("earliest other court expiry", o.GetEarliestOtherCourtExpiry()); err != nil {
			return err
		}
		filed, err := optDate("filed on", o.GetFiledOn())
		if err != nil {
			return err
		}
		if filed.IsZero() {
			return invalid("filed_on is required")
		}
		if limit := court.DateOf(r.IssuedAt).AddDate(0, -6, 0); filed.After(limit) {
			return invalid("case filed on %s is not yet 6 months old (民诉法 art. 237: after %s)", filed, limit)
		}
		if err := checkOfferSummary(o); err != nil {
			return err
		}
		if len(o.GetDebtorMatch()) > 4096 {
			return invalid("debtor match key of %d bytes: a sealed 32-byte key is far smaller", len(o.GetDebtorMatch()))
		}
	case *pb.Record_Decision:
		d := b.Decision
		switch d.GetMode() {
		case pb.Mode_MODE_DESIGNATED, pb.Mode_MODE_ELEVATED, pb.Mode_MODE_SUPERVISED, pb.Mode_MODE_GATHERED:
		default:
			return invalid("unknown mode %d", d.GetMode())
		}
		if err := checkDecisionMode(r, d); err != nil {
			return err
		}
		if _, err := court.ParseCourtCode(d.GetReceiverCourt()); err != nil {
			return invalid("receiver court: %v", err)
		}
		if err := checkText("decision number", d.GetDecisionNumber(), 64, true); err != nil {
			return err
		}
		if _, err := optDate("accept by", d.GetAcceptBy()); err != nil {
			return err
		}
		if err := checkDecisionAdvice(d); err != nil {
			return err
		}
		if err := checkResponsible(d.GetSealedResponsible(), d.GetResponsibleKeys()); err != nil {
			return err
		}
		p := Periods{HandoverDays: int(d.GetHandoverDays()), FilingDays: int(d.GetFilingDays()),
			InvestigationMonths: int(d.GetInvestigationMonths()), ConclusionMonths: int(d.GetConclusionMonths())}
		if err := p.Validate(); err != nil {
			return err
		}
	case *pb.Record_Acceptance:
		n, err := EnforcementCase("new case number", b.Acceptance.GetNewCaseNumber(), r.Issuer)
		if err != nil {
			return err
		}
		if err := checkResponsible(b.Acceptance.GetSealedResponsible(), b.Acceptance.GetResponsibleKeys()); err != nil {
			return err
		}
		return checkReceiverNumber(n, r.IssuedAt)
	case *pb.Record_Rejection:
		return checkFree("reason", b.Rejection.GetReason(), 500, true)
	case *pb.Record_Withdrawal:
		return checkFree("reason", b.Withdrawal.GetReason(), 500, true)
	case *pb.Record_Handover:
		if err := checkResponsible(b.Handover.GetSealedResponsible(), b.Handover.GetResponsibleKeys()); err != nil {
			return err
		}
		return checkManifest(b.Handover)
	case *pb.Record_Supplement:
		if b.Supplement.GetManifest() == nil {
			return invalid("a supplement carries the new handover manifest")
		}
		if err := checkResponsible(b.Supplement.GetManifest().GetSealedResponsible(), b.Supplement.GetManifest().GetResponsibleKeys()); err != nil {
			return err
		}
		return checkManifest(b.Supplement.GetManifest())
	case *pb.Record_HandoverReturn:
		return checkReturn(b.HandoverReturn)
	case *pb.Record_Start:
		return checkStart(r, b.Start, h)
	case *pb.Record_Receipt:
		if len(b.Receipt.GetMerkleRoot()) != 32 {
			return invalid("receipt needs the 32-byte Merkle root")
		}
	case *pb.Record_Progress:
		if err := checkAmount("amount recovered", b.Progress.GetAmountRecoveredFen()); err != nil {
			return err
		}
		return checkFree("status", b.Progress.GetStatus(), 200, false)
	case *pb.Record_Closure:
		return checkClosure(b.Closure)
	case *pb.Record_GrantRevocation:
		if _, err := court.ParseCourtCode(b.GrantRevocation.GetCourt()); err != nil {
			return invalid("grant revocation court: %v", err)
		}
		return checkFree("reason", b.GrantRevocation.GetReason(), 500, true)
	case *pb.Record_AssetUpdate:
		u := b.AssetUpdate
		if u.GetNumber() == 0 {
			return invalid("asset update number 0")
		}
		switch u.GetKind() {
		case "search_result", "renewal", "release", "disposal", "lapse", "other":
		default:
			return invalid("asset update kind %q: want search_result, renewal, release, disposal, lapse or other", u.GetKind())
		}
		if len(u.GetSealed()) == 0 || len(u.GetSealed()) > MaxGossipMessage/2 {
			return invalid("asset update must carry a sealed change of at most %d bytes", MaxGossipMessage/2)
		}
		if _, err := optDate("earliest expiry", u.GetEarliestExpiry()); err != nil {
			return err
		}
	case *pb.Record_FundsEntry, *pb.Record_Sanction, *pb.Record_AssistNotice, *pb.Record_DossierItems:
		return checkMore(r)
	case *pb.Record_PartyComplaint:
		return checkComplaint(r, b.PartyComplaint, h)
	case *pb.Record_ComplaintAnswer:
		return checkSealed("answer", b.ComplaintAnswer.GetSealedText(), b.ComplaintAnswer.GetKeys())
	}
	return nil
}
