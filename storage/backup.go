package storage

import (
	"context"
	"fmt"
	"io"
	"strings"
)

// Backup writes a full backup of the store to w in Badger's backup stream
// format (DB.Backup). The stream holds the store's records decrypted from
// the at-rest encryption: document chunks and identity numbers stay sealed
// under the dossier keys, which only the court's enc.key unwraps, but case
// metadata (case numbers, anonymised names, masked numbers, assets and
// measures) is in clear. Keep backups as protected as the data directory.
// It returns the version to pass as since for an incremental backup; 0
// for the first.
func (db *DB) Backup(ctx context.Context, w io.Writer) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	since, err := db.bdb.Backup(w, 0)
	if err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	return since, nil
}

// Restore loads a backup made by Backup into this store, which must hold
// nothing but its schema version (a freshly created store); otherwise it
// fails with ErrConflict and writes nothing. The store must be opened with
// the same enc.key as the one backed up, or the dossiers will not open.
func (db *DB) Restore(ctx context.Context, r io.Reader) error {
	keys, err := db.Keys()
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "meta/") {
			return fmt.Errorf("restore: %w: the store already holds data (%d keys); restore into a new data directory", ErrConflict, len(keys))
		}
	}
	db.gcMu.Lock()
	defer db.gcMu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := db.bdb.Load(r, 16); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if err := db.bdb.Sync(); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	return db.migrate()
}
