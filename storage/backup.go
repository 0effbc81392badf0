package storage

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
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

// BackupFile writes a full backup (see Backup) to a new file at path,
// mode 0600, synced; it returns the file's size. An existing file is
// never overwritten (ErrConflict); on failure the partial file is removed.
func (db *DB) BackupFile(ctx context.Context, path string) (int64, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return 0, fmt.Errorf("backup: %w: %s already exists; choose a new file name", ErrConflict, path)
	}
	if err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	_, err = db.Backup(ctx, bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	var size int64
	if err == nil {
		var st os.FileInfo
		if st, err = f.Stat(); err == nil {
			size = st.Size()
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return 0, fmt.Errorf("backup to %s: %w", path, err)
	}
	return size, nil
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
