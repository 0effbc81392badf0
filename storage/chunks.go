package storage

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
)

// ChunkStore holds sealed chunks under their content addresses, apart
// from the records in Badger. It is consumed by DB; FileChunks is the
// store a node uses, MemChunks an in-memory one for tests.
//
// A chunk is visible (Has, Append, Walk) only once the batch that wrote
// it committed, and it is durable then: DB relies on that to commit a
// record referencing a chunk (a case version, a fetch bit) only after the
// chunk itself. Deletion need not be durable: a deleted chunk that comes
// back after a crash is unreferenced and collected again. Implementations
// are safe for concurrent use; the store does not check that the bytes
// hash to the id, its callers do.
type ChunkStore interface {
	// Has reports whether chunk id is stored.
	Has(id crypto.ChunkID) (bool, error)
	// Append appends the sealed bytes of chunk id to dst and returns the
	// extended slice, or ErrNotFound.
	Append(dst []byte, id crypto.ChunkID) ([]byte, error)
	// Open opens chunk id for reading and returns its size, or
	// ErrNotFound. The caller closes the reader.
	Open(id crypto.ChunkID) (io.ReadCloser, int64, error)
	// Stage writes a chunk outside any batch: the bytes go to the store at
	// once, so the caller need not hold them until a batch commits (a
	// fetch keeps reading the network while earlier chunks wait for their
	// commit). A batch's PutStaged then commits it, or Abort drops it. A
	// staged chunk is invisible until committed, and gone after a crash.
	Stage(sealed []byte) (StagedChunk, error)
	// NewBatch starts a batch of writes. A batch is used by one goroutine.
	NewBatch() ChunkBatch
	// Delete removes chunk id; an absent chunk is not an error.
	Delete(id crypto.ChunkID) error
	// Walk calls fn for every stored chunk, in no particular order, until
	// fn or ctx returns an error.
	Walk(ctx context.Context, fn func(crypto.ChunkID) error) error
	// Close releases the store.
	Close() error
}

// ChunkBatch is a set of chunk writes that become visible and durable
// together, at Commit. Put copies (or writes out) sealed before it
// returns. After Commit or Discard the batch is done.
type ChunkBatch interface {
	// Put adds a chunk; it reports false when the chunk is already stored
	// (or already in the batch), in which case nothing is written.
	Put(id crypto.ChunkID, sealed []byte) (bool, error)
	// PutStaged adds a staged chunk, whose bytes the caller has checked
	// hash to id, and takes it over: it reports false (and drops the
	// staged bytes) when the chunk is already stored or in the batch. A
	// chunk staged by another store is an error.
	PutStaged(id crypto.ChunkID, s StagedChunk) (bool, error)
	// Len is the number of chunks put and not yet committed.
	Len() int
	// Commit makes the chunks durable and visible.
	Commit() error
	// Discard drops the uncommitted chunks.
	Discard()
}

// StagedChunk is a chunk written by ChunkStore.Stage and not yet
// committed. It is used by one goroutine at a time.
type StagedChunk interface {
	// Abort drops the staged bytes. It may be called more than once, and
	// after the chunk was handed to PutStaged (then it does nothing).
	Abort()
}

// ChunkDir is the chunk directory inside the store directory.
const ChunkDir = "chunks"

// FileChunks stores chunks in files under the chunk directory, in two
// ways. A chunk put in a batch gets its own file, named by the hex of its
// id under a directory per first byte: chunks/ab/ab01...ef. A batch
// writes each to chunks/tmp/ as it is put; Commit fsyncs those files,
// renames them into place and fsyncs the directories they went to, so a
// chunk under its final name is always complete and durable. Leftovers in
// chunks/tmp/ (a crash before a commit) are removed at open. A staged
// chunk (a fetch's) goes to a pack instead; see packs.go.
type FileChunks struct {
	dir string

	mu         sync.RWMutex
	index      map[crypto.ChunkID]packLoc // committed pack chunks
	committing map[crypto.ChunkID]bool    // pack chunks being named by a commit
	packs      map[uint32]*pack
	active     *pack // where chunks are staged; nil until the first
	next       uint32
	closed     bool
	// packBytes is the size past which a new pack is started
	// (DefaultPackBytes; SetPackBytes).
	packBytes int64
	// cutEntries counts the index entries cut at open because they
	// named bytes past their pack's end (CutEntries).
	cutEntries int
	// ro: opened read-only (openFileChunksReadOnly): nothing is written,
	// cut or removed, and every write fails.
	ro bool
}

// SetPackBytes sets the size past which a new pack is started (tests
// rotate packs at a few KiB with it). Call it before writing.
func (c *FileChunks) SetPackBytes(n int64) {
	c.mu.Lock()
	c.packBytes = n
	c.mu.Unlock()
}

var _ ChunkStore = (*FileChunks)(nil)

// OpenFileChunks opens (creating if needed) the chunk directory dir.
func OpenFileChunks(dir string) (*FileChunks, error) {
	tmp := filepath.Join(dir, "tmp")
	// A crash before a commit leaves temporary files: drop them.
	if err := os.RemoveAll(tmp); err != nil {
		return nil, fmt.Errorf("chunk store %s: %w: %v", dir, court.ErrUnavailable, err)
	}
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return nil, fmt.Errorf("chunk store %s: %w: %v", dir, court.ErrUnavailable, err)
	}
	created := false
	for i := range 256 {
		p := filepath.Join(dir, fmt.Sprintf("%02x", i))
		if _, err := os.Stat(p); err == nil {
			continue
		}
		if err := os.Mkdir(p, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("chunk store %s: %w: %v", dir, court.ErrUnavailable, err)
		}
		created = true
	}
	if created {
		// The fan-out directories must survive a crash before chunks
		// are renamed into them.
		if err := syncDirs([]string{dir, filepath.Dir(dir)}); err != nil {
			return nil, fmt.Errorf("chunk store %s: %w: %v", dir, court.ErrUnavailable, err)
		}
	}
	c := &FileChunks{dir: dir, packBytes: DefaultPackBytes}
	if err := c.openPacks(); err != nil {
		c.closePacks()
		return nil, fmt.Errorf("chunk store %s: %w: %v", dir, court.ErrUnavailable, err)
	}
	return c, nil
}

// openFileChunksReadOnly opens the chunk directory dir for reading only,
// changing nothing on disk (a store opened read-only on a full disk): the
// temporary files of an interrupted import stay, and pack bytes past the
// last whole index entry are only ignored.
func openFileChunksReadOnly(dir string) (*FileChunks, error) {
	c := &FileChunks{dir: dir, packBytes: DefaultPackBytes, ro: true}
	if err := c.openPacks(); err != nil {
		c.closePacks()
		return nil, fmt.Errorf("chunk store %s: %w: %v", dir, court.ErrUnavailable, err)
	}
	return c, nil
}

// CutEntries is the number of pack index entries cut at open because
// they named bytes past the end of their pack (a pack whose tail the
// filesystem lost): their chunks are missing.
func (c *FileChunks) CutEntries() int { return c.cutEntries }

func (c *FileChunks) path(id crypto.ChunkID) string {
	h := hex.EncodeToString(id[:])
	return filepath.Join(c.dir, h[:2], h)
}

// Has implements ChunkStore.
func (c *FileChunks) Has(id crypto.ChunkID) (bool, error) {
	c.mu.RLock()
	_, ok := c.index[id]
	c.mu.RUnlock()
	if ok {
		return true, nil
	}
	_, err := os.Stat(c.path(id))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// Append implements ChunkStore.
func (c *FileChunks) Append(dst []byte, id crypto.ChunkID) ([]byte, error) {
	r, size, err := c.Open(id)
	if err != nil {
		return dst, err
	}
	defer r.Close()
	n := int(size)
	l := len(dst)
	if cap(dst)-l < n {
		dst = append(dst[:cap(dst)], make([]byte, l+n-cap(dst))...)
	}
	dst = dst[:l+n]
	if _, err := io.ReadFull(r, dst[l:]); err != nil {
		return dst[:l], fmt.Errorf("chunk %s: %w", id, err)
	}
	return dst, nil
}

// Open implements ChunkStore.
func (c *FileChunks) Open(id crypto.ChunkID) (io.ReadCloser, int64, error) {
	if r, size, ok, err := c.openPacked(id); ok {
		return r, size, err
	}
	f, err := os.Open(c.path(id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, fmt.Errorf("chunk %s: %w", id, court.ErrNotFound)
	}
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if n := st.Size(); n > crypto.MaxChunkSize+crypto.ChunkOverhead {
		f.Close()
		return nil, 0, fmt.Errorf("chunk %s: %w: file of %d bytes", id, court.ErrCorrupt, n)
	}
	return f, st.Size(), nil
}

// Stage implements ChunkStore: the bytes go to the active pack.
func (c *FileChunks) Stage(sealed []byte) (StagedChunk, error) { return c.stage(sealed) }

// Delete implements ChunkStore.
func (c *FileChunks) Delete(id crypto.ChunkID) error {
	c.mu.Lock()
	packed, err := c.deletePacked(id)
	c.mu.Unlock()
	if packed {
		return err
	}
	if err := os.Remove(c.path(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// Walk implements ChunkStore.
func (c *FileChunks) Walk(ctx context.Context, fn func(crypto.ChunkID) error) error {
	for _, id := range c.packedIDs() {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(id); err != nil {
			return err
		}
	}
	for i := range 256 {
		if err := ctx.Err(); err != nil {
			return err
		}
		ents, err := os.ReadDir(filepath.Join(c.dir, fmt.Sprintf("%02x", i)))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		for _, e := range ents {
			var id crypto.ChunkID
			if b, err := hex.DecodeString(e.Name()); err != nil || len(b) != len(id) {
				continue // not a chunk
			} else {
				copy(id[:], b)
			}
			if err := fn(id); err != nil {
				return err
			}
		}
	}
	return nil
}

// Close implements ChunkStore.
func (c *FileChunks) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	return c.closePacks()
}

// NewBatch implements ChunkStore.
func (c *FileChunks) NewBatch() ChunkBatch {
	return &fileBatch{c: c, seen: map[crypto.ChunkID]bool{}}
}

type fileBatch struct {
	c       *FileChunks
	seen    map[crypto.ChunkID]bool
	pending []pendingChunk
	// staged chunks (in packs) and their ids
	packed    []*packStaged
	packedIDs []crypto.ChunkID
}

type pendingChunk struct {
	f        *os.File
	tmp, fin string
}

func (b *fileBatch) Len() int { return len(b.pending) + len(b.packed) }

func (b *fileBatch) Put(id crypto.ChunkID, sealed []byte) (bool, error) {
	if b.seen[id] {
		return false, nil
	}
	fin := b.c.path(id)
	if _, err := os.Stat(fin); err == nil {
		return false, nil // content-addressed: the same bytes are stored
	}
	var r [8]byte
	rand.Read(r[:])
	tmp := filepath.Join(b.c.dir, "tmp", hex.EncodeToString(id[:])+"."+hex.EncodeToString(r[:]))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return false, err
	}
	if _, err := f.Write(sealed); err != nil {
		f.Close()
		os.Remove(tmp)
		return false, err
	}
	b.seen[id] = true
	b.pending = append(b.pending, pendingChunk{f: f, tmp: tmp, fin: fin})
	return true, nil
}

func (b *fileBatch) PutStaged(id crypto.ChunkID, s StagedChunk) (bool, error) {
	ps, ok := s.(*packStaged)
	if !ok || ps.c != b.c || ps.taken || ps.done {
		s.Abort()
		return false, fmt.Errorf("chunk %s: %w: staged by another store, or already used", id, court.ErrInvalid)
	}
	if ok, err := b.c.Has(id); err != nil || ok || b.seen[id] {
		ps.Abort()
		return false, err // content-addressed: the same bytes are stored
	}
	ps.taken = true
	b.seen[id] = true
	b.packed = append(b.packed, ps)
	b.packedIDs = append(b.packedIDs, id)
	return true, nil
}

func (b *fileBatch) Commit() error {
	defer b.Discard()
	if len(b.packed) > 0 {
		if err := b.c.commitPacked(b.packed, b.packedIDs); err != nil {
			return err
		}
		b.packed, b.packedIDs = nil, nil
	}
	if len(b.pending) == 0 {
		return nil
	}
	// 1. The bytes, before any chunk gets its final name.
	files := make([]*os.File, len(b.pending))
	for i, p := range b.pending {
		files[i] = p.f
	}
	if err := parallel(len(files), func(i int) error { return files[i].Sync() }); err != nil {
		return err
	}
	// 2. The names.
	dirs := map[string]bool{}
	for _, p := range b.pending {
		if err := p.f.Close(); err != nil {
			return err
		}
		if err := os.Rename(p.tmp, p.fin); err != nil {
			return err
		}
		dirs[filepath.Dir(p.fin)] = true
	}
	b.pending = b.pending[:0]
	list := make([]string, 0, len(dirs))
	for d := range dirs {
		list = append(list, d)
	}
	return syncDirs(list)
}

func (b *fileBatch) Discard() {
	for _, p := range b.pending {
		p.f.Close()
		os.Remove(p.tmp)
	}
	b.pending = nil
	for _, s := range b.packed {
		s.release()
	}
	b.packed, b.packedIDs = nil, nil
	b.seen = map[crypto.ChunkID]bool{}
}

// syncDirs fsyncs directories, several at a time: file systems with a
// journal fold concurrent fsyncs into one commit.
func syncDirs(dirs []string) error {
	return parallel(len(dirs), func(i int) error {
		f, err := os.Open(dirs[i])
		if err != nil {
			return err
		}
		err = f.Sync()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	})
}

// parallel runs f(0..n-1) on up to 16 goroutines and returns the first
// error.
func parallel(n int, f func(int) error) error {
	if n == 1 {
		return f(0)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	next := make(chan int)
	for range min(n, 16) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}

// MemChunks is an in-memory ChunkStore for tests.
type MemChunks struct {
	mu sync.RWMutex
	m  map[crypto.ChunkID][]byte
}

var _ ChunkStore = (*MemChunks)(nil)

// NewMemChunks returns an empty in-memory chunk store.
func NewMemChunks() *MemChunks { return &MemChunks{m: map[crypto.ChunkID][]byte{}} }

// Has implements ChunkStore.
func (c *MemChunks) Has(id crypto.ChunkID) (bool, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	_, ok := c.m[id]
	return ok, nil
}

// Append implements ChunkStore.
func (c *MemChunks) Append(dst []byte, id crypto.ChunkID) ([]byte, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	b, ok := c.m[id]
	if !ok {
		return dst, fmt.Errorf("chunk %s: %w", id, court.ErrNotFound)
	}
	return append(dst, b...), nil
}

// Delete implements ChunkStore.
func (c *MemChunks) Delete(id crypto.ChunkID) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
	return nil
}

// Walk implements ChunkStore.
func (c *MemChunks) Walk(ctx context.Context, fn func(crypto.ChunkID) error) error {
	c.mu.RLock()
	ids := make([]crypto.ChunkID, 0, len(c.m))
	for id := range c.m {
		ids = append(ids, id)
	}
	c.mu.RUnlock()
	sort.Slice(ids, func(i, j int) bool { return string(ids[i][:]) < string(ids[j][:]) })
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(id); err != nil {
			return err
		}
	}
	return nil
}

// Close implements ChunkStore.
func (c *MemChunks) Close() error { return nil }

// Set stores a chunk at once, bypassing batches: tests use it to plant or
// swap chunks.
func (c *MemChunks) Set(id crypto.ChunkID, sealed []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[id] = append([]byte(nil), sealed...)
}

// Open implements ChunkStore.
func (c *MemChunks) Open(id crypto.ChunkID) (io.ReadCloser, int64, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	b, ok := c.m[id]
	if !ok {
		return nil, 0, fmt.Errorf("chunk %s: %w", id, court.ErrNotFound)
	}
	return io.NopCloser(bytes.NewReader(b)), int64(len(b)), nil
}

// Stage implements ChunkStore: the bytes are kept in memory.
func (c *MemChunks) Stage(sealed []byte) (StagedChunk, error) {
	return &memStaged{c: c, b: append([]byte(nil), sealed...)}, nil
}

type memStaged struct {
	c *MemChunks
	b []byte
}

func (s *memStaged) Abort() { s.b = nil }

// NewBatch implements ChunkStore.
func (c *MemChunks) NewBatch() ChunkBatch {
	return &memBatch{c: c, m: map[crypto.ChunkID][]byte{}}
}

type memBatch struct {
	c *MemChunks
	m map[crypto.ChunkID][]byte
}

func (b *memBatch) Len() int { return len(b.m) }

func (b *memBatch) Put(id crypto.ChunkID, sealed []byte) (bool, error) {
	if _, ok := b.m[id]; ok {
		return false, nil
	}
	if ok, _ := b.c.Has(id); ok {
		return false, nil
	}
	b.m[id] = append([]byte(nil), sealed...)
	return true, nil
}

func (b *memBatch) PutStaged(id crypto.ChunkID, s StagedChunk) (bool, error) {
	ms, ok := s.(*memStaged)
	if !ok || ms.c != b.c {
		s.Abort()
		return false, fmt.Errorf("chunk %s: %w: staged by another store", id, court.ErrInvalid)
	}
	return b.Put(id, ms.b)
}

func (b *memBatch) Commit() error {
	b.c.mu.Lock()
	defer b.c.mu.Unlock()
	for id, v := range b.m {
		b.c.m[id] = v
	}
	b.m = map[crypto.ChunkID][]byte{}
	return nil
}

func (b *memBatch) Discard() { b.m = map[crypto.ChunkID][]byte{} }
