package crypto

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto/cryptopb"
)

// BundleVersion is the newest trust bundle format version this build
// writes. A bundle is written as version 2 only when one of its
// revocations pins a last trusted log head (which version 1 cannot say),
// and as version 1 otherwise, so that nodes of older builds keep taking
// the bundles that mean to them what they always meant. Both are read.
//
//	1: revocations withdraw a key from the start
//	2: a revocation may pin the last trusted head of the key's record log
const BundleVersion = 2

// PayloadBundle is the envelope payload type of a trust bundle.
const PayloadBundle = "courtmesh/trust-bundle/v1"

// MaxBundleSize bounds an encoded bundle: 3,500 courts with a few nodes
// each at about 1.6 KiB per certificate, with room to spare.
const MaxBundleSize = 32 << 20

// The bundle lifetime rules. A node warns from BundleWarnBefore ahead of
// expiry; after expiry it keeps admitting peers for BundleGrace (so that a
// late national re-signing does not stop the courts), then fails closed:
// it admits no one until a newer bundle arrives.
const (
	BundleWarnBefore = 7 * 24 * time.Hour
	BundleGrace      = 3 * 24 * time.Hour
)

// Revocation withdraws a certificate. LastTrusted, if set, pins the last
// trusted head of the certificate's record log: records its key signed at
// or before that position stay valid for everyone (they are the chain the
// head names), later ones are refused. Without it the key is revoked from
// the start: none of its records is trusted.
type Revocation struct {
	Serial      uint64
	RevokedAt   time.Time
	Reason      string
	LastTrusted *LogPosition
}

// Trusts reports whether a record at position seq of the revoked key's log
// lies in its trusted part.
func (r Revocation) Trusts(seq uint64) bool {
	return r.LastTrusted != nil && seq >= 1 && seq <= r.LastTrusted.Seq
}

// LogPosition is a position in a node's record log and the chain hash of
// the log up to it (ChainRecordLog): it fixes every record at or before
// Seq, since no other sequence of records hashes to Head.
type LogPosition struct {
	Seq  uint64
	Head [32]byte
}

// String shows the position as operators type it: "42:<hex head>".
func (p LogPosition) String() string { return fmt.Sprintf("%d:%x", p.Seq, p.Head) }

// ChainRecordLog extends the chain hash of a record log by the next record
// (raw: the envelope exactly as signed). The chain of an empty log is all
// zeros; a log of records r1..rn has head
// H(n) = SHA-256("courtmesh/record-log/v1" || H(n-1) || SHA-256(rn)).
func ChainRecordLog(prev [32]byte, raw []byte) [32]byte {
	rh := sha256.Sum256(raw)
	h := sha256.New()
	h.Write([]byte("courtmesh/record-log/v1"))
	h.Write(prev[:])
	h.Write(rh[:])
	return [32]byte(h.Sum(nil))
}

// RevokedRecordError refuses a record signed by a revoked key outside the
// trusted part of its log. It names the signer (not whoever relayed the
// record) and wraps ErrRevoked.
type RevokedRecordError struct {
	Signer     *Certificate
	Revocation Revocation
	Seq        uint64 // the record's position in the signer's log
}

func (e *RevokedRecordError) Error() string {
	when := e.Revocation.RevokedAt.UTC().Format(time.RFC3339)
	if e.Revocation.LastTrusted == nil {
		return fmt.Sprintf("record %d signed by %s: revoked on %s from the start of its log: %v", e.Seq, e.Signer, when, ErrRevoked)
	}
	return fmt.Sprintf("record %d signed by %s: revoked on %s after record %d of its log: %v", e.Seq, e.Signer, when, e.Revocation.LastTrusted.Seq, ErrRevoked)
}

func (e *RevokedRecordError) Unwrap() error { return ErrRevoked }

// Bundle is a decoded, verified trust bundle.
type Bundle struct {
	Sequence    uint64
	IssuedAt    time.Time
	ExpiresAt   time.Time
	Certs       []*Certificate // root first
	Revocations []Revocation
	// Envelope is the bundle exactly as signed; Raw its encoding.
	Envelope *Envelope
	Raw      []byte
	// Head is the root-signed head of Raw (SignBundleHead), when known:
	// BuildBundle makes one; a bundle read from a file alone has none.
	Head []byte
	// Deltas are the signed deltas applied on top of Raw, in order
	// (ApplyDelta): Sequence and the lists are the result, FullSequence
	// the sequence of Raw itself.
	Deltas       [][]byte
	FullSequence uint64

	hash  [32]byte // SHA-256 of Raw, computed once when opened
	state [32]byte // StateDigest of the content after Deltas
	// certKeys are the cache keys of the certificates (certCacheKey);
	// verified counts the certificate signatures checked when opened
	// (the rest came from the cache).
	certKeys [][32]byte
	digests  [][32]byte // certDigest of each of Certs, in order
	// bundleKey is the cache key of Raw's root signature.
	bundleKey [32]byte
	verified  int
}

// Hash is the SHA-256 of the encoded bundle (Raw), computed once.
func (b *Bundle) Hash() [32]byte { return b.hash }

// BuildBundle signs a bundle with the root key. Every certificate must
// chain to root; revoked serials may still be listed so that old records
// can be checked, but they are never admitted.
func BuildBundle(rootKey Signer, root *Certificate, seq uint64, issued, expires time.Time, certs []*Certificate, revs []Revocation) (*Bundle, error) {
	return BuildBundleCached(rootKey, root, seq, issued, expires, certs, revs, nil)
}

// BuildBundleCached is BuildBundle that checks the signatures of only the
// certificates cache does not hold (as OpenBundleCached); every other
// check is made. The national root keeps such a cache of the
// certificates it bundled before (crypto/ca), so that the next bundle
// verifies only what is new.
func BuildBundleCached(rootKey Signer, root *Certificate, seq uint64, issued, expires time.Time, certs []*Certificate, revs []Revocation, cache CertCache) (*Bundle, error) {
	p := &cryptopb.TrustBundle{
		Version:   1, // 2 if a revocation needs it, below
		Sequence:  seq,
		IssuedAt:  issued.Unix(),
		ExpiresAt: expires.Unix(),
	}
	p.Certificates = append(p.Certificates, root.Envelope.Proto())
	for _, c := range certs {
		if c.Serial == root.Serial {
			continue
		}
		p.Certificates = append(p.Certificates, c.Envelope.Proto())
	}
	for _, r := range revs {
		pr := &cryptopb.Revocation{Serial: r.Serial, RevokedAt: r.RevokedAt.Unix(), Reason: r.Reason}
		if r.LastTrusted != nil {
			if r.LastTrusted.Seq == 0 {
				return nil, fmt.Errorf("build bundle %d: revocation of serial %d: %w: a last trusted position is at least 1 (none at all: revoke from the start)", seq, r.Serial, ErrMalformed)
			}
			pr.LastTrustedSeq, pr.LastTrustedHead = r.LastTrusted.Seq, r.LastTrusted.Head[:]
			p.Version = 2
		}
		p.Revocations = append(p.Revocations, pr)
	}
	env, err := SealMessage(rootKey, root.Serial, PayloadBundle, p)
	if err != nil {
		return nil, fmt.Errorf("build bundle %d: %w", seq, err)
	}
	raw, err := env.Marshal()
	if err != nil {
		return nil, err
	}
	b, err := OpenBundleCached(root, raw, cache)
	if err != nil {
		return nil, err
	}
	if b.Head, err = SignBundleHead(rootKey, root, b); err != nil {
		return nil, err
	}
	return b, nil
}

// OpenBundle decodes raw, checks the root's signature and every
// certificate's chain and constraints. It does not compare with the bundle
// in force (see Trust.Replace) nor check expiry (see Bundle.Status).
func OpenBundle(root *Certificate, raw []byte) (*Bundle, error) {
	return OpenBundleCached(root, raw, nil)
}

// OpenBundleCached is OpenBundle that skips the signature check of a
// certificate whose cache key (its issuer and its exact signed bytes) the
// cache holds; every other check is made. A nil cache checks every
// signature. It never adds to the cache: the caller adds
// Bundle.CertKeys once the bundle is accepted.
func OpenBundleCached(root *Certificate, raw []byte, cache CertCache) (*Bundle, error) {
	env, err := UnmarshalEnvelope(raw, MaxBundleSize)
	if err != nil {
		return nil, fmt.Errorf("trust bundle: %w", err)
	}
	if env.SignerSerial != root.Serial {
		return nil, fmt.Errorf("trust bundle signed by serial %d, not the national root %d: %w", env.SignerSerial, root.Serial, ErrUnknownSigner)
	}
	if env.Suite != root.Suite {
		return nil, fmt.Errorf("trust bundle: %w", mixed("the bundle", env.Suite, root.Suite))
	}
	hash := sha256.Sum256(raw)
	// The root's signature over these exact bytes, unless verified before.
	bundleKey := cacheKeyOf(issuerID(root), hash)
	if cache == nil || !cache.Verified(bundleKey) {
		if err := env.VerifyWith(root.SigningKey, PayloadBundle); err != nil {
			return nil, fmt.Errorf("trust bundle: %w", err)
		}
	}
	var p cryptopb.TrustBundle
	if err := proto.Unmarshal(env.Payload, &p); err != nil {
		return nil, fmt.Errorf("trust bundle: %w: %v", ErrMalformed, err)
	}
	if v := p.GetVersion(); v < 1 || v > BundleVersion {
		return nil, fmt.Errorf("trust bundle: %w: version %d (this build reads 1 to %d)", ErrMalformed, v, BundleVersion)
	}
	b := &Bundle{
		Sequence:  p.GetSequence(),
		IssuedAt:  time.Unix(p.GetIssuedAt(), 0),
		ExpiresAt: time.Unix(p.GetExpiresAt(), 0),
		Envelope:  env,
		Raw:       raw,
		hash:      hash,
		bundleKey: bundleKey,
	}
	b.FullSequence = b.Sequence
	if b.Sequence == 0 || !b.ExpiresAt.After(b.IssuedAt) {
		return nil, fmt.Errorf("trust bundle %d: %w: bad sequence or lifetime", b.Sequence, ErrMalformed)
	}
	revoked := make(map[uint64]bool)
	for _, r := range p.GetRevocations() {
		if r.GetSerial() == root.Serial {
			return nil, fmt.Errorf("trust bundle %d: %w: revokes the root itself", b.Sequence, ErrMalformed)
		}
		if revoked[r.GetSerial()] {
			return nil, fmt.Errorf("trust bundle %d: %w: serial %d revoked twice", b.Sequence, ErrMalformed, r.GetSerial())
		}
		revoked[r.GetSerial()] = true
		rev := Revocation{Serial: r.GetSerial(), RevokedAt: time.Unix(r.GetRevokedAt(), 0), Reason: r.GetReason()}
		switch {
		case r.GetLastTrustedSeq() == 0 && len(r.GetLastTrustedHead()) == 0:
		case p.GetVersion() < 2:
			return nil, fmt.Errorf("trust bundle %d: %w: a version %d bundle pins a last trusted log head (serial %d)", b.Sequence, ErrMalformed, p.GetVersion(), r.GetSerial())
		case r.GetLastTrustedSeq() == 0 || len(r.GetLastTrustedHead()) != 32:
			return nil, fmt.Errorf("trust bundle %d: %w: revocation of serial %d: last trusted position %d with a %d-byte head", b.Sequence, ErrMalformed, r.GetSerial(), r.GetLastTrustedSeq(), len(r.GetLastTrustedHead()))
		default:
			rev.LastTrusted = &LogPosition{Seq: r.GetLastTrustedSeq(), Head: [32]byte(r.GetLastTrustedHead())}
		}
		b.Revocations = append(b.Revocations, rev)
	}
	bySerial := map[uint64]*Certificate{}
	for i, pe := range p.GetCertificates() {
		e, err := EnvelopeFromProto(pe)
		if err != nil {
			return nil, fmt.Errorf("trust bundle %d, certificate #%d: %w", b.Sequence, i, err)
		}
		c, err := ParseCertificate(e)
		if err != nil {
			return nil, fmt.Errorf("trust bundle %d, certificate #%d: %w", b.Sequence, i, err)
		}
		if c.Suite != root.Suite {
			return nil, fmt.Errorf("trust bundle %d: %w", b.Sequence, mixed(fmt.Sprintf("certificate %d (%s)", c.Serial, c.Code), c.Suite, root.Suite))
		}
		if _, dup := bySerial[c.Serial]; dup {
			return nil, fmt.Errorf("trust bundle %d: %w: serial %d twice", b.Sequence, ErrMalformed, c.Serial)
		}
		bySerial[c.Serial] = c
		b.Certs = append(b.Certs, c)
	}
	shareRaw(b)
	if len(b.Certs) == 0 || b.Certs[0].Serial != root.Serial || !slices.Equal(b.Certs[0].Envelope.Signature, root.Envelope.Signature) {
		return nil, fmt.Errorf("trust bundle %d: %w: the first certificate is not the pinned national root", b.Sequence, ErrUnknownSigner)
	}
	if err := b.checkChain(root, cache, revoked); err != nil {
		return nil, err
	}
	b.state = stateDigest(b)
	return b, nil
}

// shareRaw points the byte fields that decoding copied out of b.Raw (the
// bundle's payload; each certificate's payload, signature and encryption
// key) at the same bytes inside b.Raw, which the bundle keeps anyway.
// Without it a national bundle (3,500 certificates, 5 MB) is held in
// memory four times over, some 15 MB more for every node (issue 22). A
// field is replaced only by bytes equal to it, and capped so that an
// append to it cannot write into Raw. A certificate kept after its
// bundle then keeps Raw alive with it.
func shareRaw(b *Bundle) {
	share := func(dst *[]byte, msg []byte, num protowire.Number) []byte {
		v, ok := protoField(msg, num)
		if !ok || !bytes.Equal(v, *dst) {
			return nil
		}
		v = v[:len(v):len(v)]
		*dst = v
		return v
	}
	payload := share(&b.Envelope.Payload, b.Raw, 4) // Envelope.payload
	if payload == nil {
		return
	}
	i := 0
	for len(payload) > 0 && i < len(b.Certs) {
		num, typ, n := protowire.ConsumeTag(payload)
		if n < 0 {
			return
		}
		payload = payload[n:]
		n = protowire.ConsumeFieldValue(num, typ, payload)
		if n < 0 {
			return
		}
		if num == 5 && typ == protowire.BytesType { // TrustBundle.certificates
			msg, _ := protowire.ConsumeBytes(payload)
			c := b.Certs[i]
			i++
			share(&c.Envelope.Signature, msg, 6) // Envelope.signature
			if cp := share(&c.Envelope.Payload, msg, 4); cp != nil && len(c.EncKey) > 0 {
				share(&c.EncKey, cp, 10) // Certificate.encryption_key
			}
		}
		payload = payload[n:]
	}
}

// checkChain checks every certificate of b after the root: its issuer is
// in the bundle, the chain is at most root -> issuer -> court, the issuer
// may certify it, and its signature holds (unless the cache knows it). No
// peer is certified twice by certificates in force. It fills b.digests
// (keeping entries already computed), b.certKeys and b.verified.
func (b *Bundle) checkChain(root *Certificate, cache CertCache, revoked map[uint64]bool) error {
	bySerial := make(map[uint64]*Certificate, len(b.Certs))
	for _, c := range b.Certs {
		bySerial[c.Serial] = c
	}
	if len(b.digests) != len(b.Certs) {
		b.digests = make([][32]byte, len(b.Certs))
	}
	var zero [32]byte
	digest := func(i int) [32]byte {
		if b.digests[i] == zero {
			b.digests[i] = certDigest(b.Certs[i])
		}
		return b.digests[i]
	}
	peers := map[peer.ID]uint64{}
	b.certKeys = make([][32]byte, len(b.Certs))
	b.verified = 0
	rootID := issuerID(root)
	b.certKeys[0] = cacheKeyOf(rootID, digest(0))
	issuerIDs := map[uint64][32]byte{root.Serial: rootID}
	var toVerify []sigCheck
	for i, c := range b.Certs[1:] {
		i++
		issuer, ok := bySerial[c.IssuerSerial]
		if !ok || c.SelfSigned() {
			return fmt.Errorf("trust bundle %d: certificate %d (%s): issuer %d not in bundle: %w", b.Sequence, c.Serial, c.Code, c.IssuerSerial, ErrUnknownSigner)
		}
		if issuer.Serial != root.Serial && issuer.IssuerSerial != root.Serial {
			return fmt.Errorf("trust bundle %d: certificate %d (%s): chain longer than root -> issuer -> court: %w", b.Sequence, c.Serial, c.Code, ErrNotAuthorised)
		}
		iid, ok := issuerIDs[issuer.Serial]
		if !ok {
			iid = issuerID(issuer)
			issuerIDs[issuer.Serial] = iid
		}
		key := cacheKeyOf(iid, digest(i))
		b.certKeys[i] = key
		// Everything but the signature here; the signatures after, on
		// every core.
		if err := c.verifyIssuedBy(issuer, false); err != nil {
			return fmt.Errorf("trust bundle %d: %w", b.Sequence, err)
		}
		if cache == nil || !cache.Verified(key) {
			toVerify = append(toVerify, sigCheck{c, issuer})
		}
		if c.PeerID != "" && !revoked[c.Serial] {
			if other, dup := peers[c.PeerID]; dup && !revoked[other] {
				return fmt.Errorf("trust bundle %d: %w: peer %s certified twice (serials %d and %d)", b.Sequence, ErrMalformed, c.PeerID, other, c.Serial)
			}
			peers[c.PeerID] = c.Serial
		}
	}
	if err := verifySignatures(toVerify); err != nil {
		return fmt.Errorf("trust bundle %d: %w", b.Sequence, err)
	}
	b.verified = len(toVerify)
	return nil
}

// sigCheck is a certificate whose signature by issuer is to be verified.
type sigCheck struct{ c, issuer *Certificate }

// parallelVerifyMin is the number of signatures from which
// verifySignatures spreads them over the cores.
const parallelVerifyMin = 64

// verifySignatures checks each certificate's signature by its issuer, on
// every core for a long list (a national bundle holds 3,500), and returns
// the error of the first one in the list that fails.
func verifySignatures(checks []sigCheck) error {
	verify := func(k sigCheck) error {
		if err := k.c.Envelope.VerifyWith(k.issuer.SigningKey, PayloadCertificate); err != nil {
			return fmt.Errorf("certificate %d (%s): %w", k.c.Serial, k.c.Code, err)
		}
		return nil
	}
	workers := min(runtime.GOMAXPROCS(0), len(checks)/parallelVerifyMin)
	if workers < 2 {
		for _, k := range checks {
			if err := verify(k); err != nil {
				return err
			}
		}
		return nil
	}
	errs := make([]error, len(checks))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(checks) {
					return
				}
				errs[i] = verify(checks[i])
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// BundleState says where a bundle stands in its lifetime.
type BundleState int

// The bundle lifetime states.
const (
	BundleValid    BundleState = iota // in force, more than BundleWarnBefore left
	BundleExpiring                    // in force, expires within BundleWarnBefore
	BundleGraced                      // expired, within BundleGrace: still admits
	BundleDead                        // past the grace period: admits no one
)

// String names the state for operators.
func (s BundleState) String() string {
	return [...]string{"valid", "expiring", "expired-grace", "expired"}[s]
}

// Status reports the bundle's state at now.
func (b *Bundle) Status(now time.Time) BundleState {
	switch {
	case now.After(b.ExpiresAt.Add(BundleGrace)):
		return BundleDead
	case !now.Before(b.ExpiresAt):
		return BundleGraced
	case now.Add(BundleWarnBefore).After(b.ExpiresAt):
		return BundleExpiring
	}
	return BundleValid
}

// Trust is an immutable view of the bundle in force, answering who is
// certified. It is safe for concurrent use; replace it wholesale when a
// newer bundle arrives.
type Trust struct {
	root     *Certificate
	bundle   *Bundle
	bySerial map[uint64]*Certificate
	byPeer   map[peer.ID]*Certificate
	byCode   map[court.CourtCode]*Certificate
	parentOf map[court.CourtCode]court.CourtCode // from every court certificate, revoked ones too
	revoked  map[uint64]Revocation
	// revokedPeer maps the peer of a revoked certificate that has no
	// certificate in force to that revoked certificate (the newest one).
	revokedPeer map[peer.ID]*Certificate
	// notInForce maps a peer that some certificate of the bundle names
	// but byPeer does not admit to the first such certificate in bundle
	// order: the miss path of ByPeer answers from it in O(1).
	notInForce map[peer.ID]*Certificate
}

// NewTrust builds the view of a verified bundle.
func NewTrust(root *Certificate, b *Bundle) *Trust {
	t := &Trust{
		root: root, bundle: b,
		bySerial: make(map[uint64]*Certificate, len(b.Certs)),
		byPeer:   make(map[peer.ID]*Certificate, len(b.Certs)),
		byCode:   make(map[court.CourtCode]*Certificate, len(b.Certs)),
		parentOf: make(map[court.CourtCode]court.CourtCode, len(b.Certs)),
		revoked:  make(map[uint64]Revocation, len(b.Revocations)),

		revokedPeer: make(map[peer.ID]*Certificate, len(b.Revocations)),
		notInForce:  make(map[peer.ID]*Certificate, len(b.Revocations)),
	}
	for _, r := range b.Revocations {
		t.revoked[r.Serial] = r
	}
	for _, c := range b.Certs {
		t.bySerial[c.Serial] = c
		// The hierarchy does not change when a node's certificate is
		// revoked: keep its certified parent (derivation from the code is
		// wrong for courts with an explicit parent).
		if c.HasRole(RoleCourt) && c.Parent != "" {
			t.parentOf[c.Code] = c.Parent
		}
		if _, rev := t.revoked[c.Serial]; rev {
			if c.PeerID != "" {
				if prev, ok := t.revokedPeer[c.PeerID]; !ok || prev.NotBefore.Before(c.NotBefore) {
					t.revokedPeer[c.PeerID] = c
				}
			}
			continue
		}
		if c.PeerID != "" {
			t.byPeer[c.PeerID] = c
		}
		if c.HasRole(RoleCourt) || c.Code == court.Supreme {
			if prev, ok := t.byCode[c.Code]; !ok || prev.NotBefore.Before(c.NotBefore) {
				t.byCode[c.Code] = c
			}
		}
	}
	for p := range t.revokedPeer {
		if _, live := t.byPeer[p]; live {
			delete(t.revokedPeer, p) // re-certified: its log is trusted again
		}
	}
	for _, c := range b.Certs {
		if c.PeerID == "" {
			continue
		}
		if _, ok := t.notInForce[c.PeerID]; ok {
			continue
		}
		if live, ok := t.byPeer[c.PeerID]; !ok || live != c {
			t.notInForce[c.PeerID] = c
		}
	}
	return t
}

// Bundle returns the bundle in force.
func (t *Trust) Bundle() *Bundle { return t.bundle }

// Suite is the mesh's algorithm suite: the national root's.
func (t *Trust) Suite() Suite { return t.root.Suite }

// Root returns the pinned national root certificate.
func (t *Trust) Root() *Certificate { return t.root }

// Replace checks that nb may replace the bundle in force: it must be newer.
func (t *Trust) Replace(nb *Bundle) (*Trust, error) {
	if nb.Sequence <= t.bundle.Sequence {
		return nil, fmt.Errorf("trust bundle %d is not newer than %d in force: %w", nb.Sequence, t.bundle.Sequence, ErrStale)
	}
	return NewTrust(t.root, nb), nil
}
