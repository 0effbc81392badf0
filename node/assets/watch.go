package assets

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/storage"
)

// Serve applies the asset updates received from other courts
// in order, and warns once a day about each measure of a transferred case
// that nears its expiry, until ctx ends.
func (a *Service) Serve(ctx context.Context) error {
	a.sendOutbox(ctx)
	a.recover(ctx)
	a.drain(ctx)
	a.warn(ctx)
	a.settledOnce.Do(func() { close(a.settled) })
	t := time.NewTicker(assetWatchEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-a.kick:
			a.recoverIfDue(ctx)
			a.drain(ctx)
		case <-t.C:
			a.recoverIfDue(ctx)
			a.drain(ctx)
			a.warn(ctx)
		}
	}
}

// recoverIfDue reads the record logs again (recover) if keeping a
// received update failed since the last pass.
func (a *Service) recoverIfDue(ctx context.Context) {
	if a.recoverDue.Swap(false) {
		a.recover(ctx)
	}
}

// recoverPass names the checkpoints of recover in the store.
const recoverPass = "assets.recover"

// recover finds, in the record logs, asset updates addressed to this
// court that were applied to their transfer but never kept (the node
// stopped in between, or the store failed to keep one: recoverIfDue),
// and keeps them. Each issuer's log is read only past the checkpoint of
// the last pass (records already looked at are not decoded and verified
// again at every start); the checkpoint moves once the updates found are
// kept.
func (a *Service) recover(ctx context.Context) {
	self, err := a.self()
	if err != nil {
		return
	}
	heads, err := a.db.LogHeads()
	if err != nil {
		a.log.Warn("asset updates: cannot read the record logs", "reason", err)
		return
	}
	done, err := a.db.Checkpoints(recoverPass)
	if err != nil {
		a.log.Warn("asset updates: cannot read the recovery checkpoints; reading every log", "reason", err)
		done = map[court.PeerID]uint64{}
	}
	found := 0
	for issuer, head := range heads {
		if string(issuer) == a.peer.String() || done[issuer] >= head {
			continue
		}
		// upto is how far this log is settled: every asset update in it
		// up to there is kept, or was never ours to keep. A record that
		// cannot be settled now (held, or a store error) holds upto back,
		// so the next start reads from there again; the records after it
		// are still looked at now.
		upto, settled := done[issuer], true
		for from := done[issuer] + 1; from <= head && ctx.Err() == nil; from += recoverBatch {
			raws, err := a.db.LogRange(issuer, from, min(head, from+recoverBatch-1), recoverBatch)
			if err != nil || len(raws) == 0 {
				break
			}
			for i, raw := range raws {
				ok, kept := a.recoverOne(raw, self.Code)
				if kept {
					found++
				}
				if settled = settled && ok; settled {
					upto = from + uint64(i)
				}
			}
		}
		if upto > done[issuer] {
			if err := a.db.SetCheckpoint(storage.Checkpoint{Name: recoverPass, Issuer: issuer, Seq: upto}); err != nil {
				a.log.Warn("asset updates: recovery checkpoint not saved; the log is read again at the next start", "issuer", issuer, "reason", err)
			}
		}
	}
	if found > 0 {
		a.log.Info("asset updates recovered from the record logs", "count", found)
	}
}

// recoverOne keeps raw if it is an asset update addressed to this court,
// applied to its transfer and not yet kept. ok is false when it cannot be
// settled now (held, or the store failed): recover stops there.
func (a *Service) recoverOne(raw []byte, self court.CourtCode) (ok, kept bool) {
	r, err := cmproto.DecodeRecord(raw, a.trust.Trust(), a.now())
	if err != nil || r.Kind != cmproto.KindAssetUpdate || r.Issuer == self {
		return true, false // not ours to keep (an invalid record is evidence only)
	}
	t, err := a.transfers.Load(r.Transfer)
	if err != nil {
		return false, false
	}
	if t == nil || !t.Applied(r.HashHex()) {
		// Held until its predecessor comes (then Applied keeps it), or
		// refused by the state machine (never to be kept).
		held, err := a.db.HeldRecords(string(r.Transfer))
		if err != nil {
			return false, false
		}
		for _, h := range held {
			if h.Hash == r.HashHex() {
				return false, false
			}
		}
		return true, false
	}
	added, err := a.keep(r, t) // on an error, keep has the next pass read the logs again
	return err == nil, added
}

// recoverBatch is how many records recover reads from a log at a time.
const recoverBatch = 512

// drain applies every waiting update that can be applied, in number
// order per transfer and issuer.
func (a *Service) drain(ctx context.Context) {
	a.mu.Lock()
	defer a.mu.Unlock()
	pend, err := a.db.PendingAssetUpdates("")
	if err != nil {
		a.log.Warn("asset updates: cannot read the waiting updates", "reason", err)
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
		last, err := a.db.AppliedAssetUpdates(u.Transfer, u.Issuer)
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
func (a *Service) apply(u storage.PendingAssetUpdate) bool {
	id := court.TransferID(u.Transfer)
	t, err := a.transfers.Load(id)
	if err != nil || t == nil {
		return false
	}
	self, err := a.self()
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
		// The skip is recorded only once its audit entry is: a skip that
		// cannot be evidenced waits and is tried again.
		if err := a.audit.Before(audit); err != nil {
			a.log.Error("asset update not skipped: its audit entry could not be written; retried", "transfer", id, "number", u.Number, "reason", err)
			return false
		}
		a.log.Warn("asset update skipped", "transfer", id, "issuer", u.Issuer, "number", u.Number, "reason", why)
		if err := a.db.SkipAssetUpdate(mark); err != nil {
			a.log.Warn("asset update: could not record the skip", "transfer", id, "reason", err)
			return false
		}
		return true
	}
	var key crypto.DataKey
	if role == "receiver" {
		head, _, err := a.db.Case(cn)
		if err != nil {
			if !errors.Is(err, court.ErrNotFound) {
				a.log.Warn("asset update waits: the case cannot be read", "transfer", id, "case", cn.String(), "reason", err)
			}
			return false // applied right after the dossier is filed
		}
		if !a.FiledFrom(head, t) {
			a.log.Warn("asset update waits: the case under the transfer's new number was not filed from this transfer; renumber one of them", "transfer", id, "case", cn.String())
			return false
		}
		var wrapped []byte
		for _, k := range t.WrappedKeys {
			if k.Court == self.Code {
				wrapped = k.Wrapped
			}
		}
		if key, err = crypto.UnwrapDataKey(a.dec, "handover", string(id), wrapped); err != nil {
			a.log.Warn("asset update waits: the data key wrapped for this court does not open", "transfer", id, "reason", err)
			return false
		}
	} else if key, err = a.db.DataKey(cn); err != nil {
		a.log.Warn("asset update waits: the case's data key is not available", "transfer", id, "case", cn.String(), "reason", err)
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
	res, err := a.db.ApplyAssetDelta(cn, d, storage.DeltaOptions{Holder: holder, Mark: &mark})
	switch {
	case errors.Is(err, court.ErrInvalid):
		return skip("asset_update.invalid", "does not fit the case: "+err.Error())
	case err != nil:
		a.log.Warn("asset update waits: it could not be applied", "transfer", id, "case", cn.String(), "number", u.Number, "reason", err)
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
		a.log.Warn("asset update not applied: this court's copy differs", "transfer", id, "case", cn.String(), "number", u.Number, "items", strings.Join(res.Conflicts, ", "))
	}
	a.auditDone(audit)
	a.log.Info("asset update applied", "transfer", id, "case", cn.String(), "issuer", u.Issuer, "number", u.Number, "kind", d.Kind)
	return true
}

// FiledFrom reports whether the receiver's case head was filed from
// transfer t's dossier: it says so, or (filed by an older build, which
// did not record it) its documents have the handover's Merkle root.
func (a *Service) FiledFrom(head storage.CaseRecord, t *cmproto.Transfer) bool {
	if head.Transfer != "" {
		return head.Transfer == string(t.ID)
	}
	// Filed by an older build: the version it filed (1) holds the
	// handover's documents, whatever versions came after. Once matched,
	// the link is recorded.
	v1, err := a.db.Version(head.Number, 1)
	if err != nil {
		return false
	}
	var ids []crypto.ChunkID
	for _, d := range append(append([]storage.Document(nil), v1.Documents...), v1.Source) {
		ids = append(ids, d.Chunks...)
	}
	if root := a.db.Suite().MerkleRoot(ids); !bytes.Equal(root[:], t.MerkleRoot) {
		return false
	}
	if err := a.db.SetCaseTransfer(head.Number, string(t.ID)); err != nil {
		a.log.Warn("could not record which transfer a filed case came from", "case", head.Number.String(), "transfer", t.ID, "reason", err)
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
func (a *Service) warn(ctx context.Context) {
	today := court.DateOf(a.now())
	res, err := a.MeasureAlerts(ctx, today, a.guardDays)
	if err != nil {
		a.log.Warn("measure watch failed", "reason", err)
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
		a.log.Warn(msg, "transfer", m.Transfer, "role", m.Role, "case", m.Case, "measure", m.Measure, "kind", m.Kind,
			"asset_class", m.AssetClass, "expiry", m.Expiry, "days_left", m.DaysLeft)
	}
}
