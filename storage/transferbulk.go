package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"

	"courtmesh.dev/courtmesh/court"
)

// bulkIndex writes transfer index entries and counters through a Badger
// WriteBatch: for the migration that builds them for an old store and for
// the bulk loader. It uses the same key builders as putTransfer; the
// counters are summed in memory and added at flush. It assumes no other
// writer touches transfers meanwhile.
type bulkIndex struct {
	db     *DB
	wb     *badger.WriteBatch
	counts map[string]int64
}

func (db *DB) newBulkIndex() *bulkIndex {
	return &bulkIndex{db: db, wb: db.bdb.NewWriteBatch(), counts: map[string]int64{}}
}

// add writes r's index entries, and its value too when value is set.
func (b *bulkIndex) add(r *TransferRecord, value bool) error {
	if value {
		v, err := encodeTransfer(r)
		if err != nil {
			return err
		}
		if err := b.wb.Set(transferKey(r.ID), v); err != nil {
			return err
		}
	}
	for _, k := range r.indexKeys() {
		if err := b.wb.Set(k, nil); err != nil {
			return err
		}
	}
	if k := r.dueKey(); k != nil {
		if err := b.wb.Set(k, r.dueValue()); err != nil {
			return err
		}
	}
	for _, k := range r.counterKeys() {
		b.counts[string(k)]++
	}
	return r.statDeltas(func(k []byte, v int64) error {
		b.counts[string(k)] += v
		return nil
	})
}

// flush writes what is batched, then adds the counters to those stored.
func (b *bulkIndex) flush() error {
	if err := b.wb.Flush(); err != nil {
		return err
	}
	cur := map[string]uint64{}
	err := b.db.bdb.View(func(txn *badger.Txn) error {
		for k := range b.counts {
			v, err := getUint(txn, []byte(k))
			if err != nil {
				return err
			}
			cur[k] = v
		}
		return nil
	})
	if err != nil {
		return err
	}
	wb := b.db.bdb.NewWriteBatch()
	for k, d := range b.counts {
		if err := wb.Set([]byte(k), binary.BigEndian.AppendUint64(nil, uint64(int64(cur[k])+d))); err != nil {
			wb.Cancel()
			return err
		}
	}
	b.counts = map[string]int64{}
	return wb.Flush()
}

func (b *bulkIndex) cancel() { b.wb.Cancel() }

// TransferLoader writes many new transfers fast (a WriteBatch, not a
// transaction each), with their indexes and counters built by the same
// functions as Apply. It is for filling a store (the scale benchmark's
// fixtures, tools), not for a node at work: no other writer may touch
// transfers until Close returns, and a transfer already stored is
// refused (ErrConflict). Nothing is visible before Close.
type TransferLoader struct {
	b   *bulkIndex
	err error
}

// NewTransferLoader starts a bulk load.
func (db *DB) NewTransferLoader() *TransferLoader {
	return &TransferLoader{b: db.newBulkIndex()}
}

// Add queues one new transfer. Its Version is ignored (the current one
// is written).
func (l *TransferLoader) Add(r TransferRecord) error {
	if l.err != nil {
		return l.err
	}
	if err := r.validate(); err != nil {
		return err
	}
	err := l.b.db.bdb.View(func(txn *badger.Txn) error {
		_, err := txn.Get(transferKey(r.ID))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return court.Errorf(court.ErrConflict, "transfer %s is already stored; the loader only adds new transfers: %w", r.ID, court.ErrConflict)
	})
	if err != nil {
		return err
	}
	r.Version = TransferRecordVersion
	if err := l.b.add(&r, true); err != nil {
		l.err = err
		return err
	}
	return nil
}

// Close writes what remains and the counters. After an error from Add,
// it discards the batch and returns that error.
func (l *TransferLoader) Close() error {
	if l.err != nil {
		l.b.cancel()
		return l.err
	}
	l.err = errors.New("transfer loader closed")
	return l.b.flush()
}

// deletePrefixes deletes every key under the prefixes, in a WriteBatch.
func (db *DB) deletePrefixes(prefixes ...string) error {
	del := db.bdb.NewWriteBatch()
	err := db.bdb.View(func(txn *badger.Txn) error {
		for _, p := range prefixes {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(p)})
			for it.Rewind(); it.Valid(); it.Next() {
				if err := del.Delete(it.Item().KeyCopy(nil)); err != nil {
					it.Close()
					return err
				}
			}
			it.Close()
		}
		return nil
	})
	if err != nil {
		del.Cancel()
		return err
	}
	return del.Flush()
}

// rebuildTransferIndexes (schema 3 to 4, and 4 to 5) builds the transfer indexes and
// counters from the stored transfers: it deletes every entry under the
// index and counter prefixes (and schema 3's ix/xstate/), then reads each
// transfer (either version) once. Re-runnable: it starts from nothing
// each time. Values are not rewritten; a transfer's value becomes version
// 2 the next time it changes.
func rebuildTransferIndexes(db *DB) error {
	prefixes := []string{prefixXAll, prefixXSt, prefixXCourt, prefixXCourtSt, prefixXDue, prefixXCase, prefixXCount, prefixXCourtCnt,
		prefixXDueCnt, prefixXCourtDue, prefixXSumMesh, prefixXSumCourt, prefixXTag, prefixXCourtTag, legacyPrefixXSt}
	if err := db.deletePrefixes(prefixes...); err != nil {
		return fmt.Errorf("clear transfer indexes: %w", err)
	}
	b := db.newBulkIndex()
	n := 0
	err := db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixTransfer), PrefetchValues: true, PrefetchSize: 256})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			id := string(it.Item().Key()[len(prefixTransfer):])
			err := it.Item().Value(func(v []byte) error {
				r, err := decodeTransfer(v)
				if err != nil {
					return fmt.Errorf("transfer %s: %w", id, err)
				}
				r.ID = id // the key names it; an old value's own field may be absent
				if err := r.validate(); err != nil {
					// Refusing would leave the node unable to open its
					// store; the transfer stays readable by ID.
					db.log.Warn("transfer left out of the indexes", "transfer", id, "reason", err)
					return nil
				}
				n++
				return b.add(&r, false)
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.cancel()
		return err
	}
	if err := b.flush(); err != nil {
		return err
	}
	if n > 0 {
		db.log.Info("built transfer indexes and counters", "transfers", n)
	}
	return db.syncLogs()
}

// CheckTransferIndexes recomputes the counters from the stored transfers
// and compares them with the stored ones; it reads everything and is for
// tests and `courtmesh store check`, never for a routine read.
func (db *DB) CheckTransferIndexes(ctx context.Context) error {
	want := map[string]uint64{}
	err := db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixTransfer), PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			r, err := decodeTransfer(v)
			if err != nil {
				return err
			}
			for _, k := range r.counterKeys() {
				want[string(k)]++
			}
			r.statDeltas(func(k []byte, v int64) error {
				want[string(k)] += uint64(v)
				return nil
			})
			for _, k := range r.indexKeys() {
				if _, err := txn.Get(k); err != nil {
					return court.Errorf(court.ErrCorrupt, "transfer %s lacks index entry %q: %w", r.ID, k, court.ErrCorrupt)
				}
			}
			if k := r.dueKey(); k != nil {
				item, err := txn.Get(k)
				if err != nil {
					return court.Errorf(court.ErrCorrupt, "transfer %s lacks index entry %q: %w", r.ID, k, court.ErrCorrupt)
				}
				v, err := item.ValueCopy(nil)
				if err != nil {
					return err
				}
				if !bytes.Equal(v, r.dueValue()) {
					return court.Errorf(court.ErrCorrupt, "transfer %s: deadline index entry %q does not match the record: %w", r.ID, k, court.ErrCorrupt)
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	got := map[string]uint64{}
	for _, p := range []string{prefixXCount, prefixXCourtCnt, prefixXDueCnt, prefixXCourtDue, prefixXSumMesh, prefixXSumCourt} {
		m, err := db.counters([]byte(p))
		if err != nil {
			return err
		}
		for k, v := range m {
			got[p+k] = v
		}
	}
	for k, v := range want {
		if got[k] != v {
			return court.Errorf(court.ErrCorrupt, "transfer counter %s is %d, the transfers make %d: %w", k, got[k], v, court.ErrCorrupt)
		}
	}
	for k, v := range got {
		if want[k] != v {
			return court.Errorf(court.ErrCorrupt, "transfer counter %s is %d, the transfers make %d: %w", k, v, want[k], court.ErrCorrupt)
		}
	}
	return nil
}
