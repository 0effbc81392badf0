package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// syncRotatedWALs fsyncs the write-ahead logs of the memtables that
// Badger has rotated out but not yet flushed: every "NNNNN.mem" file of
// the store's directory but the newest, the active memtable's, which
// Badger's Sync has just synced.
//
// Badger's Sync syncs only the active memtable's log. An entry written
// into a memtable that filled up and was replaced before the Sync (every
// 16 MiB of writes) sits in a log that nothing syncs until the memtable
// is flushed to a table, some hundreds of milliseconds later: a power cut
// then loses it though AuditSynced said it was on disk. A file gone when
// it is opened was flushed (its table is synced before its log is
// removed); the newest may be newer than the Sync, when a rotation came
// after it, and then the Sync covered every entry that came before.
//
// Normally there is one memtable and this costs a directory read.
func syncRotatedWALs(dir string, syncFile func(path string) error) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("sync rotated memtable logs: %w", err)
	}
	type wal struct {
		id   int64
		name string
	}
	var wals []wal
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ".mem")
		if !ok || e.IsDir() {
			continue
		}
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			continue // not one of Badger's
		}
		wals = append(wals, wal{n, e.Name()})
	}
	if len(wals) < 2 {
		return nil
	}
	slices.SortFunc(wals, func(a, b wal) int { return int(a.id - b.id) })
	for _, w := range wals[:len(wals)-1] {
		if err := syncFile(filepath.Join(dir, w.name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("sync rotated memtable log %s: %w", w.name, err)
		}
	}
	return nil
}

// fsyncFile opens path and fsyncs it: its pages written through Badger's
// memory map included.
func fsyncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
