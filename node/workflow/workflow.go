package workflow

import (
	"cmp"
	"context"
	"log/slog"
	"sync"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node/advice"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/audit"
	"courtmesh.dev/courtmesh/node/metrics"
	"courtmesh.dev/courtmesh/node/records"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
	"courtmesh.dev/courtmesh/storage"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Service carries out this court's steps of a transfer: each checks what
// only this court can check (its own case, its certificate, the guard
// period, a free case number) and then issues the signed record through
// the records service, whose state machine decides whether the step is in
// order.
type Service struct {
	audit      audit.Policy
	records    Records
	db         *storage.DB
	trust      TrustView
	peer       peer.ID
	court      court.CourtCode
	metrics    *metrics.Metrics
	log        *slog.Logger
	now        func() time.Time
	guardDays  int
	periods    cmproto.Periods
	answerDays int
	logs       Logs
	advice     advice.Weights
	checkBack  cmproto.CheckBackRule
	dec        crypto.Decrypter
	// acceptMu orders this node's acceptances: two cannot both find the
	// same new case number free.
	acceptMu sync.Mutex
}

// Records is what the workflow needs of the transfer records (the records
// room implements it).
type Records interface {
	// Load returns a transfer's stored state, nil if unknown.
	Load(id court.TransferID) (*cmproto.Transfer, error)
	// Issue signs, applies and publishes a record of this court.
	Issue(ctx context.Context, id court.TransferID, body *pb.Record) (*cmproto.Transfer, error)
	// ByCase returns the transfers naming a case number.
	ByCase(ctx context.Context, n court.CaseNumber) ([]*cmproto.Transfer, error)
	// Each calls f with every transfer q selects, from the indexes.
	Each(ctx context.Context, q storage.TransferQuery, f func(*cmproto.Transfer) error) error
}

// TrustView is the trust bundle in force.
type TrustView interface{ Trust() *crypto.Trust }

// Deps is what the workflow is built from.
type Deps struct {
	// Audit writes the audit log (node/audit).
	Audit   audit.Policy
	Records Records
	Store   *storage.DB
	Trust   TrustView
	Peer    peer.ID         // this node
	Court   court.CourtCode // this node's court
	Metrics *metrics.Metrics
	Log     *slog.Logger
	Now     func() time.Time
	// GuardDays is the handover guard period: a handover is refused while
	// an active measure expires within it (config handover_guard_days).
	GuardDays int
	// Periods are the deadlines this court writes into its decisions
	// (config acceptance_days, handover_days, ...).
	Periods cmproto.Periods
	// AnswerDays is the time this court gives itself to answer an
	// applicant's request (config request_answer_days).
	AnswerDays int
	// Logs reads record log positions, for spot checks: this node's own
	// head seeds a draw, another court's position checks one (the records
	// room). Nil: spot checks are refused.
	Logs Logs
	// Advice is the weights of the receiver recommendation (config
	// [recommend]); the zero value means advice.Default().
	Advice *advice.Weights
	// CheckBack is the rule that flags a transfer for a check back on
	// its origin (倒查; config check_back_*); nil means
	// protocol.DefaultCheckBackRule.
	CheckBack *cmproto.CheckBackRule
	// Decrypter is this court's key: it opens the debtor match keys
	// sealed to it (集中执行) and the requests for assistance (协同执行).
	// Nil: those are refused as unavailable.
	Decrypter crypto.Decrypter
}

// Logs is what spot checks read of the record logs.
type Logs interface {
	// Head is this node's own record log head.
	Head() (crypto.LogPosition, error)
	// LogPosition is the chain hash of issuer's log up to seq.
	LogPosition(issuer peer.ID, seq uint64) (crypto.LogPosition, error)
}

// New builds the workflow.
func New(d Deps) *Service {
	s := &Service{audit: d.Audit, records: d.Records, db: d.Store, trust: d.Trust, peer: d.Peer, court: d.Court, metrics: d.Metrics,
		log: d.Log, now: d.Now, guardDays: d.GuardDays, periods: d.Periods.WithDefaults(), answerDays: cmp.Or(d.AnswerDays, 15), logs: d.Logs,
		advice: advice.Default(), checkBack: cmproto.DefaultCheckBackRule, dec: d.Decrypter}
	if d.Advice != nil {
		s.advice = *d.Advice
	}
	if d.CheckBack != nil {
		s.checkBack = *d.CheckBack
	}
	return s
}

// self returns this node's certificate in the bundle in force.
func (w *Service) self() (*crypto.Certificate, error) {
	return w.trust.Trust().ByPeer(w.peer, w.now())
}

// auditDone writes an entry about an event that already happened: a
// failed write cannot undo it, so it is logged at error level and counted
// (courtmesh_audit_write_failures_total), which alerts.
func (w *Service) auditDone(e storage.AuditEntry) {
	// After counts and logs a failure itself; the event stands either way.
	_ = w.audit.After(e)
}

// Transfer returns one transfer as the API shows it.
func (w *Service) Transfer(id court.TransferID) (api.Transfer, error) {
	t, err := w.records.Load(id)
	if err != nil {
		return api.Transfer{}, err
	}
	if t == nil {
		return api.Transfer{}, court.Errorf(court.ErrNotFound, "transfer %s: not known to this node", id)
	}
	return api.NewTransfer(t, w.now()), nil
}

// List returns one page of transfers (newest offer first) and the cursor
// of the next ("" at the end), answered from the store's indexes.
func (w *Service) List(ctx context.Context, q api.TransferQuery) ([]api.Transfer, string, error) {
	return List(ctx, w.db, w.now(), q)
}

// Lister is the store's paged transfer listing; *storage.DB implements it.
type Lister interface {
	ListTransfers(ctx context.Context, q storage.TransferQuery) (storage.TransferPage, error)
}

// List is Service.List over a store opened by itself (the command line
// reads a stopped node's transfers with it): one page at now.
func List(ctx context.Context, db Lister, now time.Time, q api.TransferQuery) ([]api.Transfer, string, error) {
	sq := storage.TransferQuery{State: q.State, Court: q.Court, Cursor: q.Cursor, Limit: q.Limit}
	if q.Overdue {
		sq.OverdueAt = court.DateOf(now)
	}
	page, err := db.ListTransfers(ctx, sq)
	if err != nil {
		return nil, "", err
	}
	out := make([]api.Transfer, 0, len(page.Records))
	for _, rec := range page.Records {
		t, err := records.Decode(rec)
		if err != nil {
			return nil, "", err
		}
		v := api.NewTransfer(t, now)
		if q.Overdue && !v.Overdue {
			continue // the deadline index is by day; the hour may not be past yet
		}
		out = append(out, v)
	}
	return out, page.Next, nil
}
