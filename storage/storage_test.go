package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	badger "github.com/dgraph-io/badger/v4"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
)

func testStore(t *testing.T) (*DB, string, *crypto.EncKey) {
	t.Helper()
	dir := t.TempDir()
	k, err := crypto.GenerateEncKey()
	if err != nil {
		t.Fatal(err)
	}
	db, err := Open(dir, Options{Decrypter: k, ChunkSize: crypto.MinChunkSize})
	if err != nil {
		t.Fatal(err)
	}
	return db, dir, k
}

func sampleCase(doc []byte) NewCase {
	n := court.MustParseCaseNumber("（2024）京0105执7号")
	eff := court.Date{Year: 2025, Month: 3, Day: 1}
	return NewCase{
		Version: CaseVersion{Number: n, Court: n.Court, Status: court.StatusActive,
			Parties:   []court.Party{{ID: "p1", Role: court.RoleApplicant, Kind: court.PartyNatural, Name: "张某甲"}, {ID: "p2", Role: court.RoleRespondent, Kind: court.PartyLegal, Name: "某某科技有限公司"}},
			Assets:    []court.Asset{{ID: "a1", Class: court.AssetDeposit, Owner: "p2"}},
			Measures:  []court.Measure{{ID: "m1", Kind: court.MeasureFreeze, Asset: "a1", Effective: eff, Expiry: court.LegalExpiry(court.AssetDeposit, eff), Status: court.MeasureActive, Court: n.Court}},
			Documents: []Document{{ID: "d1", Kind: "title", File: "docs/d1.pdf"}}},
		Sources: []DocumentSource{{Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(doc)), nil },
			Size: int64(len(doc)), Hash: crypto.DocumentIDOf(doc)}},
		CaseJSON: []byte(`{"case":"json"}`),
		PartyIDs: map[string]string{"p1": "990101199003070015"},
	}
}

func TestPutReadTamper(t *testing.T) {
	ctx := context.Background()
	db, _, _ := testStore(t)
	defer db.Close()
	doc := bytes.Repeat([]byte("page "), crypto.MinChunkSize) // 5 chunks of 256 KiB
	in := sampleCase(doc)
	res, err := db.PutCase(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if res.Chunks != 5 || res.Version != 1 {
		t.Fatalf("%+v", res)
	}
	var out bytes.Buffer
	if err := db.ReadDocument(ctx, in.Version.Number, "d1", &out); err != nil || !bytes.Equal(out.Bytes(), doc) {
		t.Fatalf("read back: %v", err)
	}
	if id, err := db.PartyID(in.Version.Number, "p1"); err != nil || id != "990101199003070015" {
		t.Fatalf("PartyID = %q, %v", id, err)
	}
	// Swap two stored chunks: reading must fail as corrupt.
	_, v, _ := db.Case(in.Version.Number)
	c := v.Documents[0].Chunks
	fc := db.chunks.(*FileChunks)
	av, err1 := db.SealedChunk(c[1])
	bv, err2 := db.SealedChunk(c[2])
	if err := errors.Join(err1, err2, os.WriteFile(fc.path(c[1]), bv, 0o600), os.WriteFile(fc.path(c[2]), av, 0o600)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.VerifyCase(ctx, in.Version.Number); !errors.Is(err, court.ErrCorrupt) {
		t.Fatalf("verify after swapping chunks: %v, want court.ErrCorrupt", err)
	}
}

// TestInterruptedImportCollected: chunks of an import that never
// committed are removed at the next open; committed chunks stay.
func TestInterruptedImportCollected(t *testing.T) {
	ctx := context.Background()
	db, dir, k := testStore(t)
	if _, err := db.PutCase(ctx, sampleCase([]byte("kept document"))); err != nil {
		t.Fatal(err)
	}
	// Larger than one chunk batch (16 MiB), so chunks are committed
	// before the failure is found.
	const size = 20 << 20
	bad := sampleCase(bytes.Repeat([]byte("x"), size))
	bad.Version.Number = court.MustParseCaseNumber("（2024）京0105执8号")
	bad.Sources[0].Open = func() (io.ReadCloser, error) {
		// The file changes under the import: its last byte differs.
		b := bytes.Repeat([]byte("x"), size)
		b[len(b)-1] = 'y'
		return io.NopCloser(bytes.NewReader(b)), nil
	}
	if _, err := db.PutCase(ctx, bad); !errors.Is(err, court.ErrConflict) {
		t.Fatalf("import of a changing file: %v, want court.ErrConflict", err)
	}
	count := func(db *DB) (chunks, pending int) {
		ks, _ := db.Keys()
		for _, k := range ks {
			chunks += b2i(strings.HasPrefix(k, prefixChunk))
			pending += b2i(strings.HasPrefix(k, prefixPending))
		}
		return
	}
	if ch, p := count(db); ch <= 2 || p != 1 {
		t.Fatalf("after the failed import: %d chunks, %d markers; want leftovers and a marker", ch, p)
	}
	db.Close()
	db, err := Open(dir, Options{Decrypter: k})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if ch, p := count(db); ch != 2 || p != 0 {
		t.Fatalf("after reopen: %d chunks, %d markers; want 2 (document + case.json) and 0", ch, p)
	}
	if _, err := db.VerifyCase(ctx, court.MustParseCaseNumber("（2024）京0105执7号")); err != nil {
		t.Fatal(err)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestMigrationHook(t *testing.T) {
	db, dir, k := testStore(t)
	db.Close()
	saved := migrations
	defer func() { migrations = saved }()
	ran := 0
	migrations = append(append([]migration(nil), saved...), migration{from: len(saved) + 1, name: "test", run: func(txn *badger.Txn) error {
		ran++
		return txn.Set([]byte("meta/test-migrated"), nil)
	}})
	db, err := Open(dir, Options{Decrypter: k})
	if err != nil {
		t.Fatal(err)
	}
	ks, _ := db.Keys()
	db.Close()
	if ran != 1 || !strings.Contains(strings.Join(ks, " "), "meta/test-migrated") {
		t.Fatalf("migration ran %d times; keys %v", ran, ks)
	}
	// Back to the old binary: the store is newer and refused.
	migrations = saved
	if _, err := Open(dir, Options{Decrypter: k}); !errors.Is(err, court.ErrUnavailable) {
		t.Fatalf("open of a newer store: %v, want court.ErrUnavailable", err)
	}
}

func TestStoreKeyFile(t *testing.T) {
	db, dir, _ := testStore(t)
	db.Close()
	p := filepath.Join(dir, StoreKeyFile)
	st, err := os.Stat(p)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("store.key: %v %v", st.Mode(), err)
	}
	os.Chmod(p, 0o644)
	if _, err := Open(dir, Options{}); !errors.Is(err, crypto.ErrKeyPermissions) {
		t.Fatalf("open with a readable key: %v", err)
	}
	os.Remove(p)
	if _, err := Open(dir, Options{}); !errors.Is(err, court.ErrUnavailable) {
		t.Fatalf("open with the key missing: %v", err)
	}
}

// TestDependencies: storage and its subpackages depend inward only (on
// crypto and court), never on node, protocol or cmd.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, bad := range []string{"courtmesh.dev/courtmesh/node", "courtmesh.dev/courtmesh/cmd", "courtmesh.dev/courtmesh/protocol"} {
			if strings.HasPrefix(dep, bad) {
				t.Errorf("storage depends on %s", dep)
			}
		}
	}
}

// TestParallelSealingDeterministic: sealing on a pool of workers gives
// exactly the chunks that sealing one chunk after another gives (computed
// here directly with the sealer), in the same order, whatever the number
// of workers; a source that shrinks, or a cancelled context, stops the
// pipeline with an error and no worker left running.
func TestParallelSealingDeterministic(t *testing.T) {
	ctx := context.Background()
	db, _, _ := testStore(t)
	defer db.Close()
	dk, err := crypto.NewDataKey()
	if err != nil {
		t.Fatal(err)
	}
	doc := make([]byte, 11*crypto.MinChunkSize+12345)
	for i := range doc {
		doc[i] = byte(i*7 + i>>11)
	}
	src := DocumentSource{Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(doc)), nil },
		Size: int64(len(doc)), Hash: crypto.DocumentIDOf(doc)}

	sealer, err := dk.Document(src.Hash)
	if err != nil {
		t.Fatal(err)
	}
	count := crypto.ChunkCount(src.Size, crypto.MinChunkSize)
	var want []crypto.ChunkID
	for i := uint32(0); i < count; i++ {
		pt := doc[int(i)*crypto.MinChunkSize : min(len(doc), int(i+1)*crypto.MinChunkSize)]
		_, id, err := sealer.Seal(nil, i, count, pt)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, id)
	}

	for _, workers := range []int{1, 2, 4, 16} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			pool := newSealPool(workers)
			defer pool.close()
			w := newChunkWriter(db.chunks)
			var d Document
			var res PutResult
			if err := db.sealDocument(ctx, w, pool, dk, &d, src, &res); err != nil {
				t.Fatal(err)
			}
			if err := w.flush(); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(d.Chunks, want) {
				t.Fatalf("chunks differ from serial sealing:\n got %v\nwant %v", d.Chunks, want)
			}
			if res.Bytes != int64(len(doc)) || res.Chunks != int(count) {
				t.Fatalf("result %+v, want %d bytes in %d chunks", res, len(doc), count)
			}
			var out bytes.Buffer
			if err := db.readDocument(ctx, dk, d, &out); err != nil || !bytes.Equal(out.Bytes(), doc) {
				t.Fatalf("read back: %v", err)
			}
		})
	}

	t.Run("shrinking source", func(t *testing.T) {
		pool := newSealPool(4)
		defer pool.close()
		short := src
		short.Open = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(doc[:len(doc)/2])), nil }
		w := newChunkWriter(db.chunks)
		defer w.abort()
		var d Document
		if err := db.sealDocument(ctx, w, pool, dk, &d, short, &PutResult{}); err == nil || !strings.Contains(err.Error(), "shrank") {
			t.Fatalf("shrinking source: %v, want a read error", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		pool := newSealPool(4)
		defer pool.close()
		cctx, cancel := context.WithCancel(ctx)
		slow := src
		slow.Open = func() (io.ReadCloser, error) {
			return io.NopCloser(&cancelAfter{r: bytes.NewReader(doc), n: 3 * crypto.MinChunkSize, cancel: cancel}), nil
		}
		w := newChunkWriter(db.chunks)
		defer w.abort()
		var d Document
		if err := db.sealDocument(cctx, w, pool, dk, &d, slow, &PutResult{}); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled import: %v, want context.Canceled", err)
		}
	})
}

// cancelAfter calls cancel once n bytes have been read.
type cancelAfter struct {
	r      io.Reader
	n      int
	cancel func()
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	m, err := c.r.Read(p)
	if c.n -= m; c.n <= 0 {
		c.cancel()
	}
	return m, err
}

// A process killed between Badger's creating a memtable file and sizing
// it leaves an empty NNNNN.mem; the store must still open (it did not:
// "while opening memtables ... Create a new file", seen in
// TestCrashDuringImport), and keep what it held.
func TestOpenAfterEmptyMemtable(t *testing.T) {
	db, dir, k := testStore(t)
	if err := db.PutTransfer(TransferRecord{ID: "t1", State: "offered", Origin: "京0105", Body: []byte(`{"id":"t1"}`)}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := os.WriteFile(filepath.Join(dir, StoreDir, "00099.mem"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := Open(dir, Options{Decrypter: k})
	if err != nil {
		t.Fatalf("store with an empty memtable file does not open: %v", err)
	}
	defer db.Close()
	if _, err := db.GetTransfer("t1"); err != nil {
		t.Fatalf("after the repair: %v", err)
	}
}

// TestParseDateKey checks parseDateKey's path without court.ParseDate
// against it: the same dates, and the same refusals.
func TestParseDateKey(t *testing.T) {
	for _, s := range []string{"20250630", "00010101", "99991231", "20240229", "20250229", "00000101", "20251301", "20250100", "20250132", "2025063a", "2025-6-3", "2025063", "+2025063"} {
		got, err := parseDateKey(s)
		want, werr := court.Date{}, error(nil)
		if len(s) == 8 {
			want, werr = court.ParseDate(s[:4] + "-" + s[4:6] + "-" + s[6:])
		} else {
			werr = errors.New("length")
		}
		if got != want || (err == nil) != (werr == nil) {
			t.Errorf("parseDateKey(%q) = %v, %v; want %v, %v", s, got, err, want, werr)
		}
	}
}
