package s3test_test

import (
	"context"
	"errors"
	"testing"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/storage"
	"courtmesh.dev/courtmesh/storage/s3test"
)

// TestServerChunks builds (once per machine) and starts versitygw, and
// runs an S3Chunks against it: a batch commits, a chunk reads back
// checked, a dead server is unavailable and a restarted one serves the
// same objects, Delete and Walk. CI runs it first, so that the build is
// cached before the node tests start.
func TestServerChunks(t *testing.T) {
	srv := s3test.Start(t)
	o := srv.Opts
	o.MaxRetries = 1
	c, err := storage.OpenS3Chunks(o)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a, b := []byte("sealed chunk a"), []byte("sealed chunk b")
	ida, idb := crypto.ChunkIDOf(a), crypto.ChunkIDOf(b)
	bt := c.NewBatch()
	for _, x := range []struct {
		id crypto.ChunkID
		b  []byte
	}{{ida, a}, {idb, b}, {ida, a}} {
		if _, err := bt.Put(x.id, x.b); err != nil {
			t.Fatal(err)
		}
	}
	if bt.Len() != 2 {
		t.Fatalf("batch of %d chunks, want 2 (one put twice)", bt.Len())
	}
	if ok, _ := c.Has(ida); ok {
		t.Fatal("a chunk is visible before its commit")
	}
	if err := bt.Commit(); err != nil {
		t.Fatal(err)
	}
	got, err := c.Append([]byte("x"), ida)
	if err != nil || string(got) != "x"+string(a) {
		t.Fatalf("append: %q, %v", got, err)
	}
	if _, err := c.Append(nil, crypto.ChunkIDOf([]byte("none"))); !errors.Is(err, court.ErrNotFound) {
		t.Fatalf("an absent chunk: %v, want not found", err)
	}

	srv.Stop()
	if _, err := c.Has(ida); !errors.Is(err, court.ErrUnavailable) {
		t.Fatalf("with the server down: %v, want unavailable", err)
	}
	srv.Restart()
	if ok, err := c.Has(idb); err != nil || !ok {
		t.Fatalf("after the restart: %v, %v", ok, err)
	}
	if err := c.Delete(ida); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ida); err != nil {
		t.Fatalf("delete an absent chunk: %v", err)
	}
	var ids []crypto.ChunkID
	if err := c.Walk(context.Background(), func(id crypto.ChunkID) error { ids = append(ids, id); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(ids) != 1 || ids[0] != idb {
		t.Fatalf("walk: %v, want [%s]", ids, idb)
	}
}
