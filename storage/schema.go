package storage

import (
	"errors"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
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
	run  func(txn *badger.Txn) error
}

// migrations lists every migration in order: migrations[i].from == i+1.
// The schema version of a new store is len(migrations)+1.
var migrations = []migration{}

// SchemaVersion returns the schema version this build writes.
func SchemaVersion() int { return len(migrations) + 1 }

// migrate stamps a new store or upgrades an old one, one version per
// transaction.
func (db *DB) migrate() error {
	want := SchemaVersion()
	for {
		var cur schemaRecord
		err := db.bdb.View(func(txn *badger.Txn) error { return getJSON(txn, []byte(keySchema), &cur) })
		switch {
		case errors.Is(err, ErrNotFound):
			nonEmpty, err := db.hasPrefix(nil)
			if err != nil {
				return err
			}
			if nonEmpty {
				return fmt.Errorf("store has data but no schema version: %w; it was not written by courtmesh", ErrUnavailable)
			}
			return db.bdb.Update(func(txn *badger.Txn) error {
				return setJSON(txn, []byte(keySchema), schemaRecord{V: RecordVersion, Schema: want})
			})
		case err != nil:
			return fmt.Errorf("read schema version: %w", err)
		case cur.Schema == want:
			return nil
		case cur.Schema > want || cur.Schema < 1:
			return fmt.Errorf("store schema version %d, this courtmesh understands up to %d: %w; upgrade courtmesh", cur.Schema, want, ErrUnavailable)
		}
		m := migrations[cur.Schema-1]
		if m.from != cur.Schema {
			return fmt.Errorf("migration table out of order at %d", cur.Schema)
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
