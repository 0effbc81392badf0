package crypto

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"
	"time"

	lcrypto "github.com/libp2p/go-libp2p/core/crypto"
	"google.golang.org/protobuf/proto"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto/cryptopb"
)

// fixNow is the fixed "now" of the fixture: every certificate and bundle is
// laid out around it.
var fixNow = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// testNodeKey returns an Ed25519 key derived from label, so that a
// fixture is the same on every run.
func testNodeKey(tb testing.TB, label string) *NodeKey {
	tb.Helper()
	seed := sha256.Sum256([]byte("courtmesh test node key: " + label))
	priv, _, err := lcrypto.GenerateEd25519Key(bytes.NewReader(seed[:]))
	if err != nil {
		tb.Fatal(err)
	}
	k, err := NodeKeyFromLibp2p(priv)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// testEncKey returns an HPKE key derived from label.
func testEncKey(tb testing.TB, label string) *EncKey {
	tb.Helper()
	ikm := sha256.Sum256([]byte("courtmesh test enc key: " + label))
	k, err := deriveEncKey(ikm[:])
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// party is a certified key: the root, an issuer or a court node.
type party struct {
	key  *NodeKey
	enc  *EncKey // nil for an offline issuing key
	cert *Certificate
}

// fixture builds a small PKI: a national root (serial 1) and whatever
// issuers and court nodes a test asks for, with deterministic keys and
// serials.
type fixture struct {
	tb     testing.TB
	root   party
	serial uint64
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	f := &fixture{tb: tb, serial: 100}
	key := testNodeKey(tb, "root")
	root, err := Issue(key, nil, Template{
		Code: court.Supreme, Name: "最高人民法院", Roles: []Role{RoleRoot}, Scope: court.Supreme,
		Identity:  &Identity{SigningKey: key.Public()},
		NotBefore: fixNow.AddDate(-1, 0, 0), NotAfter: fixNow.AddDate(20, 0, 0), Serial: 1,
	})
	if err != nil {
		tb.Fatalf("issue root: %v", err)
	}
	f.root = party{key: key, cert: root}
	return f
}

// nextKeys returns fresh deterministic keys and the serial they will be
// certified under.
func (f *fixture) nextKeys(node bool) (uint64, *NodeKey, *EncKey, *Identity) {
	f.tb.Helper()
	f.serial++
	label := fmt.Sprint(f.serial)
	key := testNodeKey(f.tb, label)
	if !node {
		return f.serial, key, nil, &Identity{SigningKey: key.Public()}
	}
	enc := testEncKey(f.tb, label)
	id, err := NewIdentity(key, enc)
	if err != nil {
		f.tb.Fatal(err)
	}
	return f.serial, key, enc, id
}

// issuerTemplate is an offline issuing key for scope, valid for ten years
// around fixNow. Mods adjust it before issuing.
func (f *fixture) issuerTemplate(scope court.CourtCode) (Template, party) {
	serial, key, _, id := f.nextKeys(false)
	return Template{
		Code: scope, Name: string(scope) + " 高级人民法院", Roles: []Role{RoleIssuer}, Scope: scope,
		Identity: id, NotBefore: fixNow.AddDate(-1, 0, 0), NotAfter: fixNow.AddDate(9, 0, 0), Serial: serial,
	}, party{key: key}
}

// nodeTemplate is a court node of code, valid for two years around fixNow.
func (f *fixture) nodeTemplate(code court.CourtCode, roles ...Role) (Template, party) {
	if len(roles) == 0 {
		roles = []Role{RoleCourt}
	}
	serial, key, enc, id := f.nextKeys(true)
	return Template{
		Code: code, Name: string(code) + " 人民法院", Roles: roles,
		Identity: id, NotBefore: fixNow.AddDate(-1, 0, 0), NotAfter: fixNow.AddDate(1, 0, 0), Serial: serial,
	}, party{key: key, enc: enc}
}

// issue certifies t with by's key and certificate, failing the test on error.
func (f *fixture) issue(by party, t Template, p party) party {
	f.tb.Helper()
	c, err := Issue(by.key, by.cert, t)
	if err != nil {
		f.tb.Fatalf("issue %s: %v", t.Code, err)
	}
	p.cert = c
	return p
}

// issuer is a root-certified issuer for scope.
func (f *fixture) issuer(scope court.CourtCode, mods ...func(*Template)) party {
	f.tb.Helper()
	t, p := f.issuerTemplate(scope)
	for _, m := range mods {
		m(&t)
	}
	return f.issue(f.root, t, p)
}

// node is a court node of code certified by by.
func (f *fixture) node(code court.CourtCode, by party, mods ...func(*Template)) party {
	f.tb.Helper()
	t, p := f.nodeTemplate(code)
	for _, m := range mods {
		m(&t)
	}
	return f.issue(by, t, p)
}

// craft signs the certificate c with signer exactly as given, bypassing
// Issue's checks, and parses the result (which must be well formed).
func (f *fixture) craft(signer Signer, c *Certificate) *Certificate {
	f.tb.Helper()
	out, err := ParseCertificate(craftEnvelope(f.tb, signer, c))
	if err != nil {
		f.tb.Fatalf("craft %s: %v", c.Code, err)
	}
	return out
}

// craftEnvelope signs the certificate c with signer, unchecked.
func craftEnvelope(tb testing.TB, signer Signer, c *Certificate) *Envelope {
	tb.Helper()
	p, err := c.proto()
	if err != nil {
		tb.Fatal(err)
	}
	return craftProto(tb, signer, p)
}

// craftProto signs a certificate message with signer, unchecked.
func craftProto(tb testing.TB, signer Signer, p *cryptopb.Certificate) *Envelope {
	tb.Helper()
	env, err := SealMessage(signer, p.GetIssuerSerial(), PayloadCertificate, p)
	if err != nil {
		tb.Fatal(err)
	}
	return env
}

// bundle builds a bundle of the given certificates (root added), in force
// for 30 days from fixNow.
func (f *fixture) bundle(seq uint64, revs []Revocation, ps ...party) *Bundle {
	f.tb.Helper()
	certs := make([]*Certificate, len(ps))
	for i, p := range ps {
		certs[i] = p.cert
	}
	b, err := BuildBundle(f.root.key, f.root.cert, seq, fixNow, fixNow.AddDate(0, 0, 30), certs, revs)
	if err != nil {
		f.tb.Fatalf("build bundle %d: %v", seq, err)
	}
	return b
}

// trust is a Trust over f.bundle(1, revs, ps...).
func (f *fixture) trust(revs []Revocation, ps ...party) *Trust {
	f.tb.Helper()
	return NewTrust(f.root.cert, f.bundle(1, revs, ps...))
}

// copyCert returns a shallow copy of c that can be changed and re-crafted.
func copyCert(c *Certificate) *Certificate {
	cc := *c
	cc.Roles = append([]Role(nil), c.Roles...)
	return &cc
}

func TestIssue(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	jing := f.issuer("京")
	hu := f.issuer("沪")
	jingCourt := f.node("京0105", jing)
	if jingCourt.cert.Parent != "京01" || jingCourt.cert.Level != court.LevelBasic || jingCourt.cert.IssuerCode != "京" {
		t.Fatalf("京0105 certificate: parent %s level %s issuer %s", jingCourt.cert.Parent, jingCourt.cert.Level, jingCourt.cert.IssuerCode)
	}
	otherKey := testNodeKey(t, "not an issuer")

	tests := []struct {
		name    string
		by      party
		signer  Signer // nil: by.key
		code    court.CourtCode
		roles   []Role
		mod     func(*Template)
		wantErr error
	}{
		{name: "province issuer certifies 京0105", by: jing, code: "京0105"},
		{name: "province issuer certifies 京01", by: jing, code: "京01"},
		{name: "province issuer certifies its own high court", by: jing, code: "京"},
		{name: "other province issuer certifies 沪0101", by: hu, code: "沪0101"},
		{name: "root certifies 沪0101", by: f.root, code: "沪0101"},
		{name: "root certifies an operator", by: f.root, code: court.Supreme, roles: []Role{RoleOperator}},
		{name: "root certifies a court that issues", by: f.root, code: "京", roles: []Role{RoleCourt, RoleIssuer}, mod: func(t *Template) { t.Scope = "京" }},
		{name: "province issuer refuses 沪0101", by: jing, code: "沪0101", wantErr: ErrNotAuthorised},
		{name: "province issuer refuses 最高法", by: jing, code: court.Supreme, wantErr: ErrNotAuthorised},
		{name: "non-root issuer refuses an issuer", by: jing, code: "京01", roles: []Role{RoleIssuer}, mod: func(t *Template) { t.Scope = "京01" }, wantErr: ErrNotAuthorised},
		{name: "non-root issuer refuses a court that issues", by: jing, code: "京01", roles: []Role{RoleCourt, RoleIssuer}, mod: func(t *Template) { t.Scope = "京01" }, wantErr: ErrNotAuthorised},
		{name: "non-root issuer refuses an operator", by: jing, code: "京", roles: []Role{RoleOperator}, wantErr: ErrNotAuthorised},
		{name: "root refuses a second root", by: f.root, code: "京", roles: []Role{RoleRoot}, mod: func(t *Template) { t.Scope = "京" }, wantErr: ErrNotAuthorised},
		{name: "court certificate cannot issue", by: jingCourt, code: "京0106", wantErr: ErrNotAuthorised},
		{name: "signed by a key other than the issuer's", by: jing, signer: otherKey, code: "京0105", wantErr: ErrBadSignature},
		{name: "root key posing as province issuer", by: jing, signer: f.root.key, code: "京0105", wantErr: ErrBadSignature},
		{name: "outlives its issuer", by: jing, code: "京0105", mod: func(t *Template) { t.NotAfter = jing.cert.NotAfter.Add(time.Second) }, wantErr: ErrNotAuthorised},
		{name: "level does not match code", by: jing, code: "京0105", mod: func(t *Template) { t.Level = court.LevelHigh }, wantErr: ErrMalformed},
		{name: "parent in another province", by: jing, code: "京0105", mod: func(t *Template) { t.Parent = "沪01" }, wantErr: ErrMalformed},
		{name: "node without encryption key", by: jing, code: "京0105", mod: func(t *Template) {
			t.Identity = &Identity{PeerID: t.Identity.PeerID, SigningKey: t.Identity.SigningKey}
		}, wantErr: ErrMalformed},
		{name: "no identity", by: jing, code: "京0105", mod: func(t *Template) { t.Identity = nil }, wantErr: ErrMalformed},
		{name: "specialised court without parent", by: jing, code: "京73", wantErr: ErrMalformed},
		{name: "specialised court with explicit parent", by: jing, code: "京73", mod: func(t *Template) { t.Parent = "京" }},
		{name: "issuer without scope", by: f.root, code: "京", roles: []Role{RoleIssuer}, wantErr: ErrMalformed},
		{name: "scope on a court", by: jing, code: "京0105", mod: func(t *Template) { t.Scope = "京0105" }, wantErr: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, _ := f.nodeTemplate(tt.code, tt.roles...)
			if tt.mod != nil {
				tt.mod(&tmpl)
			}
			signer := Signer(tt.by.key)
			if tt.signer != nil {
				signer = tt.signer
			}
			c, err := Issue(signer, tt.by.cert, tmpl)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Issue: got %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Issue: %v", err)
			}
			if err := c.VerifyIssuedBy(tt.by.cert); err != nil {
				t.Fatalf("VerifyIssuedBy: %v", err)
			}
			if c.Code != tt.code || c.Serial != tmpl.Serial || c.IssuerSerial != tt.by.cert.Serial {
				t.Fatalf("certificate %v: code %s serial %d issuer %d", c, c.Code, c.Serial, c.IssuerSerial)
			}
		})
	}
}

func TestIssueRoot(t *testing.T) {
	t.Parallel()
	key := testNodeKey(t, "root")
	other := testNodeKey(t, "other")
	base := Template{
		Code: court.Supreme, Roles: []Role{RoleRoot}, Scope: court.Supreme,
		Identity: &Identity{SigningKey: key.Public()}, NotBefore: fixNow, NotAfter: fixNow.AddDate(10, 0, 0),
	}
	root, err := Issue(key, nil, base)
	if err != nil {
		t.Fatal(err)
	}
	if !root.SelfSigned() || root.Serial == 0 || !root.HasRole(RoleRoot) || root.Parent != "" {
		t.Fatalf("root %v: self-signed %v, parent %q", root, root.SelfSigned(), root.Parent)
	}
	if err := root.VerifyIssuedBy(root); err != nil {
		t.Fatalf("root does not verify itself: %v", err)
	}
	// A self-signed certificate must be signed by its own key.
	if _, err := Issue(other, nil, base); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("self-signed with a foreign key: got %v, want ErrBadSignature", err)
	}
	// A self-signed court certificate is no issuer.
	court := base
	court.Roles, court.Scope = []Role{RoleOperator}, ""
	court.Identity, _ = NewIdentity(key, testEncKey(t, "root"))
	if _, err := Issue(key, nil, court); !errors.Is(err, ErrNotAuthorised) {
		t.Fatalf("self-signed operator: got %v, want ErrNotAuthorised", err)
	}
}

// TestVerifyIssuedBy checks hand-crafted certificates that Issue would
// refuse to produce.
func TestVerifyIssuedBy(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	jing := f.issuer("京")
	hu := f.issuer("沪")
	jingCourt := f.node("京0105", jing)

	outOfScope := copyCert(jingCourt.cert)
	outOfScope.Code, outOfScope.Parent = "沪0101", "沪01"

	jingIssuer2 := copyCert(jingCourt.cert)
	jingIssuer2.Roles, jingIssuer2.Scope = []Role{RoleIssuer}, "京0105"

	jingOperator := copyCert(jingCourt.cert)
	jingOperator.Roles = []Role{RoleOperator}

	byCourt := copyCert(jingCourt.cert)
	byCourt.Code, byCourt.Parent = "京0106", "京01"
	byCourt.IssuerSerial, byCourt.IssuerCode = jingCourt.cert.Serial, jingCourt.cert.Code

	wrongIssuerCode := copyCert(jingCourt.cert)
	wrongIssuerCode.IssuerCode = "沪"

	tests := []struct {
		name    string
		signer  Signer
		cert    *Certificate
		issuer  *Certificate
		wantErr error
	}{
		{name: "genuine", signer: jing.key, cert: jingCourt.cert, issuer: jing.cert},
		{name: "signed by another issuer's key", signer: hu.key, cert: jingCourt.cert, issuer: jing.cert, wantErr: ErrBadSignature},
		{name: "checked against another issuer", signer: jing.key, cert: jingCourt.cert, issuer: hu.cert, wantErr: ErrUnknownSigner},
		{name: "out of scope", signer: jing.key, cert: outOfScope, issuer: jing.cert, wantErr: ErrNotAuthorised},
		{name: "non-root issues an issuer", signer: jing.key, cert: jingIssuer2, issuer: jing.cert, wantErr: ErrNotAuthorised},
		{name: "non-root issues an operator", signer: jing.key, cert: jingOperator, issuer: jing.cert, wantErr: ErrNotAuthorised},
		{name: "court signs a certificate", signer: jingCourt.key, cert: byCourt, issuer: jingCourt.cert, wantErr: ErrNotAuthorised},
		{name: "names the wrong issuer court", signer: jing.key, cert: wrongIssuerCode, issuer: jing.cert, wantErr: ErrNotAuthorised},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := f.craft(tt.signer, tt.cert)
			err := c.VerifyIssuedBy(tt.issuer)
			if tt.wantErr == nil && err != nil {
				t.Fatalf("VerifyIssuedBy: %v", err)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("VerifyIssuedBy: got %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestParseCertificate(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	jing := f.issuer("京")
	good := f.node("京0105", jing)
	other := testNodeKey(t, "other")
	secp, _, err := lcrypto.GenerateSecp256k1Key(bytes.NewReader(bytes.Repeat([]byte{7}, 64)))
	if err != nil {
		t.Fatal(err)
	}
	secpPub, err := lcrypto.MarshalPublicKey(secp.GetPublic())
	if err != nil {
		t.Fatal(err)
	}
	otherPub, err := lcrypto.MarshalPublicKey(other.Public())
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		mod     func(p *cryptopb.Certificate)
		envMod  func(e *Envelope)
		wantErr error // nil: parses
	}{
		{name: "genuine"},
		{name: "level does not match code", mod: func(p *cryptopb.Certificate) { p.Level = court.LevelHigh.String() }, wantErr: ErrMalformed},
		{name: "unknown level", mod: func(p *cryptopb.Certificate) { p.Level = "专门" }, wantErr: ErrMalformed},
		{name: "parent in another province", mod: func(p *cryptopb.Certificate) { p.ParentCode = "沪01" }, wantErr: ErrMalformed},
		{name: "parent 最高法 is allowed", mod: func(p *cryptopb.Certificate) { p.ParentCode = string(court.Supreme) }},
		{name: "own parent", mod: func(p *cryptopb.Certificate) { p.ParentCode = "京0105" }, wantErr: ErrMalformed},
		{name: "no parent", mod: func(p *cryptopb.Certificate) { p.ParentCode = "" }, wantErr: ErrMalformed},
		{name: "bad parent code", mod: func(p *cryptopb.Certificate) { p.ParentCode = "京1" }, wantErr: ErrMalformed},
		{name: "最高法 with a parent", mod: func(p *cryptopb.Certificate) {
			p.CourtCode, p.Level, p.ParentCode = string(court.Supreme), court.LevelSupreme.String(), "京"
		}, wantErr: ErrMalformed},
		{name: "bad court code", mod: func(p *cryptopb.Certificate) { p.CourtCode = "港0101" }, wantErr: ErrMalformed},
		{name: "bad issuer code", mod: func(p *cryptopb.Certificate) { p.IssuerCode = "" }, wantErr: ErrMalformed},
		{name: "node without encryption key", mod: func(p *cryptopb.Certificate) { p.EncryptionKey = nil }, wantErr: ErrMalformed},
		{name: "node without peer id", mod: func(p *cryptopb.Certificate) { p.PeerId = nil }, wantErr: ErrMalformed},
		{name: "operator without encryption key", mod: func(p *cryptopb.Certificate) { p.Roles, p.EncryptionKey = []string{"operator"}, nil }, wantErr: ErrMalformed},
		{name: "unknown KEM", mod: func(p *cryptopb.Certificate) { p.EncryptionKem = 0x20 }, wantErr: ErrUnsupportedSuite},
		{name: "peer id of another key", mod: func(p *cryptopb.Certificate) { p.SigningKey = otherPub }, wantErr: ErrMalformed},
		{name: "garbage peer id", mod: func(p *cryptopb.Certificate) { p.PeerId = []byte{1, 2, 3} }, wantErr: ErrMalformed},
		{name: "no signing key", mod: func(p *cryptopb.Certificate) { p.SigningKey = nil }, wantErr: ErrMalformed},
		{name: "garbage signing key", mod: func(p *cryptopb.Certificate) { p.SigningKey = []byte{8, 1, 18, 3, 1, 2, 3} }, wantErr: ErrMalformed},
		{name: "secp256k1 signing key", mod: func(p *cryptopb.Certificate) { p.SigningKey, p.PeerId = secpPub, nil }, wantErr: ErrMalformed},
		{name: "unknown role", mod: func(p *cryptopb.Certificate) { p.Roles = append(p.Roles, "judge") }, wantErr: ErrMalformed},
		{name: "no roles", mod: func(p *cryptopb.Certificate) { p.Roles = nil }, wantErr: ErrMalformed},
		{name: "scope without issuer role", mod: func(p *cryptopb.Certificate) { p.Scope = "京0105" }, wantErr: ErrMalformed},
		{name: "issuer without scope", mod: func(p *cryptopb.Certificate) { p.Roles = []string{"issuer"} }, wantErr: ErrMalformed},
		{name: "bad scope", mod: func(p *cryptopb.Certificate) { p.Roles, p.Scope = []string{"issuer"}, "XX" }, wantErr: ErrMalformed},
		{name: "serial 0", mod: func(p *cryptopb.Certificate) { p.Serial = 0 }, wantErr: ErrMalformed},
		{name: "version 2", mod: func(p *cryptopb.Certificate) { p.Version = 2 }, wantErr: ErrMalformed},
		{name: "version 0", mod: func(p *cryptopb.Certificate) { p.Version = 0 }, wantErr: ErrMalformed},
		{name: "empty validity", mod: func(p *cryptopb.Certificate) { p.NotAfter = p.NotBefore }, wantErr: ErrMalformed},
		{name: "inverted validity", mod: func(p *cryptopb.Certificate) { p.NotAfter = p.NotBefore - 1 }, wantErr: ErrMalformed},
		{name: "signer is not the named issuer", envMod: func(e *Envelope) { e.SignerSerial++ }, wantErr: ErrMalformed},
		{name: "wrong payload type", envMod: func(e *Envelope) { e.PayloadType = PayloadBundle }, wantErr: ErrMalformed},
		{name: "payload not protobuf", envMod: func(e *Envelope) { e.Payload = []byte{0xff, 0xff, 0xff} }, wantErr: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := good.cert.proto()
			if err != nil {
				t.Fatal(err)
			}
			if tt.mod != nil {
				tt.mod(p)
			}
			env := craftProto(t, jing.key, p)
			if tt.envMod != nil {
				tt.envMod(env)
			}
			c, err := ParseCertificate(env)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("ParseCertificate: %v", err)
				}
				if tt.mod == nil && !proto.Equal(mustProto(t, c), mustProto(t, good.cert)) {
					t.Fatalf("parsed certificate differs from the issued one")
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ParseCertificate: got %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func mustProto(tb testing.TB, c *Certificate) *cryptopb.Certificate {
	tb.Helper()
	p, err := c.proto()
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func TestCertificateValidAt(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := f.node("京0105", f.root).cert
	tests := []struct {
		now     time.Time
		wantErr error
	}{
		{c.NotBefore.Add(-time.Second), ErrNotYetValid},
		{c.NotBefore, nil},
		{c.NotAfter.Add(-time.Second), nil},
		{c.NotAfter, ErrExpired},
		{c.NotAfter.AddDate(5, 0, 0), ErrExpired},
	}
	for _, tt := range tests {
		t.Run(tt.now.Format(time.RFC3339), func(t *testing.T) {
			err := c.ValidAt(tt.now)
			if tt.wantErr == nil && err != nil || !errors.Is(err, tt.wantErr) {
				t.Fatalf("ValidAt: got %v, want %v", err, tt.wantErr)
			}
		})
	}
}
