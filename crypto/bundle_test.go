package crypto

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto/cryptopb"
)

// bundleProto lays out a bundle message of the given certificates as
// they are, root not added, for hand-crafted bundles.
func bundleProto(seq uint64, certs []*Certificate, revs []Revocation) *cryptopb.TrustBundle {
	p := &cryptopb.TrustBundle{Version: BundleVersion, Sequence: seq, IssuedAt: fixNow.Unix(), ExpiresAt: fixNow.AddDate(0, 0, 30).Unix()}
	for _, c := range certs {
		p.Certificates = append(p.Certificates, c.Envelope.Proto())
	}
	for _, r := range revs {
		pr := &cryptopb.Revocation{Serial: r.Serial, RevokedAt: r.RevokedAt.Unix(), Reason: r.Reason}
		if r.LastTrusted != nil {
			pr.LastTrustedSeq, pr.LastTrustedHead = r.LastTrusted.Seq, r.LastTrusted.Head[:]
		}
		p.Revocations = append(p.Revocations, pr)
	}
	return p
}

// signBundle seals p as a bundle with signer as serial and encodes it.
func signBundle(tb testing.TB, signer Signer, serial uint64, p *cryptopb.TrustBundle) []byte {
	tb.Helper()
	env, err := SealMessage(signer, serial, PayloadBundle, p)
	if err != nil {
		tb.Fatal(err)
	}
	raw, err := env.Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	return raw
}

func TestOpenBundle(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	jing := f.issuer("京")
	hu := f.issuer("沪")
	c1 := f.node("京0105", jing)
	c2 := f.node("沪0101", hu)
	op := f.node(court.Supreme, f.root, func(t *Template) { t.Roles = []Role{RoleOperator} })

	b := f.bundle(7, nil, jing, hu, c1, c2, op)
	got, err := OpenBundle(f.root.cert, b.Raw)
	if err != nil {
		t.Fatalf("OpenBundle: %v", err)
	}
	if got.Sequence != 7 || !got.IssuedAt.Equal(fixNow) || !got.ExpiresAt.Equal(fixNow.AddDate(0, 0, 30)) {
		t.Fatalf("bundle %d issued %v expires %v", got.Sequence, got.IssuedAt, got.ExpiresAt)
	}
	var serials []uint64
	for _, c := range got.Certs {
		serials = append(serials, c.Serial)
	}
	want := []uint64{f.root.cert.Serial, jing.cert.Serial, hu.cert.Serial, c1.cert.Serial, c2.cert.Serial, op.cert.Serial}
	if !slices.Equal(serials, want) {
		t.Fatalf("serials %v, want %v (root first)", serials, want)
	}
	if got.Hash() != b.Hash() {
		t.Fatal("hash differs after re-opening")
	}

	// Passing the root among the certificates does not list it twice.
	if b2 := f.bundle(8, nil, f.root, c1, jing); len(b2.Certs) != 3 {
		t.Fatalf("bundle with the root passed in lists %d certificates, want 3", len(b2.Certs))
	}

	tr := NewTrust(f.root.cert, got)
	now := fixNow.Add(time.Hour)
	for _, p := range []party{c1, c2, op} {
		c, err := tr.ByPeer(p.key.PeerID(), now)
		if err != nil || c.Serial != p.cert.Serial {
			t.Errorf("ByPeer(%s): %v, %v", p.cert.Code, c, err)
		}
		if c, err := tr.BySerial(p.cert.Serial, now); err != nil || c.Code != p.cert.Code {
			t.Errorf("BySerial(%d): %v, %v", p.cert.Serial, c, err)
		}
	}
	if c, err := tr.Court("京0105", now); err != nil || c.Serial != c1.cert.Serial {
		t.Errorf("Court(京0105): %v, %v", c, err)
	}
	if _, err := tr.Court("京0106", now); !errors.Is(err, ErrUnknownSigner) {
		t.Errorf("Court(京0106): got %v, want ErrUnknownSigner", err)
	}
	if _, err := tr.ByPeer(testNodeKey(t, "stranger").PeerID(), now); !errors.Is(err, ErrUnknownSigner) {
		t.Errorf("ByPeer(stranger): got %v, want ErrUnknownSigner", err)
	}
	if _, err := tr.BySerial(424242, now); !errors.Is(err, ErrUnknownSigner) {
		t.Errorf("BySerial(424242): got %v, want ErrUnknownSigner", err)
	}
	if p, ok := tr.Parent("京0105"); !ok || p != "京01" {
		t.Errorf("Parent(京0105) = %s, %v", p, ok)
	}
	wantPeers := []peer.ID{c1.key.PeerID(), c2.key.PeerID(), op.key.PeerID()}
	slices.Sort(wantPeers)
	if got := tr.Peers(now); !slices.Equal(got, wantPeers) {
		t.Errorf("Peers = %v, want %v", got, wantPeers)
	}
}

// TestOpenBundleRejects: OpenBundle refuses every malformed or
// unauthorised bundle with the kind of its fault, and BuildBundle
// refuses the same. It is long on purpose: one table of every refusal,
// with the certificates crafted for it.
func TestOpenBundleRejects(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	jing := f.issuer("京")
	hu := f.issuer("沪")
	c1 := f.node("京0105", jing)
	c2 := f.node("沪0101", hu)
	root := f.root

	// A second, self-made root with the same serial as the pinned one.
	fakeRootKey := testNodeKey(t, "fake root")
	fakeRoot := f.craft(fakeRootKey, root.cert)

	// 京 certifies a 沪 court.
	outOfScope := copyCert(c2.cert)
	outOfScope.IssuerSerial, outOfScope.IssuerCode = jing.cert.Serial, jing.cert.Code
	outOfScope = f.craft(jing.key, outOfScope)

	// 京 certifies an issuer and an operator.
	subIssuer := copyCert(c1.cert)
	subIssuer.Code, subIssuer.Level, subIssuer.Parent = "京01", court.LevelIntermediate, "京"
	subIssuer.Serial, subIssuer.Roles, subIssuer.Scope = 5001, []Role{RoleIssuer}, "京01"
	subIssuer = f.craft(jing.key, subIssuer)
	operator := copyCert(c1.cert)
	operator.Roles = []Role{RoleOperator}
	operator = f.craft(jing.key, operator)

	// A court certified by the root certifies another court.
	rootCourt := f.node("京0108", root)
	t3, _ := f.nodeTemplate("京0106")
	byCourt := copyCert(c1.cert)
	byCourt.Serial, byCourt.Code, byCourt.PeerID, byCourt.SigningKey = t3.Serial, "京0106", t3.Identity.PeerID, t3.Identity.SigningKey
	byCourt.IssuerSerial, byCourt.IssuerCode = rootCourt.cert.Serial, rootCourt.cert.Code
	byCourt = f.craft(rootCourt.key, byCourt)

	// A certificate naming 京 as issuer but signed by 沪's key.
	forged := f.craft(hu.key, c1.cert)

	// The sub-issuer's court: a chain root -> 京 -> 京01 -> 京0101.
	deep := copyCert(c1.cert)
	deep.Serial, deep.Code, deep.IssuerSerial, deep.IssuerCode = 5002, "京0101", subIssuer.Serial, subIssuer.Code
	deep = f.craft(jing.key, deep) // the key does not matter: the chain length is refused first

	// A certificate whose issuer is not in the bundle.
	orphan := f.node("京0107", jing)

	// A second self-signed certificate.
	selfKey := testNodeKey(t, "self")
	self := &Certificate{
		Serial: 9999, Code: "京", Name: "self", Level: court.LevelHigh, Parent: court.Supreme,
		SigningKey: selfKey.Public(), Roles: []Role{RoleIssuer}, Scope: "京",
		NotBefore: fixNow.AddDate(-1, 0, 0), NotAfter: fixNow.AddDate(1, 0, 0), IssuerSerial: 9999, IssuerCode: "京",
	}
	self = f.craft(selfKey, self)

	// The same node certified twice.
	c1id := mustIdentity(t, c1)
	dupPeer := f.node("京0105", jing, func(t *Template) { t.Identity = c1id })

	// A certificate outliving its issuer.
	outliving := copyCert(c1.cert)
	outliving.NotAfter = jing.cert.NotAfter.Add(time.Hour)
	outliving = f.craft(jing.key, outliving)

	ok := func(certs ...*Certificate) []*Certificate { return append([]*Certificate{root.cert}, certs...) }
	tests := []struct {
		name    string
		signer  Signer
		serial  uint64
		p       *cryptopb.TrustBundle
		mod     func(p *cryptopb.TrustBundle)
		raw     []byte // if set, used as is
		wantErr error  // nil: opens
	}{
		{name: "genuine", p: bundleProto(1, ok(jing.cert, hu.cert, c1.cert, c2.cert), nil)},
		{name: "out-of-scope certificate", p: bundleProto(1, ok(jing.cert, outOfScope), nil), wantErr: ErrNotAuthorised},
		{name: "non-root issues an issuer", p: bundleProto(1, ok(jing.cert, subIssuer), nil), wantErr: ErrNotAuthorised},
		{name: "non-root issues an operator", p: bundleProto(1, ok(jing.cert, operator), nil), wantErr: ErrNotAuthorised},
		{name: "court signs a certificate", p: bundleProto(1, ok(rootCourt.cert, byCourt), nil), wantErr: ErrNotAuthorised},
		{name: "certificate signed by the wrong issuer", p: bundleProto(1, ok(jing.cert, hu.cert, forged), nil), wantErr: ErrBadSignature},
		{name: "chain too long", p: bundleProto(1, ok(jing.cert, deep, subIssuer), nil), wantErr: ErrNotAuthorised},
		{name: "issuer missing", p: bundleProto(1, ok(orphan.cert), nil), wantErr: ErrUnknownSigner},
		{name: "second self-signed certificate", p: bundleProto(1, ok(self), nil), wantErr: ErrUnknownSigner},
		{name: "outlives its issuer", p: bundleProto(1, ok(jing.cert, outliving), nil), wantErr: ErrNotAuthorised},
		{name: "signed by another key as the root", signer: fakeRootKey, p: bundleProto(1, ok(jing.cert), nil), wantErr: ErrBadSignature},
		{name: "signed by an issuer", signer: jing.key, serial: jing.cert.Serial, p: bundleProto(1, ok(jing.cert), nil), wantErr: ErrUnknownSigner},
		{name: "first certificate a fake root", p: bundleProto(1, []*Certificate{fakeRoot, jing.cert}, nil), wantErr: ErrUnknownSigner},
		{name: "root not first", p: bundleProto(1, []*Certificate{jing.cert, root.cert}, nil), wantErr: ErrUnknownSigner},
		{name: "no certificates", p: bundleProto(1, nil, nil), wantErr: ErrUnknownSigner},
		{name: "duplicate serial", p: bundleProto(1, ok(jing.cert, c1.cert, c1.cert), nil), wantErr: ErrMalformed},
		{name: "root twice", p: bundleProto(1, ok(root.cert), nil), wantErr: ErrMalformed},
		{name: "peer certified twice", p: bundleProto(1, ok(jing.cert, c1.cert, dupPeer.cert), nil), wantErr: ErrMalformed},
		{name: "peer certified twice, one revoked", p: bundleProto(1, ok(jing.cert, c1.cert, dupPeer.cert), []Revocation{{Serial: c1.cert.Serial, RevokedAt: fixNow}})},
		{name: "peer certified twice, other revoked", p: bundleProto(1, ok(jing.cert, c1.cert, dupPeer.cert), []Revocation{{Serial: dupPeer.cert.Serial, RevokedAt: fixNow}})},
		{name: "revokes the root", p: bundleProto(1, ok(jing.cert), []Revocation{{Serial: root.cert.Serial, RevokedAt: fixNow}}), wantErr: ErrMalformed},
		{name: "sequence 0", p: bundleProto(0, ok(jing.cert), nil), wantErr: ErrMalformed},
		{name: "expires when issued", p: bundleProto(1, ok(), nil), mod: func(p *cryptopb.TrustBundle) { p.ExpiresAt = p.IssuedAt }, wantErr: ErrMalformed},
		{name: "version 3", p: bundleProto(1, ok(), nil), mod: func(p *cryptopb.TrustBundle) { p.Version = 3 }, wantErr: ErrMalformed},
		{name: "version 0", p: bundleProto(1, ok(), nil), mod: func(p *cryptopb.TrustBundle) { p.Version = 0 }, wantErr: ErrMalformed},
		{name: "version 1, revoked from the start", p: bundleProto(1, ok(jing.cert, c1.cert), []Revocation{{Serial: c1.cert.Serial, RevokedAt: fixNow}}), mod: func(p *cryptopb.TrustBundle) { p.Version = 1 }},
		{name: "version 2, last trusted head pinned", p: bundleProto(1, ok(jing.cert, c1.cert), []Revocation{{Serial: c1.cert.Serial, RevokedAt: fixNow, LastTrusted: &LogPosition{Seq: 7, Head: [32]byte{1}}}})},
		{name: "version 1 pinning a last trusted head", p: bundleProto(1, ok(jing.cert, c1.cert), []Revocation{{Serial: c1.cert.Serial, RevokedAt: fixNow, LastTrusted: &LogPosition{Seq: 7, Head: [32]byte{1}}}}), mod: func(p *cryptopb.TrustBundle) { p.Version = 1 }, wantErr: ErrMalformed},
		{name: "last trusted head of 31 bytes", p: bundleProto(1, ok(jing.cert, c1.cert), []Revocation{{Serial: c1.cert.Serial, RevokedAt: fixNow, LastTrusted: &LogPosition{Seq: 7}}}), mod: func(p *cryptopb.TrustBundle) {
			p.Revocations[0].LastTrustedHead = p.Revocations[0].LastTrustedHead[:31]
		}, wantErr: ErrMalformed},
		{name: "last trusted head without a position", p: bundleProto(1, ok(jing.cert, c1.cert), []Revocation{{Serial: c1.cert.Serial, RevokedAt: fixNow, LastTrusted: &LogPosition{Seq: 7}}}), mod: func(p *cryptopb.TrustBundle) { p.Revocations[0].LastTrustedSeq = 0 }, wantErr: ErrMalformed},
		{name: "serial revoked twice", p: bundleProto(1, ok(jing.cert, c1.cert), []Revocation{{Serial: c1.cert.Serial, RevokedAt: fixNow}, {Serial: c1.cert.Serial, RevokedAt: fixNow}}), wantErr: ErrMalformed},
		{name: "certificate envelope without signature", p: bundleProto(1, ok(jing.cert), nil), mod: func(p *cryptopb.TrustBundle) { p.Certificates[1].Signature = nil }, wantErr: ErrMalformed},
		{name: "certificate envelope of version 2", p: bundleProto(1, ok(jing.cert), nil), mod: func(p *cryptopb.TrustBundle) { p.Certificates[1].Version = 2 }, wantErr: ErrMalformed},
		{name: "certificate with a flipped signature byte", p: bundleProto(1, ok(jing.cert), nil), mod: func(p *cryptopb.TrustBundle) {
			p.Certificates[1].Signature = flipByte(p.Certificates[1].Signature, 3)
		}, wantErr: ErrBadSignature},
		{name: "not an envelope", raw: []byte("not a bundle"), wantErr: ErrMalformed},
		{name: "a court certificate, not a bundle", raw: mustMarshalEnv(t, c1.cert.Envelope), wantErr: ErrUnknownSigner},
		{name: "the root certificate, not a bundle", raw: mustMarshalEnv(t, root.cert.Envelope), wantErr: ErrMalformed},
		{name: "oversized", raw: make([]byte, MaxBundleSize+1), wantErr: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := tt.raw
			if raw == nil {
				if tt.mod != nil {
					tt.mod(tt.p)
				}
				signer, serial := Signer(root.key), root.cert.Serial
				if tt.signer != nil {
					signer = tt.signer
				}
				if tt.serial != 0 {
					serial = tt.serial
				}
				raw = signBundle(t, signer, serial, tt.p)
			}
			b, err := OpenBundle(root.cert, raw)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("OpenBundle: %v", err)
				}
				if len(b.Certs) != len(tt.p.Certificates) {
					t.Fatalf("opened %d certificates, want %d", len(b.Certs), len(tt.p.Certificates))
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("OpenBundle: got %v, want %v", err, tt.wantErr)
			}
		})
	}

	// BuildBundle opens what it builds, so it refuses the same.
	if _, err := BuildBundle(root.key, root.cert, 1, fixNow, fixNow.AddDate(0, 0, 30), []*Certificate{jing.cert, outOfScope}, nil); !errors.Is(err, ErrNotAuthorised) {
		t.Errorf("BuildBundle with an out-of-scope certificate: got %v, want ErrNotAuthorised", err)
	}
	if _, err := BuildBundle(fakeRootKey, root.cert, 1, fixNow, fixNow.AddDate(0, 0, 30), []*Certificate{jing.cert}, nil); !errors.Is(err, ErrBadSignature) {
		t.Errorf("BuildBundle with a foreign key: got %v, want ErrBadSignature", err)
	}
}

// mustIdentity returns the identity of p's keys.
func mustIdentity(tb testing.TB, p party) *Identity {
	tb.Helper()
	id, err := NewIdentity(p.key, p.enc)
	if err != nil {
		tb.Fatal(err)
	}
	return id
}

func mustMarshalEnv(tb testing.TB, e *Envelope) []byte {
	tb.Helper()
	b, err := e.Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// flipByte returns a copy of b with byte i inverted.
func flipByte(b []byte, i int) []byte {
	out := append([]byte(nil), b...)
	out[i] ^= 0xff
	return out
}

func TestOpenBundleTruncated(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	jing := f.issuer("京")
	b := f.bundle(1, nil, jing, f.node("京0105", jing))
	for n := 0; n < len(b.Raw); n++ {
		if _, err := OpenBundle(f.root.cert, b.Raw[:n]); err == nil {
			t.Fatalf("OpenBundle of the first %d of %d bytes succeeded", n, len(b.Raw))
		}
	}
	if _, err := OpenBundle(f.root.cert, b.Raw); err != nil {
		t.Fatalf("OpenBundle of the whole: %v", err)
	}
}

func TestTrustValidity(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// The issuer becomes valid a month after its court does, so the court
	// is refused until the chain is valid.
	jing := f.issuer("京", func(t *Template) { t.NotBefore, t.NotAfter = fixNow.AddDate(0, 1, 0), fixNow.AddDate(3, 0, 0) })
	c := f.node("京0105", jing, func(t *Template) { t.NotBefore, t.NotAfter = fixNow, fixNow.AddDate(1, 0, 0) })
	b, err := BuildBundle(f.root.key, f.root.cert, 1, fixNow, fixNow.AddDate(5, 0, 0), []*Certificate{jing.cert, c.cert}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := NewTrust(f.root.cert, b)
	tests := []struct {
		name    string
		now     time.Time
		wantErr error
	}{
		{"before the court", fixNow.Add(-time.Second), ErrNotYetValid},
		{"before the issuer", fixNow.AddDate(0, 0, 15), ErrNotYetValid},
		{"valid from the issuer's start", fixNow.AddDate(0, 1, 0), nil},
		{"valid", fixNow.AddDate(0, 6, 0), nil},
		{"last second", fixNow.AddDate(1, 0, 0).Add(-time.Second), nil},
		{"expired", fixNow.AddDate(1, 0, 0), ErrExpired},
		{"long expired", fixNow.AddDate(2, 0, 0), ErrExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check := func(what string, got *Certificate, err error) {
				t.Helper()
				if tt.wantErr == nil {
					if err != nil || got.Serial != c.cert.Serial {
						t.Errorf("%s: %v, %v", what, got, err)
					}
					return
				}
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("%s: got %v, want %v", what, err, tt.wantErr)
				}
			}
			got, err := tr.ByPeer(c.key.PeerID(), tt.now)
			check("ByPeer", got, err)
			got, err = tr.BySerial(c.cert.Serial, tt.now)
			check("BySerial", got, err)
			got, err = tr.Court("京0105", tt.now)
			check("Court", got, err)
			env, err := Seal(c.key, c.cert.Serial, "courtmesh/test/v1", []byte("x"))
			if err != nil {
				t.Fatal(err)
			}
			got, err = tr.Open(env, "courtmesh/test/v1", tt.now)
			check("Open", got, err)
			if admitted := slices.Contains(tr.Peers(tt.now), c.key.PeerID()); admitted != (tt.wantErr == nil) {
				t.Errorf("Peers lists the court: %v", admitted)
			}
		})
	}
}

func TestTrustRevocation(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	jing := f.issuer("京")
	hu := f.issuer("沪")
	c1 := f.node("京0105", jing)
	c2 := f.node("京0106", jing)
	c3 := f.node("沪0101", hu)
	now := fixNow.Add(time.Hour)
	all := []party{jing, hu, c1, c2, c3}

	tests := []struct {
		name    string
		revoke  []uint64
		refused []party
		admit   []party
	}{
		{name: "nothing revoked", admit: []party{c1, c2, c3}},
		{name: "one court", revoke: []uint64{c1.cert.Serial}, refused: []party{c1}, admit: []party{c2, c3}},
		{name: "an issuer cascades to its courts", revoke: []uint64{jing.cert.Serial}, refused: []party{c1, c2}, admit: []party{c3}},
		{name: "a serial not in the bundle", revoke: []uint64{4242}, admit: []party{c1, c2, c3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var revs []Revocation
			for _, s := range tt.revoke {
				revs = append(revs, Revocation{Serial: s, RevokedAt: fixNow, Reason: "key lost"})
			}
			tr := f.trust(revs, all...)
			if len(tr.Bundle().Revocations) != len(revs) {
				t.Fatalf("bundle carries %d revocations, want %d", len(tr.Bundle().Revocations), len(revs))
			}
			peers := tr.Peers(now)
			for _, p := range tt.refused {
				if _, err := tr.ByPeer(p.key.PeerID(), now); !errors.Is(err, ErrRevoked) {
					t.Errorf("ByPeer(%s): got %v, want ErrRevoked", p.cert.Code, err)
				}
				if _, err := tr.BySerial(p.cert.Serial, now); !errors.Is(err, ErrRevoked) {
					t.Errorf("BySerial(%s): got %v, want ErrRevoked", p.cert.Code, err)
				}
				env, err := Seal(p.key, p.cert.Serial, "courtmesh/test/v1", []byte("x"))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := tr.Open(env, "courtmesh/test/v1", now); !errors.Is(err, ErrRevoked) {
					t.Errorf("Open from %s: got %v, want ErrRevoked", p.cert.Code, err)
				}
				if slices.Contains(peers, p.key.PeerID()) {
					t.Errorf("Peers lists revoked %s", p.cert.Code)
				}
			}
			for _, p := range tt.admit {
				if _, err := tr.ByPeer(p.key.PeerID(), now); err != nil {
					t.Errorf("ByPeer(%s): %v", p.cert.Code, err)
				}
				if !slices.Contains(peers, p.key.PeerID()) {
					t.Errorf("Peers omits %s", p.cert.Code)
				}
			}
		})
	}
}

func TestTrustReplace(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	jing := f.issuer("京")
	c1 := f.node("京0105", jing)
	c2 := f.node("京0106", jing)
	tr := NewTrust(f.root.cert, f.bundle(5, nil, jing, c1))
	tests := []struct {
		seq     uint64
		wantErr error
	}{
		{1, ErrStale},
		{4, ErrStale},
		{5, ErrStale},
		{6, nil},
		{1 << 40, nil},
	}
	for _, tt := range tests {
		nb := f.bundle(tt.seq, nil, jing, c1, c2)
		nt, err := tr.Replace(nb)
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) || nt != nil {
				t.Errorf("Replace(%d): got %v, %v, want %v", tt.seq, nt, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("Replace(%d): %v", tt.seq, err)
		}
		if nt.Bundle() != nb || nt.Root() != f.root.cert {
			t.Errorf("Replace(%d) did not install the new bundle", tt.seq)
		}
		if _, err := nt.ByPeer(c2.key.PeerID(), fixNow); err != nil {
			t.Errorf("Replace(%d): new court not admitted: %v", tt.seq, err)
		}
	}
	// The old view is unchanged.
	if _, err := tr.ByPeer(c2.key.PeerID(), fixNow); !errors.Is(err, ErrUnknownSigner) {
		t.Errorf("old trust admits a court of the newer bundle: %v", err)
	}
	// A replayed bundle still replays after a replacement.
	nt, err := tr.Replace(f.bundle(6, nil, jing, c1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nt.Replace(tr.Bundle()); !errors.Is(err, ErrStale) {
		t.Errorf("replaying the old bundle: got %v, want ErrStale", err)
	}
}

func TestBundleStatus(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	jing := f.issuer("京")
	c := f.node("京0105", jing)
	b := f.bundle(1, nil, jing, c)
	tr := NewTrust(f.root.cert, b)
	exp := b.ExpiresAt
	tests := []struct {
		name string
		now  time.Time
		want BundleState
	}{
		{"issued", fixNow, BundleValid},
		{"just before the warning", exp.Add(-BundleWarnBefore), BundleValid},
		{"warning starts", exp.Add(-BundleWarnBefore + time.Second), BundleExpiring},
		{"last second", exp.Add(-time.Second), BundleExpiring},
		{"expires", exp, BundleGraced},
		{"end of grace", exp.Add(BundleGrace), BundleGraced},
		{"dead", exp.Add(BundleGrace + time.Second), BundleDead},
		{"long dead", exp.AddDate(1, 0, 0), BundleDead},
	}
	names := map[BundleState]string{BundleValid: "valid", BundleExpiring: "expiring", BundleGraced: "expired-grace", BundleDead: "expired"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := b.Status(tt.now); got != tt.want || got.String() != names[tt.want] {
				t.Fatalf("Status = %v (%s), want %v", got, got, tt.want)
			}
			env, err := Seal(c.key, c.cert.Serial, "courtmesh/test/v1", nil)
			if err != nil {
				t.Fatal(err)
			}
			_, errPeer := tr.ByPeer(c.key.PeerID(), tt.now)
			_, errSerial := tr.BySerial(c.cert.Serial, tt.now)
			_, errCourt := tr.Court("京0105", tt.now)
			_, errOpen := tr.Open(env, "courtmesh/test/v1", tt.now)
			peers := tr.Peers(tt.now)
			for what, err := range map[string]error{"ByPeer": errPeer, "BySerial": errSerial, "Court": errCourt, "Open": errOpen} {
				if tt.want == BundleDead {
					if !errors.Is(err, ErrExpired) {
						t.Errorf("%s on a dead bundle: got %v, want ErrExpired", what, err)
					}
				} else if err != nil {
					t.Errorf("%s: %v", what, err)
				}
			}
			if (tt.want == BundleDead) != (len(peers) == 0) {
				t.Errorf("Peers = %v", peers)
			}
		})
	}
}

func TestTrustOpen(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	jing := f.issuer("京")
	c1 := f.node("京0105", jing)
	c2 := f.node("京0106", jing)
	op := f.node(court.Supreme, f.root, func(t *Template) { t.Roles = []Role{RoleOperator} })
	// An issuing key whose identity carries a peer ID, as NewIdentity
	// always makes: Issue drops the peer ID (an issuing key is never a
	// peer), and Trust.Open refuses its records.
	onlineIssuer := f.issuer("沪", func(t *Template) { t.Identity.PeerID, _ = peer.IDFromPublicKey(t.Identity.SigningKey) })
	if onlineIssuer.cert.PeerID != "" {
		t.Fatal("Issue kept the peer ID of an issuing key")
	}
	tr := f.trust(nil, jing, c1, c2, op, onlineIssuer)
	now := fixNow.Add(time.Hour)
	const typ = "courtmesh/test/v1"
	seal := func(signer Signer, serial uint64) *Envelope {
		env, err := Seal(signer, serial, typ, []byte("案件移交"))
		if err != nil {
			t.Fatal(err)
		}
		return env
	}
	tests := []struct {
		name    string
		env     *Envelope
		want    string
		wantFor *Certificate
		wantErr error
	}{
		{name: "court", env: seal(c1.key, c1.cert.Serial), want: typ, wantFor: c1.cert},
		{name: "operator", env: seal(op.key, op.cert.Serial), want: typ, wantFor: op.cert},
		{name: "wrong type", env: seal(c1.key, c1.cert.Serial), want: "courtmesh/other/v1", wantErr: ErrMalformed},
		{name: "one court posing as another", env: seal(c2.key, c1.cert.Serial), want: typ, wantErr: ErrBadSignature},
		{name: "unknown serial", env: seal(c1.key, 4242), want: typ, wantErr: ErrUnknownSigner},
		{name: "offline issuing key", env: seal(jing.key, jing.cert.Serial), want: typ, wantErr: ErrNotAuthorised},
		{name: "issuing key with a peer ID", env: seal(onlineIssuer.key, onlineIssuer.cert.Serial), want: typ, wantErr: ErrNotAuthorised},
		{name: "root", env: seal(f.root.key, f.root.cert.Serial), want: typ, wantErr: ErrNotAuthorised},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tr.Open(tt.env, tt.want, now)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Open: got %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil || c.Serial != tt.wantFor.Serial {
				t.Fatalf("Open: %v, %v", c, err)
			}
		})
	}
}

// A revoked court keeps its place in the certified hierarchy: its
// explicit parent still answers, not the parent its code suggests.
func TestTrustParentOfRevokedCourt(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	jing := f.issuer("京")
	xicheng := f.node("京0102", jing, func(t *Template) { t.Parent = "京02" })
	other := f.node("京0105", jing)
	tr := f.trust([]Revocation{{Serial: xicheng.cert.Serial, RevokedAt: fixNow}}, jing, xicheng, other)
	if _, err := tr.ByPeer(xicheng.cert.PeerID, fixNow.Add(time.Hour)); !errors.Is(err, ErrRevoked) {
		t.Fatalf("control: 京0102 should be revoked, got %v", err)
	}
	if p, ok := tr.Parent("京0102"); !ok || p != "京02" {
		t.Errorf("Parent(京0102) = %s, %v; want the certified 京02 (derivation would say 京01)", p, ok)
	}
	if court.IsSuperior(tr, "京01", "京0102") {
		t.Error("京01 must not count as a superior of 京0102")
	}
}

// TestOpenRecordRevoked: a revoked key's record opens only in the trusted
// part of its log, and a refusal names the signer only for an authentic
// record.
func TestOpenRecordRevoked(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	jing := f.issuer("京")
	cut := f.node("京0105", jing)
	start := f.node("京0108", jing)
	other := f.node("京0102", jing)
	last := &LogPosition{Seq: 5, Head: ChainRecordLog([32]byte{}, []byte("r1"))}
	b := f.bundle(3, []Revocation{
		{Serial: cut.cert.Serial, RevokedAt: fixNow, Reason: "key lost", LastTrusted: last},
		{Serial: start.cert.Serial, RevokedAt: fixNow, Reason: "key compromised"},
	}, jing, cut, start, other)
	if got, _ := OpenBundle(f.root.cert, b.Raw); got == nil || len(got.Revocations) != 2 || got.Revocations[0].LastTrusted == nil || *got.Revocations[0].LastTrusted != *last {
		t.Fatalf("bundle revocations %+v", got)
	}
	tr := NewTrust(f.root.cert, b)
	now := fixNow.Add(time.Hour)
	seal := func(p party, serial uint64) *Envelope {
		env, err := Seal(p.key, serial, "courtmesh/test/v1", []byte("payload"))
		if err != nil {
			t.Fatal(err)
		}
		return env
	}
	tests := []struct {
		name    string
		env     *Envelope
		seq     uint64
		trusted bool  // opens, with the revocation
		named   bool  // refused as a RevokedRecordError naming the signer
		wantErr error // otherwise
	}{
		{"first trusted record", seal(cut, cut.cert.Serial), 1, true, false, nil},
		{"last trusted record", seal(cut, cut.cert.Serial), 5, true, false, nil},
		{"after the cut-off", seal(cut, cut.cert.Serial), 6, false, true, nil},
		{"position 0", seal(cut, cut.cert.Serial), 0, false, true, nil},
		{"revoked from the start", seal(start, start.cert.Serial), 1, false, true, nil},
		{"another key claiming the revoked serial", seal(other, cut.cert.Serial), 1, false, false, ErrBadSignature},
		{"a key in force", seal(other, other.cert.Serial), 99, false, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, rev, err := tr.OpenRecord(tt.env, "courtmesh/test/v1", tt.seq, now)
			var re *RevokedRecordError
			switch {
			case tt.trusted:
				if err != nil || rev == nil || c.Serial != tt.env.SignerSerial {
					t.Fatalf("got %v, %v, %v; want it opened with its revocation", c, rev, err)
				}
			case tt.named:
				if !errors.As(err, &re) || !errors.Is(err, ErrRevoked) || re.Signer.Serial != tt.env.SignerSerial || re.Seq != tt.seq {
					t.Fatalf("got %v; want a RevokedRecordError naming serial %d", err, tt.env.SignerSerial)
				}
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) || errors.As(err, &re) {
					t.Fatalf("got %v; want %v, naming no signer", err, tt.wantErr)
				}
			default:
				if err != nil || rev != nil {
					t.Fatalf("got %v, %v; want it opened without a revocation", rev, err)
				}
			}
		})
	}
	if c, r, ok := tr.RevokedPeer(cut.cert.PeerID); !ok || c.Serial != cut.cert.Serial || r.LastTrusted == nil {
		t.Errorf("RevokedPeer(%s) = %v, %+v, %v", cut.cert.Code, c, r, ok)
	}
	if _, _, ok := tr.RevokedPeer(other.cert.PeerID); ok {
		t.Error("a peer in force is listed as revoked")
	}
}
