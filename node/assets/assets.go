package assets

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/audit"
	"courtmesh.dev/courtmesh/node/metrics"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
	"courtmesh.dev/courtmesh/storage"
	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"
)

// assetWatchEvery is how often the asset watch retries waiting updates
// and checks measures nearing expiry.
const assetWatchEvery = time.Minute

// Service applies asset updates and watches the measures of transferred
// cases.
type Service struct {
	audit       audit.Policy
	db          *storage.DB
	transfers   Transfers
	trust       TrustView
	peer        peer.ID
	dec         crypto.Decrypter
	metrics     *metrics.Metrics
	log         *slog.Logger
	now         func() time.Time
	guardDays   int
	beforeIssue func() error
	// mu serialises issuing and applying asset updates. It is taken
	// before the records service's lock (Issue), never under it.
	mu sync.Mutex
	// kick wakes the asset watch: an update arrived, or a case was filed.
	kick chan struct{}
	// warned remembers, per measure, the day it was last warned about
	// (owned by the asset watch goroutine).
	warned map[string]court.Date
	// settled is closed once the watch made its first pass (Settled).
	settled     chan struct{}
	settledOnce sync.Once
	// recoverDue asks the watch to read the record logs for updates not
	// kept (keeping one failed); keepFault is the test hook SetKeepFault.
	recoverDue atomic.Bool
	keepFault  atomic.Pointer[func() error]
}

// Transfers is what the service needs of the transfer records (the
// records room implements it).
type Transfers interface {
	// Load returns a transfer's stored state, nil if unknown.
	Load(id court.TransferID) (*cmproto.Transfer, error)
	// Issue signs, applies and publishes a record of this court.
	Issue(ctx context.Context, id court.TransferID, body *pb.Record) (*cmproto.Transfer, error)
	// Each calls f with every transfer q selects, from the indexes.
	Each(ctx context.Context, q storage.TransferQuery, f func(*cmproto.Transfer) error) error
	// ByCase returns the transfers naming a case number.
	ByCase(ctx context.Context, n court.CaseNumber) ([]*cmproto.Transfer, error)
}

// TrustView is the trust bundle in force.
type TrustView interface{ Trust() *crypto.Trust }

// Deps is what the asset service is built from.
type Deps struct {
	// Audit writes the audit log (node/audit).
	Audit     audit.Policy
	Store     *storage.DB
	Transfers Transfers
	Trust     TrustView
	Peer      peer.ID          // this node: its own record log is not searched for updates
	Decrypter crypto.Decrypter // opens the data keys wrapped for this court
	Metrics   *metrics.Metrics
	Log       *slog.Logger
	Now       func() time.Time
	// GuardDays is the handover guard period: measures of transferred
	// cases expiring within it are warned about (config
	// handover_guard_days).
	GuardDays int
	// BeforeIssue, tests only, runs between an update's change to this
	// court's copy and its record; an error stops UpdateAssets there, as a
	// crash would.
	BeforeIssue func() error
}

// New builds the service; Serve runs its watch.
func New(d Deps) *Service {
	return &Service{audit: d.Audit, db: d.Store, transfers: d.Transfers, trust: d.Trust, peer: d.Peer, dec: d.Decrypter, metrics: d.Metrics,
		log: d.Log, now: d.Now, guardDays: d.GuardDays, beforeIssue: d.BeforeIssue,
		kick: make(chan struct{}, 1), warned: map[string]court.Date{}, settled: make(chan struct{})}
}

// Settled is closed once the watch has made its first pass since Serve
// started: the outbox sent, the record logs searched past their
// checkpoints, the waiting updates applied that can be. A start is fully
// recovered then.
func (a *Service) Settled() <-chan struct{} { return a.settled }

// GuardDays is the handover guard period the watch warns within.
func (a *Service) GuardDays() int { return a.guardDays }

// SetBeforeIssue sets the test hook Deps.BeforeIssue (nil removes it).
func (a *Service) SetBeforeIssue(f func() error) {
	a.mu.Lock()
	a.beforeIssue = f
	a.mu.Unlock()
}

// SetKeepFault sets a test hook that keeping a received update (the
// store write) calls first: an error it returns fails that keep. nil
// removes it.
func (a *Service) SetKeepFault(f func() error) {
	if f == nil {
		a.keepFault.Store(nil)
		return
	}
	a.keepFault.Store(&f)
}

// self is this court's certificate in the bundle in force.
func (a *Service) self() (*crypto.Certificate, error) {
	return a.trust.Trust().ByPeer(a.peer, a.now())
}

// auditDone writes an entry about an event that already happened (an
// update issued, applied, or a failed revert): a failed write cannot undo
// it, so it is logged at error level and counted
// (courtmesh_audit_write_failures_total), which alerts.
func (a *Service) auditDone(e storage.AuditEntry) {
	// After counts and logs a failure itself; the event stands either way.
	_ = a.audit.After(e)
}

// Poke wakes the asset watch without blocking.
func (a *Service) Poke() {
	if a == nil {
		return
	}
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

// Applied is called by the transfer service, under its lock, after it
// applied a record to a transfer. An AssetUpdate from the other court is
// kept until the asset watch applies it. It must not block: it takes no
// lock of its own and only writes the update to the store.
func (a *Service) Applied(r *cmproto.Record, t *cmproto.Transfer) {
	if a == nil || r.Kind != cmproto.KindAssetUpdate {
		return
	}
	// A failed keep asks the watch to read the logs again: wake it.
	if added, err := a.keep(r, t); added || err != nil {
		a.Poke()
	}
}

// keep stores a received AssetUpdate addressed to this court.
func (a *Service) keep(r *cmproto.Record, t *cmproto.Transfer) (bool, error) {
	self, err := a.self()
	if err != nil {
		return false, err
	}
	if r.Issuer == self.Code || roleOf(t, self.Code) == "" {
		return false, nil // our own, or a transfer in which we hold no copy
	}
	u := r.PB.GetAssetUpdate()
	var added bool
	if f := a.keepFault.Load(); f != nil {
		err = (*f)()
	}
	if err == nil {
		added, err = a.db.PutAssetUpdate(storage.PendingAssetUpdate{
			Transfer: string(r.Transfer), Issuer: r.Issuer, Number: u.GetNumber(), Kind: u.GetKind(),
			Sealed: u.GetSealed(), EarliestExpiry: u.GetEarliestExpiry(), IssuedAt: r.IssuedAt, Record: r.HashHex(),
		})
	}
	if err != nil {
		// The record is in the log: the asset watch reads the logs for
		// it again (recover), at its next pass and every minute until
		// the update is kept.
		a.recoverDue.Store(true)
		a.log.Warn("could not keep an asset update; the asset watch reads the record log for it again",
			"transfer", r.Transfer, "issuer", r.Issuer, "number", u.GetNumber(), "reason", err)
		return false, err
	}
	return added, nil
}

// roleOf is what court c is in transfer t: "origin", "receiver", or "".
func roleOf(t *cmproto.Transfer, c court.CourtCode) string {
	switch {
	case t == nil:
		return ""
	case c == t.Origin:
		return "origin"
	case c == t.Receiver:
		return "receiver"
	}
	return ""
}

// counterpart is the other court of an origin or a receiver.
func counterpart(t *cmproto.Transfer, role string) court.CourtCode {
	if role == "origin" {
		return t.Receiver
	}
	return t.Origin
}

// localCase is this court's case number for a transfer: the origin's, or
// the receiver's new one.
func localCase(t *cmproto.Transfer, role string) (court.CaseNumber, error) {
	s := t.CaseNumber
	if role == "receiver" {
		s = t.NewCaseNumber
	}
	return court.ParseCaseNumber(s)
}

// assetUpdateLabel binds a sealed update to its transfer, issuer and
// number: an update cannot be replayed as another.
func assetUpdateLabel(id court.TransferID, issuer court.CourtCode, number uint64) string {
	return fmt.Sprintf("assets/%s/%s/%d", id, issuer, number)
}

// assetUpdateLimit bounds the sealed change of one update.
const assetUpdateLimit = cmproto.MaxGossipMessage / 4

// UpdateAssets records a change to a transferred case's assets or
// measures, as the origin or the receiver: it applies the change to this
// court's copy of the case and sends it, sealed, to the other court. The
// transfer must be handed over (or received); the receiver must have
// filed the case.
func (a *Service) UpdateAssets(ctx context.Context, id court.TransferID, change api.AssetChange) (*cmproto.Transfer, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	t, err := a.transfers.Load(id)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, fmt.Errorf("transfer %s: %w", id, court.ErrNotFound)
	}
	self, err := a.self()
	if err != nil {
		return nil, err
	}
	role := roleOf(t, self.Code)
	if role == "" {
		return nil, fmt.Errorf("%s is neither the origin %s nor the receiver %s of transfer %s; only they exchange asset updates: %w", self.Code, t.Origin, t.Receiver, id, crypto.ErrNotAuthorised)
	}
	if t.State != cmproto.StateHandedOver && t.State != cmproto.StateReceived {
		return nil, fmt.Errorf("%w: transfer %s is %s; asset updates follow the handover (before it, change the case itself and hand over the current state)", court.ErrConflict, id, t.State)
	}
	cn, err := localCase(t, role)
	if err != nil {
		return nil, err
	}
	head, v, err := a.db.Case(cn)
	if errors.Is(err, court.ErrNotFound) && role == "receiver" {
		return nil, fmt.Errorf("transfer %s: case %s is not filed here yet; fetch the dossier first (courtmesh dossier fetch %s): %w", id, cn, id, court.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	if role == "receiver" && !a.FiledFrom(head, t) {
		return nil, fmt.Errorf("%w: case %s in this court's store was not filed from transfer %s; its updates cannot speak for it", court.ErrConflict, cn, id)
	}
	key, err := a.db.DataKey(cn)
	if err != nil {
		return nil, err
	}
	// An earlier update of this court that is applied here but not sent
	// (the node stopped before its record) goes out first: the next
	// number is only free once it is.
	if a.sendOutboxLocked(ctx, id) {
		return nil, fmt.Errorf("%w: an earlier asset update of transfer %s is applied here but not sent yet; it is retried at the next start (see the log), try again then", court.ErrConflict, id)
	}
	if t, err = a.transfers.Load(id); err != nil || t == nil {
		return nil, fmt.Errorf("transfer %s: %w", id, cmp.Or(err, court.ErrNotFound))
	}
	number := uint64(1)
	for _, r := range t.Records {
		if r.Kind == cmproto.KindAssetUpdate && r.Issuer == self.Code {
			number++
		}
	}
	// Ids the change creates and the clerk left to us are scoped to this
	// court's role and the update's number (m-o3: the measure of the
	// origin's update 3), so that the two courts, each numbering on its
	// own copy, never create the same id at once.
	scoped := func(prefix string, taken func(string) bool) string {
		letter := map[string]string{"origin": "o", "receiver": "r"}[role]
		id := fmt.Sprintf("%s-%s%d", prefix, letter, number)
		for k := 2; taken(id); k++ {
			id = fmt.Sprintf("%s-%s%d.%d", prefix, letter, number, k)
		}
		return id
	}
	if change.NewMeasure == "" {
		change.NewMeasure = scoped("m", func(id string) bool {
			return slices.ContainsFunc(v.Measures, func(m court.Measure) bool { return m.ID == id })
		})
	}
	if change.Asset != nil && change.Asset.ID == "" {
		a := *change.Asset
		a.ID = scoped("a", func(id string) bool {
			return slices.ContainsFunc(v.Assets, func(x court.Asset) bool { return x.ID == id })
		})
		change.Asset = &a
	}
	sc, err := storageChange(change, key, a.db.Suite())
	if err != nil {
		return nil, err
	}
	today := court.DateOf(a.now())
	delta, err := court.PlanAssetChange(v.Case(), sc, today, self.Code)
	if err != nil {
		return nil, err
	}
	plain, err := json.Marshal(delta)
	if err != nil {
		return nil, err
	}
	sealed, err := key.SealFieldIn(a.db.Suite(), assetUpdateLabel(id, self.Code, number), plain)
	if err != nil {
		return nil, err
	}
	if len(sealed) > assetUpdateLimit {
		return nil, fmt.Errorf("%w: the change is %d bytes sealed, over the %d a record carries; split it", court.ErrInvalid, len(sealed), assetUpdateLimit)
	}
	u := &pb.AssetUpdate{Number: number, Kind: string(delta.Kind), Sealed: sealed}
	if e := court.EarliestExpiry(delta.Preview(v.Measures)); !e.IsZero() {
		u.EarliestExpiry = e.String()
	}
	// Our copy first, with the update in the outbox; then the record. If
	// the record cannot be issued, our copy goes back as it was; if the
	// node stops in between, the outbox sends it at the next start.
	ub, err := proto.MarshalOptions{Deterministic: true}.Marshal(u)
	if err != nil {
		return nil, err
	}
	outbox := &storage.OutboxAssetUpdate{Transfer: string(id), Number: number, Record: ub}
	if _, err := a.db.ApplyAssetDelta(cn, delta, storage.DeltaOptions{Strict: true, Outbox: outbox}); err != nil {
		return nil, err
	}
	if a.beforeIssue != nil {
		if err := a.beforeIssue(); err != nil {
			return nil, err // as a crash here would: the change applied, no record
		}
	}
	next, err := a.transfers.Issue(ctx, id, &pb.Record{Body: &pb.Record_AssetUpdate{AssetUpdate: u}})
	if err == nil {
		if derr := a.db.DoneOutboxAssetUpdate(string(id), number); derr != nil {
			a.log.Warn("asset update issued; its outbox entry stays until the next start", "transfer", id, "number", number, "reason", derr)
		}
	}
	if err != nil {
		if rerr := a.db.RevertAssetDelta(cn, delta, outbox); rerr != nil {
			a.log.Error("asset update not sent, and this court's copy could not be put back; check the case", "transfer", id, "case", cn.String(), "reason", rerr)
			a.auditDone(storage.AuditEntry{Event: "asset_update.revert_failed", Outcome: "rejected", Transfer: string(id), Case: cn.String(),
				Detail: fmt.Sprintf("update %d (%s) was applied here but not sent (%v), and could not be undone: %v", number, delta.Summary(), err, rerr)})
		}
		return nil, err
	}
	a.log.Info("asset update issued", "transfer", id, "case", cn.String(), "number", number, "kind", delta.Kind)
	a.auditDone(storage.AuditEntry{Event: "asset_update.issued", Outcome: "ok", Transfer: string(id), Case: cn.String(), Court: string(counterpart(t, role)),
		Detail: fmt.Sprintf("update %d: %s", number, delta.Summary())})
	if role == "receiver" {
		if after := a.reportOrigin(ctx, next, v, delta, number, today); after != nil {
			next = after
		}
	}
	return next, nil
}

// reportOrigin issues, as the receiver, a new report for a check back on
// the origin (倒查) when search result update number found an asset the
// debtor held on or before the origin's last search (its first-seen date
// against the origin's searches, both from the case record the origin
// handed over): the report names every such asset so far, with the
// measures that lapsed before the offer. It returns the transfer after
// the report, nil when there was nothing to report or the report failed
// (logged and audited: the asset update stands either way).
func (a *Service) reportOrigin(ctx context.Context, t *cmproto.Transfer, v storage.CaseVersion, delta court.AssetDelta, number uint64, today court.Date) *cmproto.Transfer {
	if delta.Kind != court.ChangeSearchResult || t.AcceptedAt.IsZero() ||
		court.DateOf(t.AcceptedAt).DaysUntil(today) > cmproto.MaxCheckBackFoundDays {
		return nil
	}
	last, searches := court.LastSearch(v.Searches, t.Origin)
	var found []cmproto.EarlierAsset
	for _, e := range delta.Assets {
		if e.Before == nil && !e.After.FirstSeen.IsZero() && !last.IsZero() && !e.After.FirstSeen.After(last) {
			found = append(found, cmproto.EarlierAsset{AssetUpdate: number, Class: string(e.After.Class), FirstSeen: e.After.FirstSeen.String(), FoundOn: today.String()})
		}
	}
	if len(found) == 0 {
		return nil
	}
	var assets []cmproto.EarlierAsset
	if t.OriginCheck != nil {
		assets = slices.Clone(t.OriginCheck.Assets)
	}
	assets = append(assets, found...)
	if len(assets) > cmproto.MaxEarlierAssets {
		assets = assets[:cmproto.MaxEarlierAssets]
	}
	offered := court.DateOf(t.OfferedAt)
	lapsed := 0
	for _, m := range v.Measures {
		if m.Status == court.MeasureLapsed && !m.Expiry.IsZero() && m.Expiry.Before(offered) {
			lapsed++
		}
	}
	e := storage.AuditEntry{Event: "origin_check.issued", Outcome: "ok", Transfer: string(t.ID), Court: string(t.Origin),
		Detail: fmt.Sprintf("report for a check back on %s: %d asset(s) found that the debtor held at its last search (%s, of %d), %d measure(s) lapsed before the offer", t.Origin, len(assets), last, searches, lapsed)}
	next, err := a.transfers.Issue(ctx, t.ID, cmproto.OriginCheckProto(last, searches, lapsed, assets))
	if err != nil {
		a.log.Warn("asset update issued, but the report for a check back on the origin was not", "transfer", t.ID, "reason", err)
		e.Outcome, e.Detail = "failed", e.Detail+": "+err.Error()
		a.auditDone(e)
		return nil
	}
	a.auditDone(e)
	return next
}

// storageChange checks and converts an API change; an account number is
// sealed with the dossier's data key and kept masked.
func storageChange(c api.AssetChange, key crypto.DataKey, suite crypto.Suite) (court.AssetChange, error) {
	sc := court.AssetChange{Kind: court.AssetChangeKind(c.Kind), Measure: c.Measure, NewMeasure: c.NewMeasure, AssetID: c.AssetID, Rank: c.Rank}
	if !sc.Kind.Valid() {
		return sc, fmt.Errorf("%w: kind %q: want search_result, renewal, release, disposal, lapse or other", court.ErrInvalid, c.Kind)
	}
	if c.MeasureKind != "" {
		k, err := court.ParseMeasureKind(c.MeasureKind)
		if err != nil {
			return sc, err
		}
		sc.MeasureKind = k
	}
	var err error
	if c.Effective != "" {
		if sc.Effective, err = court.ParseDate(c.Effective); err != nil {
			return sc, err
		}
	}
	if c.Expiry != "" {
		if sc.Expiry, err = court.ParseDate(c.Expiry); err != nil {
			return sc, err
		}
	}
	if c.Asset != nil {
		class, err := court.ParseAssetClass(c.Asset.Class)
		if err != nil {
			return sc, err
		}
		if d := c.Asset.Description; !utf8.ValidString(d) || utf8.RuneCountInString(d) > 200 {
			return sc, fmt.Errorf("%w: asset description: at most 200 characters of text", court.ErrInvalid)
		}
		as := court.Asset{ID: c.Asset.ID, Class: class, Description: c.Asset.Description, Owner: c.Asset.Owner, Source: c.Asset.Source, ValueFen: c.Asset.ValueFen}
		if c.Asset.FirstSeen != "" {
			if as.FirstSeen, err = court.ParseDate(c.Asset.FirstSeen); err != nil {
				return sc, err
			}
		}
		if acct := strings.TrimSpace(c.Asset.Account); acct != "" {
			if !utf8.ValidString(acct) || len(acct) > 64 {
				return sc, fmt.Errorf("%w: asset account: at most 64 bytes of text", court.ErrInvalid)
			}
			as.AccountMasked = court.MaskNumber(acct)
			if as.AccountSealed, err = key.SealFieldIn(suite, storage.FieldLabel("asset", as.ID, "account"), []byte(acct)); err != nil {
				return sc, err
			}
		}
		sc.Asset = &as
	}
	return sc, nil
}

// sendOutbox issues the records of this court's asset updates that were
// applied to its copy but not sent (the node stopped in between), in
// number order; an update whose record is already out leaves the outbox.
func (a *Service) sendOutbox(ctx context.Context) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.sendOutboxLocked(ctx, "")
}

// sendOutboxLocked is sendOutbox with a.mu held, for one transfer's
// updates (or all, for ""). It reports whether any stays unsent.
func (a *Service) sendOutboxLocked(ctx context.Context, only court.TransferID) (left bool) {
	pending, err := a.db.OutboxAssetUpdates()
	if err != nil {
		a.log.Warn("asset updates: cannot read the outbox", "reason", err)
		return true
	}
	self, err := a.self()
	if err != nil {
		return len(pending) > 0
	}
	for _, o := range pending {
		id := court.TransferID(o.Transfer)
		if only != "" && id != only {
			continue
		}
		left = true // until it is out
		t, err := a.transfers.Load(id)
		if err != nil || t == nil {
			a.log.Warn("asset update in the outbox for an unknown transfer; kept", "transfer", id, "number", o.Number)
			continue
		}
		issued := uint64(0)
		for _, r := range t.Records {
			if r.Kind == cmproto.KindAssetUpdate && r.Issuer == self.Code {
				issued++
			}
		}
		switch {
		case issued >= o.Number: // out before the stop
		case issued+1 == o.Number:
			var u pb.AssetUpdate
			if err := proto.Unmarshal(o.Record, &u); err != nil || u.GetNumber() != o.Number {
				a.log.Error("asset update in the outbox does not decode; kept for an operator", "transfer", id, "number", o.Number)
				continue
			}
			if _, err := a.transfers.Issue(ctx, id, &pb.Record{Body: &pb.Record_AssetUpdate{AssetUpdate: &u}}); err != nil {
				a.log.Warn("asset update from the outbox not sent; retried at the next start", "transfer", id, "number", o.Number, "reason", err)
				continue
			}
			a.log.Info("asset update sent from the outbox (the node had stopped before its record)", "transfer", id, "number", o.Number)
			a.auditDone(storage.AuditEntry{Event: "asset_update.issued", Outcome: "ok", Transfer: string(id), Detail: fmt.Sprintf("update %d, sent at start from the outbox", o.Number)})
		default:
			a.log.Error("asset update in the outbox follows a gap; kept for an operator", "transfer", id, "number", o.Number, "issued", issued)
			continue
		}
		if err := a.db.DoneOutboxAssetUpdate(o.Transfer, o.Number); err != nil {
			a.log.Warn("asset update outbox entry not removed", "transfer", id, "number", o.Number, "reason", err)
			continue
		}
		left = false
	}
	return left
}
