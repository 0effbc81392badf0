package storage

import (
	"bytes"
	"context"
	"encoding/base64"
	"slices"

	badger "github.com/dgraph-io/badger/v4"

	"courtmesh.dev/courtmesh/court"
)

// CourtsQuery selects the transfers concerning any of a set of courts
// (the courts under a superior: its jurisdiction), newest offer first.
type CourtsQuery struct {
	Courts []court.CourtCode // at least one
	State  string            // only this state ("" all)
	Cursor string            // from CourtsPage.Next; "" for the first page
	Limit  int               // 0 means DefaultTransferPage, at most MaxTransferPage
}

// ListCourtsTransfers returns one page of the transfers concerning any of
// q.Courts, each once, newest offer first. It merges the per-court
// indexes (by court, or by court and state): a page reads at most Limit
// index keys of each court after the cursor, so its cost is bounded by
// the number of courts times Limit, never by history. The cursor is the
// position (offer order and ID) of the last record returned.
func (db *DB) ListCourtsTransfers(ctx context.Context, q CourtsQuery) (TransferPage, error) {
	limit := q.Limit
	switch {
	case limit == 0:
		limit = DefaultTransferPage
	case limit < 0 || limit > MaxTransferPage:
		return TransferPage{}, court.Errorf(court.ErrInvalid, "page size %d: want 1 to %d", limit, MaxTransferPage)
	}
	if len(q.Courts) == 0 {
		return TransferPage{}, court.Errorf(court.ErrInvalid, "a jurisdiction of no court")
	}
	if q.State != "" {
		if err := checkKeyPart("state", q.State); err != nil {
			return TransferPage{}, err
		}
	}
	var after []byte
	if q.Cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(q.Cursor)
		if err != nil || len(b) < 2 || b[0] != cursorVersion || b[1] != 'j' {
			return TransferPage{}, court.Errorf(court.ErrInvalid, "cursor %.20q does not continue this listing; start again without a cursor", q.Cursor)
		}
		after = b[2:]
	}
	// The positions (order/id) of up to limit entries of each court.
	var pos [][]byte
	seen := map[string]bool{}
	page := TransferPage{Records: []TransferRecord{}}
	err := db.bdb.View(func(txn *badger.Txn) error {
		for _, c := range q.Courts {
			if err := c.Validate(); err != nil {
				return err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			prefix := []byte(prefixXCourt + string(c) + "/")
			if q.State != "" {
				prefix = []byte(prefixXCourtSt + string(c) + "/" + q.State + "/")
			}
			it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
			seek := append(bytes.Clone(prefix), after...)
			if after != nil {
				seek = append(seek, 0)
			}
			n := 0
			for it.Seek(seek); it.Valid() && n <= limit; it.Next() { // one more than a page: is there a next?
				p := bytes.Clone(it.Item().Key()[len(prefix):])
				if !seen[string(p)] {
					seen[string(p)] = true
					pos = append(pos, p)
				}
				n++
			}
			it.Close()
		}
		slices.SortFunc(pos, bytes.Compare)
		if len(pos) > limit {
			pos = pos[:limit]
			page.Next = base64.RawURLEncoding.EncodeToString(append([]byte{cursorVersion, 'j'}, pos[limit-1]...))
		}
		for _, p := range pos {
			id := idOfIndexKey(p)
			r, found, err := loadTransfer(txn, id)
			if err != nil {
				return err
			}
			if !found {
				return court.Errorf(court.ErrCorrupt, "transfer index names %s, which is not stored", id)
			}
			page.Records = append(page.Records, r)
		}
		return nil
	})
	if err != nil {
		return TransferPage{}, err
	}
	return page, nil
}
