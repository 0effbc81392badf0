package storage

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"

	badger "github.com/dgraph-io/badger/v4"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
)

// Case returns a case's head record and its current version.
func (db *DB) Case(n court.CaseNumber) (CaseRecord, CaseVersion, error) {
	var head CaseRecord
	var v CaseVersion
	err := db.bdb.View(func(txn *badger.Txn) error {
		if err := getJSON(txn, caseKey(n), &head); err != nil {
			return err
		}
		return getJSON(txn, versionKey(n, head.Version), &v)
	})
	if errors.Is(err, court.ErrNotFound) && head.Number.IsZero() {
		return head, v, fmt.Errorf("case %s: %w in this court's store; check the case number (courtmesh case list shows the cases held) or import the case first", n, err)
	}
	if err != nil {
		return head, v, fmt.Errorf("case %s: %w", n, err)
	}
	return head, v, nil
}

// Version returns version ver of a case.
func (db *DB) Version(n court.CaseNumber, ver int) (CaseVersion, error) {
	var v CaseVersion
	err := db.bdb.View(func(txn *badger.Txn) error { return getJSON(txn, versionKey(n, ver), &v) })
	if err != nil {
		return v, fmt.Errorf("case %s version %d: %w", n, ver, err)
	}
	return v, nil
}

// Versions lists the stored version numbers of a case, oldest first.
func (db *DB) Versions(n court.CaseNumber) ([]int, error) {
	var out []int
	p := versionPrefix(n)
	err := db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: p})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			v, err := strconv.Atoi(string(it.Item().Key()[len(p):]))
			if err != nil {
				return fmt.Errorf("%w: version key %q", court.ErrCorrupt, it.Item().Key())
			}
			out = append(out, v)
		}
		return nil
	})
	if err == nil && len(out) == 0 {
		err = court.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("case %s: %w", n, err)
	}
	return out, nil
}

// Cases lists the head records of all cases in key order. With a non-empty
// status it lists only the cases in that status, through the status index.
func (db *DB) Cases(ctx context.Context, status court.CaseStatus) ([]CaseRecord, error) {
	var out []CaseRecord
	err := db.bdb.View(func(txn *badger.Txn) error {
		if status != "" {
			p := []byte(prefixCaseStat + string(status) + "/")
			it := txn.NewIterator(badger.IteratorOptions{Prefix: p})
			defer it.Close()
			for it.Rewind(); it.Valid(); it.Next() {
				if err := ctx.Err(); err != nil {
					return err
				}
				var h CaseRecord
				if err := getJSON(txn, []byte(prefixCase+string(it.Item().Key()[len(p):])), &h); err != nil {
					return fmt.Errorf("status index entry %q: %w", it.Item().Key(), err)
				}
				out = append(out, h)
			}
			return nil
		}
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixCase), PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			var h CaseRecord
			if err := it.Item().Value(func(b []byte) error { return jsonUnmarshal(b, &h) }); err != nil {
				return err
			}
			out = append(out, h)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list cases: %w", err)
	}
	return out, nil
}

// dataKey unwraps a case's data key.
func (db *DB) dataKey(head CaseRecord) (crypto.DataKey, error) {
	if db.dec == nil {
		return crypto.DataKey{}, fmt.Errorf("case %s: %w: no decryption key configured", head.Number, court.ErrUnavailable)
	}
	return crypto.UnwrapDataKey(db.dec, crypto.PurposeDossier, head.Number.String(), head.WrappedKey)
}

// readDocument decrypts d chunk by chunk into w, verifying each chunk's
// content address and seal, the Merkle root, the size and the document
// hash.
func (db *DB) readDocument(ctx context.Context, dk crypto.DataKey, d Document, w io.Writer) error {
	if err := d.Suite.Check(); err != nil {
		return fmt.Errorf("document %s: %w", d.ID, err)
	}
	root := d.Suite.MerkleRoot(d.Chunks)
	if hex.EncodeToString(root[:]) != d.Root || uint32(len(d.Chunks)) != crypto.ChunkCount(d.Size, d.ChunkSize) {
		return fmt.Errorf("document %s: %w: chunk list does not match its root or size", d.ID, court.ErrCorrupt)
	}
	sealer, err := dk.DocumentIn(d.Suite, d.Hash)
	if err != nil {
		return err
	}
	// Chunks are read, checked and opened by a few goroutines ahead of
	// the one that hashes and writes them in order: on a multi-core
	// server a large document verifies at several times one core's
	// speed.
	count := uint32(len(d.Chunks))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type opened struct {
		pt  *[]byte
		err error
	}
	workers := max(1, min(runtime.GOMAXPROCS(0), maxReadWorkers))
	results := make([]chan opened, len(d.Chunks))
	for i := range results {
		results[i] = make(chan opened, 1)
	}
	slots := make(chan struct{}, 2*workers) // chunks opened ahead of the writer
	pool := sync.Pool{New: func() any { b := make([]byte, 0, d.ChunkSize+crypto.ChunkOverhead); return &b }}
	go func() {
		for i, id := range d.Chunks {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			go func() {
				sealed := pool.Get().(*[]byte)
				defer pool.Put(sealed)
				pt := pool.Get().(*[]byte)
				var err error
				*sealed, err = db.chunks.Append((*sealed)[:0], id)
				if err == nil {
					*pt, err = sealer.Open((*pt)[:0], id, uint32(i), count, *sealed)
				} else if errors.Is(err, court.ErrNotFound) {
					err = fmt.Errorf("chunk %d: %w", i, err)
				}
				results[i] <- opened{pt, err}
			}()
		}
	}()
	h := d.Suite.NewHash()
	var total int64
	for i := range d.Chunks {
		var r opened
		select {
		case r = <-results[i]:
		case <-ctx.Done():
			return ctx.Err()
		}
		<-slots
		if r.err != nil {
			err := r.err
			if errors.Is(err, crypto.ErrDecrypt) {
				err = fmt.Errorf("%w: %w", court.ErrCorrupt, err)
			}
			return fmt.Errorf("document %s: %w", d.ID, err)
		}
		pt := *r.pt
		total += int64(len(pt))
		h.Write(pt)
		if _, err := w.Write(pt); err != nil {
			return fmt.Errorf("document %s: %w", d.ID, err)
		}
		pool.Put(r.pt)
	}
	if total != d.Size || crypto.DocumentID(h.Sum(nil)) != d.Hash {
		return fmt.Errorf("document %s: %w: decrypted bytes do not match the recorded size or hash", d.ID, court.ErrCorrupt)
	}
	return nil
}

// maxReadWorkers bounds the goroutines opening one document's chunks.
const maxReadWorkers = 4

// ReadDocument writes the plaintext of document docID of the current
// version of case n to w, verifying every chunk. On error w may have
// received part of the document.
func (db *DB) ReadDocument(ctx context.Context, n court.CaseNumber, docID string, w io.Writer) error {
	head, v, err := db.Case(n)
	if err != nil {
		return err
	}
	for _, d := range v.Documents {
		if d.ID == docID {
			dk, err := db.dataKey(head)
			if err != nil {
				return err
			}
			return db.readDocument(ctx, dk, d, w)
		}
	}
	return fmt.Errorf("case %s: document %q: %w", n, docID, court.ErrNotFound)
}

// VerifyReport sums up a verification.
type VerifyReport struct {
	Documents int
	Chunks    int
	Bytes     int64
}

// VerifyCase reads back and verifies every document (and the sealed
// case.json) of the current version of case n: every chunk's hash and
// seal, every document's size and hash.
func (db *DB) VerifyCase(ctx context.Context, n court.CaseNumber) (VerifyReport, error) {
	var rep VerifyReport
	head, v, err := db.Case(n)
	if err != nil {
		return rep, err
	}
	dk, err := db.dataKey(head)
	if err != nil {
		return rep, err
	}
	for _, d := range append(v.Documents, v.Source) {
		if err := db.readDocument(ctx, dk, d, io.Discard); err != nil {
			return rep, fmt.Errorf("verify case %s: %w", n, err)
		}
		rep.Documents++
		rep.Chunks += len(d.Chunks)
		rep.Bytes += d.Size
	}
	return rep, nil
}

// CheckFiledCase checks a case just filed from chunks that were each
// verified against their content address on arrival, without reading
// those chunks back and hashing them again (VerifyCase does, at the cost
// of a second pass over the whole dossier): the case's data key opens,
// every document's chunk list has its recorded Merkle root and the count
// its size needs, every chunk is in the chunk store, and each document's
// first chunk opens with the key (a dossier sealed under another key, or
// another document's key, is refused here, not at its first reading).
// Every later reading of a document still verifies each chunk's hash and
// seal and the document's hash (readDocument).
func (db *DB) CheckFiledCase(ctx context.Context, n court.CaseNumber) (VerifyReport, error) {
	var rep VerifyReport
	head, v, err := db.Case(n)
	if err != nil {
		return rep, err
	}
	dk, err := db.dataKey(head)
	if err != nil {
		return rep, err
	}
	var sealed, pt []byte
	for _, d := range append(v.Documents, v.Source) {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		if err := d.Suite.Check(); err != nil {
			return rep, fmt.Errorf("check case %s: document %s: %w", n, d.ID, err)
		}
		root := d.Suite.MerkleRoot(d.Chunks)
		count := crypto.ChunkCount(d.Size, d.ChunkSize)
		if hex.EncodeToString(root[:]) != d.Root || uint32(len(d.Chunks)) != count {
			return rep, fmt.Errorf("check case %s: document %s: %w: chunk list does not match its root or size", n, d.ID, court.ErrCorrupt)
		}
		for i, id := range d.Chunks {
			ok, err := db.chunks.Has(id)
			if err != nil {
				return rep, fmt.Errorf("check case %s: document %s: %w", n, d.ID, err)
			}
			if !ok {
				return rep, fmt.Errorf("check case %s: document %s: chunk %d: %w", n, d.ID, i, court.ErrNotFound)
			}
		}
		sealer, err := dk.DocumentIn(d.Suite, d.Hash)
		if err != nil {
			return rep, err
		}
		if sealed, err = db.chunks.Append(sealed[:0], d.Chunks[0]); err != nil {
			return rep, fmt.Errorf("check case %s: document %s: %w", n, d.ID, err)
		}
		if pt, err = sealer.Open(pt[:0], d.Chunks[0], 0, count, sealed); err != nil {
			return rep, fmt.Errorf("check case %s: document %s: %w: %w", n, d.ID, court.ErrCorrupt, err)
		}
		if want := min(d.Size, int64(d.ChunkSize)); int64(len(pt)) != want {
			return rep, fmt.Errorf("check case %s: document %s: %w: first chunk of %d bytes, want %d", n, d.ID, court.ErrCorrupt, len(pt), want)
		}
		rep.Documents++
		rep.Chunks += len(d.Chunks)
		rep.Bytes += d.Size
	}
	return rep, nil
}

// ExportCase writes the current version of case n to the directory out as
// an import folder: case.json exactly as imported, and each document at its
// recorded path, each verified chunk by chunk. out must not exist or be
// empty.
func (db *DB) ExportCase(ctx context.Context, n court.CaseNumber, out string) (VerifyReport, error) {
	var rep VerifyReport
	head, v, err := db.Case(n)
	if err != nil {
		return rep, err
	}
	dk, err := db.dataKey(head)
	if err != nil {
		return rep, err
	}
	if ents, err := os.ReadDir(out); err == nil && len(ents) > 0 {
		return rep, fmt.Errorf("export case %s: %w: %s is not empty; export into a new or empty folder", n, court.ErrConflict, out)
	}
	if err := os.MkdirAll(out, 0o700); err != nil {
		return rep, fmt.Errorf("export case %s: %w", n, err)
	}
	for _, d := range append(v.Documents, v.Source) {
		rel := filepath.FromSlash(d.File)
		if !filepath.IsLocal(rel) {
			return rep, fmt.Errorf("export case %s: document %s: %w: path %q", n, d.ID, court.ErrCorrupt, d.File)
		}
		path := filepath.Join(out, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return rep, err
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return rep, fmt.Errorf("export case %s: %w", n, err)
		}
		err = db.readDocument(ctx, dk, d, f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return rep, fmt.Errorf("export case %s: %w", n, err)
		}
		rep.Documents++
		rep.Chunks += len(d.Chunks)
		rep.Bytes += d.Size
	}
	return rep, nil
}

// PartyID reveals the sealed identity number of a party of the current
// version. It is for the handover and for authorised display; callers must
// not log the result.
func (db *DB) PartyID(n court.CaseNumber, partyID string) (string, error) {
	head, v, err := db.Case(n)
	if err != nil {
		return "", err
	}
	for _, p := range v.Parties {
		if p.ID != partyID {
			continue
		}
		if len(p.IDSealed) == 0 {
			return "", fmt.Errorf("case %s party %s: %w: no identity number", n, partyID, court.ErrNotFound)
		}
		dk, err := db.dataKey(head)
		if err != nil {
			return "", err
		}
		b, err := dk.OpenField(FieldLabel("party", p.ID, "id_number"), p.IDSealed)
		if err != nil {
			return "", fmt.Errorf("case %s party %s: %w: %w", n, partyID, court.ErrCorrupt, err)
		}
		return string(b), nil
	}
	return "", fmt.Errorf("case %s party %s: %w", n, partyID, court.ErrNotFound)
}

// AssetAccount reveals the sealed account number of an asset of the
// current version of case n. Like PartyID it is for authorised display;
// callers must not log the result.
func (db *DB) AssetAccount(n court.CaseNumber, assetID string) (string, error) {
	head, v, err := db.Case(n)
	if err != nil {
		return "", err
	}
	for _, a := range v.Assets {
		if a.ID != assetID {
			continue
		}
		if len(a.AccountSealed) == 0 {
			return "", fmt.Errorf("case %s asset %s: %w: no account number", n, assetID, court.ErrNotFound)
		}
		dk, err := db.dataKey(head)
		if err != nil {
			return "", err
		}
		b, err := dk.OpenField(FieldLabel("asset", a.ID, "account"), a.AccountSealed)
		if err != nil {
			return "", fmt.Errorf("case %s asset %s: %w: %w", n, assetID, court.ErrCorrupt, err)
		}
		return string(b), nil
	}
	return "", fmt.Errorf("case %s asset %s: %w", n, assetID, court.ErrNotFound)
}

// Keys returns every key in the store, printable, in order, with each
// chunk of the chunk store listed as k/<hex id>. It exists for tests and
// diagnostics (a before/after comparison shows that a rejected import
// wrote nothing).
func (db *DB) Keys() ([]string, error) {
	var out []string
	err := db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()
			if strings.HasPrefix(string(k), prefixChunk) && len(k) == len(prefixChunk)+len(crypto.ChunkID{}) {
				// A schema-1 chunk not yet moved out.
				out = append(out, prefixChunk+hex.EncodeToString(k[len(prefixChunk):]))
				continue
			}
			out = append(out, string(k))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = db.chunks.Walk(context.Background(), func(id crypto.ChunkID) error {
		out = append(out, prefixChunk+hex.EncodeToString(id[:]))
		return nil
	})
	sort.Strings(out)
	return out, err
}
