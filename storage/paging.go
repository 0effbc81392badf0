package storage

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"

	"courtmesh.dev/courtmesh/court"
)

// Limits of a page of the listings other than transfers (cases,
// accounts, statistics' names); the same as a page of transfers.
const (
	DefaultPage = DefaultTransferPage // Limit when zero
	MaxPage     = MaxTransferPage     // the largest Limit accepted
)

// The kinds of the other listings' cursors (after the transfer indexes'
// kinds), so that a cursor of one listing never continues another.
const (
	ixCases byte = iota + 32
	ixCaseStatus
	ixUsers
	ixStats
)

// pageLimit checks a page's limit (0: DefaultPage).
func pageLimit(limit int) (int, error) {
	switch {
	case limit == 0:
		return DefaultPage, nil
	case limit < 0 || limit > MaxPage:
		return 0, court.Errorf(court.ErrInvalid, "page size %d: want 1 to %d", limit, MaxPage)
	}
	return limit, nil
}

// scanPage iterates, in txn, the keys under prefix from where cursor c
// (of kind) left off, and calls fn with each until fn says the page is
// full (after taking that key) or budget keys were examined. It returns
// the cursor after the last key examined if keys are left under prefix,
// else "": the work is that of one page, whatever the prefix holds.
func scanPage(ctx context.Context, txn *badger.Txn, kind byte, prefix []byte, c string, budget int, prefetch bool,
	fn func(k []byte, it *badger.Item) (full bool, err error)) (next string, err error) {
	seek, err := parseCursor(c, kind, prefix)
	if err != nil {
		return "", err
	}
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: prefetch, PrefetchSize: 100})
	defer it.Close()
	var last []byte
	for it.Seek(seek); it.Valid(); it.Next() {
		if last != nil && budget <= 0 {
			return cursor(kind, prefix, last), nil
		}
		if err := ctx.Err(); err != nil {
			return "", err
		}
		budget--
		k := it.Item().Key()
		last = append(last[:0], k...)
		full, err := fn(k, it.Item())
		if err != nil {
			return "", err
		}
		if full {
			it.Next()
			if it.Valid() {
				return cursor(kind, prefix, last), nil
			}
			return "", nil
		}
	}
	return "", nil
}

// CaseQuery selects a page of cases.
type CaseQuery struct {
	Status court.CaseStatus // only cases in this status ("" all)
	Cursor string           // from the previous page's next; "" for the first page
	Limit  int              // cases per page: 0 means DefaultPage, at most MaxPage
}

// CasesPage returns one page of the head records of the cases q selects,
// in case number order (through the status index for a status), and the
// cursor of the next page ("" at the end). It reads that page only.
func (db *DB) CasesPage(ctx context.Context, q CaseQuery) ([]CaseRecord, string, error) {
	limit, err := pageLimit(q.Limit)
	if err != nil {
		return nil, "", err
	}
	prefix, kind := []byte(prefixCase), ixCases
	if q.Status != "" {
		if err := checkKeyPart("status", string(q.Status)); err != nil {
			return nil, "", err
		}
		prefix, kind = []byte(prefixCaseStat+string(q.Status)+"/"), ixCaseStatus
	}
	out := []CaseRecord{}
	var next string
	err = db.bdb.View(func(txn *badger.Txn) error {
		next, err = scanPage(ctx, txn, kind, prefix, q.Cursor, limit, q.Status == "", func(k []byte, item *badger.Item) (bool, error) {
			var h CaseRecord
			if q.Status != "" {
				if err := getJSON(txn, []byte(prefixCase+string(k[len(prefix):])), &h); err != nil {
					return false, fmt.Errorf("status index entry %q: %w", k, err)
				}
			} else if err := item.Value(func(b []byte) error { return jsonUnmarshal(b, &h) }); err != nil {
				return false, err
			}
			out = append(out, h)
			return len(out) == limit, nil
		})
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("list cases: %w", err)
	}
	return out, next, nil
}

// UsersPage returns one page of the accounts, by name, and the cursor of
// the next page ("" at the end); limit 0 means DefaultPage.
func (db *DB) UsersPage(ctx context.Context, c string, limit int) ([]UserRecord, string, error) {
	limit, err := pageLimit(limit)
	if err != nil {
		return nil, "", err
	}
	out := []UserRecord{}
	var next string
	err = db.bdb.View(func(txn *badger.Txn) error {
		next, err = scanPage(ctx, txn, ixUsers, []byte(prefixUser), c, limit, true, func(k []byte, item *badger.Item) (bool, error) {
			var u UserRecord
			if err := item.Value(func(v []byte) error { return json.Unmarshal(v, &u) }); err != nil {
				return false, court.Errorf(court.ErrCorrupt, "account %q does not decode: %v", k, err)
			}
			out = append(out, u)
			return len(out) == limit, nil
		})
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("the node's accounts: %w", err)
	}
	return out, next, nil
}

// ScanTransferStats calls fn with the statistics' sums whose names begin
// with prefix (the mesh's, or court c's), in name order, from where
// cursor left off ("" from the first), until fn says its page is full
// (after taking that name) or budget names were examined. It returns the
// cursor after the last name examined if names are left, else "": a
// caller that filters the names (a page of the check-back candidates)
// reads one page, not the family's history.
func (db *DB) ScanTransferStats(ctx context.Context, c court.CourtCode, prefix, cursor string, budget int,
	fn func(name string, v int64) (full bool, err error)) (next string, err error) {
	scope := prefixXSumMesh
	if c != "" {
		if err := c.Validate(); err != nil {
			return "", err
		}
		scope = prefixXSumCourt + string(c) + "/"
	}
	if budget < 1 {
		return "", court.Errorf(court.ErrInvalid, "scan budget %d: want at least 1", budget)
	}
	err = db.bdb.View(func(txn *badger.Txn) error {
		next, err = scanPage(ctx, txn, ixStats, []byte(scope+prefix), cursor, budget, true, func(k []byte, item *badger.Item) (bool, error) {
			name := string(k[len(scope):])
			var v int64
			if err := item.Value(func(b []byte) error {
				if len(b) != 8 {
					return court.Errorf(court.ErrCorrupt, "transfer sum %s: %d bytes, want 8: %w", name, len(b), court.ErrCorrupt)
				}
				v = int64(binary.BigEndian.Uint64(b))
				return nil
			}); err != nil {
				return false, err
			}
			return fn(name, v)
		})
		return err
	})
	return next, err
}
