package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"courtmesh.dev/courtmesh/court"
)

// TransferStats returns, per statistic name, the sum of Stats[name] over
// the transfers concerning court c (as origin, decider or receiver), or
// over every transfer when c is "". It reads the sums kept at write time:
// its cost is the number of names, not of transfers. Names whose sum is
// zero are absent.
func (db *DB) TransferStats(c court.CourtCode) (map[string]int64, error) {
	p := prefixXSumMesh
	if c != "" {
		if err := c.Validate(); err != nil {
			return nil, err
		}
		p = prefixXSumCourt + string(c) + "/"
	}
	m, err := db.counters([]byte(p))
	if err != nil {
		return nil, err
	}
	out := make(map[string]int64, len(m))
	for k, v := range m {
		out[k] = int64(v)
	}
	return out, nil
}

// TransferStatsPrefix is TransferStats restricted to the names that
// begin with prefix: its cost is the number of those names only.
func (db *DB) TransferStatsPrefix(c court.CourtCode, prefix string) (map[string]int64, error) {
	p := prefixXSumMesh
	if c != "" {
		if err := c.Validate(); err != nil {
			return nil, err
		}
		p = prefixXSumCourt + string(c) + "/"
	}
	m, err := db.counters([]byte(p + prefix))
	if err != nil {
		return nil, err
	}
	out := make(map[string]int64, len(m))
	for k, v := range m {
		out[prefix+k] = int64(v)
	}
	return out, nil
}

// StatsRange names the sums whose names begin with Prefix and sort at or
// after Prefix+From (all of them with From ""): a window over names that
// carry a month or a day after the prefix.
type StatsRange struct{ Prefix, From string }

// TransferStatsRanges is TransferStats restricted to the ranges given,
// read in one snapshot: its cost is the number of names in the ranges, so
// a reader that needs the last months of a family reads those months,
// not the family's whole history.
func (db *DB) TransferStatsRanges(c court.CourtCode, rs ...StatsRange) (map[string]int64, error) {
	scope := prefixXSumMesh
	if c != "" {
		if err := c.Validate(); err != nil {
			return nil, err
		}
		scope = prefixXSumCourt + string(c) + "/"
	}
	out := map[string]int64{}
	err := db.bdb.View(func(txn *badger.Txn) error {
		for _, r := range rs {
			p := []byte(scope + r.Prefix)
			it := txn.NewIterator(badger.IteratorOptions{Prefix: p, PrefetchValues: true, PrefetchSize: 256})
			for it.Seek(append(p[:len(p):len(p)], r.From...)); it.Valid(); it.Next() {
				name := string(it.Item().Key()[len(scope):])
				if err := it.Item().Value(func(b []byte) error {
					if len(b) != 8 {
						return court.Errorf(court.ErrCorrupt, "transfer sum %s: %d bytes, want 8: %w", name, len(b), court.ErrCorrupt)
					}
					out[name] = int64(binary.BigEndian.Uint64(b))
					return nil
				}); err != nil {
					it.Close()
					return err
				}
			}
			it.Close()
		}
		return nil
	})
	return out, err
}

// StatsFunc computes a transfer's Stats from its body (the protocol-level
// transfer JSON).
type StatsFunc func(body []byte) (map[string]int64, error)

// EnsureTransferStats makes every stored transfer's Stats, and their sums,
// those that def computes, def being named by key (a version of the
// definition, and whatever configuration it depends on). When the store
// already holds the statistics of key it does nothing but read one key;
// otherwise it recomputes them all: for every transfer it rewrites the
// record with fn's Stats and rebuilds every sum, then records key. A
// crash before the end leaves the old key, so the next call starts again.
// It must run before anything else writes transfers (at the node's
// start); its cost is one pass over the transfers.
func (db *DB) EnsureTransferStats(ctx context.Context, key string, fn StatsFunc) error {
	if key == "" {
		return court.Errorf(court.ErrInvalid, "statistics definition without a name")
	}
	var cur []byte
	err := db.bdb.View(func(txn *badger.Txn) error {
		item, err := txn.Get([]byte(keyStatsDef))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		cur, err = item.ValueCopy(nil)
		return err
	})
	if err != nil {
		return fmt.Errorf("read the statistics definition: %w", err)
	}
	if string(cur) == key {
		return nil
	}
	start := time.Now()
	if err := db.bdb.Update(func(txn *badger.Txn) error { return txn.Delete([]byte(keyStatsDef)) }); err != nil {
		return err
	}
	if err := db.deletePrefixes(prefixXSumMesh, prefixXSumCourt); err != nil {
		return fmt.Errorf("clear the statistics: %w", err)
	}
	b := db.newBulkIndex()
	n := 0
	err = db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixTransfer), PrefetchValues: true, PrefetchSize: 256})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			id := string(it.Item().Key()[len(prefixTransfer):])
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			r, err := decodeTransfer(v)
			if err != nil {
				return fmt.Errorf("transfer %s: %w", id, err)
			}
			r.ID = id
			if r.validate() != nil {
				continue // left out of the indexes too (rebuildTransferIndexes)
			}
			if r.Stats, err = fn(r.Body); err != nil {
				return fmt.Errorf("transfer %s: statistics: %w", id, err)
			}
			if err := r.validate(); err != nil {
				return err
			}
			nv, err := encodeTransfer(&r)
			if err != nil {
				return err
			}
			if !bytes.Equal(nv, v) {
				if err := b.wb.Set(transferKey(id), nv); err != nil {
					return err
				}
			}
			if err := r.statDeltas(func(k []byte, d int64) error {
				b.counts[string(k)] += d
				return nil
			}); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		b.cancel()
		return fmt.Errorf("compute the transfers' statistics: %w", err)
	}
	if err := b.flush(); err != nil {
		return fmt.Errorf("write the transfers' statistics: %w", err)
	}
	if err := db.bdb.Update(func(txn *badger.Txn) error { return txn.Set([]byte(keyStatsDef), []byte(key)) }); err != nil {
		return err
	}
	if n > 0 {
		db.log.Info("computed the transfers' statistics", "transfers", n, "definition", key, "took", time.Since(start).Round(time.Millisecond))
	}
	return db.syncLogs()
}

// CountCourtOverdue is CountOverdue for the transfers concerning court c
// (as origin, decider or receiver), from the per-court deadline counters.
func (db *DB) CountCourtOverdue(ctx context.Context, c court.CourtCode, at court.Date) (int, error) {
	if err := c.Validate(); err != nil {
		return 0, err
	}
	return db.countDue(ctx, []byte(prefixXCourtDue+string(c)+"/"), at)
}

// countDue sums the per-day deadline counters under p before at.
func (db *DB) countDue(ctx context.Context, p []byte, at court.Date) (int, error) {
	if !at.Valid() {
		return 0, court.Errorf(court.ErrInvalid, "overdue date %s is not a calendar date", at)
	}
	stop := append(bytes.Clone(p), dateKey(at)...)
	var n uint64
	err := db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: p, PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if bytes.Compare(it.Item().Key(), stop) >= 0 {
				return nil
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			err := it.Item().Value(func(b []byte) error {
				if len(b) != 8 {
					return court.Errorf(court.ErrCorrupt, "deadline counter %s: %d bytes, want 8: %w", it.Item().Key(), len(b), court.ErrCorrupt)
				}
				n += binary.BigEndian.Uint64(b)
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	return int(n), err
}

// DueEntry is one transfer of the deadline index, as the index entry
// itself holds it: what an overdue alert needs, without the record.
type DueEntry struct {
	ID                        string
	State                     string
	Deadline                  court.Date
	Offered                   time.Time
	Origin, Decider, Receiver court.CourtCode
}

// OverdueEntries returns the transfers, not terminal, whose deadline is
// before at, earliest deadline first, at most limit of them; more
// reports that there are others. It reads the deadline index's entries
// only (no record): the work is bounded by limit.
func (db *DB) OverdueEntries(ctx context.Context, at court.Date, limit int) (out []DueEntry, more bool, err error) {
	if !at.Valid() {
		return nil, false, court.Errorf(court.ErrInvalid, "overdue date %s is not a calendar date", at)
	}
	if limit < 1 {
		return nil, false, court.Errorf(court.ErrInvalid, "limit %d: want at least 1", limit)
	}
	stop := []byte(prefixXDue + dateKey(at))
	err = db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixXDue), PrefetchValues: true, PrefetchSize: min(limit+1, 100)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()
			if bytes.Compare(k, stop) >= 0 {
				return nil
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if len(out) == limit {
				more = true
				return nil
			}
			e, err := decodeDue(k, it.Item())
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	return out, more, err
}

// decodeDue reads a deadline index entry: ix/xdue/<yyyymmdd>/<id> and
// its value (dueValue).
func decodeDue(k []byte, item *badger.Item) (DueEntry, error) {
	rest := k[len(prefixXDue):]
	day, id, ok := bytes.Cut(rest, []byte{'/'})
	d, derr := parseDateKey(string(day))
	if !ok || derr != nil {
		return DueEntry{}, court.Errorf(court.ErrCorrupt, "deadline index key %q: %w", k, court.ErrCorrupt)
	}
	e := DueEntry{ID: string(id), Deadline: d}
	err := item.Value(func(v []byte) error {
		parts := bytes.Split(v[min(8, len(v)):], []byte{0})
		if len(v) < 8 || len(parts) != 4 {
			return court.Errorf(court.ErrCorrupt, "deadline index entry %q: %d bytes, not what this build writes; rebuild the indexes: %w", k, len(v), court.ErrCorrupt)
		}
		if ns := binary.BigEndian.Uint64(v); ns != 0 {
			e.Offered = time.Unix(0, int64(ns)).UTC()
		}
		e.State, e.Origin, e.Decider, e.Receiver = string(parts[0]), court.CourtCode(parts[1]), court.CourtCode(parts[2]), court.CourtCode(parts[3])
		return nil
	})
	return e, err
}
