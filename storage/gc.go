package storage

import (
	"context"
	"errors"
	"fmt"
	"slices"

	badger "github.com/dgraph-io/badger/v4"

	"courtmesh.dev/courtmesh/crypto"
)

// CollectGarbage deletes the chunks nothing refers to (left by an
// interrupted or failed import) and the markers of such imports, then lets
// Badger reclaim value-log space. A chunk is live when a stored case
// version refers to it or when it is listed by the manifest of a fetch in
// progress (fc/<transfer>): the chunks of a fetch are stored before any
// case refers to them, and a decider's copy is referred to by nothing
// else. A filed dossier keeps its manifest (fm/<transfer>, to serve the
// other courts) but not its chunk list: its chunks are live through the
// case filed from it (CaseRecord.Transfer), whose versions refer to
// them. It excludes imports while it runs. It returns the number of
// chunks deleted.
func (db *DB) CollectGarbage(ctx context.Context) (int, error) {
	db.gcMu.Lock()
	defer db.gcMu.Unlock()
	live, unlisted, err := db.liveChunks(ctx)
	if err != nil {
		return 0, fmt.Errorf("collect garbage: %w", err)
	}
	if len(unlisted) > 0 {
		// Markers are kept, so that the next Open tries again.
		db.log.Warn("garbage collection skipped: fetch manifests with neither a chunk list nor a case filed from them (written by an older build); running `courtmesh dossier fetch` for those transfers again records it",
			"manifests", len(unlisted), "transfers", unlisted)
		return 0, nil
	}
	var dead []crypto.ChunkID
	err = db.chunks.Walk(ctx, func(id crypto.ChunkID) error {
		if !live[id] {
			dead = append(dead, id)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("collect garbage: %w", err)
	}
	// Chunks first, then the markers: a crash in between leaves a marker,
	// and the next Open collects again.
	for _, id := range dead {
		if err := db.chunks.Delete(id); err != nil {
			return 0, fmt.Errorf("collect garbage: chunk %s: %w", id, err)
		}
	}
	var markers [][]byte
	err = db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixPending)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			markers = append(markers, it.Item().KeyCopy(nil))
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("collect garbage: %w", err)
	}
	if len(markers) > 0 {
		wb := db.bdb.NewWriteBatch()
		for _, k := range markers {
			if err := wb.Delete(k); err != nil {
				wb.Cancel()
				return 0, fmt.Errorf("collect garbage: %w", err)
			}
		}
		if err := wb.Flush(); err != nil {
			return 0, fmt.Errorf("collect garbage: %w", err)
		}
		if err := db.syncLogs(); err != nil {
			return 0, fmt.Errorf("collect garbage: %w", err)
		}
	}
	for {
		err := db.bdb.RunValueLogGC(0.5)
		if errors.Is(err, badger.ErrNoRewrite) || errors.Is(err, badger.ErrRejected) {
			break
		}
		if err != nil {
			return len(dead), fmt.Errorf("collect garbage: value log: %w", err)
		}
	}
	return len(dead), nil
}

// liveChunks returns the chunks referred to by a case version or by the
// chunk list of a fetch in progress, and the transfers whose fetch
// manifest has neither a chunk list nor a case filed from it (an older
// build's fetch in progress): their chunks cannot be told apart from
// garbage.
func (db *DB) liveChunks(ctx context.Context) (map[crypto.ChunkID]bool, []string, error) {
	live := map[crypto.ChunkID]bool{}
	var unlisted []string
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
		// Every fetch manifest has its chunk list (SaveFetchManifest
		// writes both in one transaction) until the dossier is filed as
		// a case (FileReceived removes the list and names the transfer
		// in the case record, whose versions, read above, refer to the
		// chunks). A manifest with neither (written by an older build)
		// stops the collection rather than risk deleting a fetch's
		// verified chunks.
		manifests := map[string]bool{}
		it = txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixFetchManifest)})
		for it.Rewind(); it.Valid(); it.Next() {
			manifests[string(it.Item().Key()[len(prefixFetchManifest):])] = true
		}
		it.Close()
		if len(manifests) > 0 {
			it = txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixCase), PrefetchValues: true})
			for it.Rewind(); it.Valid(); it.Next() {
				var head CaseRecord
				if err := it.Item().Value(func(b []byte) error { return jsonUnmarshal(b, &head) }); err != nil {
					it.Close()
					return fmt.Errorf("case %q: %w", it.Item().Key(), err)
				}
				if head.Transfer != "" {
					delete(manifests, head.Transfer)
				}
			}
			it.Close()
		}
		it = txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixFetchChunks), PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			transfer := string(it.Item().Key()[len(prefixFetchChunks):])
			delete(manifests, transfer)
			err := it.Item().Value(func(b []byte) error {
				ids, err := decodeChunkList(b)
				for _, id := range ids {
					live[id] = true
				}
				return err
			})
			if err != nil {
				return fmt.Errorf("chunk list of fetch %s: %w", transfer, err)
			}
		}
		for t := range manifests {
			unlisted = append(unlisted, t)
		}
		slices.Sort(unlisted)
		return nil
	})
	return live, unlisted, err
}
