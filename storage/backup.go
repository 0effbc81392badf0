package storage

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
)

// A backup is a versioned container around Badger's own backup stream,
// because the sealed chunks are not in Badger. Version 1, the clear
// container (which version 2 seals whole; see backupseal.go):
//
//	header    "CMBACKUP" (8 bytes), format version (uint32, big endian, 1)
//	records   one byte of kind, then
//	  'C'     a chunk: its 32-byte ID, uvarint length, the sealed bytes
//	  'M'     uvarint length, then a piece of Badger's backup stream
//	          (DB.Backup of the records); the pieces in order are the stream
//	'E'       the end: uvarint chunk count, uvarint metadata byte count,
//	          SHA-256 of every byte before the 'E'
//
// Backup writes every chunk of the chunk store, then the records, then the
// chunks stored meanwhile (an import that committed while the records were
// read). Restore checks every chunk against its ID, the counts and the
// checksum, and that every chunk a record refers to arrived. A file that
// does not start with the header is read as a bare Badger stream, the
// backup format of schema 1 (chunks inside Badger).
const (
	backupMagic  = "CMBACKUP"
	maxMetaPiece = 4 << 20
)

// Backup writes a full backup of the store to w: a version-2 backup, the
// whole of it (chunks, records, counts) sealed under a random key wrapped
// for the court's own encryption key (enc.key), so that without that key
// the file reads as noise and with it any altered byte is refused; see
// backupseal.go. It needs the store's Decrypter (ErrUnavailable without).
// It returns Badger's version for an incremental backup of the records
// (this container always holds a full one).
func (db *DB) Backup(ctx context.Context, w io.Writer) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if db.dec == nil {
		return 0, fmt.Errorf("backup: %w: no encryption key (enc.key) to seal the backup for; run it with the node's data directory", court.ErrUnavailable)
	}
	sw, err := newSealWriter(w, db.dec)
	if err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	since, err := db.backupClear(ctx, sw)
	if err != nil {
		return 0, err
	}
	if err := sw.Close(); err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	return since, nil
}

// backupClear writes the version-1 container of the store to w. The
// records are decrypted from the at-rest encryption: case metadata
// (case numbers, names, masked numbers, assets and measures) is in clear
// in it, and so are the number and sizes of the chunks. Backup seals it.
func (db *DB) backupClear(ctx context.Context, w io.Writer) (uint64, error) {
	// No chunk is collected while the backup runs; imports and fetches
	// go on.
	db.gcMu.RLock()
	defer db.gcMu.RUnlock()
	h := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(w, h), 1<<20)
	var hdr [12]byte
	copy(hdr[:], backupMagic)
	binary.BigEndian.PutUint32(hdr[8:], backupVersion1)
	bw.Write(hdr[:])
	written := map[crypto.ChunkID]bool{}
	var buf []byte
	copyChunks := func() error {
		return db.chunks.Walk(ctx, func(id crypto.ChunkID) error {
			if written[id] {
				return nil
			}
			var err error
			if buf, err = db.chunks.Append(buf[:0], id); err != nil {
				return fmt.Errorf("chunk %s: %w", id, err)
			}
			bw.WriteByte('C')
			bw.Write(id[:])
			bw.Write(binary.AppendUvarint(nil, uint64(len(buf))))
			if _, err := bw.Write(buf); err != nil {
				return err
			}
			written[id] = true
			return nil
		})
	}
	if err := copyChunks(); err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	mw := &metaWriter{w: bw}
	since, err := db.bdb.Backup(mw, 0)
	if err == nil {
		err = mw.flush()
	}
	if err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	if err := copyChunks(); err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	end := []byte{'E'}
	end = binary.AppendUvarint(end, uint64(len(written)))
	end = binary.AppendUvarint(end, uint64(mw.total))
	end = h.Sum(end)
	if _, err := w.Write(end); err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	return since, nil
}

// metaWriter cuts Badger's backup stream into 'M' records.
type metaWriter struct {
	w     *bufio.Writer
	buf   []byte
	total int
}

func (m *metaWriter) Write(p []byte) (int, error) {
	m.buf = append(m.buf, p...)
	for len(m.buf) >= maxMetaPiece {
		if err := m.piece(m.buf[:maxMetaPiece]); err != nil {
			return 0, err
		}
		m.buf = append(m.buf[:0], m.buf[maxMetaPiece:]...)
	}
	return len(p), nil
}

func (m *metaWriter) piece(b []byte) error {
	m.w.WriteByte('M')
	m.w.Write(binary.AppendUvarint(nil, uint64(len(b))))
	_, err := m.w.Write(b)
	m.total += len(b)
	return err
}

func (m *metaWriter) flush() error {
	if len(m.buf) == 0 {
		return nil
	}
	err := m.piece(m.buf)
	m.buf = m.buf[:0]
	return err
}

// backupStats is what a backup's end record declares.
type backupStats struct {
	chunks    int
	metaBytes int
}

// hashReader hashes every byte read through it.
type hashReader struct {
	r *bufio.Reader
	h hash.Hash
}

func (hr hashReader) ReadByte() (byte, error) {
	b, err := hr.r.ReadByte()
	if err == nil {
		hr.h.Write([]byte{b})
	}
	return b, err
}

func (hr hashReader) Read(p []byte) (int, error) {
	n, err := hr.r.Read(p)
	hr.h.Write(p[:n])
	return n, err
}

// decodeBackup reads a backup container, after its header, calling chunk
// for every chunk (whose bytes are checked against its ID; sealed is
// reused afterwards) and meta for every piece of the Badger stream. It
// fails on a truncated or altered container.
func decodeBackup(r *bufio.Reader, chunk func(id crypto.ChunkID, sealed []byte) error, meta func([]byte) error) (backupStats, error) {
	var st backupStats
	h := sha256.New()
	h.Write([]byte(backupMagic))
	h.Write(binary.BigEndian.AppendUint32(nil, backupVersion1))
	hr := hashReader{r: r, h: h}
	var buf []byte
	for {
		kind, err := r.ReadByte()
		if err != nil {
			return st, fmt.Errorf("%w: backup is truncated (no end record)", court.ErrCorrupt)
		}
		if kind == 'E' {
			break
		}
		h.Write([]byte{kind})
		switch kind {
		case 'C':
			var id crypto.ChunkID
			if _, err := io.ReadFull(hr, id[:]); err != nil {
				return st, fmt.Errorf("%w: backup is truncated", court.ErrCorrupt)
			}
			n, err := binary.ReadUvarint(hr)
			if err != nil || n > crypto.MaxChunkSize+crypto.ChunkOverhead {
				return st, fmt.Errorf("%w: backup chunk %s: bad length", court.ErrCorrupt, id)
			}
			buf = slices.Grow(buf[:0], int(n))[:n]
			if _, err := io.ReadFull(hr, buf); err != nil {
				return st, fmt.Errorf("%w: backup is truncated", court.ErrCorrupt)
			}
			if !id.VerifyIn(crypto.SuiteV1, buf) && !id.VerifyIn(crypto.SuiteSM, buf) { // the chunk's suite is its document's, checked again on read
				return st, fmt.Errorf("%w: backup chunk %s does not match its ID", court.ErrCorrupt, id)
			}
			if err := chunk(id, buf); err != nil {
				return st, err
			}
			st.chunks++
		case 'M':
			n, err := binary.ReadUvarint(hr)
			if err != nil || n > maxMetaPiece {
				return st, fmt.Errorf("%w: backup record piece: bad length", court.ErrCorrupt)
			}
			buf = slices.Grow(buf[:0], int(n))[:n]
			if _, err := io.ReadFull(hr, buf); err != nil {
				return st, fmt.Errorf("%w: backup is truncated", court.ErrCorrupt)
			}
			if err := meta(buf); err != nil {
				return st, err
			}
			st.metaBytes += int(n)
		default:
			return st, fmt.Errorf("%w: backup record of unknown kind %q", court.ErrCorrupt, kind)
		}
	}
	sum := h.Sum(nil)
	chunks, err1 := binary.ReadUvarint(r)
	metaBytes, err2 := binary.ReadUvarint(r)
	var want [sha256.Size]byte
	_, err3 := io.ReadFull(r, want[:])
	if err := errors.Join(err1, err2, err3); err != nil {
		return st, fmt.Errorf("%w: backup end record is truncated", court.ErrCorrupt)
	}
	if chunks != uint64(st.chunks) || metaBytes != uint64(st.metaBytes) || !bytes.Equal(sum, want[:]) {
		return st, fmt.Errorf("%w: backup does not match its end record (counts or checksum)", court.ErrCorrupt)
	}
	if _, err := r.ReadByte(); err != io.EOF {
		return st, fmt.Errorf("%w: data after the backup's end record", court.ErrCorrupt)
	}
	return st, nil
}

// BackupFile writes a full backup (see Backup) to a new file at path,
// mode 0600, synced; it returns the file's size. An existing file is
// never overwritten (ErrConflict); on failure the partial file is removed.
func (db *DB) BackupFile(ctx context.Context, path string) (int64, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return 0, fmt.Errorf("backup: %w: %s already exists; choose a new file name", court.ErrConflict, path)
	}
	if err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	_, err = db.Backup(ctx, bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	var size int64
	if err == nil {
		var st os.FileInfo
		if st, err = f.Stat(); err == nil {
			size = st.Size()
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return 0, fmt.Errorf("backup to %s: %w", path, err)
	}
	return size, nil
}

// Restore loads a backup made by Backup into this store, which must hold
// nothing but its schema version (a freshly created store, no chunks);
// otherwise it fails with ErrConflict and writes nothing. The chunks are
// written (and synced) as they come, the records are loaded through
// Badger's Load; at the end every chunk a record refers to must be there.
// A restore that fails or is interrupted leaves a partial store: delete
// that data directory's store and restore again. The store must be opened
// with the same enc.key as the one backed up, or the dossiers will not
// open.
func (db *DB) Restore(ctx context.Context, r io.Reader) error {
	keys, err := db.Keys()
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "meta/") {
			return fmt.Errorf("restore: %w: the store already holds data (%d keys); restore into a new data directory", court.ErrConflict, len(keys))
		}
	}
	db.gcMu.Lock()
	defer db.gcMu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	br := bufio.NewReaderSize(r, 1<<20)
	head, _ := br.Peek(12)
	if len(head) < 8 || string(head[:8]) != backupMagic {
		// Schema 1: a bare Badger stream with the chunks inside;
		// migrate moves them out.
		if err := db.bdb.Load(br, 16); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		if err := moveChunksOut(db); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		return db.finishRestore(ctx)
	}
	if len(head) < 12 {
		return fmt.Errorf("restore: %w: backup header is truncated", court.ErrCorrupt)
	}
	var sealed *openReader
	switch v := binary.BigEndian.Uint32(head[8:]); v {
	case backupVersion1:
	case backupVersion:
		if db.dec == nil {
			return fmt.Errorf("restore: %w: the backup is sealed for the court's enc.key, and this data directory has none; copy the enc.key of the node that wrote the backup into it and run restore again", court.ErrUnavailable)
		}
		if sealed, err = newOpenReader(br, db.dec); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		br = bufio.NewReaderSize(sealed, 1<<20)
		if head, _ = br.Peek(12); len(head) < 12 || string(head[:8]) != backupMagic || binary.BigEndian.Uint32(head[8:]) != backupVersion1 {
			if sealed.err != nil {
				return fmt.Errorf("restore: %w", sealed.err)
			}
			return fmt.Errorf("restore: %w: the sealed backup does not hold a version-%d container", court.ErrCorrupt, backupVersion1)
		}
	default:
		return fmt.Errorf("restore: %w: backup format version %d, this courtmesh reads %d and %d; use a newer courtmesh", court.ErrUnavailable, v, backupVersion1, backupVersion)
	}
	br.Discard(12)
	// The records go through a pipe to Badger's Load, which reads a
	// stream until its end.
	pr, pw := io.Pipe()
	loaded := make(chan error, 1)
	go func() {
		err := db.bdb.Load(pr, 16)
		pr.CloseWithError(err) // unblock the writer if Load stopped early
		loaded <- err
	}()
	batch := db.chunks.NewBatch()
	defer batch.Discard()
	_, err = decodeBackup(br,
		func(id crypto.ChunkID, sealed []byte) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			if _, err := batch.Put(id, sealed); err != nil {
				return err
			}
			if batch.Len() >= 64 {
				return batch.Commit()
			}
			return nil
		},
		func(b []byte) error {
			_, err := pw.Write(b)
			return err
		})
	if err == nil {
		err = batch.Commit()
	}
	pw.CloseWithError(err)
	if lerr := <-loaded; err == nil {
		err = lerr
	}
	if sealed != nil && sealed.err != nil {
		// A frame that did not open reads as a cut container; say why.
		err = sealed.err
	}
	if err != nil {
		return fmt.Errorf("restore: %w; the store is partial: delete it and restore again", err)
	}
	return db.finishRestore(ctx)
}

// finishRestore syncs a restored store, migrates it, and checks that
// every chunk a record refers to is there.
func (db *DB) finishRestore(ctx context.Context) error {
	if err := db.syncLogs(); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if err := db.migrate(); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	live, _, err := db.liveChunks(ctx)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	missing := 0
	for id := range live {
		ok, err := db.chunks.Has(id)
		if err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		if !ok {
			missing++
		}
	}
	if missing > 0 {
		return fmt.Errorf("restore: %w: %d chunks referred to by the restored records are not in the backup", court.ErrCorrupt, missing)
	}
	return nil
}
