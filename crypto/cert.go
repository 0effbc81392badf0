package crypto

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	lcrypto "github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto/cryptopb"
)

// CertificateVersion is the certificate format version this build writes.
const CertificateVersion = 1

// PayloadCertificate is the envelope payload type of a certificate.
const PayloadCertificate = "courtmesh/certificate/v1"

// Role is what a certificate allows its holder to do.
type Role string

// The roles a certificate may carry.
const (
	// RoleCourt: a court's node; takes part in transfers.
	RoleCourt Role = "court"
	// RoleIssuer: may certify courts whose code falls within its scope.
	RoleIssuer Role = "issuer"
	// RoleOperator: a national operator's node; serves the supervision
	// dashboard and may publish trust bundles to the mesh.
	RoleOperator Role = "operator"
	// RoleRoot: the national root; signs bundles and issuer certificates.
	RoleRoot Role = "root"
	// RoleFreshness: the freshness signer the root delegates (held online
	// by the national operator): its bundle deltas may only extend the
	// bundle's lifetime and add revocations (see ApplyDelta).
	RoleFreshness Role = "freshness"
)

func (r Role) valid() bool {
	switch r {
	case RoleCourt, RoleIssuer, RoleOperator, RoleRoot, RoleFreshness:
		return true
	}
	return false
}

// Certificate binds a court's node (or an issuing key) to its court code,
// level, parent court, keys and roles, for a period.
type Certificate struct {
	Serial       uint64
	Code         court.CourtCode
	Name         string
	Level        court.Level
	Parent       court.CourtCode // empty only for 最高法
	PeerID       peer.ID         // empty for an offline issuing key
	SigningKey   lcrypto.PubKey
	EncKEM       uint16
	EncKey       []byte // HPKE public key; empty for an issuing key
	Roles        []Role
	NotBefore    time.Time
	NotAfter     time.Time
	IssuerSerial uint64
	IssuerCode   court.CourtCode
	Scope        court.CourtCode // for issuers: the prefix it may certify
	// Suite is the algorithm suite of the certificate: of its signature
	// and of the keys it binds (a certificate never mixes suites). Under
	// SuiteSM, SigningKey is SM2 and PeerID is the node's Ed25519 libp2p
	// key, which then differs from SigningKey.
	Suite Suite

	// Envelope is the certificate exactly as signed by its issuer.
	Envelope *Envelope
}

// HasRole reports whether the certificate carries r.
func (c *Certificate) HasRole(r Role) bool { return slices.Contains(c.Roles, r) }

// SelfSigned reports whether the certificate is its own issuer (the root).
func (c *Certificate) SelfSigned() bool { return c.IssuerSerial == c.Serial }

// ValidAt checks the validity period.
func (c *Certificate) ValidAt(t time.Time) error {
	if t.Before(c.NotBefore) {
		return fmt.Errorf("certificate %d (%s) valid from %s: %w", c.Serial, c.Code, c.NotBefore.UTC().Format(time.RFC3339), ErrNotYetValid)
	}
	if !t.Before(c.NotAfter) {
		return fmt.Errorf("certificate %d (%s) valid until %s: %w", c.Serial, c.Code, c.NotAfter.UTC().Format(time.RFC3339), ErrExpired)
	}
	return nil
}

// LogValue names the certificate without any key material.
func (c *Certificate) String() string {
	return fmt.Sprintf("%s %s serial=%d roles=%v", c.Code, c.Name, c.Serial, c.Roles)
}

// NewSerial returns a random non-zero certificate serial.
func NewSerial() uint64 {
	var b [8]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			panic(err) // crypto/rand never fails on supported platforms
		}
		if s := binary.BigEndian.Uint64(b[:]) >> 1; s != 0 {
			return s
		}
	}
}

func (c *Certificate) proto() (*cryptopb.Certificate, error) {
	var sk []byte
	if c.SigningKey != nil {
		var err error
		if sk, err = marshalSigningKey(c.SigningKey); err != nil {
			return nil, err
		}
	}
	roles := make([]string, len(c.Roles))
	for i, r := range c.Roles {
		roles[i] = string(r)
	}
	var pid []byte
	if c.PeerID != "" {
		pid = []byte(c.PeerID)
	}
	return &cryptopb.Certificate{
		Version:       CertificateVersion,
		Serial:        c.Serial,
		CourtCode:     string(c.Code),
		CourtName:     c.Name,
		Level:         c.Level.String(),
		ParentCode:    string(c.Parent),
		PeerId:        pid,
		SigningKey:    sk,
		EncryptionKem: uint32(c.EncKEM),
		EncryptionKey: c.EncKey,
		Roles:         roles,
		NotBefore:     c.NotBefore.Unix(),
		NotAfter:      c.NotAfter.Unix(),
		IssuerSerial:  c.IssuerSerial,
		IssuerCode:    string(c.IssuerCode),
		Scope:         string(c.Scope),
	}, nil
}

// ParseCertificate decodes and checks the fields of a certificate
// envelope. It does not verify the signature: that needs the issuer, see
// VerifyIssuedBy and OpenBundle.
func ParseCertificate(env *Envelope) (*Certificate, error) {
	if env.PayloadType != PayloadCertificate {
		return nil, fmt.Errorf("certificate: %w: payload type %q", ErrMalformed, env.PayloadType)
	}
	var p cryptopb.Certificate
	if err := proto.Unmarshal(env.Payload, &p); err != nil {
		return nil, fmt.Errorf("certificate: %w: %v", ErrMalformed, err)
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("certificate %d: %w: %s", p.GetSerial(), ErrMalformed, fmt.Sprintf(format, a...))
	}
	if p.GetVersion() != CertificateVersion {
		return nil, bad("version %d", p.GetVersion())
	}
	if p.GetSerial() == 0 {
		return nil, bad("serial 0")
	}
	if env.SignerSerial != p.GetIssuerSerial() {
		return nil, bad("signed by serial %d but names issuer %d", env.SignerSerial, p.GetIssuerSerial())
	}
	c := &Certificate{
		Serial:       p.GetSerial(),
		Name:         p.GetCourtName(),
		EncKEM:       uint16(p.GetEncryptionKem()),
		EncKey:       p.GetEncryptionKey(),
		NotBefore:    time.Unix(p.GetNotBefore(), 0),
		NotAfter:     time.Unix(p.GetNotAfter(), 0),
		IssuerSerial: p.GetIssuerSerial(),
		Envelope:     env,
	}
	var err error
	if c.Code, err = court.ParseCourtCode(p.GetCourtCode()); err != nil {
		return nil, bad("court code: %v", err)
	}
	if c.Level, err = court.ParseLevel(p.GetLevel()); err != nil {
		return nil, bad("level: %v", err)
	}
	if p.GetParentCode() != "" {
		if c.Parent, err = court.ParseCourtCode(p.GetParentCode()); err != nil {
			return nil, bad("parent code: %v", err)
		}
	}
	if c.IssuerCode, err = court.ParseCourtCode(p.GetIssuerCode()); err != nil {
		return nil, bad("issuer code: %v", err)
	}
	if p.GetScope() != "" {
		if c.Scope, err = court.ParseCourtCode(p.GetScope()); err != nil {
			return nil, bad("scope: %v", err)
		}
	}
	if err := env.Suite.check(); err != nil {
		return nil, fmt.Errorf("certificate %d: %w", p.GetSerial(), err)
	}
	c.Suite = env.Suite
	if len(p.GetSigningKey()) == 0 {
		return nil, bad("no signing key")
	}
	if c.SigningKey, err = unmarshalSigningKey(c.Suite, p.GetSigningKey()); err != nil {
		return nil, bad("signing key of suite %s: %v", c.Suite.Name(), err)
	}
	if len(p.GetPeerId()) > 0 {
		if c.PeerID, err = peer.IDFromBytes(p.GetPeerId()); err != nil {
			return nil, bad("peer id: %v", err)
		}
		if err := checkPeerBinding(c.Suite, c.PeerID, c.SigningKey); err != nil {
			return nil, bad("%v", err)
		}
	}
	for _, r := range p.GetRoles() {
		if !Role(r).valid() {
			return nil, bad("unknown role %q", r)
		}
		c.Roles = append(c.Roles, Role(r))
	}
	if len(c.Roles) == 0 {
		return nil, bad("no roles")
	}
	if !c.NotAfter.After(c.NotBefore) {
		return nil, bad("not_after is not after not_before")
	}
	if err := c.checkShape(); err != nil {
		return nil, fmt.Errorf("certificate %d: %w", c.Serial, err)
	}
	return c, nil
}

// checkShape checks the rules that tie the fields together.
func (c *Certificate) checkShape() error {
	if c.Code.Level() != c.Level {
		return fmt.Errorf("%w: level %s does not match court code %s (%s)", ErrMalformed, c.Level, c.Code, c.Code.Level())
	}
	if c.Code == court.Supreme {
		if c.Parent != "" {
			return fmt.Errorf("%w: 最高法 has no parent court", ErrMalformed)
		}
	} else {
		if c.Parent == "" {
			return fmt.Errorf("%w: %s needs a parent court", ErrMalformed, c.Code)
		}
		if c.Parent == c.Code {
			return fmt.Errorf("%w: %s cannot be its own parent", ErrMalformed, c.Code)
		}
		if c.Parent != court.Supreme && c.Code.Province() != c.Parent.Province() {
			return fmt.Errorf("%w: parent %s of %s is in another province", ErrMalformed, c.Parent, c.Code)
		}
	}
	if (c.HasRole(RoleCourt) || c.HasRole(RoleOperator)) && (c.PeerID == "" || len(c.EncKey) == 0) {
		return fmt.Errorf("%w: a node certificate needs a peer id and an encryption key", ErrMalformed)
	}
	if len(c.EncKey) > 0 && c.EncKEM != kemOf(c.Suite) {
		return fmt.Errorf("%w: encryption KEM %#x", ErrUnsupportedSuite, c.EncKEM)
	}
	if c.HasRole(RoleIssuer) || c.HasRole(RoleRoot) {
		if c.Scope == "" {
			return fmt.Errorf("%w: an issuer certificate needs a scope", ErrMalformed)
		}
	} else if c.Scope != "" {
		return fmt.Errorf("%w: scope set on a certificate without the issuer role", ErrMalformed)
	}
	return nil
}

// VerifyIssuedBy checks that c was signed by issuer and that the issuer
// may certify it: it has the issuer role, c's court code falls within the
// issuer's scope, c does not outlive it, and only the root issues issuers.
func (c *Certificate) VerifyIssuedBy(issuer *Certificate) error {
	return c.verifyIssuedBy(issuer, true)
}

// verifyIssuedBy is VerifyIssuedBy; sig false skips the signature (a
// certificate found in a CertCache), never the constraints.
func (c *Certificate) verifyIssuedBy(issuer *Certificate, sig bool) error {
	if c.Suite != issuer.Suite {
		return mixed(fmt.Sprintf("certificate %d (%s)", c.Serial, c.Code), c.Suite, issuer.Suite)
	}
	if c.IssuerSerial != issuer.Serial {
		return fmt.Errorf("certificate %d names issuer %d, not %d: %w", c.Serial, c.IssuerSerial, issuer.Serial, ErrUnknownSigner)
	}
	if sig {
		if err := c.Envelope.VerifyWith(issuer.SigningKey, PayloadCertificate); err != nil {
			return fmt.Errorf("certificate %d (%s): %w", c.Serial, c.Code, err)
		}
	}
	if !issuer.HasRole(RoleIssuer) && !issuer.HasRole(RoleRoot) {
		return fmt.Errorf("certificate %d (%s) issued by %s, which is no issuer: %w", c.Serial, c.Code, issuer.Code, ErrNotAuthorised)
	}
	if c.IssuerCode != issuer.Code {
		return fmt.Errorf("certificate %d names issuer court %s but was issued by %s: %w", c.Serial, c.IssuerCode, issuer.Code, ErrNotAuthorised)
	}
	if !c.SelfSigned() {
		if !c.Code.Within(issuer.Scope) {
			return fmt.Errorf("issuer %s (scope %s) may not certify %s: %w", issuer.Code, issuer.Scope, c.Code, ErrNotAuthorised)
		}
		if (c.HasRole(RoleIssuer) || c.HasRole(RoleRoot) || c.HasRole(RoleOperator) || c.HasRole(RoleFreshness)) && !issuer.HasRole(RoleRoot) {
			return fmt.Errorf("only the national root may issue issuer or operator certificates; %s tried for %s: %w", issuer.Code, c.Code, ErrNotAuthorised)
		}
		if c.HasRole(RoleRoot) {
			return fmt.Errorf("certificate %d claims the root role: %w", c.Serial, ErrNotAuthorised)
		}
		if c.NotAfter.After(issuer.NotAfter) {
			return fmt.Errorf("certificate %d (%s) outlives its issuer %s: %w", c.Serial, c.Code, issuer.Code, ErrNotAuthorised)
		}
	}
	return nil
}

// Template is what an issuer fills in to certify a court or an issuer.
type Template struct {
	Code      court.CourtCode
	Name      string
	Level     court.Level     // zero: derived from the code
	Parent    court.CourtCode // empty: derived from the code
	Identity  *Identity       // the subject's public keys
	Roles     []Role
	Scope     court.CourtCode // issuers only
	NotBefore time.Time
	NotAfter  time.Time
	Serial    uint64 // zero: random
}

// Issue certifies t, signed by signer as issuer. For the self-signed root,
// pass issuer == nil and the root's own identity in t.
func Issue(signer Signer, issuer *Certificate, t Template) (*Certificate, error) {
	if t.Identity == nil {
		return nil, fmt.Errorf("issue %s: %w: no identity", t.Code, ErrMalformed)
	}
	subject, err := SuiteOfKey(t.Identity.SigningKey)
	if err != nil {
		return nil, fmt.Errorf("issue %s: %w", t.Code, err)
	}
	if subject != signer.Suite() {
		return nil, fmt.Errorf("issue %s: %w", t.Code, mixed("the identity", subject, signer.Suite()))
	}
	c := &Certificate{
		Serial: t.Serial, Code: t.Code, Name: t.Name, Level: t.Level, Parent: t.Parent,
		SigningKey: t.Identity.SigningKey,
		Roles:      t.Roles, NotBefore: t.NotBefore.Truncate(time.Second), NotAfter: t.NotAfter.Truncate(time.Second), Scope: t.Scope,
	}
	// Only a node (court or operator role) has a peer ID and an
	// encryption key; an offline issuing key must never be admitted as a
	// peer nor sign records.
	if slices.Contains(t.Roles, RoleCourt) || slices.Contains(t.Roles, RoleOperator) {
		c.PeerID, c.EncKEM, c.EncKey = t.Identity.PeerID, t.Identity.EncKEM, t.Identity.EncKey
	}
	if c.Serial == 0 {
		c.Serial = NewSerial()
	}
	if c.Level == 0 {
		c.Level = c.Code.Level()
	}
	if c.Parent == "" && c.Code != court.Supreme {
		p, ok := c.Code.DerivedParent()
		if !ok {
			return nil, fmt.Errorf("issue %s: %w: a specialised court needs an explicit parent court", c.Code, ErrMalformed)
		}
		c.Parent = p
	}
	if issuer == nil {
		c.IssuerSerial, c.IssuerCode = c.Serial, c.Code
	} else {
		c.IssuerSerial, c.IssuerCode = issuer.Serial, issuer.Code
	}
	p, err := c.proto()
	if err != nil {
		return nil, fmt.Errorf("issue %s: %w", c.Code, err)
	}
	env, err := SealMessage(signer, c.IssuerSerial, PayloadCertificate, p)
	if err != nil {
		return nil, fmt.Errorf("issue %s: %w", c.Code, err)
	}
	// Round-trip through the parser so that nothing unparseable is issued.
	out, err := ParseCertificate(env)
	if err != nil {
		return nil, fmt.Errorf("issue %s: %w", c.Code, err)
	}
	if issuer == nil {
		issuer = out
	}
	if err := out.VerifyIssuedBy(issuer); err != nil {
		return nil, fmt.Errorf("issue %s: %w", c.Code, err)
	}
	return out, nil
}

// checkPeerBinding checks a certificate's peer ID against its signing
// key. Under SuiteV1 the peer ID is the signing key's own. Under SuiteSM
// the signing key is SM2, which libp2p cannot use, so the peer ID is the
// node's separate Ed25519 transport key: it must be an identity peer ID
// of an Ed25519 key (the handshake proves its possession on every
// connection, and the node's identity file is signed by both keys).
func checkPeerBinding(s Suite, id peer.ID, signing lcrypto.PubKey) error {
	switch s {
	case SuiteV1:
		if !id.MatchesPublicKey(signing) {
			return fmt.Errorf("peer id does not match the signing key")
		}
	case SuiteSM:
		pk, err := id.ExtractPublicKey()
		if err != nil || pk.Type() != lcrypto.Ed25519 {
			return fmt.Errorf("peer id of suite sm must carry an Ed25519 transport key")
		}
	}
	return nil
}
