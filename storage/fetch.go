package storage

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
)

// The receiving side of a dossier fetch.
//
// fm/<transfer> holds the manifest of a fetch in progress and
// fc/<transfer> its chunk IDs (written together; the chunks listed there
// are live for garbage collection, since no case refers to them yet, and
// a decider's copy never gets a case); each verified chunk is committed to
// the chunk store and only then is its bit fb/<transfer>/<index> set, so
// that a fetch cut by a crash or a dropped connection resumes without
// fetching a verified chunk again, and a bit never stands for a chunk
// that is not durable.
const (
	prefixFetchManifest = "fm/"
	prefixFetchChunks   = "fc/"
	prefixFetchBit      = "fb/"
	// hc/<transfer>/<hex SHA-256>: on the origin, the sealed case record
	// a handover named by its hash; every fetch of the transfer is served
	// exactly these bytes.
	prefixHandoverCase = "hc/"
)

// SaveHandoverCase keeps, durably, the sealed case record a handover is
// about to name by its SHA-256. It is keyed by the hash, so that a
// handover that is then refused (another won) never replaces the record
// the issued one names.
func (db *DB) SaveHandoverCase(transfer string, sealed []byte) ([32]byte, error) {
	h := sha256.Sum256(sealed)
	err := db.bdb.Update(func(txn *badger.Txn) error {
		return txn.Set([]byte(prefixHandoverCase+transfer+"/"+hex.EncodeToString(h[:])), sealed)
	})
	if err == nil {
		err = db.syncLogs()
	}
	if err != nil {
		return h, fmt.Errorf("transfer %s: save the handed-over case: %w", transfer, err)
	}
	return h, nil
}

// HandoverCase returns the sealed case record of transfer whose SHA-256
// is hash, or ErrNotFound.
func (db *DB) HandoverCase(transfer string, hash []byte) ([]byte, error) {
	var out []byte
	err := db.bdb.View(func(txn *badger.Txn) error {
		item, err := txn.Get([]byte(prefixHandoverCase + transfer + "/" + hex.EncodeToString(hash)))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return fmt.Errorf("transfer %s: the handed-over case record: %w", transfer, court.ErrNotFound)
		}
		if err != nil {
			return err
		}
		out, err = item.ValueCopy(nil)
		return err
	})
	return out, err
}

// chunkListVersion is the format version of an fc/ value: the version
// byte, then the 32-byte chunk IDs in manifest order.
const chunkListVersion = 1

func encodeChunkList(ids []crypto.ChunkID) []byte {
	b := make([]byte, 1, 1+32*len(ids))
	b[0] = chunkListVersion
	for _, id := range ids {
		b = append(b, id[:]...)
	}
	return b
}

func decodeChunkList(b []byte) ([]crypto.ChunkID, error) {
	if len(b) < 1 || b[0] != chunkListVersion || (len(b)-1)%32 != 0 {
		return nil, fmt.Errorf("%w: chunk list", court.ErrCorrupt)
	}
	ids := make([]crypto.ChunkID, (len(b)-1)/32)
	for i := range ids {
		copy(ids[i][:], b[1+32*i:])
	}
	return ids, nil
}

func fetchBitKey(transfer string, index uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte(prefixFetchBit+transfer+"/"), index)
}

// SaveFetchManifest keeps the manifest of a fetch in progress and the
// chunk IDs it lists (which garbage collection then keeps), durably,
// before any of its chunks is stored.
func (db *DB) SaveFetchManifest(transfer string, manifest []byte, chunks []crypto.ChunkID) error {
	// Not while garbage is collected: a chunk list saved after the
	// collection read the live set, and its chunks committed before the
	// collection walked the store, would be taken for garbage.
	db.gcMu.RLock()
	defer db.gcMu.RUnlock()
	err := db.bdb.Update(func(txn *badger.Txn) error {
		if err := txn.Set([]byte(prefixFetchManifest+transfer), manifest); err != nil {
			return err
		}
		return txn.Set([]byte(prefixFetchChunks+transfer), encodeChunkList(chunks))
	})
	if err == nil {
		err = db.syncLogs()
	}
	if err != nil {
		return fmt.Errorf("transfer %s: save the fetch manifest: %w", transfer, err)
	}
	return nil
}

// FetchManifest returns the saved manifest of a fetch, or ErrNotFound.
func (db *DB) FetchManifest(transfer string) ([]byte, error) {
	var out []byte
	err := db.bdb.View(func(txn *badger.Txn) error {
		item, err := txn.Get([]byte(prefixFetchManifest + transfer))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return court.ErrNotFound
		}
		if err != nil {
			return err
		}
		out, err = item.ValueCopy(nil)
		return err
	})
	return out, err
}

// FetchedChunk is one verified chunk of a fetch: the manifest index, its
// content address and its sealed bytes, either in memory (Sealed) or
// already written to the chunk store (Staged). With neither, the store
// must already hold the chunk.
type FetchedChunk struct {
	Index  uint32
	ID     crypto.ChunkID
	Sealed []byte
	Staged StagedChunk
}

// StageChunk writes a verified fetched chunk to the chunk store ahead of
// its commit; see ChunkStore.Stage. Hand it to PutFetchedChunks, or Abort
// it. sealed may be reused once it returns. A chunk that would leave less
// than the reserve free on the disk is refused with ErrDiskFull.
func (db *DB) StageChunk(sealed []byte) (StagedChunk, error) {
	if err := db.writable("store a fetched chunk"); err != nil {
		return nil, err
	}
	if err := db.space.need("fetch", int64(len(sealed)), 0); err != nil {
		return nil, err
	}
	return db.chunks.Stage(sealed)
}

// OpenSealedChunk opens a stored sealed chunk for reading and returns its
// size, or ErrNotFound. The caller closes it.
func (db *DB) OpenSealedChunk(id crypto.ChunkID) (io.ReadCloser, int64, error) {
	return db.chunks.Open(id)
}

// PutFetchedChunk stores a verified sealed chunk and marks index done.
// The caller has checked that sealed hashes to id and that id is the
// manifest's chunk at index. With sealed nil, the chunk must already be
// stored and only the bit is set.
func (db *DB) PutFetchedChunk(transfer string, index uint32, id crypto.ChunkID, sealed []byte) error {
	return db.PutFetchedChunks(transfer, []FetchedChunk{{Index: index, ID: id, Sealed: sealed}})
}

// PutFetchedChunks stores verified sealed chunks in one group commit and
// then marks their indexes done in one transaction: the chunks are
// durable in the chunk store before any bit is set. The caller has checked
// every chunk as for PutFetchedChunk. The sealed slices may be reused once
// it returns; staged chunks are taken over (committed, or dropped on
// error).
func (db *DB) PutFetchedChunks(transfer string, cs []FetchedChunk) error {
	if err := db.writable("store fetched chunks"); err != nil {
		return err
	}
	var bulk int64
	for _, c := range cs {
		bulk += int64(len(c.Sealed))
	}
	if bulk > 0 {
		if err := db.space.need("fetch", bulk, 0); err != nil {
			for _, c := range cs {
				if c.Staged != nil {
					c.Staged.Abort()
				}
			}
			return fmt.Errorf("transfer %s: %w", transfer, err)
		}
	}
	b := db.chunks.NewBatch()
	defer b.Discard()
	defer func() {
		for _, c := range cs {
			if c.Staged != nil {
				c.Staged.Abort() // a no-op for those the batch took
			}
		}
	}()
	for _, c := range cs {
		if c.Staged != nil {
			if _, err := b.PutStaged(c.ID, c.Staged); err != nil {
				return fmt.Errorf("transfer %s: store chunk %s: %w", transfer, c.ID, err)
			}
			continue
		}
		if c.Sealed == nil {
			ok, err := db.chunks.Has(c.ID)
			if err != nil {
				return fmt.Errorf("transfer %s: chunk %s: %w", transfer, c.ID, err)
			}
			if !ok {
				return fmt.Errorf("transfer %s: chunk %s: %w", transfer, c.ID, court.ErrNotFound)
			}
			continue
		}
		if _, err := b.Put(c.ID, c.Sealed); err != nil {
			return fmt.Errorf("transfer %s: store chunk %s: %w", transfer, c.ID, err)
		}
	}
	if err := b.Commit(); err != nil {
		return fmt.Errorf("transfer %s: store chunks: %w", transfer, err)
	}
	err := db.bdb.Update(func(txn *badger.Txn) error {
		for _, c := range cs {
			if err := txn.Set(fetchBitKey(transfer, c.Index), nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("transfer %s: mark chunks verified: %w", transfer, err)
	}
	return nil
}

// FetchedChunks returns the indexes of the chunks already verified.
func (db *DB) FetchedChunks(transfer string) (map[uint32]bool, error) {
	out := map[uint32]bool{}
	p := []byte(prefixFetchBit + transfer + "/")
	err := db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: p})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()[len(p):]
			if len(k) != 4 {
				return fmt.Errorf("%w: fetch bit key", court.ErrCorrupt)
			}
			out[binary.BigEndian.Uint32(k)] = true
		}
		return nil
	})
	return out, err
}

// SealedChunk returns a stored sealed chunk, or ErrNotFound.
func (db *DB) SealedChunk(id crypto.ChunkID) ([]byte, error) {
	return db.chunks.Append(nil, id)
}

// HasChunk reports whether a sealed chunk is stored.
func (db *DB) HasChunk(id crypto.ChunkID) (bool, error) {
	return db.chunks.Has(id)
}

// FileReceived files a fetched dossier as a new case of this court: the
// origin's case version v under the receiver's new number, measures now
// held by this court with their priority (rank) kept, the data key
// wrapped for this court's own key. Every chunk must already be stored;
// the fetch's chunk list is removed in the same transaction and its bits
// after it; its manifest is kept, for serving the copy. The new case's
// claim is balanceFen, the amount still unrecovered that the signed
// handover states (0 < balanceFen <= v.ClaimFen); the origin's claim is
// kept as OriginClaimFen.
func (db *DB) FileReceived(transfer string, newNumber court.CaseNumber, self court.CourtCode, v CaseVersion, key crypto.DataKey, balanceFen int64) (CaseRecord, error) {
	// The new case claims the balance, not the origin's claim
	// (法明传〔2018〕335号): it counts as a first enforcement of what is
	// still unrecovered.
	if balanceFen <= 0 || balanceFen > v.ClaimFen {
		return CaseRecord{}, fmt.Errorf("file %s: %w: a balance of %d fen against the origin's claim of %d fen; the handover must state a balance above 0 and at most the claim", newNumber, court.ErrInvalid, balanceFen, v.ClaimFen)
	}
	v.OriginClaimFen, v.ClaimFen = v.ClaimFen, balanceFen
	if db.dec == nil {
		return CaseRecord{}, fmt.Errorf("file %s: %w: no encryption key", newNumber, court.ErrUnavailable)
	}
	for _, d := range append(append([]Document(nil), v.Documents...), v.Source) {
		for _, c := range d.Chunks {
			ok, err := db.HasChunk(c)
			if err != nil {
				return CaseRecord{}, err
			}
			if !ok {
				return CaseRecord{}, fmt.Errorf("file %s: %w: chunk %s of document %s is missing", newNumber, court.ErrInvalid, c, d.ID)
			}
		}
	}
	wrapped, err := crypto.WrapDataKey(db.dec.KEM(), db.dec.PublicKey(), crypto.PurposeDossier, newNumber.String(), key)
	if err != nil {
		return CaseRecord{}, err
	}
	now := db.now().UTC().Format(time.RFC3339)
	origin := v.Court
	v.Number, v.Court, v.Version, v.Status, v.Imported = newNumber, self, 1, court.StatusActive, now
	for i := range v.Measures {
		// The origin's measures become the receiver's, their priority
		// kept; a seizure of a third court (ahead or behind in a waiting
		// line) stays that court's.
		if m := &v.Measures[i]; m.Status == court.MeasureActive && (m.Court == origin || m.Court == "") {
			m.Court = self
		}
	}
	head := CaseRecord{V: RecordVersion, Number: newNumber, Court: self, Status: court.StatusActive, Version: 1,
		ContentHash: v.ContentHash, WrappedKey: wrapped, Created: now, Updated: now, Transfer: transfer}
	for _, p := range v.Parties {
		if p.Role == court.RoleRespondent {
			head.Respondents = append(head.Respondents, p.Name)
		}
	}
	err = db.bdb.Update(func(txn *badger.Txn) error {
		if _, err := txn.Get(caseKey(newNumber)); err == nil {
			return fmt.Errorf("%w: case %s already exists in this court", court.ErrConflict, newNumber)
		}
		if err := setJSON(txn, versionKey(newNumber, 1), v); err != nil {
			return err
		}
		if err := setJSON(txn, caseKey(newNumber), head); err != nil {
			return err
		}
		if err := txn.Set(caseStatusKey(court.StatusActive, newNumber), nil); err != nil {
			return err
		}
		for _, a := range v.Assets {
			if err := setJSON(txn, assetKey(newNumber, a.ID), a); err != nil {
				return err
			}
		}
		for _, m := range v.Measures {
			if err := setJSON(txn, measureKey(newNumber, m.ID), m); err != nil {
				return err
			}
			if indexed(m) {
				if err := txn.Set(measureExpiryKey(m.Expiry, newNumber, m.ID), nil); err != nil {
					return err
				}
			}
		}
		// The manifest stays: the filed copy may serve the dossier to the
		// other courts holding a grant. The chunk list, which kept the
		// chunks from collection while no case referenced them, goes.
		return txn.Delete([]byte(prefixFetchChunks + transfer))
	})
	if err != nil {
		return CaseRecord{}, fmt.Errorf("file %s: %w", newNumber, err)
	}
	// The bits are no longer needed once the case is filed.
	bits, _ := db.FetchedChunks(transfer)
	wb := db.bdb.NewWriteBatch()
	for i := range bits {
		wb.Delete(fetchBitKey(transfer, i))
	}
	wb.Flush()
	return head, nil
}

// DataKey unwraps the data key of a stored case.
func (db *DB) DataKey(n court.CaseNumber) (crypto.DataKey, error) {
	head, _, err := db.Case(n)
	if err != nil {
		return crypto.DataKey{}, err
	}
	return db.dataKey(head)
}

// SetCaseTransfer records, for a case filed from a fetched dossier by a
// build that did not, the transfer it came by (if none is recorded).
func (db *DB) SetCaseTransfer(n court.CaseNumber, transfer string) error {
	return db.update(func(txn *badger.Txn) error { // run again on a concurrent commit
		var head CaseRecord
		if err := getJSON(txn, caseKey(n), &head); err != nil {
			return fmt.Errorf("case %s: %w", n, err)
		}
		if head.Transfer != "" {
			return nil
		}
		head.Transfer = transfer
		return setJSON(txn, caseKey(n), head)
	})
}

// TouchCase counts a change to case n that an import in progress must not
// cross (a handover of its current version): the import then refuses at
// its commit.
func (db *DB) TouchCase(n court.CaseNumber) error {
	return db.update(func(txn *badger.Txn) error { // run again on a concurrent commit
		var head CaseRecord
		if err := getJSON(txn, caseKey(n), &head); err != nil {
			return fmt.Errorf("case %s: %w", n, err)
		}
		head.Revision++
		return setJSON(txn, caseKey(n), head)
	})
}

// SetCaseStatus changes a case's status (e.g. to StatusTransferred, 销案,
// once the receiving court confirmed receipt), keeping the status index.
func (db *DB) SetCaseStatus(n court.CaseNumber, s court.CaseStatus) error {
	if !s.Valid() {
		return fmt.Errorf("%w: case status %q", court.ErrInvalid, s)
	}
	// Run again on a concurrent commit: an asset update applied to the
	// case at the moment a receipt marks it transferred must not leave
	// it active.
	return db.update(func(txn *badger.Txn) error {
		var head CaseRecord
		if err := getJSON(txn, caseKey(n), &head); err != nil {
			return fmt.Errorf("case %s: %w", n, err)
		}
		if head.Status == s {
			return nil
		}
		if err := txn.Delete(caseStatusKey(head.Status, n)); err != nil {
			return err
		}
		head.Status = s
		head.Updated = db.now().UTC().Format(time.RFC3339)
		head.Revision++
		if err := setJSON(txn, caseKey(n), head); err != nil {
			return err
		}
		return txn.Set(caseStatusKey(s, n), nil)
	})
}
