package storage

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	badger "github.com/dgraph-io/badger/v4"
)

// TestSyncRotatedWALs: of a store directory's files, the memtable logs
// (NNNNN.mem) but the newest are synced, oldest first, and nothing else;
// a log gone when opened (flushed meanwhile) is no error, any other
// failure is, naming the file; one log alone costs no sync.
func TestSyncRotatedWALs(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"00003.mem", "00010.mem", "00002.mem", "000001.vlog", "MANIFEST", "old.mem", "00001.sst"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "00011.mem"), 0o700); err != nil {
		t.Fatal(err)
	}
	var synced []string
	record := func(p string) error { synced = append(synced, filepath.Base(p)); return fsyncFile(p) }
	if err := syncRotatedWALs(dir, record); err != nil {
		t.Fatal(err)
	}
	if want := []string{"00002.mem", "00003.mem"}; !slices.Equal(synced, want) {
		t.Fatalf("synced %v, want %v", synced, want)
	}

	gone := func(p string) error { return fmt.Errorf("open: %w", os.ErrNotExist) }
	if err := syncRotatedWALs(dir, gone); err != nil {
		t.Fatalf("a log flushed away meanwhile: %v", err)
	}
	failing := func(p string) error { return errors.New("input/output error") }
	if err := syncRotatedWALs(dir, failing); err == nil || !strings.Contains(err.Error(), "00002.mem") {
		t.Fatalf("a failed sync: %v, want an error naming 00002.mem", err)
	}

	alone := t.TempDir()
	if err := os.WriteFile(filepath.Join(alone, "00007.mem"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	synced = nil
	if err := syncRotatedWALs(alone, record); err != nil || len(synced) != 0 {
		t.Fatalf("one memtable: synced %v, err %v; want nothing", synced, err)
	}
}

// TestAuditSyncedAcrossRotation: on a real store, 1 MiB transactions
// fill memtables one after another (16 MiB each), each followed by an
// AuditSynced entry. When a memtable has been rotated out and is not yet
// flushed, the entry's sync also syncs its log: Badger's Sync alone
// syncs only the new memtable's. Bounded: at most 80 MiB written.
func TestAuditSyncedAcrossRotation(t *testing.T) {
	db := openAuditStore(t)
	defer db.Close()
	var mu sync.Mutex
	var rotated []string
	db.syncFile = func(p string) error {
		mu.Lock()
		rotated = append(rotated, filepath.Base(p))
		mu.Unlock()
		return fsyncFile(p)
	}
	value := make([]byte, 32<<10)
	for i := range 80 {
		err := db.bdb.Update(func(txn *badger.Txn) error {
			for j := range 32 {
				rand.Read(value)
				if err := txn.Set(fmt.Appendf(nil, "test/rotation/%03d/%02d", i, j), value); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.AuditSynced(AuditEntry{Event: "dossier.chunks", Outcome: "ok", Detail: fmt.Sprintf("after MiB %d", i+1)}); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		n := len(rotated)
		mu.Unlock()
		if n > 0 {
			break
		}
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("rotated memtable logs synced: %v", rotated)
	if len(rotated) == 0 {
		t.Fatal("no sync of a rotated memtable's log: an entry written just before a rotation would not be on disk")
	}
	all, err := db.AuditEntries(1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if at, err := VerifyAudit(all, ""); err != nil {
		t.Fatalf("chain broken at %d: %v", at, err)
	}
}
