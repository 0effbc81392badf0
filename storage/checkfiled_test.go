package storage

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
)

// TestCheckFiledCase: the check a fetch runs on the case it filed passes
// on a whole case, refuses one missing a chunk (any chunk, not only the
// ones it opens), and refuses one whose first chunk's bytes are not the
// sealed chunk its document names, without reading the other chunks.
func TestCheckFiledCase(t *testing.T) {
	ctx := context.Background()
	doc := bytes.Repeat([]byte("page "), crypto.MinChunkSize) // 5 chunks of 256 KiB
	open := func(t *testing.T) (*DB, *MemChunks, CaseVersion) {
		t.Helper()
		k, err := crypto.GenerateEncKey()
		if err != nil {
			t.Fatal(err)
		}
		mem := NewMemChunks()
		db, err := Open(t.TempDir(), Options{Decrypter: k, ChunkSize: crypto.MinChunkSize, Chunks: mem})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		in := sampleCase(doc)
		if _, err := db.PutCase(ctx, in); err != nil {
			t.Fatal(err)
		}
		_, v, err := db.Case(in.Version.Number)
		if err != nil {
			t.Fatal(err)
		}
		return db, mem, v
	}
	t.Run("whole", func(t *testing.T) {
		db, _, v := open(t)
		got, err := db.CheckFiledCase(ctx, v.Number)
		if err != nil {
			t.Fatal(err)
		}
		want, err := db.VerifyCase(ctx, v.Number)
		if err != nil {
			t.Fatal(err)
		}
		if got != want || got.Chunks < 5 {
			t.Fatalf("check %+v, verify %+v", got, want)
		}
	})
	t.Run("a chunk missing", func(t *testing.T) {
		db, mem, v := open(t)
		d := v.Documents[0]
		mem.Delete(d.Chunks[len(d.Chunks)-1])
		if _, err := db.CheckFiledCase(ctx, v.Number); !errors.Is(err, court.ErrNotFound) {
			t.Fatalf("check of a case missing its last chunk: %v, want court.ErrNotFound", err)
		}
	})
	t.Run("first chunk not the sealed one", func(t *testing.T) {
		db, mem, v := open(t)
		d := v.Documents[0]
		other, err := mem.Append(nil, d.Chunks[1])
		if err != nil {
			t.Fatal(err)
		}
		mem.Set(d.Chunks[0], other)
		if _, err := db.CheckFiledCase(ctx, v.Number); !errors.Is(err, court.ErrCorrupt) {
			t.Fatalf("check of a case whose first chunk holds other bytes: %v, want court.ErrCorrupt", err)
		}
	})
}
