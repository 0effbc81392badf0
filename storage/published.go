package storage

import (
	"errors"

	"github.com/dgraph-io/badger/v4"

	"courtmesh.dev/courtmesh/court"
)

// keyPublishedHead holds the newest heartbeat this node published (the
// signed envelope exactly as sent): the audit head its peers witnessed
// last, which an evidence export shows beside the head it signs itself.
const keyPublishedHead = "meta/heartbeat/published"

// PutPublishedHead keeps raw as the newest heartbeat this node published.
func (db *DB) PutPublishedHead(raw []byte) error {
	return db.bdb.Update(func(txn *badger.Txn) error {
		return txn.Set([]byte(keyPublishedHead), raw)
	})
}

// PublishedHead returns the newest heartbeat this node published, or
// court.ErrNotFound if it never published one.
func (db *DB) PublishedHead() ([]byte, error) {
	var out []byte
	err := db.bdb.View(func(txn *badger.Txn) error {
		item, err := txn.Get([]byte(keyPublishedHead))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return court.Errorf(court.ErrNotFound, "no heartbeat published yet")
		}
		if err != nil {
			return err
		}
		out, err = item.ValueCopy(nil)
		return err
	})
	return out, err
}
