package storage

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"courtmesh.dev/courtmesh/court"
)

// Asset updates after a handover.
//
// A change to a transferred case's assets and measures (a new search
// result, a renewal, a release, a disposal, a lapse) is planned against
// the case's current version by the rules of package court
// (court.PlanAssetChange) as a court.AssetDelta: every asset and measure
// it touches, before and after. ApplyAssetDelta writes
// a delta in place into the current version and into the asset, measure
// and expiry-index records, in one transaction. Documents are not touched:
// the dossier's chunks and Merkle root stay as handed over.
//
// The delta is also what travels (sealed) to the other court, which
// applies it to its own copy. Applying compares each item's before state
// with what the store holds: an item already in its after state is left
// alone (applying twice changes nothing), and if any item is in neither
// state (the copy moved on, or was changed locally) nothing of the delta
// is written and the items are reported as conflicts: a copy is never
// overwritten, nor changed by half a delta.
//
// Updates received from another court wait at
// xu/<transfer>/<issuer court>/<number, 8 bytes big-endian> until they
// are applied in number order; xn/<transfer>/<issuer court> holds the
// number of the last one applied (or skipped as unreadable).
const (
	prefixAssetPending = "xu/"
	prefixAssetApplied = "xn/"
	// xo/<transfer>/<number, 8 bytes big-endian>: an update this court
	// applied to its own copy and has not yet seen issued as a record
	// (written with the change, removed once the record is out).
	prefixAssetOutbox = "xo/"
)

func sameJSON(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}

// sameMeasure compares two measures but for the court holding them
// (which the receiving court sets to itself when it files the case).
func sameMeasure(a, b court.Measure) bool {
	a.Court, b.Court = "", ""
	return sameJSON(a, b)
}

// AssetUpdateMark names a received update that a delta applies.
type AssetUpdateMark struct {
	Transfer string
	Issuer   court.CourtCode
	Number   uint64
}

// DeltaOptions says how ApplyAssetDelta treats items that do not match.
type DeltaOptions struct {
	// Strict returns ErrConflict if any item is neither in its before
	// nor in its after state; otherwise such items are reported in
	// DeltaResult.Conflicts. Either way nothing of the delta is written
	// then (but Mark is recorded: the update was dealt with).
	Strict bool
	// Holder, if set, becomes the court of every active measure written
	// that the issuing court (Mark.Issuer) held: the receiving court holds
	// the measures of a case it filed, not those of third courts.
	Holder court.CourtCode
	// Mark, if set, records update Mark.Number of its issuer as applied
	// (it must be the next one) and removes it from the pending updates,
	// in the same transaction.
	Mark *AssetUpdateMark
	// Outbox, if set, is this court's own update whose record is still
	// to be issued: kept with the change in the same transaction, so
	// that a crash before the record is out leaves it to be sent at the
	// next start (OutboxAssetUpdates) rather than a change no record
	// speaks for.
	Outbox *OutboxAssetUpdate
}

// OutboxAssetUpdate is an asset update this court applied to its copy
// whose record is not yet known to be issued. Record is the update as it
// goes out (the encoded AssetUpdate record body).
type OutboxAssetUpdate struct {
	Transfer string `json:"transfer"`
	Number   uint64 `json:"number"`
	Record   []byte `json:"record"`
}

func outboxKey(transfer string, number uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte(prefixAssetOutbox+transfer+"/"), number)
}

// OutboxAssetUpdates lists the updates still to be issued, by transfer
// and number.
func (db *DB) OutboxAssetUpdates() ([]OutboxAssetUpdate, error) {
	var out []OutboxAssetUpdate
	err := db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixAssetOutbox), PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var o OutboxAssetUpdate
			if err := it.Item().Value(func(b []byte) error { return jsonUnmarshal(b, &o) }); err != nil {
				return err
			}
			out = append(out, o)
		}
		return nil
	})
	return out, err
}

// DoneOutboxAssetUpdate removes an update from the outbox: its record is
// issued.
func (db *DB) DoneOutboxAssetUpdate(transfer string, number uint64) error {
	return db.bdb.Update(func(txn *badger.Txn) error { return txn.Delete(outboxKey(transfer, number)) })
}

// DeltaResult says what ApplyAssetDelta did, by item id (assets as
// "asset a3", measures by their id).
type DeltaResult struct {
	Applied   []string // written
	Already   []string // already in the after state
	Conflicts []string // in neither state; if any, nothing was written
}

// ApplyAssetDelta applies d to the current version of case n in place,
// keeping the asset and measure records and the expiry index in step, in
// one transaction. Documents are not touched.
func (db *DB) ApplyAssetDelta(n court.CaseNumber, d court.AssetDelta, o DeltaOptions) (DeltaResult, error) {
	var res DeltaResult
	if err := d.Check(); err != nil {
		return res, fmt.Errorf("asset update of case %s: %w", n, err)
	}
	// Run again (db.update) when another write to the case commits first:
	// everything is read again inside, the strict checks included.
	err := db.update(func(txn *badger.Txn) error {
		res = DeltaResult{}
		if o.Mark != nil {
			last, err := appliedNumber(txn, o.Mark.Transfer, o.Mark.Issuer)
			if err != nil {
				return err
			}
			if o.Mark.Number != last+1 {
				return fmt.Errorf("%w: update %d of %s in transfer %s is not the next (last applied %d)", court.ErrConflict, o.Mark.Number, o.Mark.Issuer, o.Mark.Transfer, last)
			}
		}
		var head CaseRecord
		if err := getJSON(txn, caseKey(n), &head); err != nil {
			return fmt.Errorf("case %s: %w", n, err)
		}
		var v CaseVersion
		if err := getJSON(txn, versionKey(n, head.Version), &v); err != nil {
			return fmt.Errorf("case %s version %d: %w", n, head.Version, err)
		}
		var writes []func() error
		for _, e := range d.Assets {
			i := slices.IndexFunc(v.Assets, func(a court.Asset) bool { return a.ID == e.After.ID })
			label := "asset " + e.After.ID
			switch {
			case i >= 0 && sameJSON(v.Assets[i], e.After):
				res.Already = append(res.Already, label)
				continue
			case i < 0 && e.Before == nil:
				v.Assets = append(v.Assets, e.After)
			case i >= 0 && e.Before != nil && sameJSON(v.Assets[i], *e.Before):
				v.Assets[i] = e.After
			default:
				res.Conflicts = append(res.Conflicts, label)
				continue
			}
			a := e.After
			writes = append(writes, func() error { return setJSON(txn, assetKey(n, a.ID), a) })
			res.Applied = append(res.Applied, label)
		}
		for _, e := range d.Measures {
			m := e.After
			// The receiving court holds what the issuing court held, not
			// the seizures of third courts in the waiting line.
			if o.Holder != "" && m.Status == court.MeasureActive && (o.Mark == nil || m.Court == o.Mark.Issuer || m.Court == "") {
				m.Court = o.Holder
			}
			i := slices.IndexFunc(v.Measures, func(x court.Measure) bool { return x.ID == m.ID })
			var old *court.Measure
			switch {
			case i >= 0 && sameMeasure(v.Measures[i], m):
				res.Already = append(res.Already, m.ID)
				continue
			case i < 0 && e.Before == nil:
				v.Measures = append(v.Measures, m)
			case i >= 0 && e.Before != nil && sameMeasure(v.Measures[i], *e.Before):
				prev := v.Measures[i]
				old = &prev
				v.Measures[i] = m
			default:
				res.Conflicts = append(res.Conflicts, m.ID)
				continue
			}
			if !slices.ContainsFunc(v.Assets, func(a court.Asset) bool { return a.ID == m.Asset }) {
				return fmt.Errorf("%w: measure %s is on asset %s, which case %s does not hold", court.ErrInvalid, m.ID, m.Asset, n)
			}
			writes = append(writes, func() error {
				if old != nil && indexed(*old) {
					if err := txn.Delete(measureExpiryKey(old.Expiry, n, old.ID)); err != nil {
						return err
					}
				}
				if err := setJSON(txn, measureKey(n, m.ID), m); err != nil {
					return err
				}
				if indexed(m) {
					return txn.Set(measureExpiryKey(m.Expiry, n, m.ID), nil)
				}
				return nil
			})
			res.Applied = append(res.Applied, m.ID)
		}
		if len(res.Conflicts) > 0 {
			if o.Strict {
				return fmt.Errorf("%w: case %s changed meanwhile (%s); look at it again and retry", court.ErrConflict, n, strings.Join(res.Conflicts, ", "))
			}
			res.Applied, writes = nil, nil
		}
		if len(writes) > 0 {
			for _, w := range writes {
				if err := w(); err != nil {
					return err
				}
			}
			if err := setJSON(txn, versionKey(n, head.Version), v); err != nil {
				return err
			}
			head.Updated = db.now().UTC().Format(time.RFC3339)
			head.Revision++
			if err := setJSON(txn, caseKey(n), head); err != nil {
				return err
			}
		}
		if o.Outbox != nil {
			if err := setJSON(txn, outboxKey(o.Outbox.Transfer, o.Outbox.Number), *o.Outbox); err != nil {
				return err
			}
		}
		if o.Mark != nil {
			return markApplied(txn, *o.Mark)
		}
		return nil
	})
	if err != nil {
		return DeltaResult{}, fmt.Errorf("asset update of case %s: %w", n, err)
	}
	return res, nil
}

// PendingAssetUpdate is an asset update received from another court and
// not yet applied. Sealed is opened only when it is applied.
type PendingAssetUpdate struct {
	V              int             `json:"v"`
	Transfer       string          `json:"transfer"`
	Issuer         court.CourtCode `json:"issuer"`
	Number         uint64          `json:"number"`
	Kind           string          `json:"kind"`
	Sealed         []byte          `json:"sealed"`
	EarliestExpiry string          `json:"earliest_expiry,omitempty"`
	IssuedAt       time.Time       `json:"issued_at"`
	Record         string          `json:"record"` // hash of the record (hex)
}

func pendingPrefix(transfer string, issuer court.CourtCode) []byte {
	return []byte(prefixAssetPending + transfer + "/" + string(issuer) + "/")
}

func pendingKey(transfer string, issuer court.CourtCode, number uint64) []byte {
	return binary.BigEndian.AppendUint64(pendingPrefix(transfer, issuer), number)
}

func appliedKey(transfer string, issuer court.CourtCode) []byte {
	return []byte(prefixAssetApplied + transfer + "/" + string(issuer))
}

type appliedRecord struct {
	V      int    `json:"v"`
	Number uint64 `json:"number"`
}

func appliedNumber(txn *badger.Txn, transfer string, issuer court.CourtCode) (uint64, error) {
	var a appliedRecord
	err := getJSON(txn, appliedKey(transfer, issuer), &a)
	if errors.Is(err, court.ErrNotFound) {
		return 0, nil
	}
	return a.Number, err
}

func markApplied(txn *badger.Txn, m AssetUpdateMark) error {
	if err := setJSON(txn, appliedKey(m.Transfer, m.Issuer), appliedRecord{V: RecordVersion, Number: m.Number}); err != nil {
		return err
	}
	return txn.Delete(pendingKey(m.Transfer, m.Issuer, m.Number))
}

// PutAssetUpdate keeps a received update until it is applied. It reports
// whether it was new: an update already applied, or already pending,
// is not stored again (the first one received stands).
func (db *DB) PutAssetUpdate(p PendingAssetUpdate) (bool, error) {
	if p.Number == 0 || p.Transfer == "" || p.Issuer == "" || strings.Contains(string(p.Issuer), "/") {
		return false, fmt.Errorf("%w: pending asset update %d of %q", court.ErrInvalid, p.Number, p.Issuer)
	}
	p.V = RecordVersion
	added := false
	// Run again on a concurrent commit: the watch applying the issuer's
	// previous update writes the applied number this reads, and a
	// receipt refused for that would wait for the node's next start.
	err := db.update(func(txn *badger.Txn) error {
		added = false
		last, err := appliedNumber(txn, p.Transfer, p.Issuer)
		if err != nil || p.Number <= last {
			return err
		}
		k := pendingKey(p.Transfer, p.Issuer, p.Number)
		if _, err := txn.Get(k); err == nil {
			return nil
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		added = true
		return setJSON(txn, k, p)
	})
	return added, err
}

// PendingAssetUpdates lists the updates of a transfer ("" for every
// transfer) waiting to be applied, by transfer, issuer and number.
func (db *DB) PendingAssetUpdates(transfer string) ([]PendingAssetUpdate, error) {
	p := prefixAssetPending
	if transfer != "" {
		p += transfer + "/"
	}
	var out []PendingAssetUpdate
	err := db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(p), PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var u PendingAssetUpdate
			if err := it.Item().Value(func(b []byte) error { return jsonUnmarshal(b, &u) }); err != nil {
				return err
			}
			out = append(out, u)
		}
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Transfer != b.Transfer {
			return a.Transfer < b.Transfer
		}
		if a.Issuer != b.Issuer {
			return a.Issuer < b.Issuer
		}
		return a.Number < b.Number
	})
	return out, err
}

// AppliedAssetUpdates is the number of the last update of issuer in
// transfer that was applied (or skipped), 0 if none.
func (db *DB) AppliedAssetUpdates(transfer string, issuer court.CourtCode) (uint64, error) {
	var n uint64
	err := db.bdb.View(func(txn *badger.Txn) error {
		var err error
		n, err = appliedNumber(txn, transfer, issuer)
		return err
	})
	return n, err
}

// SkipAssetUpdate consumes the next update of its issuer without applying
// it (it does not open or does not fit): later updates are not held up
// by one that can never apply. The caller audits why.
func (db *DB) SkipAssetUpdate(m AssetUpdateMark) error {
	return db.update(func(txn *badger.Txn) error { // run again on a concurrent commit
		last, err := appliedNumber(txn, m.Transfer, m.Issuer)
		if err != nil {
			return err
		}
		if m.Number != last+1 {
			return fmt.Errorf("%w: update %d of %s in transfer %s is not the next (last applied %d)", court.ErrConflict, m.Number, m.Issuer, m.Transfer, last)
		}
		return markApplied(txn, m)
	})
}

// RevertAssetDelta undoes d on case n, which must hold every item of d in
// its after state (ErrConflict otherwise, nothing written): changed items
// go back to their before state, added ones are removed, and outbox (if
// set) leaves the outbox in the same transaction. The issuing court uses
// it when the update it applied could not be sent.
func (db *DB) RevertAssetDelta(n court.CaseNumber, d court.AssetDelta, outbox *OutboxAssetUpdate) error {
	if err := d.Check(); err != nil {
		return fmt.Errorf("revert asset update of case %s: %w", n, err)
	}
	err := db.update(func(txn *badger.Txn) error { // run again on a concurrent commit, as ApplyAssetDelta
		if outbox != nil { // the update that will not go out leaves the outbox with its change
			if err := txn.Delete(outboxKey(outbox.Transfer, outbox.Number)); err != nil {
				return err
			}
		}
		var head CaseRecord
		if err := getJSON(txn, caseKey(n), &head); err != nil {
			return fmt.Errorf("case %s: %w", n, err)
		}
		var v CaseVersion
		if err := getJSON(txn, versionKey(n, head.Version), &v); err != nil {
			return fmt.Errorf("case %s version %d: %w", n, head.Version, err)
		}
		for _, e := range d.Measures {
			i := slices.IndexFunc(v.Measures, func(x court.Measure) bool { return x.ID == e.After.ID })
			if i < 0 || !sameMeasure(v.Measures[i], e.After) {
				return fmt.Errorf("%w: measure %s of case %s changed since", court.ErrConflict, e.After.ID, n)
			}
			cur := v.Measures[i]
			if indexed(cur) {
				if err := txn.Delete(measureExpiryKey(cur.Expiry, n, cur.ID)); err != nil {
					return err
				}
			}
			if e.Before == nil {
				v.Measures = slices.Delete(v.Measures, i, i+1)
				if err := txn.Delete(measureKey(n, cur.ID)); err != nil {
					return err
				}
				continue
			}
			b := *e.Before
			v.Measures[i] = b
			if err := setJSON(txn, measureKey(n, b.ID), b); err != nil {
				return err
			}
			if indexed(b) {
				if err := txn.Set(measureExpiryKey(b.Expiry, n, b.ID), nil); err != nil {
					return err
				}
			}
		}
		for _, e := range d.Assets {
			i := slices.IndexFunc(v.Assets, func(a court.Asset) bool { return a.ID == e.After.ID })
			if i < 0 || !sameJSON(v.Assets[i], e.After) {
				return fmt.Errorf("%w: asset %s of case %s changed since", court.ErrConflict, e.After.ID, n)
			}
			if e.Before == nil {
				if slices.ContainsFunc(v.Measures, func(m court.Measure) bool { return m.Asset == e.After.ID }) {
					return fmt.Errorf("%w: asset %s of case %s carries a measure since", court.ErrConflict, e.After.ID, n)
				}
				v.Assets = slices.Delete(v.Assets, i, i+1)
				if err := txn.Delete(assetKey(n, e.After.ID)); err != nil {
					return err
				}
				continue
			}
			v.Assets[i] = *e.Before
			if err := setJSON(txn, assetKey(n, e.Before.ID), *e.Before); err != nil {
				return err
			}
		}
		if err := setJSON(txn, versionKey(n, head.Version), v); err != nil {
			return err
		}
		head.Updated = db.now().UTC().Format(time.RFC3339)
		head.Revision++
		return setJSON(txn, caseKey(n), head)
	})
	if err != nil {
		return fmt.Errorf("revert asset update of case %s: %w", n, err)
	}
	return nil
}
