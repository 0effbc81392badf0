package crypto

import (
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	"courtmesh.dev/courtmesh/crypto/cryptopb"
)

// PayloadBundleDelta is the envelope payload type of a bundle delta.
const PayloadBundleDelta = "courtmesh/bundle-delta/v1"

// BundleDeltaVersion is the version of BundleDelta this build writes.
const BundleDeltaVersion = 1

// MaxDeltaSize bounds an encoded delta (a few hundred certificates).
const MaxDeltaSize = 1 << 20

// MaxFreshnessExtension bounds how far past the bundle's current expiry one
// delta of the freshness signer may move it. The freshness signer may
// never move it past its own certificate's expiry either.
const MaxFreshnessExtension = 45 * 24 * time.Hour

// Delta is a decoded signed change of a trust bundle (see
// cryptopb.BundleDelta and docs/protocol.md).
type Delta struct {
	BaseSequence uint64
	BaseState    [32]byte
	Sequence     uint64
	State        [32]byte
	IssuedAt     time.Time
	ExpiresAt    time.Time
	Remove       []uint64
	Add          []*Certificate
	Revoke       []Revocation
	Signer       uint64 // the serial that signed it: the root or the freshness signer
	Raw          []byte
}

// DeltaChange is what a delta does to its base.
type DeltaChange struct {
	IssuedAt, ExpiresAt time.Time
	Remove              []uint64
	Add                 []*Certificate
	Revoke              []Revocation
}

// BuildDelta signs the delta that applies ch to base, as the certificate
// signer (the root, or the freshness signer the bundle delegates). It
// computes the resulting state and checks the change itself; the returned
// bundle is what every node will hold after applying it. Whether the
// signer may make that change is for ApplyDelta, on every node.
func BuildDelta(key Signer, signer *Certificate, root *Certificate, base *Bundle, ch DeltaChange) (*Delta, *Bundle, error) {
	nb, err := applyChange(root, base, base.Sequence+1, ch, nil)
	if err != nil {
		return nil, nil, err
	}
	p := &cryptopb.BundleDelta{
		Version: BundleDeltaVersion, BaseSequence: base.Sequence, BaseState: base.state[:],
		Sequence: nb.Sequence, State: nb.state[:], IssuedAt: ch.IssuedAt.Unix(), ExpiresAt: ch.ExpiresAt.Unix(),
		Remove: ch.Remove,
	}
	for _, c := range ch.Add {
		p.Add = append(p.Add, c.Envelope.Proto())
	}
	for _, r := range ch.Revoke {
		p.Revoke = append(p.Revoke, revocationProto(r))
	}
	env, err := SealMessage(key, signer.Serial, PayloadBundleDelta, p)
	if err != nil {
		return nil, nil, fmt.Errorf("build delta %d: %w", nb.Sequence, err)
	}
	raw, err := env.Marshal()
	if err != nil {
		return nil, nil, err
	}
	d, err := decodeDelta(raw)
	if err != nil {
		return nil, nil, err
	}
	// What the nodes will hold if they accept it. BuildDelta does not
	// enforce the freshness signer's limits: the nodes do (ApplyDelta).
	nb.Deltas = append(slices.Clip(base.Deltas), raw)
	return d, nb, nil
}

func revocationProto(r Revocation) *cryptopb.Revocation {
	pr := &cryptopb.Revocation{Serial: r.Serial, RevokedAt: r.RevokedAt.Unix(), Reason: r.Reason}
	if r.LastTrusted != nil {
		pr.LastTrustedSeq, pr.LastTrustedHead = r.LastTrusted.Seq, r.LastTrusted.Head[:]
	}
	return pr
}

// PeekDelta decodes a delta without verifying it: enough to see which
// base it needs and which sequence it makes, before any signature work.
func PeekDelta(raw []byte) (*Delta, error) { return decodeDelta(raw) }

func decodeDelta(raw []byte) (*Delta, error) {
	env, err := UnmarshalEnvelope(raw, MaxDeltaSize)
	if err != nil {
		return nil, fmt.Errorf("bundle delta: %w", err)
	}
	if env.PayloadType != PayloadBundleDelta {
		return nil, fmt.Errorf("bundle delta: %w: payload type %q", ErrMalformed, env.PayloadType)
	}
	var p cryptopb.BundleDelta
	if err := proto.Unmarshal(env.Payload, &p); err != nil {
		return nil, fmt.Errorf("bundle delta: %w: %v", ErrMalformed, err)
	}
	if p.GetVersion() != BundleDeltaVersion || len(p.GetBaseState()) != 32 || len(p.GetState()) != 32 ||
		p.GetBaseSequence() == 0 || p.GetSequence() != p.GetBaseSequence()+1 {
		return nil, fmt.Errorf("bundle delta: %w: version %d, %d -> %d", ErrMalformed, p.GetVersion(), p.GetBaseSequence(), p.GetSequence())
	}
	d := &Delta{
		BaseSequence: p.GetBaseSequence(), BaseState: [32]byte(p.GetBaseState()),
		Sequence: p.GetSequence(), State: [32]byte(p.GetState()),
		IssuedAt: time.Unix(p.GetIssuedAt(), 0), ExpiresAt: time.Unix(p.GetExpiresAt(), 0),
		Remove: p.GetRemove(), Signer: env.SignerSerial, Raw: raw,
	}
	for i, pe := range p.GetAdd() {
		e, err := EnvelopeFromProto(pe)
		if err != nil {
			return nil, fmt.Errorf("bundle delta %d, certificate #%d: %w", d.Sequence, i, err)
		}
		c, err := ParseCertificate(e)
		if err != nil {
			return nil, fmt.Errorf("bundle delta %d, certificate #%d: %w", d.Sequence, i, err)
		}
		d.Add = append(d.Add, c)
	}
	for _, r := range p.GetRevoke() {
		rev := Revocation{Serial: r.GetSerial(), RevokedAt: time.Unix(r.GetRevokedAt(), 0), Reason: r.GetReason()}
		switch {
		case r.GetLastTrustedSeq() == 0 && len(r.GetLastTrustedHead()) == 0:
		case r.GetLastTrustedSeq() == 0 || len(r.GetLastTrustedHead()) != 32:
			return nil, fmt.Errorf("bundle delta %d: %w: revocation of serial %d: last trusted position %d with a %d-byte head", d.Sequence, ErrMalformed, r.GetSerial(), r.GetLastTrustedSeq(), len(r.GetLastTrustedHead()))
		default:
			rev.LastTrusted = &LogPosition{Seq: r.GetLastTrustedSeq(), Head: [32]byte(r.GetLastTrustedHead())}
		}
		d.Revoke = append(d.Revoke, rev)
	}
	return d, nil
}

// ApplyDelta verifies a signed delta against base and returns the bundle
// it makes. The checks come before the work: the sequence and base state
// (a stale delta or one for another base is refused at once), then the
// signature (by the root, or by a freshness signer in force in base,
// which may only set a later expiry and add revocations), then the change
// itself, whose result must have the state the delta names. Certificates
// of base are not verified again; added ones are.
func ApplyDelta(root *Certificate, base *Bundle, raw []byte) (*Bundle, error) {
	d, err := decodeDelta(raw)
	if err != nil {
		return nil, err
	}
	if d.Sequence <= base.Sequence {
		return nil, fmt.Errorf("bundle delta %d is not newer than bundle %d in force: %w", d.Sequence, base.Sequence, ErrStale)
	}
	if d.BaseSequence != base.Sequence || d.BaseState != base.state {
		return nil, fmt.Errorf("bundle delta %d applies to bundle %d, not to the bundle %d in force: %w", d.Sequence, d.BaseSequence, base.Sequence, ErrWrongBase)
	}
	env, _ := UnmarshalEnvelope(raw, MaxDeltaSize) // decoded above
	signer := root
	if d.Signer != root.Serial {
		signer = nil
		for _, c := range base.Certs {
			if c.Serial == d.Signer {
				signer = c
				break
			}
		}
		if signer == nil || !signer.HasRole(RoleFreshness) {
			return nil, fmt.Errorf("bundle delta %d signed by serial %d, neither the national root nor a freshness signer of bundle %d: %w", d.Sequence, d.Signer, base.Sequence, ErrUnknownSigner)
		}
		if _, revoked := base.revocation(signer.Serial); revoked {
			return nil, fmt.Errorf("bundle delta %d: the freshness signer %d is revoked: %w", d.Sequence, signer.Serial, ErrRevoked)
		}
		if err := signer.ValidAt(d.IssuedAt); err != nil {
			return nil, fmt.Errorf("bundle delta %d: freshness signer: %w", d.Sequence, err)
		}
	}
	if env.Suite != root.Suite {
		return nil, fmt.Errorf("bundle delta %d: %w", d.Sequence, mixed("the delta", env.Suite, root.Suite))
	}
	if err := env.VerifyWith(signer.SigningKey, PayloadBundleDelta); err != nil {
		return nil, fmt.Errorf("bundle delta %d: %w", d.Sequence, err)
	}
	if signer != root {
		// The freshness signer's limits: later expiry, revocations only.
		switch {
		case len(d.Add) > 0 || len(d.Remove) > 0:
			return nil, fmt.Errorf("bundle delta %d: the freshness signer may not add or remove certificates (%d added, %d removed): %w", d.Sequence, len(d.Add), len(d.Remove), ErrNotAuthorised)
		case d.ExpiresAt.Before(base.ExpiresAt) || d.IssuedAt.Before(base.IssuedAt):
			return nil, fmt.Errorf("bundle delta %d: the freshness signer may not shorten the bundle's lifetime: %w", d.Sequence, ErrNotAuthorised)
		case d.ExpiresAt.After(base.ExpiresAt.Add(MaxFreshnessExtension)) || d.ExpiresAt.After(signer.NotAfter):
			return nil, fmt.Errorf("bundle delta %d: the freshness signer may extend the bundle by at most %v and not past its own certificate: %w", d.Sequence, MaxFreshnessExtension, ErrNotAuthorised)
		}
	}
	nb, err := applyChange(root, base, d.Sequence, DeltaChange{IssuedAt: d.IssuedAt, ExpiresAt: d.ExpiresAt, Remove: d.Remove, Add: d.Add, Revoke: d.Revoke}, nil)
	if err != nil {
		return nil, err
	}
	if nb.state != d.State {
		return nil, fmt.Errorf("bundle delta %d: the result is not the state it names: %w", d.Sequence, ErrMalformed)
	}
	nb.Deltas = append(slices.Clip(base.Deltas), raw)
	return nb, nil
}

func (b *Bundle) revocation(serial uint64) (Revocation, bool) {
	for _, r := range b.Revocations {
		if r.Serial == serial {
			return r, true
		}
	}
	return Revocation{}, false
}

// applyChange makes the bundle that ch turns base into, checking the
// whole chain again (certificates of base from its own verified keys,
// added ones in full).
func applyChange(root *Certificate, base *Bundle, seq uint64, ch DeltaChange, _ CertCache) (*Bundle, error) {
	if !ch.ExpiresAt.After(ch.IssuedAt) {
		return nil, fmt.Errorf("bundle delta %d: %w: bad lifetime", seq, ErrMalformed)
	}
	nb := &Bundle{
		Sequence: seq, IssuedAt: ch.IssuedAt, ExpiresAt: ch.ExpiresAt,
		Envelope: base.Envelope, Raw: base.Raw, Head: base.Head, Deltas: base.Deltas, hash: base.hash,
		FullSequence: base.FullSequence, bundleKey: base.bundleKey,
	}
	remove := make(map[uint64]bool, len(ch.Remove))
	for _, s := range ch.Remove {
		if s == root.Serial {
			return nil, fmt.Errorf("bundle delta %d: %w: removes the root", seq, ErrMalformed)
		}
		if remove[s] {
			return nil, fmt.Errorf("bundle delta %d: %w: serial %d removed twice", seq, ErrMalformed, s)
		}
		remove[s] = true
	}
	known := make(map[uint64]bool, len(base.Certs))
	nb.Certs = make([]*Certificate, 0, len(base.Certs)+len(ch.Add))
	nb.digests = make([][32]byte, 0, len(base.Certs)+len(ch.Add))
	for i, c := range base.Certs {
		known[c.Serial] = true
		if remove[c.Serial] {
			delete(remove, c.Serial)
			continue
		}
		nb.Certs = append(nb.Certs, c)
		nb.digests = append(nb.digests, base.digests[i])
	}
	if len(remove) > 0 {
		return nil, fmt.Errorf("bundle delta %d: %w: removes serials not in bundle %d", seq, ErrMalformed, base.Sequence)
	}
	for _, c := range ch.Add {
		if known[c.Serial] && !slices.Contains(ch.Remove, c.Serial) {
			return nil, fmt.Errorf("bundle delta %d: %w: serial %d twice", seq, ErrMalformed, c.Serial)
		}
		known[c.Serial] = true
		nb.Certs = append(nb.Certs, c)
		nb.digests = append(nb.digests, [32]byte{})
	}
	revoked := make(map[uint64]bool, len(base.Revocations)+len(ch.Revoke))
	nb.Revocations = slices.Clone(base.Revocations)
	for _, r := range base.Revocations {
		revoked[r.Serial] = true
	}
	for _, r := range ch.Revoke {
		switch {
		case r.Serial == root.Serial:
			return nil, fmt.Errorf("bundle delta %d: %w: revokes the root itself", seq, ErrMalformed)
		case revoked[r.Serial]:
			return nil, fmt.Errorf("bundle delta %d: %w: serial %d revoked twice", seq, ErrMalformed, r.Serial)
		case r.LastTrusted != nil && r.LastTrusted.Seq == 0:
			return nil, fmt.Errorf("bundle delta %d: %w: revocation of serial %d: a last trusted position is at least 1", seq, ErrMalformed, r.Serial)
		}
		revoked[r.Serial] = true
		nb.Revocations = append(nb.Revocations, r)
	}
	// The certificates of base were verified when base was: their keys
	// are a cache for this check.
	if err := nb.checkChain(root, newKeySet(base.certKeys), revoked); err != nil {
		return nil, err
	}
	nb.state = stateDigest(nb)
	return nb, nil
}

type keySet map[[32]byte]struct{}

func newKeySet(keys [][32]byte) keySet {
	k := make(keySet, len(keys))
	for _, key := range keys {
		k[key] = struct{}{}
	}
	return k
}

func (k keySet) Verified(key [32]byte) bool {
	_, ok := k[key]
	return ok
}
