package storage

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	badger "github.com/dgraph-io/badger/v4"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
)

func chunkOf(s string) (crypto.ChunkID, []byte) {
	b := []byte(s)
	return crypto.ChunkIDOf(b), b
}

func countKeys(t *testing.T, db *DB) (chunks, pending int) {
	t.Helper()
	ks, err := db.Keys()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range ks {
		chunks += b2i(strings.HasPrefix(k, prefixChunk))
		pending += b2i(strings.HasPrefix(k, prefixPending))
	}
	return
}

// TestChunkStores runs the ChunkStore contract against both
// implementations.
func TestChunkStores(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		open func(t *testing.T) ChunkStore
	}{
		{"files", func(t *testing.T) ChunkStore {
			c, err := OpenFileChunks(filepath.Join(t.TempDir(), "chunks"))
			if err != nil {
				t.Fatal(err)
			}
			return c
		}},
		{"memory", func(*testing.T) ChunkStore { return NewMemChunks() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := tc.open(t)
			defer cs.Close()
			a, av := chunkOf("chunk a")
			b, bv := chunkOf("chunk b")
			batch := cs.NewBatch()
			if wrote, err := batch.Put(a, av); err != nil || !wrote {
				t.Fatalf("put: %v, %v", wrote, err)
			}
			if wrote, _ := batch.Put(a, av); wrote {
				t.Fatal("second put of the same chunk in a batch wrote it again")
			}
			if ok, _ := cs.Has(a); ok {
				t.Fatal("chunk visible before commit")
			}
			if err := batch.Commit(); err != nil {
				t.Fatal(err)
			}
			if got, err := cs.Append([]byte("x"), a); err != nil || string(got) != "x"+string(av) {
				t.Fatalf("append: %q, %v", got, err)
			}
			if _, err := cs.Append(nil, b); !errors.Is(err, court.ErrNotFound) {
				t.Fatalf("absent chunk: %v, want court.ErrNotFound", err)
			}
			// Already stored: not written again.
			batch = cs.NewBatch()
			if wrote, _ := batch.Put(a, av); wrote {
				t.Fatal("put of a stored chunk wrote it again")
			}
			batch.Put(b, bv)
			batch.Discard()
			if ok, _ := cs.Has(b); ok {
				t.Fatal("discarded chunk is visible")
			}
			var ids []crypto.ChunkID
			cs.Walk(ctx, func(id crypto.ChunkID) error { ids = append(ids, id); return nil })
			if !slices.Equal(ids, []crypto.ChunkID{a}) {
				t.Fatalf("walk: %v", ids)
			}
			// Open reads a stored chunk whole, and names an absent one.
			if r, n, err := cs.Open(a); err != nil || n != int64(len(av)) {
				t.Fatalf("open: %d bytes, %v", n, err)
			} else {
				got, _ := io.ReadAll(r)
				r.Close()
				if !bytes.Equal(got, av) {
					t.Fatalf("open read %q", got)
				}
			}
			if _, _, err := cs.Open(b); !errors.Is(err, court.ErrNotFound) {
				t.Fatalf("open of an absent chunk: %v, want court.ErrNotFound", err)
			}
			// Staged chunks: invisible until their batch commits; a chunk
			// already stored is dropped; an aborted one leaves nothing.
			stage := func(v []byte) StagedChunk {
				buf := append([]byte(nil), v...)
				st, err := cs.Stage(buf)
				if err != nil {
					t.Fatal(err)
				}
				clear(buf) // the store keeps its own copy
				return st
			}
			sb, dup, gone := stage(bv), stage(av), stage(bv)
			gone.Abort()
			gone.Abort() // twice is harmless
			batch = cs.NewBatch()
			if wrote, err := batch.PutStaged(b, sb); err != nil || !wrote {
				t.Fatalf("put staged: %v, %v", wrote, err)
			}
			if wrote, err := batch.PutStaged(a, dup); err != nil || wrote {
				t.Fatalf("put staged of a stored chunk: %v, %v; want not written", wrote, err)
			}
			if ok, _ := cs.Has(b); ok {
				t.Fatal("staged chunk visible before commit")
			}
			if err := batch.Commit(); err != nil {
				t.Fatal(err)
			}
			if got, err := cs.Append(nil, b); err != nil || !bytes.Equal(got, bv) {
				t.Fatalf("staged chunk after commit: %q, %v", got, err)
			}
			sb.Abort() // after commit: does nothing
			if ok, _ := cs.Has(b); !ok {
				t.Fatal("abort after commit removed the chunk")
			}
			if err := cs.Delete(b); err != nil {
				t.Fatal(err)
			}
			if err := cs.Delete(a); err != nil {
				t.Fatal(err)
			}
			if err := cs.Delete(a); err != nil {
				t.Fatalf("delete of an absent chunk: %v", err)
			}
			if ok, _ := cs.Has(a); ok {
				t.Fatal("deleted chunk still there")
			}
			if fc, ok := cs.(*FileChunks); ok {
				if ents, _ := os.ReadDir(filepath.Join(fc.dir, "tmp")); len(ents) != 0 {
					t.Fatalf("temporary files left: %v", ents)
				}
			}
		})
	}
}

// TestCrashBetweenChunksAndCommit: an import killed after its chunks were
// committed to the chunk store (and while a batch was half written), but
// before the records that reference them, leaves no trace once the store
// is opened again.
func TestCrashBetweenChunksAndCommit(t *testing.T) {
	ctx := context.Background()
	db, dir, k := testStore(t)
	if _, err := db.PutCase(ctx, sampleCase([]byte("kept document"))); err != nil {
		t.Fatal(err)
	}
	before, _ := db.Keys()
	// What PutCase does up to its commit, then nothing: the "crash".
	if err := db.bdb.Update(func(txn *badger.Txn) error { return txn.Set([]byte(prefixPending+"crashed"), []byte("x")) }); err != nil {
		t.Fatal(err)
	}
	b := db.chunks.NewBatch()
	for _, s := range []string{"orphan 1", "orphan 2", "orphan 3"} {
		id, v := chunkOf(s)
		b.Put(id, v)
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	half := db.chunks.NewBatch()
	id, v := chunkOf("never committed")
	half.Put(id, v) // a temporary file, never renamed
	if ch, p := countKeys(t, db); ch != 5 || p != 1 {
		t.Fatalf("after the crash: %d chunks, %d markers", ch, p)
	}
	db.Close()
	db, err := Open(dir, Options{Decrypter: k})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	after, _ := db.Keys()
	if !slices.Equal(before, after) {
		t.Fatalf("keys after reopen differ from before the import:\n%v\n%v", before, after)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, StoreDir, ChunkDir, "tmp")); len(ents) != 0 {
		t.Fatalf("temporary chunk files left: %d", len(ents))
	}
	if _, err := db.VerifyCase(ctx, sampleCase(nil).Version.Number); err != nil {
		t.Fatal(err)
	}
}

// TestFetchChunksSurviveGC: the chunks of a fetch in progress are
// referenced by no case yet; a collection (here: at the open after an
// interrupted import) keeps them and their bits, and removes the rest.
func TestFetchChunksSurviveGC(t *testing.T) {
	db, dir, k := testStore(t)
	var ids []crypto.ChunkID
	var fetched []FetchedChunk
	for i, s := range []string{"fetched 0", "fetched 1", "not yet fetched"} {
		id, v := chunkOf(s)
		ids = append(ids, id)
		switch i {
		case 0: // as a fetch stores them: staged in a pack
			st, err := db.StageChunk(v)
			if err != nil {
				t.Fatal(err)
			}
			fetched = append(fetched, FetchedChunk{Index: uint32(i), ID: id, Staged: st})
		case 1:
			fetched = append(fetched, FetchedChunk{Index: uint32(i), ID: id, Sealed: v})
		}
	}
	if err := db.SaveFetchManifest("t1", []byte("manifest"), ids); err != nil {
		t.Fatal(err)
	}
	if err := db.PutFetchedChunks("t1", fetched); err != nil {
		t.Fatal(err)
	}
	// Marking a chunk the store does not hold is refused.
	if err := db.PutFetchedChunk("t1", 2, ids[2], nil); !errors.Is(err, court.ErrNotFound) {
		t.Fatalf("bit for an absent chunk: %v, want court.ErrNotFound", err)
	}
	orphan, ov := chunkOf("orphan of a crashed import")
	b := db.chunks.NewBatch()
	b.Put(orphan, ov)
	b.Commit()
	// A fetched chunk committed, its bit never set (a crash in between).
	packed, pv := chunkOf("packed, never marked")
	st, _ := db.StageChunk(pv)
	b = db.chunks.NewBatch()
	b.PutStaged(packed, st)
	b.Commit()
	db.bdb.Update(func(txn *badger.Txn) error { return txn.Set([]byte(prefixPending+"crashed"), nil) })
	db.Close()

	db, err := Open(dir, Options{Decrypter: k})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i, f := range fetched {
		if ok, _ := db.HasChunk(f.ID); !ok {
			t.Fatalf("fetched chunk %d was collected", i)
		}
	}
	if ok, _ := db.HasChunk(orphan); ok {
		t.Fatal("orphan chunk survived the collection")
	}
	if ok, _ := db.HasChunk(packed); ok {
		t.Fatal("orphan chunk in a pack survived the collection")
	}
	bits, _ := db.FetchedChunks("t1")
	if len(bits) != 2 || !bits[0] || !bits[1] {
		t.Fatalf("bits after reopen: %v", bits)
	}
	// A manifest without a chunk list (an older build) stops the
	// collection instead of deleting a fetch's chunks.
	db.bdb.Update(func(txn *badger.Txn) error { return txn.Delete([]byte(prefixFetchChunks + "t1")) })
	if n, err := db.CollectGarbage(context.Background()); err != nil || n != 0 {
		t.Fatalf("collection with an unlisted manifest: %d, %v", n, err)
	}
	if ok, _ := db.HasChunk(fetched[0].ID); !ok {
		t.Fatal("chunk of an unlisted fetch was collected")
	}
}

// TestBackupRestoreChunks: a backup carries the chunk store; the restored
// store verifies, and a damaged or truncated backup is refused.
func TestBackupRestoreChunks(t *testing.T) {
	ctx := context.Background()
	db, _, k := testStore(t)
	doc := bytes.Repeat([]byte("page "), crypto.MinChunkSize)
	in := sampleCase(doc)
	if _, err := db.PutCase(ctx, in); err != nil {
		t.Fatal(err)
	}
	// A fetch in progress: its chunks are in the backup too.
	fid, fv := chunkOf("fetched chunk")
	db.SaveFetchManifest("t1", []byte("manifest"), []crypto.ChunkID{fid})
	st, err := db.StageChunk(fv) // in a pack, as a fetch stores it
	if err != nil {
		t.Fatal(err)
	}
	if err := db.PutFetchedChunks("t1", []FetchedChunk{{Index: 0, ID: fid, Staged: st}}); err != nil {
		t.Fatal(err)
	}
	want, _ := db.Keys()
	var buf bytes.Buffer
	if _, err := db.Backup(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	db.Close()
	backup := buf.Bytes()

	restore := func(t *testing.T, b []byte) (*DB, error) {
		t.Helper()
		db, err := Open(t.TempDir(), Options{Decrypter: k})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db, db.Restore(ctx, bytes.NewReader(b))
	}
	t.Run("round trip", func(t *testing.T) {
		db, err := restore(t, backup)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := db.Keys()
		if !slices.Equal(got, want) {
			t.Fatalf("restored keys differ:\n%v\n%v", got, want)
		}
		var out bytes.Buffer
		if err := db.ReadDocument(ctx, in.Version.Number, "d1", &out); err != nil || !bytes.Equal(out.Bytes(), doc) {
			t.Fatalf("read back: %v", err)
		}
		if _, err := db.VerifyCase(ctx, in.Version.Number); err != nil {
			t.Fatal(err)
		}
		// Not into a store that holds data.
		if err := db.Restore(ctx, bytes.NewReader(backup)); !errors.Is(err, court.ErrConflict) {
			t.Fatalf("restore into a full store: %v, want court.ErrConflict", err)
		}
	})
	t.Run("damaged", func(t *testing.T) {
		// The backup is sealed: the chunk's bytes are not to be found in
		// it, so a byte in the middle is damaged.
		b := bytes.Clone(backup)
		b[len(b)/2] ^= 1
		if _, err := restore(t, b); !errors.Is(err, court.ErrCorrupt) {
			t.Fatalf("restore of a damaged backup: %v, want court.ErrCorrupt", err)
		}
	})
	t.Run("truncated", func(t *testing.T) {
		if _, err := restore(t, backup[:len(backup)-10]); !errors.Is(err, court.ErrCorrupt) {
			t.Fatalf("restore of a truncated backup: %v, want court.ErrCorrupt", err)
		}
	})
	t.Run("chunk missing", func(t *testing.T) {
		// A container whose records refer to a chunk it lacks.
		db, _, _ := testStore(t)
		defer db.Close()
		if _, err := db.PutCase(ctx, in); err != nil {
			t.Fatal(err)
		}
		_, v, _ := db.Case(in.Version.Number)
		db.chunks.Delete(v.Documents[0].Chunks[0])
		var buf bytes.Buffer
		if _, err := db.Backup(ctx, &buf); err != nil {
			t.Fatal(err)
		}
		if _, err := restore(t, buf.Bytes()); !errors.Is(err, court.ErrCorrupt) {
			t.Fatalf("restore of an incomplete backup: %v, want court.ErrCorrupt", err)
		}
	})
}

// TestSchema1ChunksMovedOut: a store of schema 1 (chunks inside Badger
// under k/<id>) is migrated at open: the chunks move to the chunk store.
func TestSchema1ChunksMovedOut(t *testing.T) {
	ctx := context.Background()
	db, dir, k := testStore(t)
	in := sampleCase(bytes.Repeat([]byte("old "), crypto.MinChunkSize))
	if _, err := db.PutCase(ctx, in); err != nil {
		t.Fatal(err)
	}
	// Turn it into a schema-1 store.
	var ids []crypto.ChunkID
	db.chunks.Walk(ctx, func(id crypto.ChunkID) error { ids = append(ids, id); return nil })
	err := db.bdb.Update(func(txn *badger.Txn) error {
		for _, id := range ids {
			v, err := db.SealedChunk(id)
			if err != nil {
				return err
			}
			if err := txn.Set(append([]byte("k/"), id[:]...), v); err != nil {
				return err
			}
		}
		return setJSON(txn, []byte(keySchema), schemaRecord{V: RecordVersion, Schema: 1})
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		db.chunks.Delete(id)
	}
	db.Close()
	db, err = Open(dir, Options{Decrypter: k})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.VerifyCase(ctx, in.Version.Number); err != nil {
		t.Fatal(err)
	}
	if left, _ := db.hasPrefix([]byte("k/")); left {
		t.Fatal("chunks left in Badger after the migration")
	}
}

// FuzzDecodeBackup: the container decoder never panics and accepts only
// what it can check.
func FuzzDecodeBackup(f *testing.F) {
	id, v := chunkOf("a chunk")
	var good bytes.Buffer
	good.WriteByte('C')
	good.Write(id[:])
	good.WriteByte(byte(len(v)))
	good.Write(v)
	f.Add(good.Bytes())
	f.Add([]byte("E\x00\x00"))
	f.Add([]byte("M\x03abc"))
	f.Fuzz(func(t *testing.T, b []byte) {
		decodeBackup(bufio.NewReader(bytes.NewReader(b)),
			func(id crypto.ChunkID, sealed []byte) error {
				if crypto.ChunkIDOf(sealed) != id {
					t.Fatal("chunk passed that does not match its ID")
				}
				return nil
			},
			func([]byte) error { return nil })
	})
}
