package storage

import (
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// TestStoreCompacts: Badger runs without its own compactors (they poll
// every 50 ms, idle or not), so the store must compact: after several
// memtables' worth of writes, the tables move out of level 0 into the
// lower levels (only a compaction moves them), no level is left over its
// target, and every value reads back, also after a reopen.
func TestStoreCompacts(t *testing.T) {
	db, dir, k := testStore(t)
	if n := db.Badger().Opts().NumCompactors; n != 0 {
		t.Fatalf("Badger opened with %d compactors; the store compacts itself", n)
	}
	const n, size = 120_000, 1000 // about 8 memtables of 16 MiB
	wb := db.Badger().NewWriteBatch()
	for i := range n {
		val := make([]byte, size) // the batch keeps it until written
		binary.BigEndian.PutUint64(val, uint64(i))
		if err := wb.Set([]byte(fmt.Sprintf("test/compact/%08d", i)), val); err != nil {
			t.Fatal(err)
		}
	}
	if err := wb.Flush(); err != nil {
		t.Fatal(err)
	}
	levels := func() string { return db.Badger().LevelsToString() }
	deadline := time.Now().Add(2 * time.Minute)
	for {
		ls := db.Badger().Levels()
		below := 0
		for _, l := range ls[1:] {
			below += l.NumTables
		}
		if below > 0 && !db.needsCompaction() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not compacted 2 minutes after the writes:\n%s", levels())
		}
		time.Sleep(100 * time.Millisecond)
	}
	check := func(db *DB) {
		t.Helper()
		err := db.Badger().View(func(txn *badger.Txn) error {
			for _, i := range []int{0, 1, n / 2, n - 1} {
				it, err := txn.Get([]byte(fmt.Sprintf("test/compact/%08d", i)))
				if err != nil {
					return fmt.Errorf("key %d: %w", i, err)
				}
				if err := it.Value(func(v []byte) error {
					if len(v) != size || binary.BigEndian.Uint64(v) != uint64(i) {
						return fmt.Errorf("key %d: wrong value", i)
					}
					return nil
				}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%v\n%s", err, levels())
		}
	}
	check(db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := Open(dir, Options{Decrypter: k})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	check(db)
}
