package crypto

// Dossier sealing.
//
// A dossier has one random 32-byte DataKey. Each document is split into
// chunks and every chunk is sealed with AES-256-GCM under a per-document
// key:
//
//	docKey = HKDF-SHA256(dataKey, salt = nil, info = "courtmesh chunk v1" || documentID)
//	documentID = SHA-256(document plaintext)
//	nonce      = 12-byte big-endian chunk index
//	AAD        = chunkHeader(version, suite, documentID, index, count)
//
// Because the key is derived from the document's own hash, a changed
// document gets a different key, so no (key, nonce) pair is ever reused for
// different plaintext, and the nonce can be the chunk index. The header in
// the associated data binds every chunk to its document, its position and
// the chunk count, so reordered, truncated, extended or swapped chunks fail
// to open. A chunk is addressed by its ChunkID, the SHA-256 of its sealed
// bytes: anyone holding the sealed bytes can check their integrity without
// the key. The data key is wrapped with HPKE (Wrap) for each reader; the
// info string binds the dossier and the purpose of the key.
//
// Sealing is deterministic for a given data key: the same document sealed
// twice yields the same chunks and ChunkIDs, which makes re-imports
// idempotent and lets a store deduplicate. It reveals to a holder of sealed
// bytes only that two chunks of the same dossier are equal.

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"fmt"

	"courtmesh.dev/courtmesh/court"
)

// Chunk sizes.
const (
	MinChunkSize     = 256 << 10 // smallest allowed chunk size
	MaxChunkSize     = 1 << 20   // largest allowed chunk size
	DefaultChunkSize = 1 << 20   // chunk size used unless configured
)

// ChunkFormatVersion is the version of the chunk header bound into every
// sealed chunk's associated data.
const ChunkFormatVersion = 1

// ChunkOverhead is the number of bytes sealing adds to a chunk (the GCM tag).
const ChunkOverhead = 16

// ErrDecrypt means sealed bytes did not open: wrong key, tampered bytes, or
// a chunk out of place. Kind corrupt, as the callers that read stored
// chunks, fields and backups treat it: restore, or fetch again.
var ErrDecrypt = kind(court.ErrCorrupt, "sealed data does not open")

// ChunkID is the content address of a sealed chunk: SHA-256 of its sealed
// bytes.
type ChunkID [32]byte

// ChunkIDOf returns the ChunkID of sealed bytes.
func ChunkIDOf(sealed []byte) ChunkID { return ChunkID(sha256.Sum256(sealed)) }

// String returns the lower-case hex form.
func (c ChunkID) String() string { return hex.EncodeToString(c[:]) }

// MarshalText encodes the ID as hex.
func (c ChunkID) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText decodes a hex ID.
func (c *ChunkID) UnmarshalText(b []byte) error {
	id, err := ParseChunkID(string(b))
	if err != nil {
		return err
	}
	*c = id
	return nil
}

// ParseChunkID parses the 64-hex-digit form of a ChunkID.
func ParseChunkID(s string) (ChunkID, error) {
	var c ChunkID
	if len(s) != 2*len(c) {
		return c, fmt.Errorf("chunk id %q: %w: want %d hex digits", s, ErrMalformed, 2*len(c))
	}
	if _, err := hex.Decode(c[:], []byte(s)); err != nil {
		return c, fmt.Errorf("chunk id %q: %w: not hex", s, ErrMalformed)
	}
	return c, nil
}

// Verify reports whether sealed hashes to c under SuiteV1 (SHA-256).
func (c ChunkID) Verify(sealed []byte) bool { return c.VerifyIn(SuiteV1, sealed) }

// VerifyIn reports whether sealed hashes to c under suite s.
func (c ChunkID) VerifyIn(s Suite, sealed []byte) bool {
	h := s.Sum(sealed)
	return subtle.ConstantTimeCompare(h[:], c[:]) == 1
}

// ChunkID returns the ChunkID of sealed bytes in suite s: SHA-256 for
// SuiteV1, SM3 for SuiteSM.
func (s Suite) ChunkID(sealed []byte) ChunkID { return ChunkID(s.Sum(sealed)) }

// DocumentID returns the DocumentID of a whole plaintext in suite s.
func (s Suite) DocumentID(plaintext []byte) DocumentID { return DocumentID(s.Sum(plaintext)) }

// DocumentID identifies a document by the SHA-256 of its plaintext.
type DocumentID [32]byte

// DocumentIDOf hashes a whole plaintext document. For streams, hash with
// sha256.New and convert the sum.
func DocumentIDOf(plaintext []byte) DocumentID { return DocumentID(sha256.Sum256(plaintext)) }

// String returns the lower-case hex form.
func (d DocumentID) String() string { return hex.EncodeToString(d[:]) }

// MarshalText encodes the ID as hex.
func (d DocumentID) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText decodes a hex ID.
func (d *DocumentID) UnmarshalText(b []byte) error {
	c, err := ParseChunkID(string(b))
	if err != nil {
		return fmt.Errorf("document id: %w", err)
	}
	*d = DocumentID(c)
	return nil
}

// DataKey is a dossier's symmetric key. It never leaves memory unwrapped.
type DataKey [32]byte

// NewDataKey returns a fresh random data key.
func NewDataKey() (DataKey, error) {
	var k DataKey
	if _, err := rand.Read(k[:]); err != nil {
		return k, fmt.Errorf("data key: %w", err)
	}
	return k, nil
}

// String hides the key, so that a key printed by mistake leaks nothing.
func (DataKey) String() string { return "DataKey(…)" }

// GoString hides the key from %#v.
func (DataKey) GoString() string { return "crypto.DataKey(…)" }

// Key purposes bound into the HPKE info when a data key is wrapped.
const (
	PurposeDossier = "dossier" // the data key of a dossier
	PurposeBackup  = "backup"  // the key of a store backup (storage.DB.Backup)
)

func wrapInfo(purpose, dossier string) []byte {
	b := []byte("courtmesh data key v1\x00")
	b = append(b, purpose...)
	b = append(b, 0)
	return append(b, dossier...)
}

// WrapDataKey wraps k with HPKE for the recipient public key pub of KEM
// kem, bound to the purpose and the dossier's identifier (its case
// number): a wrapped key moved to another dossier does not open.
func WrapDataKey(kem uint16, pub []byte, purpose, dossier string, k DataKey) ([]byte, error) {
	w, err := Wrap(kem, pub, wrapInfo(purpose, dossier), k[:])
	if err != nil {
		return nil, fmt.Errorf("wrap data key for %s: %w", dossier, err)
	}
	return w, nil
}

// UnwrapDataKey opens a key wrapped by WrapDataKey.
func UnwrapDataKey(d Decrypter, purpose, dossier string, wrapped []byte) (DataKey, error) {
	var k DataKey
	pt, err := d.Open(wrapInfo(purpose, dossier), wrapped)
	if err != nil {
		return k, fmt.Errorf("unwrap data key of %s: %w", dossier, ErrDecrypt)
	}
	if len(pt) != len(k) {
		return k, fmt.Errorf("unwrap data key of %s: %w: %d bytes", dossier, ErrMalformed, len(pt))
	}
	copy(k[:], pt)
	return k, nil
}

// DocumentSealer seals and opens the chunks of one document. It is safe
// for concurrent use.
type DocumentSealer struct {
	id    DocumentID
	suite Suite
	aead  cipher.AEAD
}

// Document returns the SuiteV1 sealer of the document with the given ID
// under k.
func (k DataKey) Document(id DocumentID) (*DocumentSealer, error) {
	return k.DocumentIn(SuiteV1, id)
}

// DocumentIn returns the sealer of the document with the given ID under k
// in suite s: AES-256-GCM under an HKDF-SHA256 key with SHA-256 chunk IDs
// for SuiteV1, SM4-GCM under an HKDF-SM3 key with SM3 chunk IDs for
// SuiteSM. The chunk header binds the suite, so a chunk sealed in one
// suite never opens as the other's.
func (k DataKey) DocumentIn(s Suite, id DocumentID) (*DocumentSealer, error) {
	switch s {
	case SuiteV1:
	case SuiteSM:
		aead, err := sm4DocumentAEAD(k, id)
		if err != nil {
			return nil, err
		}
		return &DocumentSealer{id: id, suite: SuiteSM, aead: aead}, nil
	default:
		return nil, fmt.Errorf("seal document %s: %w", id, s.check())
	}
	sub, err := hkdf.Key(sha256.New, k[:], nil, "courtmesh chunk v1"+string(id[:]), 32)
	if err != nil {
		return nil, fmt.Errorf("derive document key: %w", err)
	}
	block, err := aes.NewCipher(sub)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &DocumentSealer{id: id, suite: SuiteV1, aead: aead}, nil
}

// ID returns the document's ID.
func (s *DocumentSealer) ID() DocumentID { return s.id }

// Suite returns the sealer's algorithm suite.
func (s *DocumentSealer) Suite() Suite { return s.suite }

// chunkHeader is the associated data of a chunk.
func (s *DocumentSealer) chunkHeader(index, count uint32) []byte {
	h := make([]byte, 0, 64)
	h = append(h, "courtmesh-chunk"...)
	h = append(h, ChunkFormatVersion)
	h = binary.BigEndian.AppendUint32(h, uint32(s.suite))
	h = append(h, s.id[:]...)
	h = binary.BigEndian.AppendUint32(h, index)
	h = binary.BigEndian.AppendUint32(h, count)
	return h
}

func chunkNonce(index uint32) []byte {
	n := make([]byte, 12)
	binary.BigEndian.PutUint32(n[8:], index)
	return n
}

func checkIndex(index, count uint32) error {
	if count == 0 || index >= count {
		return fmt.Errorf("chunk %d of %d: %w", index, count, ErrMalformed)
	}
	return nil
}

// Seal seals chunk index of count chunks, appending the sealed bytes to
// dst, and returns them with their ChunkID. Every chunk but the last should
// have the same size; the sealer does not enforce it.
func (s *DocumentSealer) Seal(dst []byte, index, count uint32, plaintext []byte) ([]byte, ChunkID, error) {
	if err := checkIndex(index, count); err != nil {
		return nil, ChunkID{}, err
	}
	start := len(dst)
	out := s.aead.Seal(dst, chunkNonce(index), plaintext, s.chunkHeader(index, count))
	return out, s.suite.ChunkID(out[start:]), nil
}

// Open checks sealed against want, opens it as chunk index of count, and
// appends the plaintext to dst.
func (s *DocumentSealer) Open(dst []byte, want ChunkID, index, count uint32, sealed []byte) ([]byte, error) {
	if err := checkIndex(index, count); err != nil {
		return nil, err
	}
	if !want.VerifyIn(s.suite, sealed) {
		return nil, fmt.Errorf("chunk %d of document %s: %w: hash is not %s", index, s.id, ErrDecrypt, want)
	}
	out, err := s.aead.Open(dst, chunkNonce(index), sealed, s.chunkHeader(index, count))
	if err != nil {
		return nil, fmt.Errorf("chunk %d of document %s: %w", index, s.id, ErrDecrypt)
	}
	return out, nil
}

// ChunkCount returns the number of chunks of a document of size bytes with
// the given chunk size. An empty document has one empty chunk.
func ChunkCount(size int64, chunkSize int) uint32 {
	if size <= 0 {
		return 1
	}
	return uint32((size + int64(chunkSize) - 1) / int64(chunkSize))
}

// CheckChunkSize reports whether n is an allowed chunk size.
func CheckChunkSize(n int) error {
	if n < MinChunkSize || n > MaxChunkSize {
		return fmt.Errorf("chunk size %d: %w: want %d..%d bytes", n, ErrMalformed, MinChunkSize, MaxChunkSize)
	}
	return nil
}

// fieldVersion prefixes a sealed field: 1 for SuiteV1 (AES-256-GCM under
// HKDF-SHA256), 2 for SuiteSM (SM4-GCM under HKDF-SM3). OpenField reads
// both, so an opener need not know the suite.
const (
	fieldVersion   = 1
	fieldVersionSM = 2
)

func (k DataKey) fieldAEADVersion(version byte, label string) (cipher.AEAD, error) {
	switch version {
	case fieldVersion:
		return k.fieldAEAD(label)
	case fieldVersionSM:
		return sm4FieldAEAD(k, label)
	}
	return nil, fmt.Errorf("sealed field %s: %w: version %d", label, ErrMalformed, version)
}

func (k DataKey) fieldAEAD(label string) (cipher.AEAD, error) {
	sub, err := hkdf.Key(sha256.New, k[:], nil, "courtmesh field v1"+label, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(sub)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// SealField seals a small confidential value (an identity number, an
// account number) under the data key for the given label (which names
// the field and its owner, e.g. "party/p1/id_number"). A random nonce is
// used, so equal values seal differently. The result is
// version || nonce || ciphertext.
func (k DataKey) SealField(label string, plaintext []byte) ([]byte, error) {
	return k.SealFieldIn(SuiteV1, label, plaintext)
}

// SealFieldIn is SealField in suite s: SuiteSM seals with SM4-GCM under
// an HKDF-SM3 key (version byte 2).
func (k DataKey) SealFieldIn(s Suite, label string, plaintext []byte) ([]byte, error) {
	version := byte(fieldVersion)
	switch s {
	case SuiteV1, 0:
	case SuiteSM:
		version = fieldVersionSM
	default:
		return nil, s.check()
	}
	aead, err := k.fieldAEADVersion(version, label)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 1+aead.NonceSize(), 1+aead.NonceSize()+len(plaintext)+aead.Overhead())
	out[0] = version
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, err
	}
	return aead.Seal(out, out[1:], plaintext, []byte(label)), nil
}

// OpenField opens a value sealed by SealField with the same label.
func (k DataKey) OpenField(label string, sealed []byte) ([]byte, error) {
	if len(sealed) == 0 {
		return nil, fmt.Errorf("sealed field %s: %w", label, ErrMalformed)
	}
	aead, err := k.fieldAEADVersion(sealed[0], label)
	if err != nil {
		return nil, err
	}
	if len(sealed) < 1+aead.NonceSize()+aead.Overhead() {
		return nil, fmt.Errorf("sealed field %s: %w", label, ErrMalformed)
	}
	ns := 1 + aead.NonceSize()
	pt, err := aead.Open(nil, sealed[1:ns], sealed[ns:], []byte(label))
	if err != nil {
		return nil, fmt.Errorf("sealed field %s: %w", label, ErrDecrypt)
	}
	return pt, nil
}

// MerkleRoot returns the Merkle tree hash of a sequence of chunk IDs in the
// shape of RFC 6962 (§2.1) with SHA-256: a leaf hashes 0x00 || id, an
// inner node 0x01 || left || right, and a list of n > 1 items splits at the
// largest power of two below n. The root of no chunks is SHA-256 of the
// empty string.
func MerkleRoot(ids []ChunkID) [32]byte { return SuiteV1.MerkleRoot(ids) }

// MerkleRoot is the Merkle tree hash of MerkleRoot (the package function)
// with the suite's hash: SHA-256 for SuiteV1, SM3 for SuiteSM.
func (s Suite) MerkleRoot(ids []ChunkID) [32]byte {
	switch len(ids) {
	case 0:
		return s.Sum(nil)
	case 1:
		var b [1 + 32]byte
		b[0] = 0
		copy(b[1:], ids[0][:])
		return s.Sum(b[:])
	}
	k := 1
	for k*2 < len(ids) {
		k *= 2
	}
	l, r := s.MerkleRoot(ids[:k]), s.MerkleRoot(ids[k:])
	var b [1 + 64]byte
	b[0] = 1
	copy(b[1:], l[:])
	copy(b[33:], r[:])
	return s.Sum(b[:])
}
