package storage

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/skl"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
)

// File names inside a node's data directory.
const (
	StoreDir     = "store"     // the Badger directory, and the chunk store in store/chunks
	StoreKeyFile = "store.key" // the Badger encryption-at-rest key
)

// Options configures Open. The zero value of every field is usable except
// Decrypter, which reads and writes of dossiers need.
type Options struct {
	// Decrypter is the court's own encryption key: it unwraps dossier
	// data keys. Nil opens the store for metadata only (listing, expiry
	// watch, backup); sealing or reading documents then fails.
	Decrypter crypto.Decrypter
	// Logger receives Badger's warnings and the store's own events. Nil
	// discards them. Nothing logged carries keys or personal data.
	Logger *slog.Logger
	// ChunkSize is the plaintext chunk size for new documents; zero means
	// crypto.DefaultChunkSize (1 MiB). It must be 256 KiB..1 MiB.
	ChunkSize int
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// SyncWrites makes Badger fsync every write. False (the default)
	// still syncs twice per import (after the chunks, after the commit),
	// which is what crash consistency needs.
	SyncWrites bool
	// Suite is the algorithm suite new documents are sealed and
	// addressed in: the mesh's (its national root's). Zero means
	// crypto.SuiteV1. A stored document keeps the suite it was sealed in.
	Suite crypto.Suite
	// Chunks is where sealed chunks are kept; nil means files under
	// store/chunks (FileChunks). Tests may pass NewMemChunks(). DB closes
	// it.
	Chunks ChunkStore
	// Reserve is the free space an import or a fetch never writes into
	// on the store's filesystem (see ErrDiskFull); zero means
	// DefaultReserve, a negative value none.
	Reserve int64
	// ReadOnly opens the store for reading only, as the command line does
	// when the disk is full: Badger writes nothing (no memtable, no
	// migration, no garbage collection) and every write is refused with
	// ErrReadOnly. The store.key must exist.
	ReadOnly bool
}

// Suite is the algorithm suite the store seals new documents in.
func (db *DB) Suite() crypto.Suite { return db.suite }

// DB is a court's store. It is safe for concurrent use.
type DB struct {
	bdb       *badger.DB
	chunks    ChunkStore
	dec       crypto.Decrypter
	suite     crypto.Suite
	log       *slog.Logger
	chunkSize int
	now       func() time.Time
	// gcMu orders garbage collection of unreferenced chunks against
	// imports, which write chunks before the commit that references them:
	// imports hold it shared, collection exclusively.
	gcMu sync.RWMutex
	// auditMu serialises audit appends (their head is read and written in
	// one transaction; the lock avoids retrying on Badger conflicts);
	// auditFault is the test fault (SetAuditFault).
	auditMu    sync.Mutex
	auditFault func(AuditEntry) error
	// auditQ commits the entries of concurrent AuditSynced calls together.
	auditQ auditQueue
	// closeMu orders syncLogs against Close: Badger's Sync on a closed
	// store dereferences its memtable, which Close has dropped.
	closeMu sync.RWMutex
	closed  bool
	// syncFile fsyncs one file (fsyncFile; tests record the calls).
	syncFile func(path string) error
	// space keeps the bulk writers out of the disk's reserve; readOnly
	// is Options.ReadOnly.
	space    *spaceGuard
	readOnly bool
}

// BadgerOptions returns the Badger options the store uses for a directory
// and encryption key. The benchmark's raw baseline uses the same.
//
// They are sized for a court's node, which holds thousands of cases and
// their records, not a database of millions of rows, and runs beside
// other services: Badger's defaults (a 64 MiB memtable allocated whole,
// up to five of them, a 256 MiB block cache, four compactors each
// waking every 50 ms) cost an idle node tens of MB of memory and a
// steady CPU trickle for nothing (issue 22). None of this touches
// durability: writes still go to the memtable's write-ahead log and
// are synced as before; encryption at rest is unchanged.
func BadgerOptions(dir string, key []byte, log *slog.Logger, syncWrites bool) badger.Options {
	return badger.DefaultOptions(dir).
		WithEncryptionKey(key).
		// Badger requires an index cache when encryption is on; the
		// indexes and Bloom filters of a court's tables are a few MB.
		WithIndexCacheSize(16 << 20).
		// Decrypted blocks; a court's hot set (its open cases, the
		// transfer indexes) fits many times over.
		WithBlockCacheSize(32 << 20).
		// The memtable's arena is allocated whole when the memtable is
		// made (with its batch reserve: about 1.3x this), and it counts
		// as live heap, so the garbage collector lets that much more
		// garbage pile up before it runs. 16 MiB bounds one transaction
		// at 15% of it, 2.4 MiB and about 26,000 entries, which holds
		// the largest case import (case.json is at most 1 MiB, see
		// TestLargestCaseFitsOneTransaction).
		WithMemTableSize(16 << 20).
		// At most three full memtables queued for their flush before a
		// write waits (Badger's default is five).
		WithNumMemtables(3).
		// Badger's least (it refuses one); each compactor polls on a
		// 50 ms ticker even when there is nothing to compact.
		WithNumCompactors(2).
		// 16 KiB blocks instead of 4 KiB. A table's index holds the first
		// key of each of its blocks; with encryption Badger decrypts every
		// table's index whole at open (twice) and on an index cache miss,
		// so at 4 KiB the indexes of a national node's 300,000 transfers
		// (31 MB for 635 MB of tables) did not fit the index cache above
		// and made the store's open cost 90-150 ms of CPU. At 16 KiB:
		// 11 MB of index for 499 MB of tables (Snappy compresses larger
		// blocks better), open 47-63 ms (docs/scale.md). A read that
		// misses the block cache decrypts 16 KiB instead of 4. Tables
		// written before keep their blocks until a compaction rewrites
		// them; the format is the same.
		WithBlockSize(16 << 10).
		// Chunks (>= 256 KiB) go to the value log, keeping the LSM tree
		// small and transactions far under the size limit.
		WithValueThreshold(64 << 10).
		WithNumVersionsToKeep(1).
		WithSyncWrites(syncWrites).
		WithLogger(badgerLogger{log})
}

// MemtableArenaBytes is the Go heap that the store's memtable holds from
// the moment it is made, written or not: Badger allocates the skiplist's
// arena whole (Badger's arenaSize: the memtable, the 15% batch reserve,
// and a node header for each entry the reserve can hold). The pages are
// resident only as writes fill them, but the garbage collector counts all
// of it as live heap. A node therefore paces its collector on the live
// heap less this (cmd/courtmesh, gcPacer).
func MemtableArenaBytes() int64 {
	o := BadgerOptions("", nil, nil, false)
	reserve := 15 * o.MemTableSize / 100
	return o.MemTableSize + reserve + reserve/int64(skl.MaxNodeSize)*int64(skl.MaxNodeSize)
}

// Open opens (creating if needed) the store of the data directory dir:
// dir/store, encrypted with the key in dir/store.key (created with mode
// 0600 on first use). It runs pending schema migrations and, if a previous
// import was interrupted, removes the chunks it left behind.
func Open(dir string, o Options) (*DB, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ChunkSize == 0 {
		o.ChunkSize = crypto.DefaultChunkSize
	}
	if err := crypto.CheckChunkSize(o.ChunkSize); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	storeDir := filepath.Join(dir, StoreDir)
	if o.ReadOnly {
		if _, err := os.Stat(filepath.Join(dir, StoreKeyFile)); err != nil {
			return nil, fmt.Errorf("open store %s read-only: %w: %v", storeDir, court.ErrUnavailable, err)
		}
	}
	key, err := loadOrCreateStoreKey(dir, storeDir)
	if err != nil {
		return nil, err
	}
	if busy, err := storeInUse(storeDir); err != nil {
		return nil, fmt.Errorf("open store %s: %w: %v", storeDir, court.ErrUnavailable, err)
	} else if busy {
		return nil, fmt.Errorf("open store %s: %w", storeDir, ErrInUse)
	}
	if !o.ReadOnly {
		if err := removeEmptyMemtables(storeDir, o.Logger); err != nil {
			return nil, fmt.Errorf("open store %s: %w: %v", storeDir, court.ErrUnavailable, err)
		}
	}
	bdb, err := badger.Open(BadgerOptions(storeDir, key, o.Logger, o.SyncWrites).WithReadOnly(o.ReadOnly))
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w: %v", storeDir, court.ErrUnavailable, err)
	}
	chunks := o.Chunks
	if chunks == nil {
		open := OpenFileChunks
		if o.ReadOnly {
			open = openFileChunksReadOnly
		}
		if chunks, err = open(filepath.Join(storeDir, ChunkDir)); err != nil {
			bdb.Close()
			return nil, fmt.Errorf("open store: %w", err)
		}
	}
	// A store that removes a crash's leftovers only once it is known to
	// be this process's (S3Chunks: its tmp/ objects), now that Badger's
	// lock is held.
	if rs, ok := chunks.(interface{ RemoveStaged() error }); ok && !o.ReadOnly {
		if err := rs.RemoveStaged(); err != nil {
			chunks.Close()
			bdb.Close()
			return nil, fmt.Errorf("open store: %w", err)
		}
	}
	if fc, ok := chunks.(*FileChunks); ok && fc.CutEntries() > 0 {
		o.Logger.Warn("pack index entries named bytes past the end of their pack (the filesystem lost a pack's tail); they were cut: a fetch that marked those chunks verified fetches them again, a filed case missing them fails `courtmesh dossier verify`",
			"entries", fc.CutEntries())
	}
	suite := o.Suite
	if suite == 0 {
		suite = crypto.SuiteV1
	}
	if err := suite.Check(); err != nil {
		bdb.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	switch {
	case o.Reserve == 0:
		o.Reserve = DefaultReserve
	case o.Reserve < 0:
		o.Reserve = 0
	}
	db := &DB{bdb: bdb, chunks: chunks, dec: o.Decrypter, log: o.Logger, chunkSize: o.ChunkSize, now: o.Now, suite: suite,
		space: &spaceGuard{dir: storeDir, reserve: o.Reserve, now: o.Now, remote: isRemote(chunks)}, readOnly: o.ReadOnly, syncFile: fsyncFile}
	if o.ReadOnly {
		if err := db.checkSchema(); err != nil {
			db.Close()
			return nil, err
		}
		return db, nil
	}
	if err := db.migrate(); err != nil {
		db.Close()
		return nil, err
	}
	pending, err := db.hasPrefix([]byte(prefixPending))
	if err != nil {
		db.Close()
		return nil, err
	}
	if pending {
		n, err := db.CollectGarbage(context.Background())
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("open store: clean up interrupted import: %w", err)
		}
		db.log.Info("removed chunks of an interrupted import", "chunks", n)
	}
	return db, nil
}

// Close closes the store.
func (db *DB) Close() error {
	db.closeMu.Lock()
	db.closed = true
	db.closeMu.Unlock()
	cerr := db.chunks.Close()
	if err := db.bdb.Close(); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	if cerr != nil {
		return fmt.Errorf("close chunk store: %w", cerr)
	}
	return nil
}

// syncLogs syncs the store's logs to disk (Badger's Sync, then the logs
// of memtables rotated out and not yet flushed: syncRotatedWALs), or
// says that the store is closed.
func (db *DB) syncLogs() error {
	db.closeMu.RLock()
	defer db.closeMu.RUnlock()
	if db.closed {
		return court.Errorf(court.ErrUnavailable, "store closed")
	}
	if err := db.bdb.Sync(); err != nil || db.readOnly {
		return err
	}
	return syncRotatedWALs(db.bdb.Opts().Dir, db.syncFile)
}

// Chunks returns the chunk store, for tests and tools. Writers must go
// through DB's methods.
func (db *DB) Chunks() ChunkStore { return db.chunks }

// Badger returns the underlying Badger database, for tests and tools that
// inspect raw keys. Writers must go through DB's methods.
func (db *DB) Badger() *badger.DB { return db.bdb }

// storeKeyFile is the versioned on-disk form of the store key.
type storeKeyFile struct {
	Version int    `json:"version"`
	Type    string `json:"type"`
	Key     string `json:"key"`
}

const storeKeyType = "badger-aes-256"

// loadOrCreateStoreKey reads dir/store.key, creating it when neither it
// nor the store exists yet.
func loadOrCreateStoreKey(dir, storeDir string) ([]byte, error) {
	path := filepath.Join(dir, StoreKeyFile)
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if ents, _ := os.ReadDir(storeDir); len(ents) > 0 {
			return nil, fmt.Errorf("store %s exists but its key %s is missing: %w; restore the key from the backup of the data directory", storeDir, path, court.ErrUnavailable)
		}
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		b, _ := json.Marshal(storeKeyFile{Version: 1, Type: storeKeyType, Key: base64.StdEncoding.EncodeToString(key)})
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("data directory: %w", err)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("create store key: %w", err)
		}
		_, err = f.Write(append(b, '\n'))
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("create store key: %w", err)
		}
		return key, nil
	case err != nil:
		return nil, fmt.Errorf("store key: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("store key %s has mode %v: %w; run chmod 600 %s", path, st.Mode().Perm(), crypto.ErrKeyPermissions, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("store key: %w", err)
	}
	var kf storeKeyFile
	if err := json.Unmarshal(b, &kf); err != nil || kf.Version != 1 || kf.Type != storeKeyType {
		return nil, fmt.Errorf("store key %s: %w: want version 1 of type %s", path, crypto.ErrMalformed, storeKeyType)
	}
	key, err := base64.StdEncoding.DecodeString(kf.Key)
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("store key %s: %w: want 32 bytes", path, crypto.ErrMalformed)
	}
	return key, nil
}

// badgerLogger routes Badger's log lines to slog: errors and warnings as
// warnings, the rest as debug.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) log(level slog.Level, format string, args ...any) {
	// Badger logs a debug line for every batch it writes: format it only
	// if the handler keeps it.
	if b.l == nil || !b.l.Enabled(context.Background(), level) {
		return
	}
	b.l.Log(context.Background(), level, strings.TrimSpace(fmt.Sprintf(format, args...)), "component", "badger")
}
func (b badgerLogger) Errorf(f string, a ...any)   { b.log(slog.LevelWarn, f, a...) }
func (b badgerLogger) Warningf(f string, a ...any) { b.log(slog.LevelWarn, f, a...) }
func (b badgerLogger) Infof(f string, a ...any)    { b.log(slog.LevelDebug, f, a...) }
func (b badgerLogger) Debugf(f string, a ...any)   { b.log(slog.LevelDebug, f, a...) }

// hasPrefix reports whether any key starts with p.
func (db *DB) hasPrefix(p []byte) (bool, error) {
	found := false
	err := db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: p})
		defer it.Close()
		it.Rewind()
		found = it.Valid()
		return nil
	})
	return found, err
}

// getJSON reads and decodes the record at key; ErrNotFound if absent.
func getJSON(txn *badger.Txn, key []byte, v any) error {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return court.ErrNotFound
	}
	if err != nil {
		return err
	}
	return item.Value(func(b []byte) error {
		if err := json.Unmarshal(b, v); err != nil {
			return fmt.Errorf("record %q: %w: %v", key, court.ErrCorrupt, err)
		}
		return nil
	})
}

func jsonUnmarshal(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: record does not decode: %v", court.ErrCorrupt, err)
	}
	return nil
}

func setJSON(txn *badger.Txn, key []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return txn.Set(key, b)
}

// removeEmptyMemtables deletes the memtable files (NNNNN.mem) of length
// zero in Badger's directory. Badger creates a memtable's write-ahead log
// and only then sizes it; a process killed between the two leaves an
// empty file, which Badger then refuses to open ("while opening
// memtables ... Create a new file"), so that the node could not start
// again. An empty file holds no entry: nothing is lost by deleting it.
func removeEmptyMemtables(dir string, log *slog.Logger) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.IsDir() || filepath.Ext(e.Name()) != ".mem" {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		if info.Size() != 0 {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
		if log != nil {
			log.Warn("removed an empty memtable file left by a crash", "file", e.Name())
		}
	}
	return nil
}

// isRemote reports whether a chunk store keeps its chunks off the store's
// disk (it has a Remote method that says so).
func isRemote(c ChunkStore) bool {
	r, ok := c.(interface{ Remote() bool })
	return ok && r.Remote()
}
