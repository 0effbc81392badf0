package storage

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"courtmesh.dev/courtmesh/crypto"
)

// stageCommit stages the chunks named by ss and commits them in one batch.
func stageCommit(t *testing.T, c *FileChunks, ss ...string) []crypto.ChunkID {
	t.Helper()
	b := c.NewBatch()
	var ids []crypto.ChunkID
	for _, s := range ss {
		id, v := chunkOf(s)
		st, err := c.Stage(v)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.PutStaged(id, st); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	return ids
}

func packFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, packDir))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func fileSize(t *testing.T, p string) int64 {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// TestPackCrashRecovery: a store "crashed" (reopened without being closed)
// with a chunk staged and never committed and a torn index entry keeps
// exactly what was committed, cuts the rest, and honours deletions.
func TestPackCrashRecovery(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "chunks")
	c, err := OpenFileChunks(dir)
	if err != nil {
		t.Fatal(err)
	}
	ids := stageCommit(t, c, "packed one", "packed two", "packed three")
	_, lost := chunkOf("staged, never committed")
	if _, err := c.Stage(lost); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ids[2]); err != nil {
		t.Fatal(err)
	}
	pack, idx := c.packPath(0, "pack"), c.packPath(0, "idx")
	committed := int64(len("packed one") + len("packed two") + len("packed three"))
	if got := fileSize(t, pack); got != committed+int64(len(lost)) {
		t.Fatalf("pack holds %d bytes before the crash", got)
	}
	f, err := os.OpenFile(idx, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(bytes.Repeat([]byte{0xa5}, packEntry-7)) // a torn entry
	f.Close()

	c2, err := OpenFileChunks(dir) // c is never closed: the crash
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	for i, s := range []string{"packed one", "packed two"} {
		if got, err := c2.Append(nil, ids[i]); err != nil || string(got) != s {
			t.Fatalf("chunk %d after the crash: %q, %v", i, got, err)
		}
	}
	if ok, _ := c2.Has(ids[2]); ok {
		t.Fatal("a deleted chunk came back")
	}
	if got := fileSize(t, pack); got != committed {
		t.Fatalf("pack not cut to what its index names: %d bytes, want %d", got, committed)
	}
	if got := fileSize(t, idx); got != 4*packEntry {
		t.Fatalf("index not cut at the torn entry: %d bytes, want %d", got, 4*packEntry)
	}
	var walked int
	c2.Walk(context.Background(), func(crypto.ChunkID) error { walked++; return nil })
	if walked != 2 {
		t.Fatalf("walk found %d chunks, want 2", walked)
	}
	// New chunks go to a new pack; the old one goes once empty.
	more := stageCommit(t, c2, "after the crash")
	for _, id := range append(ids[:2], more...) {
		if err := c2.Delete(id); err != nil {
			t.Fatal(err)
		}
	}
	if got := packFiles(t, dir); len(got) != 2 || got[0] != "00000001.idx" {
		t.Fatalf("pack files once pack 0 is empty: %v (the active pack 1 stays)", got)
	}
}

// TestPackRotationAndConcurrency: streams stage and commit at once across
// pack boundaries; every chunk reads back, packs rotate at their size, and
// deleting everything removes every pack but the active one.
func TestPackRotationAndConcurrency(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "chunks")
	c, err := OpenFileChunks(dir)
	if err != nil {
		t.Fatal(err)
	}
	c.SetPackBytes(4 << 10)
	const streams, per = 4, 40
	var wg sync.WaitGroup
	all := make([][]crypto.ChunkID, streams)
	for s := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < per; k += 5 {
				var ss []string
				for j := range 5 {
					ss = append(ss, fmt.Sprintf("stream %d chunk %d %s", s, k+j, bytes.Repeat([]byte("x"), 300)))
				}
				// the same chunk staged by every stream: stored once
				ss = append(ss, fmt.Sprintf("shared chunk %d", k))
				all[s] = append(all[s], stageCommit(t, c, ss...)...)
			}
		}()
	}
	wg.Wait()
	uniq := map[crypto.ChunkID]bool{}
	for _, ids := range all {
		for _, id := range ids {
			uniq[id] = true
		}
	}
	if len(c.packs) < 5 {
		t.Fatalf("%d packs for %d KiB at 4 KiB each", len(c.packs), streams*per*330>>10)
	}
	c.Close()
	c, err = OpenFileChunks(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var n int
	c.Walk(context.Background(), func(crypto.ChunkID) error { n++; return nil })
	if n != len(uniq) {
		t.Fatalf("after reopening: %d chunks, want %d", n, len(uniq))
	}
	for id := range uniq {
		got, err := c.Append(nil, id)
		if err != nil || crypto.ChunkIDOf(got) != id {
			t.Fatalf("chunk %s: %v", id, err)
		}
		if err := c.Delete(id); err != nil {
			t.Fatal(err)
		}
	}
	if got := packFiles(t, dir); len(got) != 0 {
		t.Fatalf("packs left after every chunk was deleted: %v", got)
	}
}

// TestPackIndexWriteFailure: when an index write fails (here the index
// descriptor is swapped for a read-only one, as a full disk or an I/O
// error would fail it), the commit fails, the pack takes nothing more,
// no torn entry is left in front of later ones, and the chunks committed
// before and after it are all there after a crash and reopen.
func TestPackIndexWriteFailure(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "chunks")
	c, err := OpenFileChunks(dir)
	if err != nil {
		t.Fatal(err)
	}
	a := stageCommit(t, c, "committed before the failure")
	p := c.active
	good := p.idx
	ro, err := os.Open(good.Name())
	if err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	p.idx = ro
	c.mu.Unlock()
	id, v := chunkOf("its index entry cannot be written")
	st, err := c.Stage(v)
	if err != nil {
		t.Fatal(err)
	}
	batch := c.NewBatch()
	if _, err := batch.PutStaged(id, st); err != nil {
		t.Fatal(err)
	}
	if err := batch.Commit(); err == nil {
		t.Fatal("a commit whose index write failed reported success")
	}
	if ok, _ := c.Has(id); ok {
		t.Fatal("a chunk whose index write failed is visible")
	}
	c.mu.Lock()
	p.idx = good
	broken := p.broken
	c.mu.Unlock()
	ro.Close()
	if broken == nil {
		t.Fatal("the pack is not marked broken")
	}
	after := stageCommit(t, c, "committed after the failure")
	if c.active == p {
		t.Fatal("a broken pack still takes chunks")
	}
	// A crash: reopen without closing.
	c2, err := OpenFileChunks(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	for _, want := range []crypto.ChunkID{a[0], after[0]} {
		if ok, _ := c2.Has(want); !ok {
			t.Errorf("committed chunk %s lost at reopen", want)
		}
	}
	if ok, _ := c2.Has(id); ok {
		t.Error("the chunk whose commit failed is there after reopen")
	}
}
