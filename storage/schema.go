package storage

import (
	"errors"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
)

// schemaRecord is the value at meta/schema.
type schemaRecord struct {
	V      int `json:"v"`
	Schema int `json:"schema"`
}

// migration upgrades the store from schema version from to from+1. It
// runs inside the transaction that also records the new version, so a
// crash leaves either the old or the new schema. A migration touching more
// than a transaction can hold must be written to be re-runnable.
type migration struct {
	from int
	name string
	// prepare, if set, runs before the transaction, for work too large
	// for one; it must be re-runnable (a crash may repeat it).
	prepare func(db *DB) error
	run     func(txn *badger.Txn) error
}

// migrations lists every migration in order: migrations[i].from == i+1.
// The schema version of a new store is len(migrations)+1.
var migrations = []migration{
	{from: 1, name: "move sealed chunks from Badger to the chunk store", prepare: moveChunksOut, run: func(*badger.Txn) error { return nil }},
	// Nothing to move: the chunk store opens its packs directory itself.
	// The version marks that fetched chunks may be in packs, which an
	// older build would not see (it would take them for missing).
	{from: 2, name: "fetched chunks in pack files", run: func(*badger.Txn) error { return nil }},
	// The indexes and counters are built before the version moves; the
	// transfers' values stay as they are (version 1 is still read).
	{from: 3, name: "index transfers by state, court, deadline and case number; count them", prepare: rebuildTransferIndexes, run: func(*badger.Txn) error { return nil }},
	// Deadline counters per court, and the sums of the transfers'
	// statistics (from those their records carry; the node fills them
	// with EnsureTransferStats).
	{from: 4, name: "count deadlines per court; sum the transfers' statistics", prepare: rebuildTransferIndexes, run: func(*badger.Txn) error { return nil }},
}

// SchemaVersion returns the schema version this build writes.
func SchemaVersion() int { return len(migrations) + 1 }

// migrate stamps a new store or upgrades an old one, one version per
// transaction.
// checkSchema is migrate for a store opened read-only: it only checks
// that the store is of this release's schema.
func (db *DB) checkSchema() error {
	var cur schemaRecord
	err := db.bdb.View(func(txn *badger.Txn) error { return getJSON(txn, []byte(keySchema), &cur) })
	switch {
	case err != nil:
		return fmt.Errorf("open store read-only: schema version: %w", err)
	case cur.Schema != SchemaVersion():
		return fmt.Errorf("store schema version %d, this courtmesh writes %d: %w; a store opened read-only (on a full disk) cannot be migrated: free space and run the command again", cur.Schema, SchemaVersion(), court.ErrUnavailable)
	}
	return nil
}

func (db *DB) migrate() error {
	want := SchemaVersion()
	for {
		var cur schemaRecord
		err := db.bdb.View(func(txn *badger.Txn) error { return getJSON(txn, []byte(keySchema), &cur) })
		switch {
		case errors.Is(err, court.ErrNotFound):
			nonEmpty, err := db.hasPrefix(nil)
			if err != nil {
				return err
			}
			if nonEmpty {
				return fmt.Errorf("store has data but no schema version: %w; it was not written by courtmesh", court.ErrUnavailable)
			}
			return db.bdb.Update(func(txn *badger.Txn) error {
				return setJSON(txn, []byte(keySchema), schemaRecord{V: RecordVersion, Schema: want})
			})
		case err != nil:
			return fmt.Errorf("read schema version: %w", err)
		case cur.Schema == want:
			return nil
		case cur.Schema > want || cur.Schema < 1:
			return fmt.Errorf("store schema version %d, this courtmesh understands up to %d: %w; upgrade courtmesh", cur.Schema, want, court.ErrUnavailable)
		}
		m := migrations[cur.Schema-1]
		if m.from != cur.Schema {
			return fmt.Errorf("migration table out of order at %d", cur.Schema)
		}
		if m.prepare != nil {
			if err := m.prepare(db); err != nil {
				return fmt.Errorf("migrate store from schema %d (%s): %w", cur.Schema, m.name, err)
			}
		}
		err = db.bdb.Update(func(txn *badger.Txn) error {
			if err := m.run(txn); err != nil {
				return err
			}
			return setJSON(txn, []byte(keySchema), schemaRecord{V: RecordVersion, Schema: cur.Schema + 1})
		})
		if err != nil {
			return fmt.Errorf("migrate store from schema %d (%s): %w", cur.Schema, m.name, err)
		}
		db.log.Info("migrated store", "from", cur.Schema, "to", cur.Schema+1, "migration", m.name)
	}
}

// moveChunksOut (schema 1 to 2) copies every chunk stored in Badger under
// k/<id> (schema 1) to the chunk store, makes the copies durable, then
// deletes the Badger keys. Re-runnable: a chunk already in the chunk
// store is not written again, and the keys are deleted only after.
func moveChunksOut(db *DB) error {
	const legacyChunkPrefix = "k/"
	var ids []crypto.ChunkID
	err := db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(legacyChunkPrefix)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()
			var id crypto.ChunkID
			if len(k) != len(legacyChunkPrefix)+len(id) {
				return fmt.Errorf("%w: chunk key of length %d", court.ErrCorrupt, len(k))
			}
			copy(id[:], k[len(legacyChunkPrefix):])
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		return err
	}
	b := db.chunks.NewBatch()
	defer b.Discard()
	for _, id := range ids {
		err := db.bdb.View(func(txn *badger.Txn) error {
			item, err := txn.Get(append([]byte(legacyChunkPrefix), id[:]...))
			if err != nil {
				return err
			}
			return item.Value(func(v []byte) error {
				if !id.VerifyIn(db.suite, v) {
					return fmt.Errorf("%w: chunk %s does not match its address", court.ErrCorrupt, id)
				}
				_, err := b.Put(id, v)
				return err
			})
		})
		if err != nil {
			return err
		}
		if b.Len() >= 64 {
			if err := b.Commit(); err != nil {
				return err
			}
		}
	}
	if err := b.Commit(); err != nil {
		return err
	}
	wb := db.bdb.NewWriteBatch()
	for _, id := range ids {
		if err := wb.Delete(append([]byte(legacyChunkPrefix), id[:]...)); err != nil {
			wb.Cancel()
			return err
		}
	}
	if err := wb.Flush(); err != nil {
		return err
	}
	if len(ids) > 0 {
		db.log.Info("moved chunks out of Badger", "chunks", len(ids))
	}
	return db.syncLogs()
}
