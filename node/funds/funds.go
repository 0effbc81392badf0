package funds

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/audit"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
	"courtmesh.dev/courtmesh/storage"
	"github.com/libp2p/go-libp2p/core/peer"
)

// DefaultForwardDays is how long money that reaches the origin's case
// account after its 销案 may stay there before it must be forwarded to
// the receiver or paid to the applicant (config funds_forward_days;
// modelled on the 30 days of the SPC's rules on enforcement money,
// 执行款物管理规定: unverified).
const DefaultForwardDays = 30

// Transfers is what the service needs of the transfer records (the
// records room implements it).
type Transfers interface {
	// Load returns a transfer's stored state, nil if unknown.
	Load(id court.TransferID) (*cmproto.Transfer, error)
	// Issue signs, applies and publishes a record of this court.
	Issue(ctx context.Context, id court.TransferID, body *pb.Record) (*cmproto.Transfer, error)
	// Each calls f with every transfer q selects, from the indexes.
	Each(ctx context.Context, q storage.TransferQuery, f func(*cmproto.Transfer) error) error
}

// TrustView is the trust bundle in force.
type TrustView interface{ Trust() *crypto.Trust }

// Deps is what the service is built from.
type Deps struct {
	Audit     audit.Policy
	Store     *storage.DB
	Transfers Transfers
	Trust     TrustView
	Peer      peer.ID          // this node
	Decrypter crypto.Decrypter // opens the data keys wrapped for this court
	Log       *slog.Logger
	Now       func() time.Time
	// ForwardDays is the deadline for money held at the origin after the
	// handover; 0 means DefaultForwardDays.
	ForwardDays int
	// GuardDays is the handover guard: a notice not acknowledged when its
	// measure expires within it raises an alert.
	GuardDays int
	// TemplateFile, if set and present, replaces the built-in notice
	// template (html/template; see notice.go for its data).
	TemplateFile string
}

// Service keeps the funds ledger, the sanctions and the notices to
// assisting bodies of this court's transfers, as records in its log.
type Service struct {
	d  Deps
	mu sync.Mutex // serialises this court's numbering of its records
}

// New builds the service.
func New(d Deps) *Service {
	if d.ForwardDays <= 0 {
		d.ForwardDays = DefaultForwardDays
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	return &Service{d: d}
}

var _ api.FundsService = (*Service)(nil)

func (s *Service) self() (*crypto.Certificate, error) {
	return s.d.Trust.Trust().ByPeer(s.d.Peer, s.d.Now())
}

// load returns the transfer and this court's role in it.
func (s *Service) load(id court.TransferID) (*cmproto.Transfer, string, court.CourtCode, error) {
	t, err := s.d.Transfers.Load(id)
	if err != nil {
		return nil, "", "", err
	}
	if t == nil {
		return nil, "", "", fmt.Errorf("transfer %s: %w", id, court.ErrNotFound)
	}
	self, err := s.self()
	if err != nil {
		return nil, "", "", err
	}
	switch self.Code {
	case t.Origin:
		return t, "origin", self.Code, nil
	case t.Receiver:
		return t, "receiver", self.Code, nil
	}
	return t, "other", self.Code, nil
}

func (s *Service) acting(t *cmproto.Transfer, role string) error {
	if role == "other" {
		return fmt.Errorf("this court is neither the origin %s nor the receiver %s of transfer %s: %w", t.Origin, t.Receiver, t.ID, court.ErrPermission)
	}
	if t.State != cmproto.StateHandedOver && t.State != cmproto.StateReceived {
		return fmt.Errorf("transfer %s is %s: money, sanctions and notices are recorded from the handover until the case is closed: %w", t.ID, t.State, court.ErrConflict)
	}
	return nil
}

// dataKey is the transfer's dossier data key: the origin's case key, or
// the key the handover wrapped for this court.
func (s *Service) dataKey(t *cmproto.Transfer, self court.CourtCode) (crypto.DataKey, error) {
	if self == t.Origin {
		cn, err := court.ParseCaseNumber(t.CaseNumber)
		if err != nil {
			return crypto.DataKey{}, err
		}
		return s.d.Store.DataKey(cn)
	}
	for _, k := range t.WrappedKeys {
		if k.Court == self {
			return crypto.UnwrapDataKey(s.d.Decrypter, "handover", string(t.ID), k.Wrapped)
		}
	}
	return crypto.DataKey{}, fmt.Errorf("transfer %s wraps no data key for %s: %w", t.ID, self, court.ErrPermission)
}

// referenceDigest digests a bank reference under a key derived from the
// dossier's data key: both courts of the transfer compute the same digest
// for the same payment; nobody else can test a guess.
func referenceDigest(key crypto.DataKey, id court.TransferID, ref string) []byte {
	k := sha256.Sum256(append([]byte("courtmesh funds reference v1\x00"), key[:]...))
	m := hmac.New(sha256.New, k[:])
	fmt.Fprintf(m, "%s\x00%s", id, strings.Join(strings.Fields(ref), ""))
	return m.Sum(nil)
}

func sealLabel(kind string, id court.TransferID, issuer court.CourtCode, n string) string {
	return fmt.Sprintf("%s/%s/%s/%s", kind, id, issuer, n)
}

func (s *Service) date(in string) (court.Date, error) {
	if in == "" {
		return court.DateOf(s.d.Now()), nil
	}
	d, err := court.ParseDate(in)
	if err != nil {
		return d, court.Errorf(court.ErrInvalid, "date %q: %v", in, err)
	}
	return d, nil
}

func text(field, v string, max int) error {
	if !utf8.ValidString(v) || utf8.RuneCountInString(v) > max {
		return court.Errorf(court.ErrInvalid, "%s: at most %d characters of text", field, max)
	}
	return nil
}

// RecordFunds records money received, paid out or forwarded in this
// court's case of the transfer.
func (s *Service) RecordFunds(ctx context.Context, id court.TransferID, req api.FundsEntryRequest) (api.FundsLedger, error) {
	switch req.Kind {
	case cmproto.FundsReceived, cmproto.FundsPaidOut, cmproto.FundsForwarded:
	default:
		return api.FundsLedger{}, court.Errorf(court.ErrInvalid, "kind %q: want received, paid_out or forwarded", req.Kind)
	}
	if req.AmountFen <= 0 || req.AmountFen > cmproto.MaxAmountFen {
		return api.FundsLedger{}, court.Errorf(court.ErrInvalid, "amount_fen %d: more than 0 and at most one trillion yuan", req.AmountFen)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, role, self, err := s.load(id)
	if err != nil {
		return api.FundsLedger{}, err
	}
	if err := s.acting(t, role); err != nil {
		return api.FundsLedger{}, err
	}
	on, err := s.date(req.On)
	if err != nil {
		return api.FundsLedger{}, err
	}
	for f, v := range map[string]string{"reference": req.Reference, "account": req.Account, "measure": req.Measure} {
		if err := text(f, v, 64); err != nil {
			return api.FundsLedger{}, err
		}
	}
	key, err := s.dataKey(t, self)
	if err != nil {
		return api.FundsLedger{}, err
	}
	number := uint64(1)
	if t.Ledger != nil {
		for _, e := range t.Ledger.Entries {
			if e.Court == self {
				number++
			}
		}
	}
	cn := t.CaseNumber
	if role == "receiver" {
		cn = t.NewCaseNumber
	}
	if req.Kind == cmproto.FundsReceived && req.Source == "forward" && req.ForwardNumber == 0 && t.Ledger != nil {
		// The other court's oldest forward not yet recorded received.
		for _, e := range t.Ledger.Entries {
			if e.Court == counterpart(t, role) && e.Kind == cmproto.FundsForwarded && !e.Answered {
				req.ForwardNumber = e.Number
				break
			}
		}
		if req.ForwardNumber == 0 {
			return api.FundsLedger{}, fmt.Errorf("transfer %s: %s forwarded nothing that is not recorded received yet: %w", id, counterpart(t, role), court.ErrNotFound)
		}
	}
	f := &pb.FundsEntry{Number: number, Kind: req.Kind, AmountFen: req.AmountFen, On: on.String(), Source: req.Source,
		CaseNumber: cn, ForwardNumber: req.ForwardNumber}
	if ref := strings.TrimSpace(req.Reference); ref != "" {
		f.ReferenceDigest = referenceDigest(key, id, ref)
	}
	detail, _ := json.Marshal(map[string]string{"reference": req.Reference, "account": req.Account, "measure": req.Measure})
	if f.Sealed, err = key.SealField(sealLabel("funds", id, self, fmt.Sprint(number)), detail); err != nil {
		return api.FundsLedger{}, err
	}
	next, err := s.d.Transfers.Issue(ctx, id, &pb.Record{Body: &pb.Record_FundsEntry{FundsEntry: f}})
	if err != nil {
		return api.FundsLedger{}, err
	}
	s.done(ctx, "funds.recorded", id, cn, counterpart(t, role), fmt.Sprintf("entry %d: %s %d fen on %s", number, req.Kind, req.AmountFen, on))
	s.d.Log.Info("funds entry issued", "transfer", id, "number", number, "kind", req.Kind, "amount_fen", req.AmountFen)
	return api.LedgerOf(next), nil
}

// done writes the audit entry of an act recorded in the log (After: the
// signed record is the primary evidence; a failed write is counted).
func (s *Service) done(ctx context.Context, event string, id court.TransferID, cn string, other court.CourtCode, detail string) {
	if who := api.ActorFrom(ctx); who != "" {
		detail += " (by " + who + ")"
	}
	_ = s.d.Audit.After(storage.AuditEntry{Event: event, Outcome: "ok", Transfer: string(id), Case: cn, Court: string(other), Detail: detail})
}

func counterpart(t *cmproto.Transfer, role string) court.CourtCode {
	if role == "origin" {
		return t.Receiver
	}
	return t.Origin
}

// Ledger is the transfer's funds ledger.
func (s *Service) Ledger(id court.TransferID) (api.FundsLedger, error) {
	t, _, _, err := s.load(id)
	if err != nil {
		return api.FundsLedger{}, err
	}
	return api.LedgerOf(t), nil
}

// Reconcile checks the ledger (see Check).
func (s *Service) Reconcile(id court.TransferID, asOf court.Date) (api.FundsReconciliation, error) {
	t, _, _, err := s.load(id)
	if err != nil {
		return api.FundsReconciliation{}, err
	}
	return Check(t, asOf, s.d.ForwardDays), nil
}

// Check reconciles a transfer's ledger as of a day: the origin holds no
// money past the forward deadline, nothing forwarded is left unrecorded
// by the other court past it, the money recovered since the handover is
// not more than the receiver's claim, and what the receiver reported as
// recovered (progress, closure) is what its ledger shows.
func Check(t *cmproto.Transfer, asOf court.Date, forwardDays int) api.FundsReconciliation {
	r := api.FundsReconciliation{FundsLedger: api.LedgerOf(t), AsOf: asOf.String(), Problems: []string{}}
	l := t.Ledger
	if l == nil {
		l = &cmproto.Ledger{}
	}
	if since, err := court.ParseDate(l.OriginHeldSince); err == nil && l.OriginHeldFen > 0 {
		by := since.AddDate(0, 0, forwardDays)
		r.ForwardBy = by.String()
		if asOf.After(by) {
			r.Problems = append(r.Problems, fmt.Sprintf("原执行法院 %s 销案后仍持有执行款 %s 元，已超过转交期限 %s / the origin %s still holds %s yuan after its 销案, past the forward deadline %s",
				t.Origin, yuan(l.OriginHeldFen), by, t.Origin, yuan(l.OriginHeldFen), by))
		}
	}
	for _, e := range l.Entries {
		if e.Kind != cmproto.FundsForwarded || e.Answered {
			continue
		}
		if d, err := court.ParseDate(e.On); err == nil && asOf.After(d.AddDate(0, 0, forwardDays)) {
			r.Problems = append(r.Problems, fmt.Sprintf("%s 转交的第 %d 笔款项 %s 元未被对方入账 / forward %d of %s (%s yuan) is not recorded received by the other court",
				e.Court, e.Number, yuan(e.AmountFen), e.Number, e.Court, yuan(e.AmountFen)))
		}
	}
	if t.AmountOutstanding > 0 && l.RecoveredFen > t.AmountOutstanding {
		r.Problems = append(r.Problems, fmt.Sprintf("台账到位金额 %s 元超过申请执行标的 %s 元 / the ledger recovered %s yuan, more than the claim of %s yuan",
			yuan(l.RecoveredFen), yuan(t.AmountOutstanding), yuan(l.RecoveredFen), yuan(t.AmountOutstanding)))
	}
	if reported(t) && t.AmountRecovered != l.RecoveredFen {
		r.Problems = append(r.Problems, fmt.Sprintf("受理法院报告到位 %s 元，台账为 %s 元 / the receiver reported %s yuan recovered, the ledger shows %s yuan",
			yuan(t.AmountRecovered), yuan(l.RecoveredFen), yuan(t.AmountRecovered), yuan(l.RecoveredFen)))
	}
	r.Balanced = len(r.Problems) == 0
	return r
}

// reported reports whether the receiver reported progress or closed.
func reported(t *cmproto.Transfer) bool {
	return slices.ContainsFunc(t.Records, func(r cmproto.RecordRef) bool {
		return r.Kind == cmproto.KindProgress || r.Kind == cmproto.KindClosure
	})
}

func yuan(fen int64) string { return fmt.Sprintf("%d.%02d", fen/100, fen%100) }
