package records

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node/audit"
	"courtmesh.dev/courtmesh/node/mesh"
	"courtmesh.dev/courtmesh/node/metrics"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
	"courtmesh.dev/courtmesh/storage"
)

// Service carries the transfer records: it validates and applies
// records from gossip and from sync, issues this court's own records into
// its sequence-numbered log, announces its log head, and pulls what it
// lacks from peers. Gossip is the fast path; the logs make it lossless.
type Service struct {
	audit   audit.Policy
	db      *storage.DB
	trust   TrustView
	h       host.Host
	signer  crypto.Signer
	metrics *metrics.Metrics
	log     *slog.Logger
	now     func() time.Time
	rules   cmproto.Rules
	every   time.Duration // sync interval

	topic *pubsub.Topic
	sub   *pubsub.Subscription

	mu sync.Mutex // serialises applying records (and issuing our own)
	// lastIssued is the signed time of the last record this node issued
	// (under mu): each new one is dated at least a millisecond later
	// (issueTime).
	lastIssued time.Time
	pulls      chan pullJob
	busy       sync.Map // issuer -> struct{}: a pull in progress
	// ahead remembers the records refused as dated ahead, so that they
	// are not fetched and audited again before they are due.
	ahead aheadMemo
	// revoked remembers the records refused because their signer is
	// revoked, and the peers that served a revoked key's trusted log
	// falsely (revoked.go).
	revoked revokedMemo
	// exchanges counts the heads exchanges completed with a peer;
	// skippedAhead the log ranges not pulled because their next record
	// was refused as dated ahead and is not yet due; skippedRevoked those
	// not pulled because their next record was refused as signed by a
	// revoked key.
	exchanges, skippedAhead, skippedRevoked atomic.Uint64
	// head caches this node's own log head (Head).
	headMu sync.Mutex
	head   crypto.LogPosition
	// onChange is called after a transfer's state changed (Deps.OnChange).
	onChange func(*cmproto.Transfer)
	// onApplied is called under mu after a record was applied to its
	// transfer (SetApplied).
	onApplied func(*cmproto.Record, *cmproto.Transfer)
	// stats computes what a transfer adds to the statistics the store
	// sums (Deps.Stats).
	stats func(*cmproto.Transfer) map[string]int64
	// tags names the listings by tag a transfer belongs in (Deps.Tags).
	tags func(*cmproto.Transfer) []string
}

// TrustView is what the service needs of the trust bundle in force:
// node/trust implements it.
type TrustView interface {
	Trust() *crypto.Trust
	Admit(p peer.ID) error
}

// Deps is what the records service is built from.
type Deps struct {
	// Audit writes the audit log (node/audit).
	Audit   audit.Policy
	Store   *storage.DB
	Trust   TrustView
	Host    *mesh.GuardedHost // the node's host; its stream handlers check admission
	PubSub  *pubsub.PubSub
	Signer  crypto.Signer // this node's key: signs its records and log heads
	Metrics *metrics.Metrics
	Log     *slog.Logger
	Now     func() time.Time
	Rules   cmproto.Rules
	// SyncEvery is the interval of log-head announcements and of the
	// anti-entropy exchange with a random peer.
	SyncEvery time.Duration
	// OnChange, if set, is called after a transfer's state changed in the
	// store (tests and benchmarks time propagation with it).
	OnChange func(*cmproto.Transfer)
	// Stats, if set, computes what a transfer adds to the statistics the
	// store sums per scope (storage.TransferRecord.Stats); it is written
	// with every state of the transfer.
	Stats func(*cmproto.Transfer) map[string]int64
	// Tags, if set, names the listings by tag a transfer belongs in
	// (storage.TransferRecord.Tags): the work pending on it that another
	// room raises alerts about.
	Tags func(*cmproto.Transfer) []string
}

type pullJob struct {
	from   peer.ID // the peer to pull from
	issuer peer.ID // whose log; "" for a full heads exchange
	upto   uint64
}

// maxRangePerRequest bounds one sync response.
const maxRangePerRequest = 512

// New builds the service and puts it on the mesh: it validates and joins
// the transfers topic and serves the sync protocol. Serve runs it.
func New(d Deps) (*Service, error) {
	s := &Service{audit: d.Audit, db: d.Store, trust: d.Trust, h: d.Host, signer: d.Signer, metrics: d.Metrics, log: d.Log, now: d.Now,
		rules: d.Rules, every: d.SyncEvery, pulls: make(chan pullJob, 1024), onChange: d.OnChange, stats: d.Stats, tags: d.Tags}
	if err := d.PubSub.RegisterTopicValidator(cmproto.TopicTransfers, d.Metrics.Metered(cmproto.TopicTransfers, s.validate), pubsub.WithValidatorInline(true)); err != nil {
		return nil, err
	}
	t, err := d.PubSub.Join(cmproto.TopicTransfers)
	if err != nil {
		return nil, err
	}
	sub, err := t.Subscribe()
	if err != nil {
		return nil, err
	}
	s.topic, s.sub = t, sub
	d.Metrics.Reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "courtmesh_sync_exchanges_total", Help: "Log-head exchanges with a peer completed (at connection and every sync_interval)."},
			func() float64 { return float64(s.exchanges.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "courtmesh_sync_skipped_dated_ahead_total", Help: "Log ranges not pulled because their next record was refused as dated ahead of this node's clock and is not yet due."},
			func() float64 { return float64(s.skippedAhead.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "courtmesh_records_dated_ahead", Help: "Records refused as dated ahead of this node's clock, remembered until they are due."},
			func() float64 { return float64(s.ahead.len()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "courtmesh_sync_skipped_revoked_total", Help: "Log ranges not pulled because their next record was refused already as signed by a revoked key after its cut-off."},
			func() float64 { return float64(s.skippedRevoked.Load()) }),
	)
	d.Host.SetStreamHandler(cmproto.ProtoSync, s.serveSync)
	d.Host.Network().Notify(&network.NotifyBundle{ConnectedF: func(_ network.Network, c network.Conn) {
		s.enqueue(pullJob{from: c.RemotePeer()})
	}})
	return s, nil
}

// SetApplied sets the function called, under the service's lock, after a
// record was applied to its transfer (the asset service keeps the other
// court's asset updates with it). It must not block or call back into the
// service. Set it before Serve.
func (s *Service) SetApplied(f func(*cmproto.Record, *cmproto.Transfer)) {
	s.mu.Lock()
	s.onApplied = f
	s.mu.Unlock()
}

func (s *Service) applied(r *cmproto.Record, t *cmproto.Transfer) {
	if s.onApplied != nil {
		s.onApplied(r, t)
	}
}

// self is this node's certificate in the bundle in force.
func (s *Service) self() (*crypto.Certificate, error) {
	return s.trust.Trust().ByPeer(s.h.ID(), s.now())
}

// audit writes an entry about an event that already happened (a record
// refused): a failed write cannot undo it, so it is logged at error level
// and counted (courtmesh_audit_write_failures_total), which alerts.
func (s *Service) auditDone(e storage.AuditEntry) {
	// After counts and logs a failure itself; the event stands either way.
	_ = s.audit.After(e)
}

// Topic is the transfers topic (tests publish on it as a relay would).
func (s *Service) Topic() *pubsub.Topic { return s.topic }

func (s *Service) enqueue(j pullJob) {
	select {
	case s.pulls <- j:
	default:
		s.log.Warn("sync queue full; the next sync interval will catch up", "peer", j.from)
	}
}

// outcome classifies an ingest error for gossipsub.
func outcome(err error) pubsub.ValidationResult {
	switch {
	case err == nil, errors.Is(err, cmproto.ErrHeld):
		return pubsub.ValidationAccept
	case errors.Is(err, cmproto.ErrDuplicate), errors.Is(err, court.ErrStale):
		return pubsub.ValidationIgnore
	}
	return pubsub.ValidationReject
}

// validate is the inline gossipsub validator of the transfers topic.
func (s *Service) validate(ctx context.Context, from peer.ID, msg *pubsub.Message) pubsub.ValidationResult {
	if from == s.h.ID() {
		return pubsub.ValidationAccept // our own, applied before publishing
	}
	env, err := crypto.UnmarshalEnvelope(msg.Data, cmproto.MaxGossipMessage)
	if err != nil {
		s.reject(from, err)
		return pubsub.ValidationReject
	}
	switch env.PayloadType {
	case cmproto.PayloadRecord:
		err := s.Ingest(msg.Data, from)
		if outcome(err) == pubsub.ValidationReject {
			s.reject(from, err)
		}
		return outcome(err)
	case cmproto.PayloadLogHeads:
		signer, err := s.trust.Trust().Open(env, cmproto.PayloadLogHeads, s.now())
		if err != nil {
			s.reject(from, err)
			return pubsub.ValidationReject
		}
		var lh pb.LogHeads
		if err := proto.Unmarshal(env.Payload, &lh); err != nil || lh.GetVersion() != 1 {
			s.reject(from, fmt.Errorf("log heads: %w", crypto.ErrMalformed))
			return pubsub.ValidationReject
		}
		newer := false
		for _, h := range lh.GetHeads() {
			issuer, err := peer.IDFromBytes(h.GetIssuer())
			if err != nil {
				s.reject(from, fmt.Errorf("log heads: %w: issuer", crypto.ErrMalformed))
				return pubsub.ValidationReject
			}
			have, err := s.db.LogHead(court.PeerID(issuer.String()))
			if err != nil {
				return pubsub.ValidationIgnore
			}
			if h.GetSequence() > have {
				newer = true
				s.enqueue(pullJob{from: signer.PeerID, issuer: issuer, upto: h.GetSequence()})
			}
		}
		if !newer {
			return pubsub.ValidationIgnore
		}
		return pubsub.ValidationAccept
	}
	s.reject(from, fmt.Errorf("%w: payload type %q on the transfers topic", crypto.ErrMalformed, env.PayloadType))
	return pubsub.ValidationReject
}

// recordError is the refusal of an authentic record, carrying the
// transfer it names (so that the log and the audit name it).
type recordError struct {
	transfer court.TransferID
	err      error
}

func (e *recordError) Error() string { return e.err.Error() }
func (e *recordError) Unwrap() error { return e.err }

// reject logs and audits a refused record or message received from peer
// from. The audit names the record's signer where the error knows it (a
// revoked key, a clock ahead), not the peer that relayed it, and the
// transfer where it is known.
func (s *Service) reject(from peer.ID, err error) {
	transfer, peerName, court := "", from.String(), ""
	if c, cerr := s.trust.Trust().ByPeer(from, s.now()); cerr == nil {
		court = string(c.Code)
	}
	detail := err.Error()
	if re, ok := errors.AsType[*recordError](err); ok {
		transfer = string(re.transfer)
	}
	if ahead, ok := errors.AsType[*cmproto.DatedAheadError](err); ok {
		// Name the court whose clock is wrong, not the relay.
		court = string(ahead.Issuer)
		if transfer == "" {
			transfer = ahead.Transfer
		}
	}
	if rev, ok := errors.AsType[*cmproto.RevokedRecordError](err); ok {
		// Name the revoked signer, not the relay.
		court, peerName = string(rev.Signer.Code), rev.Signer.PeerID.String()
		if transfer == "" {
			transfer = rev.Transfer
		}
		detail = fmt.Sprintf("signer %s serial %d, relayed by %s: %v", rev.Signer.Code, rev.Signer.Serial, from, err)
	}
	s.log.Info("transfer record rejected", "from", from, "transfer", transfer, "reason", err)
	s.metrics.GossipRejected.WithLabelValues(cmproto.TopicTransfers, metrics.RejectReason(err)).Inc()
	s.auditDone(storage.AuditEntry{Event: "record.rejected", Outcome: "rejected", Peer: peerName, Court: court, Transfer: transfer, Detail: detail})
}

// Load returns the stored state of a transfer, or nil.
func (s *Service) Load(id court.TransferID) (*cmproto.Transfer, error) {
	b, err := s.db.Transfer(string(id))
	if errors.Is(err, court.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var t cmproto.Transfer
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("transfer %s: %w", id, court.ErrCorrupt)
	}
	return &t, nil
}

// transferRecord is the stored record of transfer state next: its
// protocol JSON with the fields storage indexes taken from next itself
// (storage.NewTransferRecord builds what storage.TransferRecordFromJSON
// would read back from the JSON), its statistics and tags.
func (s *Service) transferRecord(next *cmproto.Transfer) (*storage.TransferRecord, error) {
	b, err := json.Marshal(next)
	if err != nil {
		return nil, err
	}
	r := storage.NewTransferRecord(TransferFields(next), b)
	if s.stats != nil {
		r.Stats = s.stats(next)
	}
	if s.tags != nil {
		r.Tags = s.tags(next)
	}
	return &r, nil
}

// TransferFields are the fields of t that the store indexes, as its
// protocol JSON names them (storage.TransferFields).
func TransferFields(t *cmproto.Transfer) storage.TransferFields {
	f := storage.TransferFields{
		ID: string(t.ID), State: string(t.State), CaseNumber: t.CaseNumber, NewCaseNumber: t.NewCaseNumber,
		Origin: t.Origin, Superior: t.Superior, Decider: t.Decider, Receiver: t.Receiver,
		AcceptBy: t.AcceptBy, Due: t.Due,
		OfferedAt: t.OfferedAt, DecidedAt: t.DecidedAt, AcceptedAt: t.AcceptedAt, HandedOverAt: t.HandedOverAt,
		ReceivedAt: t.ReceivedAt, ClosedAt: t.ClosedAt,
	}
	if t.Assistance != nil {
		f.AssistanceCourt = t.Assistance.Court
	}
	return f
}

// Ingest verifies a record from the network, keeps it in its signer's
// log, and applies it to its transfer (or holds it until its predecessor
// arrives). It is idempotent: a record already in the log returns
// ErrDuplicate and changes nothing.
func (s *Service) Ingest(raw []byte, from peer.ID) error {
	return s.ingest(raw, from, false)
}

// ingest is Ingest; pinned says that raw came in a range of a revoked
// key's trusted log that was checked against its pinned head (revoked.go).
// An error about an authentic record names its transfer (recordError).
func (s *Service) ingest(raw []byte, from peer.ID, pinned bool) error {
	r, err := cmproto.DecodeRecord(raw, s.trust.Trust(), s.now())
	if r == nil {
		return s.refused(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if batchable(r) && !pinned {
		// Kept and applied in one store transaction (a batch of one).
		var errs [1]error
		s.applyBatch([]decoded{{raw: raw, r: r, err: err}}, from, s.trust.Trust(), errs[:])
		return errs[0]
	}
	return s.ingestRecord(r, raw, from, pinned, err)
}

// refused is what ingesting a record that DecodeRecord refused returns:
// its error, or, for a record refused already (dated ahead, or signed by
// a revoked key) and so audited already, a stale error that is not.
func (s *Service) refused(err error) error {
	if ahead, ok := errors.AsType[*cmproto.DatedAheadError](err); ok {
		if due, again := s.ahead.refused(ahead); again {
			// Refused and audited once already: ignore it until due.
			return fmt.Errorf("%w: record %d from %s was refused as dated ahead; it is tried again from %s", court.ErrStale,
				ahead.Seq, ahead.Issuer, due.UTC().Format(time.RFC3339))
		}
	}
	if rev, ok := errors.AsType[*cmproto.RevokedRecordError](err); ok {
		if s.revoked.note(rev.Signer.PeerID, rev.Seq, s.trust.Trust().Bundle().Sequence) {
			// Refused and audited once already under this bundle.
			return errRevokedAgain(rev)
		}
	}
	return err
}

// ingestRecord keeps and applies an authentic record, under s.mu; err is
// what DecodeRecord found wrong with its body, if anything. Its error
// names the record's transfer (recordError).
func (s *Service) ingestRecord(r *cmproto.Record, raw []byte, from peer.ID, pinned bool, err error) error {
	if err := s.keep(r, raw, from, pinned, err); err != nil {
		return &recordError{transfer: r.Transfer, err: err}
	}
	return nil
}

// keep is ingestRecord's work, one store transaction at a time: the path
// of the records a batch does not take (complaints, a revoked key's
// records) and of a batch's records again when the batch failed.
func (s *Service) keep(r *cmproto.Record, raw []byte, from peer.ID, pinned bool, err error) error {
	if r.Revocation != nil && !pinned {
		if err := s.checkTrusted(r, raw); err != nil {
			return err
		}
	}
	lr := &storage.LogRecord{Issuer: court.PeerID(r.SignerPeer().String()), Seq: r.Seq, Raw: raw}
	have, herr := s.db.HasRecord(lr.Issuer, lr.Seq, raw)
	if herr != nil {
		if errors.Is(herr, storage.ErrEquivocation) {
			s.auditEquivocation(r, from)
			return fmt.Errorf("%s from %s: %w", r.Kind, r.Issuer, herr)
		}
		return herr
	}
	if have {
		s.metrics.Records.WithLabelValues(string(r.Kind), "duplicate").Inc()
		return cmproto.ErrDuplicate
	}
	if err != nil {
		// Authentic but invalid: keep it as evidence, act on nothing.
		if cerr := s.db.Apply(storage.Commit{Record: lr}); cerr != nil {
			return cerr
		}
		return err
	}
	return s.apply(r, lr)
}

// auditEquivocation audits a record at a position of its signer's log
// that another record holds.
func (s *Service) auditEquivocation(r *cmproto.Record, from peer.ID) {
	s.auditDone(storage.AuditEntry{Event: "record.equivocation", Outcome: "rejected", Peer: from.String(), Court: string(r.Issuer), Transfer: string(r.Transfer),
		Detail: fmt.Sprintf("%s signed two different records at position %d of its log", r.Issuer, r.Seq)})
}

// apply applies a decoded record under s.mu, committing it with its log
// entry (lr may be nil for a held record already logged).
func (s *Service) apply(r *cmproto.Record, lr *storage.LogRecord) error {
	if r.IsComplaint() {
		return s.applyComplaint(r, lr)
	}
	cur, err := s.Load(r.Transfer)
	if err != nil {
		return err
	}
	next, aerr := cmproto.Apply(cur, r, s.trust.Trust(), s.rules)
	switch {
	case aerr == nil:
		w, err := s.transferRecord(next)
		if err != nil {
			return err
		}
		if err := s.db.Apply(storage.Commit{Record: lr, TransferRecord: w}); err != nil {
			return err
		}
		s.log.Info("transfer record applied", "transfer", r.Transfer, "kind", r.Kind, "issuer", r.Issuer, "state", next.State)
		s.metrics.Records.WithLabelValues(string(r.Kind), "applied").Inc()
		s.changed(next)
		s.applied(r, next)
		s.releaseHeld(r.Transfer)
		return nil
	case errors.Is(aerr, cmproto.ErrHeld):
		if err := s.db.Apply(storage.Commit{Record: lr, Hold: &storage.Held{Transfer: string(r.Transfer), Hash: r.HashHex(), Raw: r.Raw}}); err != nil {
			return err
		}
		s.log.Info("transfer record held until its predecessor arrives", "transfer", r.Transfer, "kind", r.Kind, "issuer", r.Issuer)
		s.metrics.Records.WithLabelValues(string(r.Kind), "held").Inc()
		return aerr
	default:
		if err := s.db.Apply(storage.Commit{Record: lr}); err != nil {
			return err
		}
		s.metrics.Records.WithLabelValues(string(r.Kind), "refused").Inc()
		return aerr
	}
}

// releaseHeld retries the records held for a transfer after its state
// moved (under s.mu).
func (s *Service) releaseHeld(id court.TransferID) {
	held, err := s.db.HeldRecords(string(id))
	if err != nil || len(held) == 0 {
		return
	}
	for _, h := range held {
		r, err := cmproto.DecodeRecord(h.Raw, s.trust.Trust(), s.now())
		if err != nil {
			s.db.Apply(storage.Commit{Unhold: &h})
			continue
		}
		cur, err := s.Load(id)
		if err != nil {
			return
		}
		next, aerr := cmproto.Apply(cur, r, s.trust.Trust(), s.rules)
		switch {
		case errors.Is(aerr, cmproto.ErrHeld):
			continue
		case aerr != nil:
			s.db.Apply(storage.Commit{Unhold: &h})
			s.reject(r.SignerPeer(), &recordError{transfer: id, err: aerr})
			continue
		}
		w, err := s.transferRecord(next)
		if err != nil {
			return
		}
		if err := s.db.Apply(storage.Commit{TransferRecord: w, Unhold: &h}); err != nil {
			return
		}
		s.log.Info("held transfer record applied", "transfer", id, "kind", r.Kind, "issuer", r.Issuer, "state", next.State)
		s.changed(next)
		s.applied(r, next)
		s.releaseHeld(id) // the new state may release others
		return
	}
}

// changed runs what follows a state change: on the origin, a confirmed
// receipt closes its own case by 销案 (the receiver now holds it).
func (s *Service) changed(t *cmproto.Transfer) {
	if t.State == cmproto.StateReceived {
		if self, err := s.self(); err == nil && self.Code == t.Origin {
			if cn, err := court.ParseCaseNumber(t.CaseNumber); err == nil {
				if err := s.db.SetCaseStatus(cn, court.StatusTransferred); err != nil && !errors.Is(err, court.ErrNotFound) {
					s.log.Warn("could not mark the case transferred", "case", cn.String(), "reason", err)
				}
			}
		}
	}
	if s.onChange != nil {
		s.onChange(t)
	}
}

// Issue signs a record of this court as the next entry of its log,
// applies it locally (refusing it, and consuming no sequence, if the
// state machine refuses it) and publishes it.
func (s *Service) Issue(ctx context.Context, id court.TransferID, body *pb.Record) (*cmproto.Transfer, error) {
	now := s.now()
	self, err := s.trust.Trust().ByPeer(s.h.ID(), now)
	if err != nil {
		return nil, fmt.Errorf("this node is not certified: %w", err)
	}
	s.mu.Lock()
	head, err := s.db.LogHead(court.PeerID(s.h.ID().String()))
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	at := s.issueTime(now)
	raw, err := cmproto.SealRecord(s.signer, self, head+1, at, id, body)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	r, err := cmproto.DecodeRecord(raw, s.trust.Trust(), at)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	cur, err := s.Load(id)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	if cur != nil && cur.State.Terminal() {
		// The state machine takes some records after a withdrawal (they
		// crossed it in flight; see protocol.Apply); a court that knows
		// the transfer ended issues none.
		s.mu.Unlock()
		return nil, fmt.Errorf("%w: transfer %s is already %s", court.ErrConflict, id, cur.State)
	}
	next, err := cmproto.Apply(cur, r, s.trust.Trust(), s.rules)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	w, err := s.transferRecord(next)
	if err == nil {
		err = s.db.Apply(storage.Commit{Record: &storage.LogRecord{Issuer: court.PeerID(s.h.ID().String()), Seq: head + 1, Raw: raw}, TransferRecord: w})
	}
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	s.log.Info("transfer record issued", "transfer", id, "kind", r.Kind, "sequence", head+1, "state", next.State)
	s.metrics.Records.WithLabelValues(string(r.Kind), "issued").Inc()
	s.changed(next)
	if err := s.topic.Publish(ctx, raw); err != nil {
		// The record is in our log; peers will pull it at the next sync.
		s.log.Warn("publish failed; peers will sync it", "transfer", id, "reason", err)
	}
	return next, nil
}

// List lists the stored transfers, newest offer first.
func (s *Service) List(state string) ([]*cmproto.Transfer, error) {
	raws, err := s.db.Transfers(state)
	if err != nil {
		return nil, err
	}
	out := make([]*cmproto.Transfer, 0, len(raws))
	for _, b := range raws {
		var t cmproto.Transfer
		if err := json.Unmarshal(b, &t); err != nil {
			return nil, fmt.Errorf("%w: transfer record", court.ErrCorrupt)
		}
		out = append(out, &t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].OfferedAt.After(out[j].OfferedAt) })
	return out, nil
}

// Decode returns the transfer a stored record holds.
func Decode(rec storage.TransferRecord) (*cmproto.Transfer, error) {
	var t cmproto.Transfer
	if err := json.Unmarshal(rec.Body, &t); err != nil {
		return nil, court.Errorf(court.ErrCorrupt, "transfer %s: the stored record does not decode: %v", rec.ID, err)
	}
	return &t, nil
}

// Each calls f with every transfer q selects, a page at a time from the
// store's indexes (never a scan of every transfer), until f returns an
// error or ctx ends. q.Cursor is where it starts; q.Limit the page size.
func (s *Service) Each(ctx context.Context, q storage.TransferQuery, f func(*cmproto.Transfer) error) error {
	for {
		page, err := s.db.ListTransfers(ctx, q)
		if err != nil {
			return err
		}
		for _, rec := range page.Records {
			t, err := Decode(rec)
			if err != nil {
				return err
			}
			if err := f(t); err != nil {
				return err
			}
		}
		if page.Next == "" {
			return nil
		}
		q.Cursor = page.Next
	}
}

// ByCase returns the transfers naming case number n, as the origin's
// number or as the receiver's new one, from the index by case number.
func (s *Service) ByCase(ctx context.Context, n court.CaseNumber) ([]*cmproto.Transfer, error) {
	recs, err := s.db.TransfersByCase(ctx, n)
	if err != nil {
		return nil, err
	}
	out := make([]*cmproto.Transfer, 0, len(recs))
	for _, rec := range recs {
		t, err := Decode(rec)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}
