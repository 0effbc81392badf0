package node

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node/api"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
	"courtmesh.dev/courtmesh/storage"
)

// Asset updates after a handover.
//
// The origin and the receiver each keep their own copy of a transferred
// case (the origin under its case number, the receiver under its new
// one). A court that changes the case's assets or measures applies the
// change to its copy (storage.ApplyAssetDelta), seals the delta with the
// dossier's data key under a label binding the transfer, the issuing
// court and the update's number, and issues it as an AssetUpdate record.
// Records travel in the issuer's log, so an update made while the other
// court is down reaches it when it reconnects.
//
// The other court keeps each update it receives (storage.PutAssetUpdate)
// and applies them in number order per issuer, from the asset watch
// (serveAssetWatch): the receiver only once it has filed the case. An
// update that does not open, or does not decode, is audited and skipped
// without changing the case, so that later updates are not held up
// forever by one that can never apply.

// assetWatchEvery is how often the asset watch retries waiting updates
// and checks measures nearing expiry.
const assetWatchEvery = time.Minute

// assetService applies asset updates and watches the measures of
// transferred cases.
type assetService struct {
	n *Node
	// mu serialises issuing and applying asset updates. It is taken
	// before transferService.mu (issue), never under it.
	mu sync.Mutex
	// kick wakes the asset watch: an update arrived, or a case was filed.
	kick chan struct{}
	// warned remembers, per measure, the day it was last warned about
	// (owned by the asset watch goroutine).
	warned map[string]court.Date
}

func newAssetService(n *Node) *assetService {
	return &assetService{n: n, kick: make(chan struct{}, 1), warned: map[string]court.Date{}}
}

// poke wakes the asset watch without blocking.
func (a *assetService) poke() {
	if a == nil {
		return
	}
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

// applied is called by the transfer service, under its lock, after it
// applied a record to a transfer. An AssetUpdate from the other court is
// kept until the asset watch applies it. It must not block: it takes no
// lock of its own and only writes the update to the store.
func (a *assetService) applied(r *cmproto.Record, t *cmproto.Transfer) {
	if a == nil || r.Kind != cmproto.KindAssetUpdate {
		return
	}
	if a.keep(r, t) {
		a.poke()
	}
}

// keep stores a received AssetUpdate addressed to this court.
func (a *assetService) keep(r *cmproto.Record, t *cmproto.Transfer) bool {
	self, err := a.n.self()
	if err != nil || r.Issuer == self.Code || roleOf(t, self.Code) == "" {
		return false // our own, or a transfer in which we hold no copy
	}
	u := r.PB.GetAssetUpdate()
	added, err := a.n.db.PutAssetUpdate(storage.PendingAssetUpdate{
		Transfer: string(r.Transfer), Issuer: r.Issuer, Number: u.GetNumber(), Kind: u.GetKind(),
		Sealed: u.GetSealed(), EarliestExpiry: u.GetEarliestExpiry(), IssuedAt: r.IssuedAt, Record: r.HashHex(),
	})
	if err != nil {
		// The record is in the log: the asset watch finds it again at the
		// next start (recover).
		a.n.log.Warn("could not keep an asset update; it will be recovered from the record log at the next start",
			"transfer", r.Transfer, "issuer", r.Issuer, "number", u.GetNumber(), "reason", err)
		return false
	}
	return added
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
func assetUpdateLabel(id cmproto.TransferID, issuer court.CourtCode, number uint64) string {
	return fmt.Sprintf("assets/%s/%s/%d", id, issuer, number)
}

// assetUpdateLimit bounds the sealed change of one update.
const assetUpdateLimit = cmproto.MaxGossipMessage / 4

// UpdateAssets records a change to a transferred case's assets or
// measures, as the origin or the receiver: it applies the change to this
// court's copy of the case and sends it, sealed, to the other court. The
// transfer must be handed over (or received); the receiver must have
// filed the case.
func (n *Node) UpdateAssets(ctx context.Context, id cmproto.TransferID, change api.AssetChange) (*cmproto.Transfer, error) {
	a := n.xfer.assets
	a.mu.Lock()
	defer a.mu.Unlock()
	t, err := n.xfer.load(id)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, fmt.Errorf("transfer %s: %w", id, storage.ErrNotFound)
	}
	self, err := n.self()
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
	head, v, err := n.db.Case(cn)
	if errors.Is(err, storage.ErrNotFound) && role == "receiver" {
		return nil, fmt.Errorf("transfer %s: case %s is not filed here yet; fetch the dossier first (courtmesh dossier fetch %s): %w", id, cn, id, storage.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	if role == "receiver" && !n.filedFrom(head, t) {
		return nil, fmt.Errorf("%w: case %s in this court's store was not filed from transfer %s; its updates cannot speak for it", court.ErrConflict, cn, id)
	}
	key, err := n.db.DataKey(cn)
	if err != nil {
		return nil, err
	}
	// An earlier update of this court that is applied here but not sent
	// (the node stopped before its record) goes out first: the next
	// number is only free once it is.
	if a.sendOutboxLocked(ctx, id) {
		return nil, fmt.Errorf("%w: an earlier asset update of transfer %s is applied here but not sent yet; it is retried at the next start (see the log), try again then", court.ErrConflict, id)
	}
	if t, err = n.xfer.load(id); err != nil || t == nil {
		return nil, fmt.Errorf("transfer %s: %w", id, cmp.Or(err, storage.ErrNotFound))
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
	sc, err := storageChange(change, key)
	if err != nil {
		return nil, err
	}
	today := court.DateOf(n.now())
	delta, err := court.PlanAssetChange(v.Case(), sc, today, self.Code)
	if err != nil {
		return nil, err
	}
	plain, err := json.Marshal(delta)
	if err != nil {
		return nil, err
	}
	sealed, err := key.SealField(assetUpdateLabel(id, self.Code, number), plain)
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
	ub, err := marshalPB(u)
	if err != nil {
		return nil, err
	}
	outbox := &storage.OutboxAssetUpdate{Transfer: string(id), Number: number, Record: ub}
	if _, err := n.db.ApplyAssetDelta(cn, delta, storage.DeltaOptions{Strict: true, Outbox: outbox}); err != nil {
		return nil, err
	}
	if testBeforeAssetIssue != nil {
		if err := testBeforeAssetIssue(); err != nil {
			return nil, err // as a crash here would: the change applied, no record
		}
	}
	next, err := n.xfer.issue(ctx, id, &pb.Record{Body: &pb.Record_AssetUpdate{AssetUpdate: u}})
	if err == nil {
		if derr := n.db.DoneOutboxAssetUpdate(string(id), number); derr != nil {
			n.log.Warn("asset update issued; its outbox entry stays until the next start", "transfer", id, "number", number, "reason", derr)
		}
	}
	if err != nil {
		if rerr := n.db.RevertAssetDelta(cn, delta, outbox); rerr != nil {
			n.log.Error("asset update not sent, and this court's copy could not be put back; check the case", "transfer", id, "case", cn.String(), "reason", rerr)
			n.db.Audit(storage.AuditEntry{Event: "asset_update.revert_failed", Outcome: "rejected", Transfer: string(id), Case: cn.String(),
				Detail: fmt.Sprintf("update %d (%s) was applied here but not sent (%v), and could not be undone: %v", number, delta.Summary(), err, rerr)})
		}
		return nil, err
	}
	n.log.Info("asset update issued", "transfer", id, "case", cn.String(), "number", number, "kind", delta.Kind)
	n.db.Audit(storage.AuditEntry{Event: "asset_update.issued", Outcome: "ok", Transfer: string(id), Case: cn.String(), Court: string(counterpart(t, role)),
		Detail: fmt.Sprintf("update %d: %s", number, delta.Summary())})
	return next, nil
}

// storageChange checks and converts an API change; an account number is
// sealed with the dossier's data key and kept masked.
func storageChange(c api.AssetChange, key crypto.DataKey) (court.AssetChange, error) {
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
		if acct := strings.TrimSpace(c.Asset.Account); acct != "" {
			if !utf8.ValidString(acct) || len(acct) > 64 {
				return sc, fmt.Errorf("%w: asset account: at most 64 bytes of text", court.ErrInvalid)
			}
			as.AccountMasked = court.MaskNumber(acct)
			if as.AccountSealed, err = key.SealField(storage.FieldLabel("asset", as.ID, "account"), []byte(acct)); err != nil {
				return sc, err
			}
		}
		sc.Asset = &as
	}
	return sc, nil
}

// testBeforeAssetIssue, when set by a test, runs between an update's
// change to this court's copy and its record; an error stops UpdateAssets
// there, as a crash would.
var testBeforeAssetIssue func() error

// sendOutbox issues the records of this court's asset updates that were
// applied to its copy but not sent (the node stopped in between), in
// number order; an update whose record is already out leaves the outbox.
func (a *assetService) sendOutbox(ctx context.Context) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.sendOutboxLocked(ctx, "")
}

// sendOutboxLocked is sendOutbox with a.mu held, for one transfer's
// updates (or all, for ""). It reports whether any stays unsent.
func (a *assetService) sendOutboxLocked(ctx context.Context, only cmproto.TransferID) (left bool) {
	n := a.n
	pending, err := n.db.OutboxAssetUpdates()
	if err != nil {
		n.log.Warn("asset updates: cannot read the outbox", "reason", err)
		return true
	}
	self, err := n.self()
	if err != nil {
		return len(pending) > 0
	}
	for _, o := range pending {
		id := cmproto.TransferID(o.Transfer)
		if only != "" && id != only {
			continue
		}
		left = true // until it is out
		t, err := n.xfer.load(id)
		if err != nil || t == nil {
			n.log.Warn("asset update in the outbox for an unknown transfer; kept", "transfer", id, "number", o.Number)
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
			if err := unmarshalPB(o.Record, &u); err != nil || u.GetNumber() != o.Number {
				n.log.Error("asset update in the outbox does not decode; kept for an operator", "transfer", id, "number", o.Number)
				continue
			}
			if _, err := n.xfer.issue(ctx, id, &pb.Record{Body: &pb.Record_AssetUpdate{AssetUpdate: &u}}); err != nil {
				n.log.Warn("asset update from the outbox not sent; retried at the next start", "transfer", id, "number", o.Number, "reason", err)
				continue
			}
			n.log.Info("asset update sent from the outbox (the node had stopped before its record)", "transfer", id, "number", o.Number)
			n.db.Audit(storage.AuditEntry{Event: "asset_update.issued", Outcome: "ok", Transfer: string(id), Detail: fmt.Sprintf("update %d, sent at start from the outbox", o.Number)})
		default:
			n.log.Error("asset update in the outbox follows a gap; kept for an operator", "transfer", id, "number", o.Number, "issued", issued)
			continue
		}
		if err := n.db.DoneOutboxAssetUpdate(o.Transfer, o.Number); err != nil {
			n.log.Warn("asset update outbox entry not removed", "transfer", id, "number", o.Number, "reason", err)
			continue
		}
		left = false
	}
	return left
}

// serveAssetWatch applies the asset updates received from other courts
// in order, and warns once a day about each measure of a transferred case
// that nears its expiry, until ctx ends.
func (n *Node) serveAssetWatch(ctx context.Context) error {
	a := n.xfer.assets
	a.sendOutbox(ctx)
	a.recover(ctx)
	a.drain(ctx)
	a.warn(ctx)
	t := time.NewTicker(assetWatchEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-a.kick:
			a.drain(ctx)
		case <-t.C:
			a.drain(ctx)
			a.warn(ctx)
		}
	}
}

// recover finds, in the record logs, asset updates addressed to this
// court that were applied to their transfer but never kept (the node
// stopped in between), and keeps them.
func (a *assetService) recover(ctx context.Context) {
	n := a.n
	self, err := n.self()
	if err != nil {
		return
	}
	heads, err := n.db.LogHeads()
	if err != nil {
		n.log.Warn("asset updates: cannot read the record logs", "reason", err)
		return
	}
	found := 0
	for issuer, head := range heads {
		if issuer == n.h.ID().String() {
			continue
		}
		for from := uint64(1); from <= head && ctx.Err() == nil; from += maxRangePerRequest {
			raws, err := n.db.LogRange(issuer, from, min(head, from+maxRangePerRequest-1), maxRangePerRequest)
			if err != nil {
				break
			}
			for _, raw := range raws {
				r, err := cmproto.DecodeRecord(raw, n.trust.Trust(), n.now())
				if err != nil || r.Kind != cmproto.KindAssetUpdate || r.Issuer == self.Code {
					continue
				}
				t, err := n.xfer.load(r.Transfer)
				if err != nil || t == nil || !t.Applied(r.HashHex()) {
					continue
				}
				if a.keep(r, t) {
					found++
				}
			}
		}
	}
	if found > 0 {
		n.log.Info("asset updates recovered from the record logs", "count", found)
	}
}

// drain applies every waiting update that can be applied, in number
// order per transfer and issuer.
func (a *assetService) drain(ctx context.Context) {
	a.mu.Lock()
	defer a.mu.Unlock()
	pend, err := a.n.db.PendingAssetUpdates("")
	if err != nil {
		a.n.log.Warn("asset updates: cannot read the waiting updates", "reason", err)
		return
	}
	blocked := map[string]bool{} // transfer/issuer whose next update must wait
	for _, u := range pend {
		if ctx.Err() != nil {
			return
		}
		k := u.Transfer + "/" + string(u.Issuer)
		if blocked[k] {
			continue
		}
		last, err := a.n.db.AppliedAssetUpdates(u.Transfer, u.Issuer)
		if err != nil || u.Number != last+1 {
			blocked[k] = true // its predecessor has not arrived yet
			continue
		}
		if !a.apply(u) {
			blocked[k] = true
		}
	}
}

// apply applies one received update to this court's copy of the case, or
// skips it (audited) if it can never apply. It reports false when the
// update must wait (the case is not filed yet, or the store failed).
func (a *assetService) apply(u storage.PendingAssetUpdate) bool {
	n := a.n
	id := cmproto.TransferID(u.Transfer)
	t, err := n.xfer.load(id)
	if err != nil || t == nil {
		return false
	}
	self, err := n.self()
	if err != nil {
		return false
	}
	role := roleOf(t, self.Code)
	cn, err := localCase(t, role)
	if role == "" || err != nil {
		return false
	}
	mark := storage.AssetUpdateMark{Transfer: u.Transfer, Issuer: u.Issuer, Number: u.Number}
	audit := storage.AuditEntry{Court: string(u.Issuer), Transfer: u.Transfer, Case: cn.String()}
	skip := func(event, why string) bool {
		audit.Event, audit.Outcome = event, "rejected"
		audit.Detail = fmt.Sprintf("asset update %d (%s) from %s %s; skipped without changing the case, later updates proceed; ask %s to send the change again", u.Number, u.Kind, u.Issuer, why, u.Issuer)
		n.db.Audit(audit)
		n.log.Warn("asset update skipped", "transfer", id, "issuer", u.Issuer, "number", u.Number, "reason", why)
		if err := n.db.SkipAssetUpdate(mark); err != nil {
			n.log.Warn("asset update: could not record the skip", "transfer", id, "reason", err)
			return false
		}
		return true
	}
	var key crypto.DataKey
	if role == "receiver" {
		head, _, err := n.db.Case(cn)
		if err != nil {
			if !errors.Is(err, storage.ErrNotFound) {
				n.log.Warn("asset update waits: the case cannot be read", "transfer", id, "case", cn.String(), "reason", err)
			}
			return false // applied right after the dossier is filed
		}
		if !n.filedFrom(head, t) {
			n.log.Warn("asset update waits: the case under the transfer's new number was not filed from this transfer; renumber one of them", "transfer", id, "case", cn.String())
			return false
		}
		var wrapped []byte
		for _, k := range t.WrappedKeys {
			if k.Court == self.Code {
				wrapped = k.Wrapped
			}
		}
		if key, err = crypto.UnwrapDataKey(n.enc, "handover", string(id), wrapped); err != nil {
			n.log.Warn("asset update waits: the data key wrapped for this court does not open", "transfer", id, "reason", err)
			return false
		}
	} else if key, err = n.db.DataKey(cn); err != nil {
		n.log.Warn("asset update waits: the case's data key is not available", "transfer", id, "case", cn.String(), "reason", err)
		return false
	}
	plain, err := key.OpenField(assetUpdateLabel(id, u.Issuer, u.Number), u.Sealed)
	if err != nil {
		return skip("asset_update.unreadable", "does not open with the dossier's data key (altered, or sealed for another update)")
	}
	var d court.AssetDelta
	dec := json.NewDecoder(bytes.NewReader(plain))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return skip("asset_update.invalid", "does not decode: "+err.Error())
	}
	if string(d.Kind) != u.Kind {
		return skip("asset_update.invalid", fmt.Sprintf("is sealed as %s but announced as %s", d.Kind, u.Kind))
	}
	holder := court.CourtCode("")
	if role == "receiver" {
		holder = self.Code // the receiver holds the measures of the case it filed
	}
	res, err := n.db.ApplyAssetDelta(cn, d, storage.DeltaOptions{Holder: holder, Mark: &mark})
	switch {
	case errors.Is(err, storage.ErrInvalid):
		return skip("asset_update.invalid", "does not fit the case: "+err.Error())
	case err != nil:
		n.log.Warn("asset update waits: it could not be applied", "transfer", id, "case", cn.String(), "number", u.Number, "reason", err)
		return false
	}
	audit.Event, audit.Outcome = "asset_update.applied", "ok"
	audit.Detail = fmt.Sprintf("update %d from %s: %s; applied %s", u.Number, u.Issuer, d.Summary(), listOrNone(res.Applied))
	if len(res.Already) > 0 {
		audit.Detail += "; already so " + strings.Join(res.Already, ", ")
	}
	if len(res.Conflicts) > 0 {
		audit.Event, audit.Outcome = "asset_update.conflict", "rejected"
		audit.Detail += "; nothing written: this court's copy differs at " + strings.Join(res.Conflicts, ", ") +
			" (changed here, or by a later update already in the dossier as fetched); compare with " + string(u.Issuer)
		n.log.Warn("asset update not applied: this court's copy differs", "transfer", id, "case", cn.String(), "number", u.Number, "items", strings.Join(res.Conflicts, ", "))
	}
	n.db.Audit(audit)
	n.log.Info("asset update applied", "transfer", id, "case", cn.String(), "issuer", u.Issuer, "number", u.Number, "kind", d.Kind)
	return true
}

// filedFrom reports whether the receiver's case head was filed from
// transfer t's dossier: it says so, or (filed by an older build, which
// did not record it) its documents have the handover's Merkle root.
func (n *Node) filedFrom(head storage.CaseRecord, t *cmproto.Transfer) bool {
	if head.Transfer != "" {
		return head.Transfer == string(t.ID)
	}
	// Filed by an older build: the version it filed (1) holds the
	// handover's documents, whatever versions came after. Once matched,
	// the link is recorded.
	v1, err := n.db.Version(head.Number, 1)
	if err != nil {
		return false
	}
	var ids []crypto.ChunkID
	for _, d := range append(append([]storage.Document(nil), v1.Documents...), v1.Source) {
		ids = append(ids, d.Chunks...)
	}
	if root := crypto.MerkleRoot(ids); !bytes.Equal(root[:], t.MerkleRoot) {
		return false
	}
	if err := n.db.SetCaseTransfer(head.Number, string(t.ID)); err != nil {
		n.log.Warn("could not record which transfer a filed case came from", "case", head.Number.String(), "transfer", t.ID, "reason", err)
	}
	return true
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "nothing"
	}
	return strings.Join(s, ", ")
}

// warn logs, once a day per measure, the active measures of transferred
// cases expiring within the handover guard period (or past expiry).
func (a *assetService) warn(ctx context.Context) {
	n := a.n
	today := court.DateOf(n.now())
	res, err := n.MeasureAlerts(ctx, today, n.cfg.HandoverGuardDays)
	if err != nil {
		n.log.Warn("measure watch failed", "reason", err)
		return
	}
	for k, d := range a.warned {
		if d != today {
			delete(a.warned, k)
		}
	}
	for _, m := range res.Measures {
		k := m.Transfer + "/" + m.Case + "/" + m.Measure
		if a.warned[k] == today {
			continue
		}
		a.warned[k] = today
		msg := "measure of a transferred case nears expiry: renew it (续行) in time"
		if m.DaysLeft < 0 {
			msg = "measure of a transferred case is past its expiry and still recorded active: it may have lapsed"
		}
		n.log.Warn(msg, "transfer", m.Transfer, "role", m.Role, "case", m.Case, "measure", m.Measure, "kind", m.Kind,
			"asset_class", m.AssetClass, "expiry", m.Expiry, "days_left", m.DaysLeft)
	}
}

// transferCopy returns a transfer, this court's role in it and its case
// number for it; the case must be in the store.
func (n *Node) transferCopy(id cmproto.TransferID) (*cmproto.Transfer, string, court.CaseNumber, error) {
	t, err := n.xfer.load(id)
	if err != nil {
		return nil, "", court.CaseNumber{}, err
	}
	if t == nil {
		return nil, "", court.CaseNumber{}, fmt.Errorf("transfer %s: %w", id, storage.ErrNotFound)
	}
	self, err := n.self()
	if err != nil {
		return nil, "", court.CaseNumber{}, err
	}
	role := roleOf(t, self.Code)
	if role == "" {
		return nil, "", court.CaseNumber{}, fmt.Errorf("%s holds no copy of the case of transfer %s (origin %s, receiver %s): %w", self.Code, id, t.Origin, t.Receiver, storage.ErrNotFound)
	}
	cn, err := localCase(t, role)
	if err != nil {
		return nil, "", court.CaseNumber{}, err
	}
	return t, role, cn, nil
}

// TransferAssets returns the assets and measures of a transferred case as
// this court holds them, masked, with days to expiry counted from asOf:
// active measures with a term first, soonest expiry first.
func (n *Node) TransferAssets(id cmproto.TransferID, asOf court.Date) (api.TransferAssets, error) {
	t, role, cn, err := n.transferCopy(id)
	if err != nil {
		return api.TransferAssets{}, err
	}
	_, v, err := n.db.Case(cn)
	if errors.Is(err, storage.ErrNotFound) && role == "receiver" {
		return api.TransferAssets{}, fmt.Errorf("transfer %s: case %s is not filed here yet; fetch the dossier first (courtmesh dossier fetch %s): %w", id, cn, id, storage.ErrNotFound)
	}
	if err != nil {
		return api.TransferAssets{}, err
	}
	out := api.TransferAssets{Transfer: string(id), Role: role, Case: cn.String(), AsOf: asOf.String(), Assets: []api.AssetInfo{}, Measures: []api.MeasureInfo{}}
	for _, a := range v.Assets {
		// Never AccountSealed: only the masked form leaves the store.
		out.Assets = append(out.Assets, api.AssetInfo{ID: a.ID, Class: string(a.Class), ClassLabel: a.Class.Label(), Description: a.Description,
			Owner: a.Owner, Source: a.Source, AccountMasked: a.AccountMasked, ValueFen: a.ValueFen})
	}
	for _, m := range v.Measures {
		mi := api.MeasureInfo{ID: m.ID, Kind: string(m.Kind), KindLabel: m.Kind.Label(), Asset: m.Asset, Effective: m.Effective.String(),
			Expiry: dateOrEmpty(m.Expiry), Status: string(m.Status), Court: string(m.Court), Rank: m.Rank, Renews: m.Renews, Releases: m.Releases, Document: m.Document}
		if m.Status == court.MeasureActive && !m.Expiry.IsZero() {
			left := asOf.DaysUntil(m.Expiry)
			mi.DaysLeft = &left
		}
		out.Measures = append(out.Measures, mi)
	}
	sort.SliceStable(out.Measures, func(i, j int) bool {
		a, b := out.Measures[i].DaysLeft, out.Measures[j].DaysLeft
		switch {
		case a != nil && b != nil:
			return *a < *b
		case a != nil || b != nil:
			return a != nil
		}
		return false
	})
	if e := court.EarliestExpiry(v.Measures); !e.IsZero() {
		out.Earliest = e.String()
	}
	self, _ := n.self()
	for _, r := range t.Records {
		if r.Kind == cmproto.KindAssetUpdate && self != nil && r.Issuer == self.Code {
			out.Issued++
		}
	}
	if out.Applied, err = n.db.AppliedAssetUpdates(string(id), counterpart(t, role)); err != nil {
		return out, err
	}
	pend, err := n.db.PendingAssetUpdates(string(id))
	if err != nil {
		return out, err
	}
	out.Pending = len(pend)
	return out, nil
}

// MeasureAlerts lists the active measures of transferred cases (handed
// over or received, this court being the origin or the receiver and
// holding its copy) that expire within days of asOf, soonest first.
func (n *Node) MeasureAlerts(ctx context.Context, asOf court.Date, within int) (api.MeasureAlerts, error) {
	out := api.MeasureAlerts{AsOf: asOf.String(), Within: within, Until: asOf.AddDate(0, 0, within).String(), Measures: []api.MeasureAlert{}}
	if within < 0 || within > MaxWithin {
		return out, fmt.Errorf("%w: within %d: want 0 to %d days", storage.ErrInvalid, within, MaxWithin)
	}
	self, err := n.self()
	if err != nil {
		return out, err
	}
	ts, err := n.xfer.list("")
	if err != nil {
		return out, err
	}
	for _, t := range ts {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		role := roleOf(t, self.Code)
		if role == "" || (t.State != cmproto.StateHandedOver && t.State != cmproto.StateReceived) {
			continue
		}
		cn, err := localCase(t, role)
		if err != nil {
			continue
		}
		_, v, err := n.db.Case(cn)
		if errors.Is(err, storage.ErrNotFound) {
			continue // the receiver has not filed it yet
		}
		if err != nil {
			return out, err
		}
		classes := map[string]court.AssetClass{}
		for _, a := range v.Assets {
			classes[a.ID] = a.Class
		}
		for _, m := range v.Measures {
			if m.Status != court.MeasureActive || m.Expiry.IsZero() {
				continue
			}
			left := asOf.DaysUntil(m.Expiry)
			if left > within {
				continue
			}
			c := classes[m.Asset]
			out.Measures = append(out.Measures, api.MeasureAlert{Transfer: string(t.ID), Role: role, Case: cn.String(), Measure: m.ID,
				Kind: string(m.Kind), KindLabel: m.Kind.Label(), Asset: m.Asset, AssetClass: string(c), AssetClassLabel: c.Label(),
				Expiry: m.Expiry.String(), DaysLeft: left, Court: string(m.Court)})
		}
	}
	sort.SliceStable(out.Measures, func(i, j int) bool {
		a, b := out.Measures[i], out.Measures[j]
		if a.DaysLeft != b.DaysLeft {
			return a.DaysLeft < b.DaysLeft
		}
		if a.Transfer != b.Transfer {
			return a.Transfer < b.Transfer
		}
		return a.Measure < b.Measure
	})
	return out, nil
}

// registerAssetAPI starts the asset service and adds its endpoints.
func (n *Node) registerAssetAPI() {
	a := newAssetService(n)
	n.xfer.mu.Lock() // the transfer service reads the field under its lock
	n.xfer.assets = a
	n.xfer.mu.Unlock()
	id := func(w http.ResponseWriter, r *http.Request) (cmproto.TransferID, bool) {
		id, err := cmproto.ParseTransferID(r.PathValue("id"))
		if err != nil {
			api.WriteError(w, api.Errorf(http.StatusBadRequest, api.CodeInvalid, "%v", err))
			return "", false
		}
		return id, true
	}
	today := func() court.Date { return court.DateOf(n.now()) }
	n.api.Handle("POST /v1/transfers/{id}/assets", func(w http.ResponseWriter, r *http.Request) {
		tid, ok := id(w, r)
		if !ok {
			return
		}
		var req api.AssetChange
		if !api.DecodeBody(w, r, &req) {
			return
		}
		t, err := n.UpdateAssets(r.Context(), tid, req)
		if err != nil {
			api.WriteError(w, err)
			return
		}
		api.WriteJSON(w, http.StatusOK, n.TransferView(t))
	})
	assets := func(measuresOnly bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			tid, ok := id(w, r)
			if !ok || !api.CheckQuery(w, r, "as_of") {
				return
			}
			asOf, ok := api.DateParam(w, r, "as_of", today())
			if !ok {
				return
			}
			res, err := n.TransferAssets(tid, asOf)
			if err != nil {
				api.WriteError(w, err)
				return
			}
			if measuresOnly {
				res.Assets = []api.AssetInfo{}
			}
			api.WriteJSON(w, http.StatusOK, res)
		}
	}
	n.api.Handle("GET /v1/transfers/{id}/assets", assets(false))
	n.api.Handle("GET /v1/transfers/{id}/measures", assets(true))
	n.api.Handle("GET /v1/alerts/measures", func(w http.ResponseWriter, r *http.Request) {
		if !api.CheckQuery(w, r, "within", "as_of") {
			return
		}
		asOf, ok := api.DateParam(w, r, "as_of", today())
		if !ok {
			return
		}
		within := n.cfg.HandoverGuardDays
		if s := r.URL.Query().Get("within"); s != "" {
			v, err := strconv.Atoi(s)
			if err != nil {
				api.WriteError(w, api.Errorf(http.StatusBadRequest, api.CodeInvalid, "query parameter within=%q: want a whole number of days (0 to %d)", s, MaxWithin))
				return
			}
			within = v
		}
		res, err := n.MeasureAlerts(r.Context(), asOf, within)
		if err != nil {
			api.WriteError(w, err)
			return
		}
		api.WriteJSON(w, http.StatusOK, res)
	})
}
