package crypto

// The trust in force, read: the certificate admitting a peer, a serial or a
// court, the hierarchy, and the opening of signed records.

import (
	"fmt"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"courtmesh.dev/courtmesh/court"
)

// check applies revocation, the certificate's validity, the chain's
// validity and the bundle's own lifetime at now.
func (t *Trust) check(c *Certificate, now time.Time) (*Certificate, error) {
	if t.bundle.Status(now) == BundleDead {
		return nil, fmt.Errorf("trust bundle %d expired on %s and its grace period is over: %w", t.bundle.Sequence, t.bundle.ExpiresAt.UTC().Format(time.DateOnly), ErrExpired)
	}
	for i := 0; i < 3 && c != nil; i++ {
		if r, ok := t.revoked[c.Serial]; ok {
			// Formatted only if read: admission refuses revoked peers on
			// every dial and stream, and mostly only tests the kind.
			return nil, &revokedCertError{c: c, at: r.RevokedAt}
		}
		if err := c.ValidAt(now); err != nil {
			return nil, err
		}
		if c.SelfSigned() {
			break
		}
		c = t.bySerial[c.IssuerSerial]
	}
	return nil, nil
}

// revokedCertError refuses a revoked certificate; it wraps ErrRevoked.
type revokedCertError struct {
	c  *Certificate
	at time.Time
}

func (e *revokedCertError) Error() string {
	return fmt.Sprintf("%s revoked on %s: %v", e.c, e.at.UTC().Format(time.RFC3339), ErrRevoked)
}

func (e *revokedCertError) Unwrap() error { return ErrRevoked }

// unknownPeerError refuses a peer no certificate names; it wraps
// ErrUnknownSigner.
type unknownPeerError peer.ID

func (e unknownPeerError) Error() string {
	return fmt.Sprintf("peer %s: %v", peer.ID(e), ErrUnknownSigner)
}

func (e unknownPeerError) Unwrap() error { return ErrUnknownSigner }

// Revocation returns the revocation of a certificate serial, if any.
func (t *Trust) Revocation(serial uint64) (Revocation, bool) {
	r, ok := t.revoked[serial]
	return r, ok
}

// RevokedPeer returns the revoked certificate of a peer that holds no
// certificate in force, and its revocation: that peer's record log is
// closed (after its last trusted position, or from the start).
func (t *Trust) RevokedPeer(p peer.ID) (*Certificate, Revocation, bool) {
	c, ok := t.revokedPeer[p]
	if !ok {
		return nil, Revocation{}, false
	}
	return c, t.revoked[c.Serial], true
}

// ByPeer returns the certificate admitting peer p at now, or an error
// saying why p is not admitted.
func (t *Trust) ByPeer(p peer.ID, now time.Time) (*Certificate, error) {
	c, ok := t.byPeer[p]
	if !ok {
		// Why not: the first certificate naming p says (revoked, expired),
		// from an index rather than a scan of the bundle.
		if cc, named := t.notInForce[p]; named {
			if _, err := t.check(cc, now); err != nil {
				return nil, err
			}
		}
		return nil, unknownPeerError(p)
	}
	if _, err := t.check(c, now); err != nil {
		return nil, err
	}
	return c, nil
}

// BySerial returns the certificate with that serial if it is in force.
func (t *Trust) BySerial(serial uint64, now time.Time) (*Certificate, error) {
	c, ok := t.bySerial[serial]
	if !ok {
		return nil, fmt.Errorf("certificate serial %d: %w", serial, ErrUnknownSigner)
	}
	if _, err := t.check(c, now); err != nil {
		return nil, err
	}
	return c, nil
}

// Court returns the newest certificate in force for a court code.
func (t *Trust) Court(code court.CourtCode, now time.Time) (*Certificate, error) {
	c, ok := t.byCode[code]
	if !ok {
		return nil, fmt.Errorf("court %s: %w", code, ErrUnknownSigner)
	}
	if _, err := t.check(c, now); err != nil {
		return nil, err
	}
	return c, nil
}

// Parent implements court.Hierarchy from the certified parent fields,
// falling back to derivation from the code for courts not in the bundle.
func (t *Trust) Parent(code court.CourtCode) (court.CourtCode, bool) {
	if c, ok := t.byCode[code]; ok {
		return c.Parent, c.Parent != ""
	}
	if p, ok := t.parentOf[code]; ok {
		return p, true
	}
	return code.DerivedParent()
}

var _ court.Hierarchy = (*Trust)(nil)

// Peers lists the peer IDs admitted at now.
func (t *Trust) Peers(now time.Time) []peer.ID {
	out := make([]peer.ID, 0, len(t.byPeer))
	for p, c := range t.byPeer {
		if _, err := t.check(c, now); err == nil {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// OpenRecord is Open for the record at position seq of its signer's log.
// A signer whose own certificate is revoked is still accepted for a
// record in the trusted part of its log (Revocation.Trusts): then the
// revocation is returned too, and the caller must check that the record
// belongs to the chain the revocation pins before acting on it. A record
// after that part is refused with a *RevokedRecordError naming the signer.
// The rest of the chain (the issuer, the bundle, validity at now) is
// checked as by Open.
func (t *Trust) OpenRecord(env *Envelope, wantType string, seq uint64, now time.Time) (*Certificate, *Revocation, error) {
	rev, revoked := t.revoked[env.SignerSerial]
	if !revoked {
		c, err := t.Open(env, wantType, now)
		return c, nil, err
	}
	c, ok := t.bySerial[env.SignerSerial]
	if !ok {
		return nil, nil, fmt.Errorf("%s: certificate serial %d: %w", wantType, env.SignerSerial, ErrUnknownSigner)
	}
	if c.PeerID == "" || (!c.HasRole(RoleCourt) && !c.HasRole(RoleOperator)) {
		return nil, nil, fmt.Errorf("%s signed by %s, which is not a court or operator node: %w", wantType, c, ErrNotAuthorised)
	}
	// The signature first: only an authentic record is refused in its
	// signer's name.
	if err := env.VerifyWith(c.SigningKey, wantType); err != nil {
		return nil, nil, err
	}
	if !rev.Trusts(seq) {
		return nil, nil, &RevokedRecordError{Signer: c, Revocation: rev, Seq: seq}
	}
	if t.bundle.Status(now) == BundleDead {
		return nil, nil, fmt.Errorf("trust bundle %d expired on %s and its grace period is over: %w", t.bundle.Sequence, t.bundle.ExpiresAt.UTC().Format(time.DateOnly), ErrExpired)
	}
	if err := c.ValidAt(now); err != nil {
		return nil, nil, err
	}
	if !c.SelfSigned() {
		if issuer := t.bySerial[c.IssuerSerial]; issuer != nil {
			if _, err := t.check(issuer, now); err != nil {
				return nil, nil, err
			}
		}
	}
	return c, &rev, nil
}

// Open verifies a record envelope: its signer is certified and in force at
// now, holds the court or operator role, and signed it; the payload type is
// the one expected. It returns the signer's certificate.
func (t *Trust) Open(env *Envelope, wantType string, now time.Time) (*Certificate, error) {
	if env.Suite != t.root.Suite {
		return nil, mixed(fmt.Sprintf("%s from serial %d", wantType, env.SignerSerial), env.Suite, t.root.Suite)
	}
	c, err := t.BySerial(env.SignerSerial, now)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", wantType, err)
	}
	if c.PeerID == "" || (!c.HasRole(RoleCourt) && !c.HasRole(RoleOperator)) {
		return nil, fmt.Errorf("%s signed by %s, which is not a court or operator node: %w", wantType, c, ErrNotAuthorised)
	}
	if err := env.VerifyWith(c.SigningKey, wantType); err != nil {
		return nil, err
	}
	return c, nil
}
