package storage

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
)

// fillAt is a document source that, once n bytes were read, fills the
// disk of path up to leave bytes free: another writer filling the disk
// while the import runs.
type fillAt struct {
	r     io.Reader
	n     int64
	fill  func()
	after bool
}

func (f *fillAt) Read(p []byte) (int, error) {
	if !f.after && f.n <= 0 {
		f.after = true
		f.fill()
	}
	if !f.after && int64(len(p)) > f.n {
		p = p[:f.n]
	}
	n, err := f.r.Read(p)
	f.n -= int64(n)
	return n, err
}

// fillDisk writes a file of path's filesystem that leaves about leave
// bytes free, and returns it.
func fillDisk(t *testing.T, dir string, leave int64) string {
	t.Helper()
	free, err := FreeSpace(dir)
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(dir, "filler")
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	block := make([]byte, 1<<20)
	for n := free - leave; n > 0; n -= int64(len(block)) {
		if _, err := f.Write(block[:min(n, int64(len(block)))]); err != nil {
			t.Fatalf("fill the disk: %v", err)
		}
	}
	return name
}

// TestDiskFullMidImport: an import during which another writer fills the
// disk stops at the reserve with ErrDiskFull (not ENOSPC, not SIGBUS),
// its chunks are collected, the store goes on committing and auditing,
// and a store on a disk filled beyond its reserve opens read-only.
func TestDiskFullMidImport(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("not root: no tmpfs can be mounted")
	}
	ctx := context.Background()
	dir := t.TempDir()
	smallFS(t, dir, 48<<20)
	k, err := crypto.GenerateEncKey()
	if err != nil {
		t.Fatal(err)
	}
	const reserve = 8 << 20
	db, err := Open(dir, Options{Decrypter: k, ChunkSize: crypto.MinChunkSize, Reserve: reserve})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { db.Close() }()
	var refused []string
	db.SetOnDiskFull(func(w string) { refused = append(refused, w) })

	// Fits at the start (20 MiB of 48), not once the disk is filled to
	// 12 MiB free halfway through.
	doc := bytes.Repeat([]byte("scanned page of a large exhibit "), 20<<20/32)
	in := sampleCase(doc)
	var filler string
	in.Sources[0].Open = func() (io.ReadCloser, error) {
		return io.NopCloser(&fillAt{r: bytes.NewReader(doc), n: int64(len(doc)) / 2, fill: func() {
			filler = fillDisk(t, dir, 12<<20)
		}}), nil
	}
	_, err = db.PutCase(ctx, in)
	if !errors.Is(err, ErrDiskFull) || court.KindOf(err) != court.ErrUnavailable {
		t.Fatalf("import while the disk fills: %v; want ErrDiskFull of kind unavailable", err)
	}
	t.Logf("refused as it should: %v", err)
	if sp := db.Space(); !sp.Low || sp.Refused == 0 || sp.LastWrite != "import" {
		t.Errorf("space after the refusal: %+v; want low, one refusal of an import", sp)
	}
	if len(refused) == 0 {
		t.Error("the disk-full hook was not called")
	}
	if free, _ := FreeSpace(dir); free < reserve {
		t.Errorf("%d bytes free after the refused import: the reserve of %d was eaten into", free, reserve)
	}
	if _, err := db.CollectGarbage(ctx); err != nil {
		t.Fatal(err)
	}
	if chunks, _ := chunkSpace(t, db, filepath.Join(dir, StoreDir, ChunkDir)); chunks != 0 {
		t.Errorf("%d chunks left by the refused import", chunks)
	}
	if _, pending := countKeys(t, db); pending != 0 {
		t.Errorf("%d import markers left", pending)
	}
	if _, _, err := db.Case(in.Version.Number); !errors.Is(err, court.ErrNotFound) {
		t.Errorf("the refused case: %v; want not found", err)
	}
	// Badger and the audit log still write within the reserve.
	if _, err := db.Audit(AuditEntry{Event: "test.after_disk_full", Outcome: "ok"}); err != nil {
		t.Fatalf("audit after the refusal: %v", err)
	}

	// Filled beyond the reserve: a read-only open reads and writes
	// nothing.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	small := sampleCase([]byte("a short ruling"))
	small.Version.Number = court.MustParseCaseNumber("（2024）京0105执8号")
	db, err = Open(dir, Options{Decrypter: k, ChunkSize: crypto.MinChunkSize, Reserve: reserve})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.PutCase(ctx, small); err != nil {
		t.Fatalf("import after space was freed: %v", err)
	}
	if sp := db.Space(); sp.Low {
		t.Errorf("space after freeing: %+v; want not low", sp)
	}
	db.Close()
	fillDisk(t, dir, 1<<20)
	before, _ := FreeSpace(dir)
	db, err = Open(dir, Options{Decrypter: k, ReadOnly: true})
	if err != nil {
		t.Fatalf("read-only open on a full disk: %v", err)
	}
	if !db.ReadOnly() {
		t.Error("ReadOnly() false")
	}
	list, err := db.Cases(ctx, "")
	if err != nil || len(list) != 1 {
		t.Errorf("list on a full disk: %d cases, %v; want 1", len(list), err)
	}
	if _, err := db.PutCase(ctx, in); !errors.Is(err, ErrReadOnly) {
		t.Errorf("import into a read-only store: %v; want ErrReadOnly", err)
	}
	if _, err := db.Audit(AuditEntry{Event: "x"}); !errors.Is(err, ErrReadOnly) {
		t.Errorf("audit in a read-only store: %v; want ErrReadOnly", err)
	}
	if after, _ := FreeSpace(dir); after < before {
		t.Errorf("a read-only open used %d bytes", before-after)
	}
}
