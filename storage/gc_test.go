package storage

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
)

// smallFS mounts a tmpfs of size bytes on dir when the test runs as root
// (as CI does) and unmounts it at cleanup, after everything registered
// later (the store's Close). It reports whether it mounted one.
func smallFS(t *testing.T, dir string, size int64) bool {
	t.Helper()
	if os.Geteuid() != 0 {
		return false
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+strconv.FormatInt(size, 10), "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount a %d-byte tmpfs on %s: %v: %s", size, dir, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return true
}

// chunkSpace returns the number of chunks in db's chunk store and the
// bytes of the files under dir.
func chunkSpace(t *testing.T, db *DB, dir string) (chunks int, size int64) {
	t.Helper()
	if err := db.chunks.Walk(context.Background(), func(crypto.ChunkID) error { chunks++; return nil }); err != nil {
		t.Fatal(err)
	}
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err == nil {
			size += fi.Size()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return chunks, size
}

func freeBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * st.Bsize
}

// failAfter is a document source that breaks after n bytes, the way a
// read from a failing disk or an unmounted share does.
type failAfter struct {
	r io.Reader
	n int64
}

func (f *failAfter) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("read case export: input/output error")
	}
	if int64(len(p)) > f.n {
		p = p[:f.n]
	}
	n, err := f.r.Read(p)
	f.n -= int64(n)
	return n, err
}

// TestGCAfterReceivedDossier: a node that filed a received dossier keeps
// its manifest (to serve the other courts) but no chunk list; the filed
// case keeps the dossier's chunks live, so that the orphans of an import
// that failed on a full disk are still removed at the next start and
// their space comes back.
func TestGCAfterReceivedDossier(t *testing.T) {
	ctx := context.Background()

	// The origin holds the case it hands over.
	origin, _, _ := testStore(t)
	defer origin.Close()
	sent := sampleCase(bytes.Repeat([]byte("page "), crypto.MinChunkSize)) // 5 chunks of 256 KiB
	if _, err := origin.PutCase(ctx, sent); err != nil {
		t.Fatal(err)
	}
	n := sent.Version.Number
	_, v, err := origin.Case(n)
	if err != nil {
		t.Fatal(err)
	}
	key, err := origin.DataKey(n)
	if err != nil {
		t.Fatal(err)
	}

	// The receiver: Badger on the test's disk, the chunk store on a
	// small filesystem of its own.
	dir := t.TempDir()
	k, err := crypto.GenerateEncKey()
	if err != nil {
		t.Fatal(err)
	}
	db, err := Open(dir, Options{Decrypter: k, ChunkSize: crypto.MinChunkSize})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	chunkDir := filepath.Join(dir, StoreDir, ChunkDir)
	// Larger than one group commit of an import (chunkBatchBytes), so
	// that the failed import leaves a committed group behind.
	const fsSize = chunkBatchBytes + 4<<20
	diskFull := smallFS(t, chunkDir, fsSize)
	if !diskFull {
		t.Log("not root: no tmpfs can be mounted; the import fails by a document source that breaks halfway instead of by a full disk")
	}
	open := func() *DB {
		t.Helper()
		db, err := Open(dir, Options{Decrypter: k, ChunkSize: crypto.MinChunkSize})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	db = open()

	// Fetch and file the dossier, as node/fetch does.
	const transfer = "t-gc"
	var ids []crypto.ChunkID
	for _, d := range append(append([]Document(nil), v.Documents...), v.Source) {
		ids = append(ids, d.Chunks...)
	}
	if err := db.SaveFetchManifest(transfer, []byte("manifest"), ids); err != nil {
		t.Fatal(err)
	}
	var fetched []FetchedChunk
	for i, id := range ids {
		sealed, err := origin.SealedChunk(id)
		if err != nil {
			t.Fatal(err)
		}
		fetched = append(fetched, FetchedChunk{Index: uint32(i), ID: id, Sealed: sealed})
	}
	if err := db.PutFetchedChunks(transfer, fetched); err != nil {
		t.Fatal(err)
	}
	newNo := court.MustParseCaseNumber("（2025）京0108执5号")
	v.ClaimFen = 100_00
	if _, err := db.FileReceived(transfer, newNo, newNo.Court, v, key, 60_00); err != nil {
		t.Fatal(err)
	}
	chunksBefore, sizeBefore := chunkSpace(t, db, chunkDir)
	freeBefore := freeBytes(t, chunkDir)

	// An import twice the size of the filesystem fails part way, after
	// its first group of chunks is committed: those chunks are referred
	// to by nothing.
	bigDoc := bytes.Repeat([]byte("scanned page of a large exhibit "), 2*fsSize/32)
	big := sampleCase(bigDoc)
	big.Version.Number = court.MustParseCaseNumber("（2025）京0108执9号")
	big.Version.Court = big.Version.Number.Court
	if !diskFull {
		big.Sources[0].Open = func() (io.ReadCloser, error) {
			return io.NopCloser(&failAfter{r: bytes.NewReader(bigDoc), n: int64(len(bigDoc)) / 2}), nil
		}
	}
	_, err = db.PutCase(ctx, big)
	if err == nil {
		t.Fatal("an import larger than the filesystem succeeded")
	}
	if diskFull && !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("import on a full disk: %v, want ENOSPC", err)
	}
	t.Logf("the import failed as it should: %v", err)
	chunksFailed, sizeFailed := chunkSpace(t, db, chunkDir)
	if chunksFailed <= chunksBefore {
		t.Fatalf("the failed import left no orphan chunks (%d before, %d after): the test proves nothing", chunksBefore, chunksFailed)
	}
	t.Logf("orphans of the failed import: %d chunks, %d bytes", chunksFailed-chunksBefore, sizeFailed-sizeBefore)

	// Restart: the import's marker makes Open collect the garbage.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = open()
	chunksAfter, sizeAfter := chunkSpace(t, db, chunkDir)
	if chunksAfter != chunksBefore || sizeAfter != sizeBefore {
		t.Errorf("after the restart: %d chunks, %d bytes; want %d chunks, %d bytes as before the failed import (the orphans were not collected)",
			chunksAfter, sizeAfter, chunksBefore, sizeBefore)
	}
	if diskFull {
		if free := freeBytes(t, chunkDir); free < freeBefore {
			t.Errorf("free space after the restart: %d bytes, want at least %d as before the failed import", free, freeBefore)
		}
	}
	if _, pending := countKeys(t, db); pending != 0 {
		t.Errorf("%d import markers left after the collection", pending)
	}
	// The filed copy is whole and still serves the other courts.
	if _, err := db.VerifyCase(ctx, newNo); err != nil {
		t.Errorf("the filed case after the collection: %v", err)
	}
	if _, err := db.FetchManifest(transfer); err != nil {
		t.Errorf("the filed copy's manifest: %v", err)
	}
	for _, id := range ids {
		if ok, _ := db.HasChunk(id); !ok {
			t.Errorf("chunk %s of the filed dossier was collected", id)
		}
	}
	// A second collection, as the node runs after a failed import, finds
	// nothing more and is not skipped.
	if got, err := db.CollectGarbage(ctx); err != nil || got != 0 {
		t.Errorf("a second collection: %d chunks, %v; want 0, nil", got, err)
	}
}
