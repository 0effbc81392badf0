package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"slices"

	badger "github.com/dgraph-io/badger/v4"

	"courtmesh.dev/courtmesh/court"
)

// Limits of a page of transfers.
const (
	DefaultTransferPage = 100  // TransferQuery.Limit when zero
	MaxTransferPage     = 1000 // the largest Limit accepted
	// scanPerRecord bounds the index entries a page may examine per
	// record asked for when filters are combined (e.g. overdue at one
	// court), so that one page never scans history; a page may then hold
	// fewer than Limit records with a Next cursor to continue.
	scanPerRecord = 20
)

// TransferQuery selects transfers. Zero fields do not filter. The most
// selective index answers: case number, then deadline, then tag (with
// court), then court, then state; the other filters check the records it
// yields.
type TransferQuery struct {
	State      string           // only this state
	Court      court.CourtCode  // only transfers concerning this court (origin, decider or receiver)
	OverdueAt  court.Date       // only transfers not terminal whose deadline is before this date
	CaseNumber court.CaseNumber // only transfers with this case number (origin's or receiver's)
	Tag        string           // only transfers carrying this tag (TransferRecord.Tags)
	Cursor     string           // from TransferPage.Next; "" for the first page
	Limit      int              // records per page: 0 means DefaultTransferPage, at most MaxTransferPage
}

// TransferPage is one page of a listing.
type TransferPage struct {
	Records []TransferRecord
	// Next continues the listing with the same query; "" when done. It is
	// opaque and tied to the query it came from.
	Next string
}

// index kinds, the cursor's second byte.
const (
	ixAll byte = iota + 1
	ixState
	ixCourt
	ixCourtState
	ixDue
	ixCase
	ixTag
	ixCourtTag
)

const cursorVersion = 1

// plan returns the index prefix that answers q, its kind, and for the
// deadline index the key (exclusive) where the scan stops.
func (q *TransferQuery) plan() (prefix []byte, kind byte, stop []byte, err error) {
	if q.State != "" {
		if err := checkKeyPart("state", q.State); err != nil {
			return nil, 0, nil, err
		}
	}
	if q.Court != "" {
		if err := q.Court.Validate(); err != nil {
			return nil, 0, nil, err
		}
	}
	if q.Tag != "" {
		if err := checkKeyPart("tag", q.Tag); err != nil {
			return nil, 0, nil, err
		}
	}
	if !q.OverdueAt.IsZero() && !q.OverdueAt.Valid() {
		return nil, 0, nil, court.Errorf(court.ErrInvalid, "overdue date %s is not a calendar date", q.OverdueAt)
	}
	switch {
	case !q.CaseNumber.IsZero():
		if err := q.CaseNumber.Validate(); err != nil {
			return nil, 0, nil, err
		}
		return []byte(prefixXCase + q.CaseNumber.String() + "/"), ixCase, nil, nil
	case !q.OverdueAt.IsZero():
		return []byte(prefixXDue), ixDue, []byte(prefixXDue + dateKey(q.OverdueAt)), nil
	case q.Tag != "" && q.Court != "":
		return []byte(prefixXCourtTag + string(q.Court) + "/" + q.Tag + "/"), ixCourtTag, nil, nil
	case q.Tag != "":
		return []byte(prefixXTag + q.Tag + "/"), ixTag, nil, nil
	case q.Court != "" && q.State != "":
		return []byte(prefixXCourtSt + string(q.Court) + "/" + q.State + "/"), ixCourtState, nil, nil
	case q.Court != "":
		return []byte(prefixXCourt + string(q.Court) + "/"), ixCourt, nil, nil
	case q.State != "":
		return []byte(prefixXSt + q.State + "/"), ixState, nil, nil
	}
	return []byte(prefixXAll), ixAll, nil, nil
}

// matches checks the filters the chosen index does not answer.
func (q *TransferQuery) matches(r *TransferRecord) bool {
	if q.State != "" && r.State != q.State {
		return false
	}
	if q.Court != "" && !containsCourt(r.courts(), q.Court) {
		return false
	}
	if !q.OverdueAt.IsZero() && (r.Terminal || r.Deadline.IsZero() || !r.Deadline.Before(q.OverdueAt)) {
		return false
	}
	if !q.CaseNumber.IsZero() && r.CaseNumber != q.CaseNumber && r.NewCaseNumber != q.CaseNumber {
		return false
	}
	if q.Tag != "" && !slices.Contains(r.Tags, q.Tag) {
		return false
	}
	return true
}

// cursor encodes the position after key in the index at prefix.
func cursor(kind byte, prefix, key []byte) string {
	sum := sha256.Sum256(prefix)
	b := append([]byte{cursorVersion, kind}, sum[:4]...)
	b = append(b, key[len(prefix):]...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// parseCursor returns the key to seek to for c ("" for the start).
func parseCursor(c string, kind byte, prefix []byte) ([]byte, error) {
	if c == "" {
		return prefix, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	sum := sha256.Sum256(prefix)
	if err != nil || len(b) < 6 || b[0] != cursorVersion || b[1] != kind || !bytes.Equal(b[2:6], sum[:4]) {
		return nil, court.Errorf(court.ErrInvalid, "cursor %.20q does not continue this listing; start again without a cursor", c)
	}
	seek := append(bytes.Clone(prefix), b[6:]...)
	return append(seek, 0), nil // the first key after the last one returned
}

// idOfIndexKey returns the transfer ID, the last component of an index key.
func idOfIndexKey(k []byte) string {
	return string(k[bytes.LastIndexByte(k, '/')+1:])
}

// ListTransfers returns one page of the transfers q selects, from an
// index: newest offer first (by deadline, earliest first, for an overdue
// query; by ID for a case number). The work per page is bounded by Limit,
// not by the number of transfers stored.
func (db *DB) ListTransfers(ctx context.Context, q TransferQuery) (TransferPage, error) {
	limit := q.Limit
	switch {
	case limit == 0:
		limit = DefaultTransferPage
	case limit < 0 || limit > MaxTransferPage:
		return TransferPage{}, court.Errorf(court.ErrInvalid, "page size %d: want 1 to %d", limit, MaxTransferPage)
	}
	prefix, kind, stop, err := q.plan()
	if err != nil {
		return TransferPage{}, err
	}
	seek, err := parseCursor(q.Cursor, kind, prefix)
	if err != nil {
		return TransferPage{}, err
	}
	page := TransferPage{Records: []TransferRecord{}}
	budget := limit*scanPerRecord + 1000
	err = db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		var last []byte
		for it.Seek(seek); it.Valid(); it.Next() {
			k := it.Item().Key()
			if stop != nil && bytes.Compare(k, stop) >= 0 {
				return nil
			}
			if len(page.Records) == limit || budget == 0 {
				page.Next = cursor(kind, prefix, last)
				return nil
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			budget--
			last = append(last[:0], k...)
			id := idOfIndexKey(k)
			r, found, err := loadTransfer(txn, id)
			if err != nil {
				return err
			}
			if !found {
				return court.Errorf(court.ErrCorrupt, "transfer index %q names a transfer not stored: %w", k, court.ErrCorrupt)
			}
			if q.matches(&r) {
				page.Records = append(page.Records, r)
			}
		}
		return nil
	})
	if err != nil {
		return TransferPage{}, err
	}
	return page, nil
}

// TransfersByCase returns every transfer whose origin's or receiver's
// case number is n, in any state: the re-import check ("is this case in
// a transfer in flight?") reads the states of these few records.
func (db *DB) TransfersByCase(ctx context.Context, n court.CaseNumber) ([]TransferRecord, error) {
	var out []TransferRecord
	q := TransferQuery{CaseNumber: n, Limit: MaxTransferPage}
	for {
		page, err := db.ListTransfers(ctx, q)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Records...)
		if page.Next == "" {
			return out, nil
		}
		q.Cursor = page.Next
	}
}

// TransferCounts returns the number of transfers in each state, from the
// counters (no transfer is read). States with none are absent.
func (db *DB) TransferCounts() (map[string]uint64, error) {
	return db.counters([]byte(prefixXCount))
}

// CourtTransferCounts returns the number of transfers concerning court c
// (as origin, decider or receiver) in each state, from the counters.
func (db *DB) CourtTransferCounts(c court.CourtCode) (map[string]uint64, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return db.counters([]byte(prefixXCourtCnt + string(c) + "/"))
}

func (db *DB) counters(p []byte) (map[string]uint64, error) {
	out := map[string]uint64{}
	err := db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: p, PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := string(it.Item().Key()[len(p):])
			err := it.Item().Value(func(b []byte) error {
				if len(b) != 8 {
					return court.Errorf(court.ErrCorrupt, "transfer counter %s: %d bytes, want 8: %w", k, len(b), court.ErrCorrupt)
				}
				out[k] = binary.BigEndian.Uint64(b)
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// CountOverdue returns how many transfers, not terminal, have a deadline
// before at. It sums the per-day deadline counters before at, so its
// cost is the number of distinct past deadline days still pending, not
// the number of transfers stored or overdue.
func (db *DB) CountOverdue(ctx context.Context, at court.Date) (int, error) {
	return db.countDue(ctx, []byte(prefixXDueCnt), at)
}
