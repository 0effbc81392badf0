package crypto

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"courtmesh.dev/courtmesh/crypto/cryptopb"
)

// PayloadBundleHead is the envelope payload type of a bundle head.
const PayloadBundleHead = "courtmesh/bundle-head/v1"

// BundleHeadVersion is the version of BundleHead this build writes.
const BundleHeadVersion = 1

// CertCache remembers certificates whose issuer signature has been
// verified, by a key that binds the issuer and the certificate's exact
// signed bytes (so a changed certificate or another issuer is a miss).
// OpenBundleCached consults it; the caller adds a bundle's keys once the
// bundle is accepted. Implementations are safe for concurrent use.
type CertCache interface {
	Verified(key [32]byte) bool
}

// MemCertCache is a CertCache held in memory, with an encoding to keep it
// across restarts (the trust service stores it in the data directory).
// The zero value is empty and ready.
type MemCertCache struct {
	mu   sync.RWMutex
	keys map[[32]byte]struct{}
}

var _ CertCache = (*MemCertCache)(nil)

// Verified reports whether key was added.
func (m *MemCertCache) Verified(key [32]byte) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	_, ok := m.keys[key]
	return ok
}

// Reset makes the cache hold exactly the keys of b (those of the bundle
// in force, and of the root's signature over its whole encoding): keys of certificates no longer in any bundle are dropped, so
// the cache never grows past one bundle.
func (m *MemCertCache) Reset(b *Bundle) {
	keys := make(map[[32]byte]struct{}, len(b.certKeys)+1)
	keys[b.bundleKey] = struct{}{}
	for _, k := range b.certKeys {
		keys[k] = struct{}{}
	}
	m.mu.Lock()
	m.keys = keys
	m.mu.Unlock()
}

// Holds reports whether the cache holds exactly the keys of b (as after
// Reset(b)): then there is nothing to write back.
func (m *MemCertCache) Holds(b *Bundle) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if len(m.keys) != len(b.certKeys)+1 {
		return false
	}
	if _, ok := m.keys[b.bundleKey]; !ok {
		return false
	}
	for _, k := range b.certKeys {
		if _, ok := m.keys[k]; !ok {
			return false
		}
	}
	return true
}

// Len is the number of keys held.
func (m *MemCertCache) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.keys)
}

// certCacheMagic starts an encoded cache; the version is its last byte.
var certCacheMagic = []byte("courtmesh-cert-cache\x01")

// Marshal encodes the cache: a magic with its version, then the keys in
// ascending order, 32 bytes each.
func (m *MemCertCache) Marshal() []byte {
	m.mu.RLock()
	keys := make([][32]byte, 0, len(m.keys))
	for k := range m.keys {
		keys = append(keys, k)
	}
	m.mu.RUnlock()
	slices.SortFunc(keys, func(a, b [32]byte) int { return bytes.Compare(a[:], b[:]) })
	out := make([]byte, 0, len(certCacheMagic)+32*len(keys))
	out = append(out, certCacheMagic...)
	for _, k := range keys {
		out = append(out, k[:]...)
	}
	return out
}

// UnmarshalCertCache decodes Marshal's output.
func UnmarshalCertCache(raw []byte) (*MemCertCache, error) {
	if !bytes.HasPrefix(raw, certCacheMagic) || (len(raw)-len(certCacheMagic))%32 != 0 {
		return nil, fmt.Errorf("certificate cache: %w: not a version 1 cache", ErrMalformed)
	}
	raw = raw[len(certCacheMagic):]
	m := &MemCertCache{keys: make(map[[32]byte]struct{}, len(raw)/32)}
	for ; len(raw) > 0; raw = raw[32:] {
		m.keys[[32]byte(raw[:32])] = struct{}{}
	}
	return m, nil
}

// CertsVerified is the number of certificate signatures checked when the
// bundle was opened; the others were found in the cache.
func (b *Bundle) CertsVerified() int { return b.verified }

// State is the bundle's state digest: what it says (sequence, lifetime,
// the set of certificates exactly as signed, the set of revocations),
// independent of the order of its lists and of whether it arrived whole or
// as a chain of deltas. A delta names the state it applies to and the one
// it makes.
func (b *Bundle) State() [32]byte { return b.state }

// issuerID names an issuer in a cache key: its serial and its certificate
// exactly as signed (hence its key).
func issuerID(issuer *Certificate) [32]byte {
	h := sha256.New()
	h.Write([]byte("courtmesh/cert-cache/issuer/v1"))
	h.Write(binary.BigEndian.AppendUint64(nil, issuer.Serial))
	d := certDigest(issuer)
	h.Write(d[:])
	return [32]byte(h.Sum(nil))
}

func cacheKeyOf(issuer, d [32]byte) [32]byte {
	h := sha256.New()
	h.Write([]byte("courtmesh/cert-cache/v1"))
	h.Write(issuer[:])
	h.Write(d[:])
	return [32]byte(h.Sum(nil))
}

// certDigest is the SHA-256 of a certificate exactly as signed: the
// signed bytes of its envelope and the signature.
func certDigest(c *Certificate) [32]byte {
	e := c.Envelope
	h := sha256.New()
	// signedBytes, written straight into the hash (no copy of the payload).
	const domain = "courtmesh/envelope/v1"
	var buf [64]byte
	b := binary.AppendUvarint(buf[:0], uint64(len(domain)))
	b = append(b, domain...)
	b = binary.AppendUvarint(b, uint64(e.Suite))
	b = binary.AppendUvarint(b, uint64(len(e.PayloadType)))
	h.Write(b)
	h.Write([]byte(e.PayloadType))
	b = binary.AppendUvarint(buf[:0], e.SignerSerial)
	b = binary.AppendUvarint(b, uint64(len(e.Payload)))
	h.Write(b)
	h.Write(e.Payload)
	h.Write(binary.AppendUvarint(nil, uint64(len(e.Signature))))
	h.Write(e.Signature)
	return [32]byte(h.Sum(nil))
}

// stateDigest computes Bundle.State from the decoded content.
func stateDigest(b *Bundle) [32]byte {
	return stateOf(b.Sequence, b.IssuedAt, b.ExpiresAt, b.digests, b.Revocations)
}

func stateOf(seq uint64, issued, expires time.Time, digests [][32]byte, revs []Revocation) [32]byte {
	ds := slices.Clone(digests)
	slices.SortFunc(ds, func(a, b [32]byte) int { return bytes.Compare(a[:], b[:]) })
	rs := slices.Clone(revs)
	slices.SortFunc(rs, func(a, b Revocation) int {
		switch {
		case a.Serial < b.Serial:
			return -1
		case a.Serial > b.Serial:
			return 1
		}
		return 0
	})
	h := sha256.New()
	u := func(v uint64) { h.Write(binary.BigEndian.AppendUint64(nil, v)) }
	h.Write([]byte("courtmesh/bundle-state/v1"))
	u(seq)
	u(uint64(issued.Unix()))
	u(uint64(expires.Unix()))
	u(uint64(len(ds)))
	for _, d := range ds {
		h.Write(d[:])
	}
	u(uint64(len(rs)))
	for _, r := range rs {
		u(r.Serial)
		u(uint64(r.RevokedAt.Unix()))
		u(uint64(len(r.Reason)))
		h.Write([]byte(r.Reason))
		if r.LastTrusted != nil {
			u(r.LastTrusted.Seq)
			h.Write(r.LastTrusted.Head[:])
		} else {
			u(0)
		}
	}
	return [32]byte(h.Sum(nil))
}

// BundleHead is a verified root-signed head of a bundle: enough to decide
// whether to download it, and to check the download before opening it.
type BundleHead struct {
	Sequence  uint64
	Hash      [32]byte // SHA-256 of the encoded bundle
	Size      uint64
	ExpiresAt time.Time
	State     [32]byte
}

// SignBundleHead signs the head of b with the root key.
func SignBundleHead(rootKey Signer, root *Certificate, b *Bundle) ([]byte, error) {
	env, err := SealMessage(rootKey, root.Serial, PayloadBundleHead, &cryptopb.BundleHead{
		Version: BundleHeadVersion, Sequence: b.Sequence, Sha256: b.hash[:], Size: uint64(len(b.Raw)),
		ExpiresAt: b.ExpiresAt.Unix(), State: b.state[:],
	})
	if err != nil {
		return nil, fmt.Errorf("sign head of bundle %d: %w", b.Sequence, err)
	}
	return env.Marshal()
}

// MaxBundleHeadSize bounds an encoded bundle head.
const MaxBundleHeadSize = 1024

// OpenBundleHead checks a bundle head: signed by the pinned root, well
// formed. It is cheap (one signature over a few dozen bytes) and is made
// before anything else about the bundle.
func OpenBundleHead(root *Certificate, raw []byte) (*BundleHead, error) {
	env, err := UnmarshalEnvelope(raw, MaxBundleHeadSize)
	if err != nil {
		return nil, fmt.Errorf("bundle head: %w", err)
	}
	if env.SignerSerial != root.Serial {
		return nil, fmt.Errorf("bundle head signed by serial %d, not the national root %d: %w", env.SignerSerial, root.Serial, ErrUnknownSigner)
	}
	if env.Suite != root.Suite {
		return nil, fmt.Errorf("bundle head: %w", mixed("the head", env.Suite, root.Suite))
	}
	if err := env.VerifyWith(root.SigningKey, PayloadBundleHead); err != nil {
		return nil, fmt.Errorf("bundle head: %w", err)
	}
	var p cryptopb.BundleHead
	if err := proto.Unmarshal(env.Payload, &p); err != nil {
		return nil, fmt.Errorf("bundle head: %w: %v", ErrMalformed, err)
	}
	if p.GetVersion() != BundleHeadVersion || p.GetSequence() == 0 || len(p.GetSha256()) != 32 || len(p.GetState()) != 32 ||
		p.GetSize() == 0 || p.GetSize() > MaxBundleSize {
		return nil, fmt.Errorf("bundle head: %w: version %d, sequence %d, size %d", ErrMalformed, p.GetVersion(), p.GetSequence(), p.GetSize())
	}
	return &BundleHead{Sequence: p.GetSequence(), Hash: [32]byte(p.GetSha256()), Size: p.GetSize(),
		ExpiresAt: time.Unix(p.GetExpiresAt(), 0), State: [32]byte(p.GetState())}, nil
}

// Matches reports whether b is the bundle the head describes.
func (h *BundleHead) Matches(b *Bundle) bool {
	return h.Sequence == b.Sequence && h.Hash == b.hash && h.State == b.state && h.Size == uint64(len(b.Raw))
}

// PeekBundleSequence reads the sequence a bundle encoding claims, without
// verifying anything and without decoding its certificates. It lets an
// install skip a bundle that is not newer than the one in force before
// doing any work; a claim of a newer sequence is then verified in full.
func PeekBundleSequence(raw []byte) (uint64, error) {
	payload, ok := protoField(raw, 4) // Envelope.payload
	if !ok {
		return 0, fmt.Errorf("trust bundle: %w: no payload", ErrMalformed)
	}
	for b := payload; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			break
		}
		b = b[n:]
		if num == 2 && typ == protowire.VarintType { // TrustBundle.sequence
			v, n := protowire.ConsumeVarint(b)
			if n < 0 || v == 0 {
				break
			}
			return v, nil
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			break
		}
		b = b[n:]
	}
	return 0, fmt.Errorf("trust bundle: %w: no sequence", ErrMalformed)
}

// protoField returns the bytes of the first length-delimited field num
// of a protobuf message.
func protoField(b []byte, num protowire.Number) ([]byte, bool) {
	for len(b) > 0 {
		n, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return nil, false
		}
		b = b[l:]
		if n == num && typ == protowire.BytesType {
			v, l := protowire.ConsumeBytes(b)
			return v, l >= 0
		}
		l = protowire.ConsumeFieldValue(n, typ, b)
		if l < 0 {
			return nil, false
		}
		b = b[l:]
	}
	return nil, false
}
