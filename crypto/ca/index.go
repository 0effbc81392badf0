package ca

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/internal/atomicfile"
)

// IndexFile indexes issued/: one JSON line per certificate file (serial,
// court, expiry, digests of its keys, the file's size and time). Issue
// appends to it; a start checks it against the directory listing and
// re-reads only files it does not know or that changed, so that issuing
// the 3,500th certificate or revoking one does not read the other 3,499.
// It is a cache: deleting it costs one full read.
const IndexFile = "issued.index"

type indexEntry struct {
	Serial   uint64 `json:"serial"`
	File     string `json:"file"`
	Size     int64  `json:"size"`
	ModNano  int64  `json:"mtime"`
	Code     string `json:"code"`
	NotAfter int64  `json:"not_after"`
	SignKey  string `json:"sign_key"`          // hex SHA-256 of the raw signing key
	EncKey   string `json:"enc_key,omitempty"` // hex SHA-256 of the encryption key
}

type index struct {
	bySerial map[uint64]indexEntry
	bySign   map[string][]uint64
	byEnc    map[string][]uint64
}

func keyDigest(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func entryOf(c *crypto.Certificate, file string, fi os.FileInfo) (indexEntry, error) {
	sk, err := c.SigningKey.Raw()
	if err != nil {
		return indexEntry{}, err
	}
	e := indexEntry{Serial: c.Serial, File: file, Size: fi.Size(), ModNano: fi.ModTime().UnixNano(), Code: string(c.Code),
		NotAfter: c.NotAfter.Unix(), SignKey: keyDigest(sk)}
	if len(c.EncKey) > 0 {
		e.EncKey = keyDigest(c.EncKey)
	}
	return e, nil
}

func (x *index) add(e indexEntry) {
	if old, ok := x.bySerial[e.Serial]; ok && old.SignKey == e.SignKey && old.EncKey == e.EncKey {
		x.bySerial[e.Serial] = e
		return
	}
	x.bySerial[e.Serial] = e
	x.bySign[e.SignKey] = append(x.bySign[e.SignKey], e.Serial)
	if e.EncKey != "" {
		x.byEnc[e.EncKey] = append(x.byEnc[e.EncKey], e.Serial)
	}
}

// index returns the index of issued/, loading and checking it once per
// CA value.
func (ca *CA) index() (*index, error) {
	ca.idxMu.Lock()
	defer ca.idxMu.Unlock()
	if ca.idx != nil {
		return ca.idx, nil
	}
	known := map[string]indexEntry{}
	if raw, err := os.ReadFile(filepath.Join(ca.dir, IndexFile)); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(raw))
		sc.Buffer(make([]byte, 0, 4096), 1<<20)
		for sc.Scan() {
			var e indexEntry
			if json.Unmarshal(sc.Bytes(), &e) == nil && e.File != "" {
				known[e.File] = e // a later line wins
			}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	ents, err := os.ReadDir(filepath.Join(ca.dir, IssuedDir))
	if err != nil {
		return nil, err
	}
	x := &index{bySerial: map[uint64]indexEntry{}, bySign: map[string][]uint64{}, byEnc: map[string][]uint64{}}
	dirty := len(known) != len(ents)
	for _, de := range ents {
		name := de.Name()
		if atomicfile.IsTemp(name) {
			continue
		}
		fi, err := de.Info()
		if err != nil {
			return nil, err
		}
		if e, ok := known[name]; ok && e.Size == fi.Size() && e.ModNano == fi.ModTime().UnixNano() {
			x.add(e)
			continue
		}
		dirty = true
		raw, err := os.ReadFile(filepath.Join(ca.dir, IssuedDir, name))
		if err != nil {
			return nil, err
		}
		c, err := parseCert(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		e, err := entryOf(c, name, fi)
		if err != nil {
			return nil, err
		}
		x.add(e)
	}
	if dirty {
		var buf bytes.Buffer
		for _, e := range x.bySerial {
			line, err := json.Marshal(e)
			if err != nil {
				return nil, err
			}
			buf.Write(line)
			buf.WriteByte('\n')
		}
		if err := atomicfile.WriteFile(filepath.Join(ca.dir, IndexFile), buf.Bytes(), 0o644); err != nil {
			return nil, err
		}
	}
	ca.idx = x
	return x, nil
}

// indexIssued records a certificate just written to issued/.
func (ca *CA) indexIssued(c *crypto.Certificate, file string) error {
	x, err := ca.index()
	if err != nil {
		return err
	}
	fi, err := os.Stat(filepath.Join(ca.dir, IssuedDir, file))
	if err != nil {
		return err
	}
	e, err := entryOf(c, file, fi)
	if err != nil {
		return err
	}
	line, err := json.Marshal(e)
	if err != nil {
		return err
	}
	ca.idxMu.Lock()
	defer ca.idxMu.Unlock()
	f, err := os.OpenFile(filepath.Join(ca.dir, IndexFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	// A crash before this line lands is repaired at the next load (the
	// file in issued/ is not in the index, so it is read).
	_, err = f.Write(append(line, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	x.add(e)
	return err
}

// IssuedSerial reports whether a certificate with this serial was issued
// here, from the index.
func (ca *CA) IssuedSerial(serial uint64) (bool, error) {
	x, err := ca.index()
	if err != nil {
		return false, err
	}
	ca.idxMu.Lock()
	defer ca.idxMu.Unlock()
	_, ok := x.bySerial[serial]
	return ok, nil
}

// certFileName is the name of a certificate's file in issued/.
func certFileName(serial uint64) string { return strconv.FormatUint(serial, 10) + ".cert" }

// Files of the root's last bundle: the whole bundle `ca bundle` signed
// last, and the deltas `ca revoke` signed on top of it (length-prefixed
// frames). A revocation is signed as a delta on them.
const (
	LastBundleFile = "bundle.last"
	LastDeltasFile = "bundle.last.deltas"
	// CertCacheFile lists the cache keys of the certificates of the last
	// bundle whose signatures were verified (crypto.MemCertCache): the
	// next `ca bundle` or `ca revoke` verifies only the certificates that
	// are new. It is a cache: deleting it costs one full verification.
	CertCacheFile = "bundle.last.certs"
)

// certCache reads the cache of verified certificates; a missing or
// unreadable one is empty (every signature is then verified).
func (ca *CA) certCache() *crypto.MemCertCache {
	raw, err := os.ReadFile(filepath.Join(ca.dir, CertCacheFile))
	if err != nil {
		return &crypto.MemCertCache{}
	}
	c, err := crypto.UnmarshalCertCache(raw)
	if err != nil {
		return &crypto.MemCertCache{}
	}
	return c
}

// lastBundle opens the root's last bundle with its deltas.
func (ca *CA) lastBundle() (*crypto.Bundle, error) {
	raw, err := os.ReadFile(filepath.Join(ca.dir, LastBundleFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, court.Errorf(court.ErrNotFound, "%s keeps no bundle yet to sign a delta on: sign a whole bundle first (`courtmesh ca bundle`)", ca.dir)
	}
	if err != nil {
		return nil, err
	}
	b, err := crypto.OpenBundleCached(ca.Root, raw, ca.certCache())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", LastBundleFile, err)
	}
	draw, err := os.ReadFile(filepath.Join(ca.dir, LastDeltasFile))
	if errors.Is(err, os.ErrNotExist) {
		return b, nil
	}
	if err != nil {
		return nil, err
	}
	for r := bytes.NewReader(draw); r.Len() > 0; {
		n, err := binary.ReadUvarint(r)
		if err != nil || n > uint64(r.Len()) {
			return nil, court.Errorf(court.ErrCorrupt, "%s: truncated", LastDeltasFile)
		}
		d := make([]byte, n)
		_, _ = r.Read(d)
		if b, err = crypto.ApplyDelta(ca.Root, b, d); err != nil {
			return nil, fmt.Errorf("%s: %w", LastDeltasFile, err)
		}
	}
	return b, nil
}

func (ca *CA) keepLast(b *crypto.Bundle) error {
	if len(b.Deltas) == 0 {
		if err := atomicfile.WriteFile(filepath.Join(ca.dir, LastBundleFile), b.Raw, 0o644); err != nil {
			return err
		}
		var cache crypto.MemCertCache
		cache.Reset(b)
		if err := atomicfile.WriteFile(filepath.Join(ca.dir, CertCacheFile), cache.Marshal(), 0o644); err != nil {
			return err
		}
	}
	var buf []byte
	for _, d := range b.Deltas {
		buf = binary.AppendUvarint(buf, uint64(len(d)))
		buf = append(buf, d...)
	}
	return atomicfile.WriteFile(filepath.Join(ca.dir, LastDeltasFile), buf, 0o644)
}

// RevokeDelta records a revocation (as RevokeAfter) and signs it as a
// delta on the last bundle: the delta is what travels to the nodes (a few
// hundred bytes instead of the whole bundle). The bundle keeps its
// lifetime. A serial the last bundle already revokes cannot be revoked
// again by a delta (sign a whole bundle). Root only.
func (ca *CA) RevokeDelta(serial uint64, reason string, at time.Time, lastTrusted *crypto.LogPosition) (*crypto.Delta, error) {
	base, err := ca.lastBundle()
	if err != nil {
		return nil, err
	}
	st, err := loadState(ca.dir)
	if err != nil {
		return nil, err
	}
	if st.BundleSequence != base.Sequence {
		return nil, court.Errorf(court.ErrConflict, "%s signed bundle %d but keeps bundle %d: sign a whole bundle (`courtmesh ca bundle`)", ca.dir, st.BundleSequence, base.Sequence)
	}
	if _, revoked := revokedIn(base, serial); revoked {
		return nil, court.Errorf(court.ErrConflict, "bundle %d already revokes serial %d; to change its revocation, sign a whole bundle", base.Sequence, serial)
	}
	if err := ca.RevokeAfter(serial, reason, at, lastTrusted); err != nil {
		return nil, err
	}
	revs, err := ca.Revocations()
	if err != nil {
		return nil, err
	}
	r := revs[serial]
	lt, err := r.LastTrusted()
	if err != nil {
		return nil, err
	}
	d, nb, err := crypto.BuildDelta(ca.key, ca.Cert, ca.Root, base, crypto.DeltaChange{
		IssuedAt: at, ExpiresAt: base.ExpiresAt,
		Revoke: []crypto.Revocation{{Serial: r.Serial, RevokedAt: r.RevokedAt, Reason: r.Reason, LastTrusted: lt}},
	})
	if err != nil {
		return nil, err
	}
	if err := ca.keepLast(nb); err != nil {
		return nil, err
	}
	st, err = loadState(ca.dir)
	if err != nil {
		return nil, err
	}
	st.BundleSequence = d.Sequence
	if err := saveState(ca.dir, st); err != nil {
		return nil, err
	}
	return d, nil
}

func revokedIn(b *crypto.Bundle, serial uint64) (crypto.Revocation, bool) {
	for _, r := range b.Revocations {
		if r.Serial == serial {
			return r, true
		}
	}
	return crypto.Revocation{}, false
}
