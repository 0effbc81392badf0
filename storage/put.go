package storage

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
)

// DocumentSource supplies one document's plaintext to PutCase. Open may
// be called more than once; the bytes must hash to Hash each time.
type DocumentSource struct {
	Open func() (io.ReadCloser, error)
	Size int64
	Hash crypto.DocumentID
}

// NewCase is a validated case ready to be stored. Import builds it; the
// store trusts its validation and only seals and writes.
type NewCase struct {
	// Version holds the case's data. Its Documents carry ID, Kind, Title,
	// File, Size and Hash; PutCase fills the chunk fields, the version
	// number and the timestamps. Parties and assets carry masked forms
	// only.
	Version CaseVersion
	// Sources holds the plaintext of Version.Documents, in the same order.
	Sources []DocumentSource
	// CaseJSON is the original case.json; it is stored sealed.
	CaseJSON []byte
	// PartyIDs maps party id to identity number and AssetAccounts asset
	// id to account number; both are sealed under the data key.
	PartyIDs      map[string]string
	AssetAccounts map[string]string
}

// PutResult says what PutCase did.
type PutResult struct {
	Number    court.CaseNumber
	Version   int   // the version now current
	Unchanged bool  // the same content was already stored; nothing written
	Documents int   // documents in the version
	Bytes     int64 // plaintext bytes of the documents
	Chunks    int   // chunks of the version
	NewChunks int   // chunks written (others were already stored)
}

// PutCase stores a case: a new case as version 1, a changed case as a new
// version (older versions are kept), an unchanged case not at all.
//
// It first writes the sealed chunks to the chunk store, where they are
// content-addressed and unreachable until referenced, then commits every record of the case (head
// record, version, assets, measures and their indexes) in one small
// transaction. A crash before that commit leaves only unreferenced chunks,
// which the next Open removes; see the package documentation.
//
// It is long on purpose: one transaction's worth of checks and writes (an
// import lands whole or not at all), in the order they must happen.
func (db *DB) PutCase(ctx context.Context, in NewCase) (PutResult, error) {
	n := in.Version.Number
	res := PutResult{Number: n}
	if db.dec == nil {
		return res, fmt.Errorf("store case %s: %w: no decryption key configured", n, court.ErrUnavailable)
	}
	if len(in.Sources) != len(in.Version.Documents) {
		return res, fmt.Errorf("store case %s: %d documents but %d sources", n, len(in.Version.Documents), len(in.Sources))
	}
	if err := db.writable("store case " + n.String()); err != nil {
		return res, err
	}
	hashes := make([]crypto.DocumentID, len(in.Sources))
	for i, s := range in.Sources {
		hashes[i] = s.Hash
	}
	contentHash := ContentHash(in.CaseJSON, hashes)

	db.gcMu.RLock()
	defer db.gcMu.RUnlock()

	var head CaseRecord
	err := db.bdb.View(func(txn *badger.Txn) error { return getJSON(txn, caseKey(n), &head) })
	exists := err == nil
	if err != nil && !errors.Is(err, court.ErrNotFound) {
		return res, fmt.Errorf("store case %s: %w", n, err)
	}
	if exists && head.ContentHash == contentHash {
		res.Version, res.Unchanged = head.Version, true
		return res, nil
	}
	// The whole import must fit above the disk's reserve (chunks already
	// stored are counted too: an estimate from above); each chunk is
	// checked again as it is written, as other writers share the disk.
	sealedSize := int64(len(in.CaseJSON)) + crypto.ChunkOverhead
	for _, s := range in.Sources {
		sealedSize += s.Size + int64(crypto.ChunkCount(s.Size, db.chunkSize))*crypto.ChunkOverhead
	}
	if err := db.space.need("import", sealedSize, 0); err != nil {
		return res, fmt.Errorf("store case %s: %w; nothing was imported", n, err)
	}

	var dk crypto.DataKey
	if exists {
		dk, err = crypto.UnwrapDataKey(db.dec, crypto.PurposeDossier, n.String(), head.WrappedKey)
		if err != nil {
			return res, fmt.Errorf("store case %s: %w", n, err)
		}
	} else {
		if dk, err = crypto.NewDataKey(); err != nil {
			return res, err
		}
		head.WrappedKey, err = crypto.WrapDataKey(db.dec.KEM(), db.dec.PublicKey(), crypto.PurposeDossier, n.String(), dk)
		if err != nil {
			return res, fmt.Errorf("store case %s: %w", n, err)
		}
	}

	v := in.Version
	v.V = RecordVersion
	v.ContentHash = contentHash
	v.Version = head.Version + 1
	now := db.now().UTC().Format(time.RFC3339)
	v.Imported = now
	v.Parties = append([]court.Party(nil), v.Parties...)
	for i := range v.Parties {
		p := &v.Parties[i]
		if id, ok := in.PartyIDs[p.ID]; ok && id != "" {
			if p.IDSealed, err = dk.SealFieldIn(db.suite, FieldLabel("party", p.ID, "id_number"), []byte(id)); err != nil {
				return res, err
			}
		}
	}
	v.Assets = append([]court.Asset(nil), v.Assets...)
	for i := range v.Assets {
		a := &v.Assets[i]
		if acct, ok := in.AssetAccounts[a.ID]; ok && acct != "" {
			if a.AccountSealed, err = dk.SealFieldIn(db.suite, FieldLabel("asset", a.ID, "account"), []byte(acct)); err != nil {
				return res, err
			}
		}
	}

	// Mark the import pending so that a crash is cleaned up at next open.
	var pid [16]byte
	rand.Read(pid[:])
	pendingKey := []byte(prefixPending + hex.EncodeToString(pid[:]))
	if err := db.bdb.Update(func(txn *badger.Txn) error { return txn.Set(pendingKey, []byte(n.String())) }); err != nil {
		return res, fmt.Errorf("store case %s: %w", n, err)
	}
	// The marker must be durable before the first chunk file is: the
	// chunk store and Badger are synced separately.
	if err := db.syncLogs(); err != nil {
		return res, fmt.Errorf("store case %s: %w", n, err)
	}
	// From here on, a failure leaves the marker: the chunks already
	// written are collected at the next Open or CollectGarbage.

	w := newChunkWriter(db.chunks)
	w.space, w.whole = db.space, sealedSize
	pool := newSealPool(runtime.GOMAXPROCS(0))
	defer pool.close()
	v.Documents = append([]Document(nil), v.Documents...)
	for i := range v.Documents {
		d := &v.Documents[i]
		if err := db.sealDocument(ctx, w, pool, dk, d, in.Sources[i], &res); err != nil {
			w.abort()
			return res, fmt.Errorf("store case %s: document %s (%s): %w", n, d.ID, d.File, err)
		}
	}
	src := Document{ID: "case.json", Kind: "case_json", File: "case.json", Internal: true}
	caseJSON := in.CaseJSON
	srcSource := DocumentSource{
		Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(caseJSON)), nil },
		Size: int64(len(caseJSON)), Hash: db.suite.DocumentID(caseJSON),
	}
	if err := db.sealDocument(ctx, w, pool, dk, &src, srcSource, &PutResult{}); err != nil {
		w.abort()
		return res, fmt.Errorf("store case %s: case.json: %w", n, err)
	}
	v.Source = src
	// The chunks must be durable before the record that references them:
	// flush returns once every batch is committed (fsynced).
	if err := w.flush(); err != nil {
		return res, fmt.Errorf("store case %s: write chunks: %w", n, err)
	}

	oldVersion, oldRevision := head.Version, head.Revision
	head.V = RecordVersion
	head.Number = n
	head.Court = v.Court
	oldStatus := head.Status
	head.Status = v.Status
	head.Version = v.Version
	head.ContentHash = contentHash
	if head.Created == "" {
		head.Created = now
	}
	head.Updated = now
	head.Respondents = nil
	for _, p := range v.Parties {
		if p.Role == court.RoleRespondent {
			head.Respondents = append(head.Respondents, p.Name)
		}
	}
	err = db.bdb.Update(func(txn *badger.Txn) error {
		var cur CaseRecord
		err := getJSON(txn, caseKey(n), &cur)
		switch {
		case errors.Is(err, court.ErrNotFound):
			if exists {
				return fmt.Errorf("%w: case %s was removed during the import; import again", court.ErrConflict, n)
			}
		case err != nil:
			return err
		case cur.Version != oldVersion:
			return fmt.Errorf("%w: case %s changed to version %d during the import; import again", court.ErrConflict, n, cur.Version)
		case cur.Revision != oldRevision:
			return fmt.Errorf("%w: case %s changed during the import (an asset update or a status change); import again", court.ErrConflict, n)
		}
		if err := db.clearCurrent(txn, n, oldStatus); err != nil {
			return err
		}
		if err := setJSON(txn, versionKey(n, v.Version), v); err != nil {
			return err
		}
		if err := setJSON(txn, caseKey(n), head); err != nil {
			return err
		}
		if err := txn.Set(caseStatusKey(v.Status, n), nil); err != nil {
			return err
		}
		for _, a := range v.Assets {
			if err := setJSON(txn, assetKey(n, a.ID), a); err != nil {
				return err
			}
		}
		for _, m := range v.Measures {
			if err := setJSON(txn, measureKey(n, m.ID), m); err != nil {
				return err
			}
			if indexed(m) {
				if err := txn.Set(measureExpiryKey(m.Expiry, n, m.ID), nil); err != nil {
					return err
				}
			}
		}
		return txn.Delete(pendingKey)
	})
	if errors.Is(err, badger.ErrConflict) {
		err = fmt.Errorf("%w: case %s was written concurrently; import again", court.ErrConflict, n)
	}
	if err != nil {
		return res, fmt.Errorf("store case %s: commit: %w", n, err)
	}
	if err := db.syncLogs(); err != nil {
		return res, fmt.Errorf("store case %s: sync after commit: %w", n, err)
	}
	res.Version = v.Version
	res.Documents = len(v.Documents)
	return res, nil
}

// indexed reports whether a measure belongs in the expiry index: an
// active measure with a term.
func indexed(m court.Measure) bool {
	return m.Running()
}

// clearCurrent removes a case's current assets, measures and index
// entries, before the records of a new version are written.
func (db *DB) clearCurrent(txn *badger.Txn, n court.CaseNumber, status court.CaseStatus) error {
	if status != "" {
		if err := txn.Delete(caseStatusKey(status, n)); err != nil {
			return err
		}
	}
	var del [][]byte
	it := txn.NewIterator(badger.IteratorOptions{Prefix: assetPrefix(n)})
	for it.Rewind(); it.Valid(); it.Next() {
		del = append(del, it.Item().KeyCopy(nil))
	}
	it.Close()
	it = txn.NewIterator(badger.IteratorOptions{Prefix: measurePrefix(n), PrefetchValues: true})
	for it.Rewind(); it.Valid(); it.Next() {
		del = append(del, it.Item().KeyCopy(nil))
		var m court.Measure
		if err := it.Item().Value(func(b []byte) error { return jsonUnmarshal(b, &m) }); err != nil {
			it.Close()
			return err
		}
		if indexed(m) {
			del = append(del, measureExpiryKey(m.Expiry, n, m.ID))
		}
	}
	it.Close()
	for _, k := range del {
		if err := txn.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// sealDocument reads a document chunk by chunk, checks it against its
// declared size and hash, and writes its sealed chunks. Reading, hashing
// the plaintext and writing stay on the calling goroutine, in chunk order;
// only the sealing (AES-GCM and the hash of the sealed bytes) runs on the
// pool's workers. Each chunk's seal depends only on the data key, the
// document hash and the chunk index, so the result is the same as sealing
// one chunk after another.
func (db *DB) sealDocument(ctx context.Context, w *chunkWriter, pool *sealPool, dk crypto.DataKey, d *Document, src DocumentSource, res *PutResult) error {
	sealer, err := dk.DocumentIn(db.suite, src.Hash)
	if err != nil {
		return err
	}
	r, err := src.Open()
	if err != nil {
		return err
	}
	defer r.Close()
	size := db.chunkSize
	count := crypto.ChunkCount(src.Size, size)
	d.Size, d.Hash, d.ChunkSize, d.Suite = src.Size, src.Hash, size, db.suite
	d.Chunks = make([]crypto.ChunkID, 0, count)
	h := db.suite.NewHash()

	// queue holds the chunks handed to the pool and not yet written, in
	// index order; at most pool.window of them.
	var queue []*sealJob
	// write waits for the oldest chunk and writes it.
	write := func() error {
		j := queue[0]
		queue = queue[1:]
		<-j.done
		n := len(j.plain)
		pool.put(j.plain)
		if j.err != nil {
			return j.err
		}
		d.Chunks = append(d.Chunks, j.id)
		res.Chunks++
		res.Bytes += int64(n)
		wrote, err := w.put(j.id, j.sealed)
		if err != nil {
			return err
		}
		if wrote {
			res.NewChunks++
		}
		return nil
	}
	// abandon waits for the chunks in flight, so that no worker still
	// reads a buffer when this returns, and drops them.
	abandon := func(err error) error {
		for _, j := range queue {
			<-j.done
			pool.put(j.plain)
		}
		queue = nil
		return err
	}
	var total int64
	for i := uint32(0); i < count; i++ {
		if err := ctx.Err(); err != nil {
			return abandon(err)
		}
		if len(queue) == pool.window {
			if err := write(); err != nil {
				return abandon(err)
			}
		}
		buf := pool.get(size)
		want := min(int64(size), src.Size-total)
		m, err := io.ReadFull(r, buf[:want])
		if err != nil {
			pool.put(buf)
			return abandon(fmt.Errorf("read: %w (the file changed or shrank during the import)", err))
		}
		total += int64(m)
		h.Write(buf[:m])
		j := &sealJob{sealer: sealer, index: i, count: count, plain: buf[:m], done: make(chan struct{})}
		pool.jobs <- j
		queue = append(queue, j)
	}
	for len(queue) > 0 {
		if err := write(); err != nil {
			return abandon(err)
		}
	}
	var one [1]byte
	if extra, _ := r.Read(one[:]); extra > 0 {
		return fmt.Errorf("%w: the file grew during the import", court.ErrConflict)
	}
	if crypto.DocumentID(h.Sum(nil)) != src.Hash {
		return fmt.Errorf("%w: the file changed during the import (hash differs)", court.ErrConflict)
	}
	root := db.suite.MerkleRoot(d.Chunks)
	d.Root = hex.EncodeToString(root[:])
	return nil
}

// sealPool seals chunks on a fixed set of worker goroutines, owned by the
// PutCase that starts it and stopped by close. The caller keeps at most
// window chunks in flight and collects them in order; plaintext buffers
// are recycled through free, so an import holds about window chunks of
// plaintext and of sealed bytes at a time.
type sealPool struct {
	jobs   chan *sealJob
	free   chan []byte
	window int
	wg     sync.WaitGroup
}

// sealJob is one chunk to seal. The worker fills sealed, id and err, then
// closes done.
type sealJob struct {
	sealer       *crypto.DocumentSealer
	index, count uint32
	plain        []byte
	sealed       []byte
	id           crypto.ChunkID
	err          error
	done         chan struct{}
}

// newSealPool starts workers sealing goroutines (at least one).
func newSealPool(workers int) *sealPool {
	workers = max(workers, 1)
	window := 2 * workers
	p := &sealPool{jobs: make(chan *sealJob, window), free: make(chan []byte, window), window: window}
	p.wg.Add(workers)
	for range workers {
		go func() {
			defer p.wg.Done()
			for j := range p.jobs {
				j.sealed, j.id, j.err = j.sealer.Seal(make([]byte, 0, len(j.plain)+crypto.ChunkOverhead), j.index, j.count, j.plain)
				close(j.done)
			}
		}()
	}
	return p
}

// get returns a plaintext buffer of size bytes.
func (p *sealPool) get(size int) []byte {
	select {
	case b := <-p.free:
		if cap(b) >= size {
			return b[:size]
		}
	default:
	}
	return make([]byte, size)
}

// put recycles a buffer that no worker uses any more.
func (p *sealPool) put(b []byte) {
	select {
	case p.free <- b[:cap(b)]:
	default:
	}
}

// close stops the workers once they are idle; the caller must have
// collected or abandoned every job first.
func (p *sealPool) close() {
	close(p.jobs)
	p.wg.Wait()
}

// chunkWriter writes sealed chunks to the chunk store in batches of about
// chunkBatchBytes, committing (fsync) asynchronously with a bounded number
// of batches in flight, so that sealing goes on while the disk syncs.
// Chunks already stored, or already written by this import, are skipped.
type chunkWriter struct {
	cs       ChunkStore
	batch    ChunkBatch
	pending  int
	seen     map[crypto.ChunkID]bool
	inflight chan struct{}
	wg       sync.WaitGroup
	mu       sync.Mutex
	err      error
	// space, if set, refuses a chunk that would eat into the disk's
	// reserve.
	space *spaceGuard
	whole int64
}

const chunkBatchBytes = 16 << 20

func newChunkWriter(cs ChunkStore) *chunkWriter {
	return &chunkWriter{cs: cs, seen: map[crypto.ChunkID]bool{}, inflight: make(chan struct{}, 2)}
}

func (w *chunkWriter) firstErr() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

func (w *chunkWriter) put(id crypto.ChunkID, sealed []byte) (bool, error) {
	if err := w.firstErr(); err != nil {
		return false, err
	}
	if w.seen[id] {
		return false, nil
	}
	if w.space != nil {
		if err := w.space.need("import", int64(len(sealed)), w.whole); err != nil {
			return false, err
		}
	}
	if w.batch == nil {
		w.batch = w.cs.NewBatch()
	}
	wrote, err := w.batch.Put(id, sealed)
	if err != nil {
		return false, err
	}
	w.seen[id] = true
	if wrote {
		w.pending += len(sealed)
		if w.pending >= chunkBatchBytes {
			w.commit()
		}
	}
	return wrote, nil
}

// commit hands the current batch to a goroutine that commits it.
func (w *chunkWriter) commit() {
	if w.batch == nil {
		return
	}
	b := w.batch
	w.batch, w.pending = nil, 0
	w.inflight <- struct{}{}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		if err := b.Commit(); err != nil {
			w.mu.Lock()
			if w.err == nil {
				w.err = err
			}
			w.mu.Unlock()
		}
		<-w.inflight
	}()
}

// flush commits what is left and waits: on success every chunk written is
// durable.
func (w *chunkWriter) flush() error {
	w.commit()
	w.wg.Wait()
	return w.firstErr()
}

func (w *chunkWriter) abort() {
	if w.batch != nil {
		w.batch.Discard()
		w.batch = nil
	}
	w.wg.Wait()
}
