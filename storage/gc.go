package storage

import (
	"context"
	"errors"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"

	"courtmesh.dev/courtmesh/crypto"
)

// CollectGarbage deletes chunks no stored case version references (left by
// an interrupted or failed import) and the markers of such imports, then
// lets Badger reclaim value-log space. It excludes imports while it runs.
// It returns the number of chunks deleted.
func (db *DB) CollectGarbage(ctx context.Context) (int, error) {
	db.gcMu.Lock()
	defer db.gcMu.Unlock()
	live := map[crypto.ChunkID]bool{}
	var dead [][]byte
	err := db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixVersion), PrefetchValues: true})
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				it.Close()
				return err
			}
			var v CaseVersion
			if err := it.Item().Value(func(b []byte) error { return jsonUnmarshal(b, &v) }); err != nil {
				it.Close()
				return fmt.Errorf("version %q: %w", it.Item().Key(), err)
			}
			for _, d := range append(v.Documents, v.Source) {
				for _, c := range d.Chunks {
					live[c] = true
				}
			}
		}
		it.Close()
		it = txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixChunk)})
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()
			var id crypto.ChunkID
			if len(k) != len(prefixChunk)+len(id) {
				it.Close()
				return fmt.Errorf("%w: chunk key of length %d", ErrCorrupt, len(k))
			}
			copy(id[:], k[len(prefixChunk):])
			if !live[id] {
				dead = append(dead, it.Item().KeyCopy(nil))
			}
		}
		it.Close()
		it = txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixPending)})
		for it.Rewind(); it.Valid(); it.Next() {
			dead = append(dead, it.Item().KeyCopy(nil))
		}
		it.Close()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("collect garbage: %w", err)
	}
	chunks := 0
	wb := db.bdb.NewWriteBatch()
	for _, k := range dead {
		if err := wb.Delete(k); err != nil {
			wb.Cancel()
			return 0, fmt.Errorf("collect garbage: %w", err)
		}
		if string(k[:len(prefixChunk)]) == prefixChunk {
			chunks++
		}
	}
	if err := wb.Flush(); err != nil {
		return 0, fmt.Errorf("collect garbage: %w", err)
	}
	if err := db.bdb.Sync(); err != nil {
		return 0, fmt.Errorf("collect garbage: %w", err)
	}
	for {
		err := db.bdb.RunValueLogGC(0.5)
		if errors.Is(err, badger.ErrNoRewrite) || errors.Is(err, badger.ErrRejected) {
			break
		}
		if err != nil {
			return chunks, fmt.Errorf("collect garbage: value log: %w", err)
		}
	}
	return chunks, nil
}
