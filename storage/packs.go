package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
)

// Packs hold the chunks a fetch stages (FileChunks.Stage): appended one
// after another to a pack file, so that a group commit is one fsync of the
// pack and one of its index, where a file per chunk costs a create, an
// fsync, a rename and a directory fsync per chunk. On a 2-core machine
// that difference is most of the cost of storing a fetched dossier.
//
// chunks/packs/NNNNNNNN.pack  sealed chunks, back to back
// chunks/packs/NNNNNNNN.idx   fixed-size entries, appended at each commit
//
// An index entry is written only after the pack bytes it points to are
// durable, and the index is fsynced before the chunks become visible: a
// chunk named by an entry is complete. An entry carries a CRC, so a torn
// tail (a crash while the index was written) is recognised and cut at
// open, as are pack bytes that no entry names (staged, never committed).
// Deleting a chunk appends a tombstone entry (not synced: deletion need
// not be durable); a pack whose chunks are all deleted is removed. Space
// of deleted chunks in a pack that still holds others is reclaimed only
// when the last goes: a fetched dossier's chunks are collected together.
//
// Every committed pack chunk is indexed in memory (about 80 bytes each,
// 80 MiB per million chunks, i.e. per TiB of fetched dossiers).
const (
	packDir     = "packs"
	packEntry   = 48 // id 32, offset 8, size 4 (high bit: tombstone), crc 4
	packDeleted = 1 << 31
)

// DefaultPackBytes is the size past which a new pack is started.
const DefaultPackBytes int64 = 256 << 20

type packLoc struct {
	pack uint32
	off  int64
	size uint32
}

type pack struct {
	n    uint32
	f    *os.File // the pack: written by Stage, fsynced by commits
	idx  *os.File // the index, appended under FileChunks.mu
	end  int64    // where the next staged chunk goes
	live int      // committed chunks not deleted
	// idxEnd is the length of the index's valid entries: the next entry
	// is written there, and a failed write is cut back to it.
	idxEnd int64
	// broken is set (under FileChunks.mu) when an fsync of the pack or a
	// write or fsync of its index failed: bytes staged before it may not
	// be on disk, and an entry after a torn one would be cut at the next
	// open. A broken pack takes no more chunks and commits none; what it
	// already committed stays readable.
	broken error
	// staged counts chunks staged here and neither committed nor
	// dropped: a pack is not removed under them.
	staged int
}

func (c *FileChunks) packPath(n uint32, ext string) string {
	return filepath.Join(c.dir, packDir, fmt.Sprintf("%08d.%s", n, ext))
}

// openPacks loads every pack index, cuts torn tails and uncommitted pack
// bytes, and removes packs with no live chunk. Packs are reopened for
// reading and deleting only: new chunks go to a new pack.
func (c *FileChunks) openPacks() error {
	dir := filepath.Join(c.dir, packDir)
	c.index = map[crypto.ChunkID]packLoc{}
	c.committing = map[crypto.ChunkID]bool{}
	c.packs = map[uint32]*pack{}
	if !c.ro {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
	}
	ents, err := os.ReadDir(dir)
	if c.ro && errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	seen := map[uint32]bool{}
	for _, e := range ents {
		name, ext, ok := strings.Cut(e.Name(), ".")
		n, err := strconv.ParseUint(name, 10, 32)
		if !ok || err != nil || (ext != "pack" && ext != "idx") {
			continue
		}
		seen[uint32(n)] = true
		c.next = max(c.next, uint32(n)+1)
	}
	nums := make([]uint32, 0, len(seen))
	for n := range seen {
		nums = append(nums, n)
	}
	sort.Slice(nums, func(i, j int) bool { return nums[i] < nums[j] })
	for _, n := range nums {
		if err := c.loadPack(n); err != nil {
			return fmt.Errorf("pack %08d: %w", n, err)
		}
	}
	return nil
}

func (c *FileChunks) loadPack(n uint32) error {
	mode := os.O_RDWR
	if c.ro {
		mode = os.O_RDONLY
	}
	idx, err := os.OpenFile(c.packPath(n, "idx"), mode, 0o600)
	if c.ro && errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		// A pack whose index was never created holds nothing committed.
		return os.Remove(c.packPath(n, "pack"))
	}
	if err != nil {
		return err
	}
	raw, err := io.ReadAll(idx)
	if err != nil {
		idx.Close()
		return err
	}
	p := &pack{n: n, idx: idx}
	locs := map[crypto.ChunkID]packLoc{}
	// The pack's size: an entry naming bytes past it was committed to a
	// filesystem that lost the pack's tail after acknowledging it (a
	// crash on a disk that lies about its syncs). It is cut like a torn
	// entry, with everything after it, rather than refusing the whole
	// store: the chunks it named are missing, and a fetch that marked
	// them verified fetches them again.
	packSize := int64(-1)
	if st, err := os.Stat(c.packPath(n, "pack")); err == nil {
		packSize = st.Size()
	}
	var valid, end int64
	for len(raw)-int(valid) >= packEntry {
		e := raw[valid : valid+packEntry]
		if crc32.ChecksumIEEE(e[:packEntry-4]) != binary.BigEndian.Uint32(e[packEntry-4:]) {
			break // a torn write: everything after it is cut
		}
		var id crypto.ChunkID
		copy(id[:], e[:32])
		off := int64(binary.BigEndian.Uint64(e[32:40]))
		size := binary.BigEndian.Uint32(e[40:44])
		if size&packDeleted == 0 && packSize >= 0 && off+int64(size) > packSize {
			c.cutEntries += (len(raw) - int(valid)) / packEntry
			break
		}
		if size&packDeleted != 0 {
			delete(locs, id)
		} else {
			locs[id] = packLoc{pack: n, off: off, size: size}
			end = max(end, off+int64(size))
		}
		valid += packEntry
	}
	if valid != int64(len(raw)) && !c.ro {
		if err := idx.Truncate(valid); err != nil {
			idx.Close()
			return err
		}
	}
	p.idxEnd = valid
	if len(locs) == 0 {
		idx.Close()
		if c.ro {
			return nil
		}
		return c.removePack(n)
	}
	f, err := os.OpenFile(c.packPath(n, "pack"), mode, 0o600)
	if err != nil {
		idx.Close()
		return err
	}
	st, err := f.Stat()
	if err == nil && st.Size() < end {
		err = fmt.Errorf("%w: the index names bytes up to %d, the pack has %d", court.ErrCorrupt, end, st.Size())
	}
	if err == nil && st.Size() > end && !c.ro {
		err = f.Truncate(end) // staged, never committed
	}
	if err != nil {
		f.Close()
		idx.Close()
		return err
	}
	p.f, p.end = f, end
	c.packs[n] = p
	for id, l := range locs {
		if _, dup := c.index[id]; !dup { // the same chunk in an older pack serves
			c.index[id] = l
			p.live++
		}
	}
	return c.dropIfEmpty(p)
}

func (c *FileChunks) removePack(n uint32) error {
	for _, ext := range []string{"idx", "pack"} {
		if err := os.Remove(c.packPath(n, ext)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// stage writes sealed to the active pack (starting one when there is
// none or it is full). The space is reserved under c.mu and written
// outside it, so that concurrent fetch streams write at once.
func (c *FileChunks) stage(sealed []byte) (*packStaged, error) {
	if len(sealed) > crypto.MaxChunkSize+crypto.ChunkOverhead {
		return nil, fmt.Errorf("%w: a sealed chunk of %d bytes", court.ErrInvalid, len(sealed))
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, fmt.Errorf("chunk store %s: %w: closed", c.dir, court.ErrUnavailable)
	}
	if c.active == nil || c.active.broken != nil || c.active.end+int64(len(sealed)) > c.packBytes {
		p, err := c.newPack()
		if err != nil {
			c.mu.Unlock()
			return nil, err
		}
		old := c.active
		c.active = p
		if old != nil {
			c.dropIfEmpty(old)
		}
	}
	p := c.active
	s := &packStaged{c: c, p: p, off: p.end, size: uint32(len(sealed))}
	p.end += int64(len(sealed))
	p.staged++
	c.mu.Unlock()
	if _, err := p.f.WriteAt(sealed, s.off); err != nil {
		s.release()
		return nil, err
	}
	return s, nil
}

// newPack creates the next pack and its (empty) index, durable by name
// before any commit points into them. Called with c.mu held.
func (c *FileChunks) newPack() (*pack, error) {
	n := c.next
	c.next++
	f, err := os.OpenFile(c.packPath(n, "pack"), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	idx, err := os.OpenFile(c.packPath(n, "idx"), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	if err := syncDirs([]string{filepath.Join(c.dir, packDir)}); err != nil {
		f.Close()
		idx.Close()
		c.removePack(n)
		return nil, err
	}
	p := &pack{n: n, f: f, idx: idx}
	c.packs[n] = p
	return p, nil
}

// packStaged is a chunk written to a pack, not yet committed.
type packStaged struct {
	c     *FileChunks
	p     *pack
	off   int64
	size  uint32
	taken bool // handed to a batch, which releases it
	done  bool // released
}

// Abort implements StagedChunk: the bytes stay in the pack, unnamed, and
// are cut when the store is next opened if nothing after them commits.
func (s *packStaged) Abort() {
	if !s.taken {
		s.release()
	}
}

// release ends the staging (committed or dropped), once.
func (s *packStaged) release() {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	if !s.done {
		s.done = true
		s.p.staged--
		s.c.dropIfEmpty(s.p)
	}
}

// dropIfEmpty removes a pack that holds nothing live, is not being
// written to and has no staged chunk. Called with c.mu held.
func (c *FileChunks) dropIfEmpty(p *pack) error {
	if c.ro {
		return nil
	}
	if p.live > 0 || p.staged > 0 || p == c.active || c.packs[p.n] != p {
		return nil
	}
	p.f.Close()
	p.idx.Close()
	delete(c.packs, p.n)
	return c.removePack(p.n)
}

// commitPacked makes staged chunks durable and visible: the packs they
// are in are fsynced, then their index entries are appended and fsynced,
// then the chunks join the in-memory index.
func (c *FileChunks) commitPacked(staged []*packStaged, ids []crypto.ChunkID) error {
	byPack := map[*pack][]int{}
	for i, s := range staged {
		byPack[s.p] = append(byPack[s.p], i)
	}
	packs := make([]*pack, 0, len(byPack))
	for p := range byPack {
		packs = append(packs, p)
	}
	// 1. The bytes. A pack that broke (here or in another group) commits
	// nothing more: what was staged in it is dropped and fetched again.
	c.mu.Lock()
	for _, p := range packs {
		if p.broken != nil {
			c.mu.Unlock()
			return fmt.Errorf("chunk pack %08d: %w", p.n, p.broken)
		}
	}
	c.mu.Unlock()
	if err := c.syncPacks(packs, func(p *pack) *os.File { return p.f }); err != nil {
		return err
	}
	// 2. The index entries, each after its bytes. A chunk stored or
	// being committed by another batch is not named twice.
	c.mu.Lock()
	named := make([]bool, len(staged))
	for _, p := range packs {
		if p.broken != nil { // broke in another group since step 1
			c.unmark(ids, named)
			c.mu.Unlock()
			return fmt.Errorf("chunk pack %08d: %w", p.n, p.broken)
		}
		buf := make([]byte, 0, packEntry*len(byPack[p]))
		for _, i := range byPack[p] {
			if _, ok := c.index[ids[i]]; ok || c.committing[ids[i]] {
				continue
			}
			c.committing[ids[i]] = true
			named[i] = true
			buf = appendPackEntry(buf, ids[i], staged[i].off, staged[i].size)
		}
		if err := p.appendIndex(buf); err != nil {
			p.broken = err
			c.unmark(ids, named)
			c.mu.Unlock()
			return err
		}
	}
	c.mu.Unlock()
	if err := c.syncPacks(packs, func(p *pack) *os.File { return p.idx }); err != nil {
		c.mu.Lock()
		c.unmark(ids, named)
		c.mu.Unlock()
		return err
	}
	// 3. Visible.
	c.mu.Lock()
	defer c.mu.Unlock()
	c.unmark(ids, named)
	for i, s := range staged {
		if named[i] {
			c.index[ids[i]] = packLoc{pack: s.p.n, off: s.off, size: s.size}
			s.p.live++
		}
	}
	for _, s := range staged {
		if !s.done {
			s.done = true
			s.p.staged--
			c.dropIfEmpty(s.p) // every copy was a duplicate
		}
	}
	return nil
}

func (c *FileChunks) unmark(ids []crypto.ChunkID, named []bool) {
	for i, ok := range named {
		if ok {
			delete(c.committing, ids[i])
		}
	}
}

func appendPackEntry(buf []byte, id crypto.ChunkID, off int64, size uint32) []byte {
	start := len(buf)
	buf = append(buf, id[:]...)
	buf = binary.BigEndian.AppendUint64(buf, uint64(off))
	buf = binary.BigEndian.AppendUint32(buf, size)
	return binary.BigEndian.AppendUint32(buf, crc32.ChecksumIEEE(buf[start:]))
}

// deletePacked drops a pack chunk: a tombstone in the index, and the pack
// itself once nothing in it is live. It reports false if id is not in a
// pack. Called with c.mu held.
func (c *FileChunks) deletePacked(id crypto.ChunkID) (bool, error) {
	l, ok := c.index[id]
	if !ok {
		return false, nil
	}
	delete(c.index, id)
	p := c.packs[l.pack]
	if p == nil {
		return true, nil
	}
	p.live--
	if p.broken == nil {
		// Not synced: a deletion need not be durable. On a broken pack
		// none is written (the chunk may come back at the next open,
		// and is then deleted again by the next garbage collection).
		if err := p.appendIndex(appendPackEntry(nil, id, l.off, l.size|packDeleted)); err != nil {
			p.broken = err
			return true, err
		}
	}
	return true, c.dropIfEmpty(p)
}

// appendIndex writes entries at the end of the index's valid entries. A
// failed or short write is cut back, so that no torn entry stays in front
// of later ones; the caller marks the pack broken. Called with c.mu held.
func (p *pack) appendIndex(entries []byte) error {
	k, err := p.idx.WriteAt(entries, p.idxEnd)
	if err == nil && k != len(entries) {
		err = io.ErrShortWrite
	}
	if err != nil {
		if terr := p.idx.Truncate(p.idxEnd); terr != nil {
			err = fmt.Errorf("%w (and cutting the torn entry failed: %v)", err, terr)
		}
		return fmt.Errorf("chunk pack %08d index: %w", p.n, err)
	}
	p.idxEnd += int64(k)
	return nil
}

// syncPacks fsyncs file(p) of each pack at once; a pack whose fsync
// fails is broken.
func (c *FileChunks) syncPacks(packs []*pack, file func(*pack) *os.File) error {
	return parallel(len(packs), func(i int) error {
		if err := file(packs[i]).Sync(); err != nil {
			c.breakPack(packs[i], err)
			return err
		}
		return nil
	})
}

// breakPack marks p broken after a failed fsync, and stops staging into it.
func (c *FileChunks) breakPack(p *pack, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p.broken == nil {
		p.broken = fmt.Errorf("chunk pack %08d: fsync failed, later commits refused: %w", p.n, err)
	}
}

// openPacked opens a pack chunk for reading; ok is false if id is not in a
// pack. Each reader has its own descriptor, so a pack removed meanwhile
// stays readable until it is closed.
func (c *FileChunks) openPacked(id crypto.ChunkID) (r io.ReadCloser, size int64, ok bool, err error) {
	c.mu.RLock()
	l, ok := c.index[id]
	c.mu.RUnlock()
	if !ok {
		return nil, 0, false, nil
	}
	f, err := os.Open(c.packPath(l.pack, "pack"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, true, fmt.Errorf("chunk %s: %w", id, court.ErrNotFound) // deleted meanwhile
	}
	if err != nil {
		return nil, 0, true, fmt.Errorf("chunk %s: %w", id, err)
	}
	return &sectionFile{SectionReader: io.NewSectionReader(f, l.off, int64(l.size)), f: f}, int64(l.size), true, nil
}

type sectionFile struct {
	*io.SectionReader
	f *os.File
}

func (s *sectionFile) Close() error { return s.f.Close() }

// packedIDs returns the ids of the committed pack chunks.
func (c *FileChunks) packedIDs() []crypto.ChunkID {
	c.mu.RLock()
	defer c.mu.RUnlock()
	ids := make([]crypto.ChunkID, 0, len(c.index))
	for id := range c.index {
		ids = append(ids, id)
	}
	return ids
}

// closePacks closes every pack. Called with c.mu held.
func (c *FileChunks) closePacks() error {
	var first error
	for _, p := range c.packs {
		for _, f := range []*os.File{p.f, p.idx} {
			if err := f.Close(); err != nil && first == nil {
				first = err
			}
		}
	}
	c.packs, c.active, c.closed = nil, nil, true
	return first
}
