package crypto

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/sm4"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"

	"courtmesh.dev/courtmesh/court"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The published example values of the national standards. Sources:
//   - SM3: GB/T 32905-2016 Annex A, examples 1 ("abc") and 2 ("abcd" x 16).
//   - SM4: GB/T 32907-2016 Annex A, examples 1 (one block) and 2 (the
//     same block encrypted 1,000,000 times).
//   - SM2: GB/T 32918.5-2017 (= GM/T 0003.5-2012) Annex A and C, the
//     examples over the recommended curve: signature of "message digest"
//     with the default user ID "1234567812345678", and encryption of
//     "encryption standard", both with private key 3945208F... and
//     ephemeral k = 59276E27...
//
// gmsm signs and encrypts with its own randomness (it mixes the caller's
// reader with the key and message), so the published signature and
// ciphertext are checked by verifying and decrypting them, and the
// deterministic steps (public key, Z_A, e, [k]G) are checked on their own.
func TestSuiteSMStandardVectors(t *testing.T) {
	t.Parallel()
	t.Run("SM3", func(t *testing.T) {
		for _, tt := range []struct{ in, want string }{
			{"abc", "66c7f0f4 62eeedd9 d1f2d46b dc10e4e2 4167c487 5cf2f7a2 297da02b 8f4ba8e0"},
			{strings.Repeat("abcd", 16), "debe9ff9 2275b8a1 38604889 c18e5a4d 6fdb70e5 387e5765 293dcba3 9c0c5732"},
		} {
			got := SuiteSM.Sum([]byte(tt.in))
			if !bytes.Equal(got[:], unhex(t, tt.want)) {
				t.Errorf("SM3(%q) = %x, want %s", tt.in, got, tt.want)
			}
			if id := SuiteSM.ChunkID([]byte(tt.in)); !bytes.Equal(id[:], unhex(t, tt.want)) {
				t.Errorf("SuiteSM.ChunkID(%q) = %s, want SM3", tt.in, id)
			}
		}
	})
	t.Run("SM4", func(t *testing.T) {
		key := unhex(t, "0123456789abcdeffedcba9876543210")
		c, err := sm4.NewCipher(key)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]byte, 16)
		c.Encrypt(out, key) // the example's plaintext equals its key
		if want := unhex(t, "681edf34d206965e86b3e94f536e4246"); !bytes.Equal(out, want) {
			t.Fatalf("SM4 example 1: %x, want %x", out, want)
		}
		back := make([]byte, 16)
		c.Decrypt(back, out)
		if !bytes.Equal(back, key) {
			t.Fatalf("SM4 example 1 decrypts to %x", back)
		}
		blk := append([]byte(nil), key...)
		for range 1_000_000 {
			c.Encrypt(blk, blk)
		}
		if want := unhex(t, "595298c7c6fd271f0402f804c33d3f66"); !bytes.Equal(blk, want) {
			t.Fatalf("SM4 example 2 (10^6 encryptions): %x, want %x", blk, want)
		}
	})

	d := new(big.Int).SetBytes(unhex(t, "3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8"))
	priv, err := sm2FromScalar(d)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("SM2 public key", func(t *testing.T) {
		want := unhex(t, "04 09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020 CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13")
		if got := sm2Point(&priv.PublicKey); !bytes.Equal(got, want) {
			t.Fatalf("public key %x, want %x", got, want)
		}
		if _, err := ParseSM2PublicKey(want); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("SM2 signature", func(t *testing.T) {
		msg := []byte("message digest")
		za, err := sm2.CalculateZA(&priv.PublicKey, []byte(SM2UserID))
		if err != nil {
			t.Fatal(err)
		}
		if want := unhex(t, "B2E14C5C79C6DF5B85F4FE7ED8DB7A262B9DA7E07CCB0EA9F4747B8CCDA8A4F3"); !bytes.Equal(za, want) {
			t.Fatalf("Z_A = %X, want %X", za, want)
		}
		e := sm3.Sum(append(za, msg...))
		if want := unhex(t, "F0B43E94BA45ACCAACE692ED534382EB17E6AB5A19CE7B31F4486FDFC0D28640"); !bytes.Equal(e[:], want) {
			t.Fatalf("e = %X, want %X", e, want)
		}
		k := unhex(t, "59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21")
		x1, y1 := sm2.P256().ScalarBaseMult(k)
		if want := unhex(t, "04EBFC718E8D1798620432268E77FEB6415E2EDE0E073C0F4F640ECD2E149A73"); !bytes.Equal(x1.FillBytes(make([]byte, 32)), want) {
			t.Fatalf("x1 = %X", x1)
		}
		if want := unhex(t, "E858F9D81E5430A57B36DAAB8F950A3C64E6EE6A63094D99283AFF767E124DF0"); !bytes.Equal(y1.FillBytes(make([]byte, 32)), want) {
			t.Fatalf("y1 = %X", y1)
		}
		r := new(big.Int).SetBytes(unhex(t, "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3"))
		s := new(big.Int).SetBytes(unhex(t, "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA"))
		// r = (e + x1) mod n, as the standard computes it.
		n := sm2.P256().Params().N
		if got := new(big.Int).Mod(new(big.Int).Add(new(big.Int).SetBytes(e[:]), x1), n); got.Cmp(r) != 0 {
			t.Fatalf("(e + x1) mod n = %X, want r = %X", got, r)
		}
		sig := asn1Sig(t, r, s)
		pub := &SM2PublicKey{pub: &priv.PublicKey}
		if ok, _ := pub.Verify(msg, sig); !ok {
			t.Fatal("the published signature does not verify")
		}
		for _, bad := range [][]byte{asn1Sig(t, r, new(big.Int).Add(s, big.NewInt(1))), asn1Sig(t, s, r)} {
			if ok, _ := pub.Verify(msg, bad); ok {
				t.Fatal("a changed signature verifies")
			}
		}
		if ok, _ := pub.Verify([]byte("message digesT"), sig); ok {
			t.Fatal("the signature verifies another message")
		}
		// Our Signer's own signatures verify with the standard's public key.
		own, err := newSM2Key(priv).Sign(msg)
		if err != nil {
			t.Fatal(err)
		}
		if ok, _ := pub.Verify(msg, own); !ok {
			t.Fatal("SM2Key's signature does not verify")
		}
	})
	t.Run("SM2 encryption", func(t *testing.T) {
		// C1 || C3 || C2 with C1 uncompressed (GB/T 32918.4 §6.1).
		ct := unhex(t, "04"+
			"04EBFC718E8D1798620432268E77FEB6415E2EDE0E073C0F4F640ECD2E149A73"+
			"E858F9D81E5430A57B36DAAB8F950A3C64E6EE6A63094D99283AFF767E124DF0"+
			"59983C18F809E262923C53AEC295D30383B54E39D609D160AFCB1908D0BD8766"+
			"21886CA989CA9C7D58087307CA93092D651EFA")
		pt, err := sm2.Decrypt(priv, ct)
		if err != nil {
			t.Fatal(err)
		}
		if string(pt) != "encryption standard" {
			t.Fatalf("decrypts to %q", pt)
		}
		ct[len(ct)-1] ^= 1
		if _, err := sm2.Decrypt(priv, ct); err == nil {
			t.Fatal("a changed ciphertext decrypts")
		}
	})
}

func asn1Sig(t *testing.T, r, s *big.Int) []byte {
	t.Helper()
	var b cryptobyte.Builder
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1BigInt(r)
		b.AddASN1BigInt(s)
	})
	out, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// smMesh is a small SM mesh in memory: a root, a 京 issuer, a court.
type smMesh struct {
	rootKey, issuerKey, courtKey *SM2Key
	transport                    *NodeKey
	enc                          *SM2EncKey
	root, issuer, court          *Certificate
	bundle                       *Bundle
}

func newSMMesh(t testing.TB) *smMesh {
	t.Helper()
	m := &smMesh{}
	var err error
	for _, k := range []**SM2Key{&m.rootKey, &m.issuerKey, &m.courtKey} {
		if *k, err = GenerateSM2Key(); err != nil {
			t.Fatal(err)
		}
	}
	if m.transport, err = GenerateNodeKey(); err != nil {
		t.Fatal(err)
	}
	if m.enc, err = GenerateSM2EncKey(); err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Second)
	must := func(c *Certificate, err error) *Certificate {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	m.root = must(Issue(m.rootKey, nil, Template{Code: court.Supreme, Name: "最高人民法院", Roles: []Role{RoleRoot}, Scope: court.Supreme,
		Identity: &Identity{SigningKey: m.rootKey.Public()}, NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(10, 0, 0)}))
	m.issuer = must(Issue(m.rootKey, m.root, Template{Code: "京", Name: "北京市高级人民法院", Roles: []Role{RoleIssuer}, Scope: "京",
		Identity: &Identity{SigningKey: m.issuerKey.Public()}, NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(5, 0, 0)}))
	id, err := SignIdentity(WithTransport(m.courtKey, m.transport), m.enc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := id.VerifySignature(); err != nil {
		t.Fatal(err)
	}
	m.court = must(Issue(m.issuerKey, m.issuer, Template{Code: "京0105", Name: "北京市朝阳区人民法院", Roles: []Role{RoleCourt}, Identity: id,
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(2, 0, 0)}))
	if m.bundle, err = BuildBundle(m.rootKey, m.root, 1, now.Add(-time.Hour), now.AddDate(0, 3, 0), []*Certificate{m.issuer, m.court}, nil); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSuiteSMRoundTrip(t *testing.T) {
	t.Parallel()
	m := newSMMesh(t)
	if m.court.Suite != SuiteSM || m.court.PeerID != m.transport.PeerID() || m.court.EncKEM != KEMSM2 {
		t.Fatalf("court certificate: suite %v peer %s kem %#x", m.court.Suite, m.court.PeerID, m.court.EncKEM)
	}
	tr := NewTrust(m.root, m.bundle)
	if tr.Suite() != SuiteSM {
		t.Fatalf("trust suite %v", tr.Suite())
	}
	rec, err := Seal(m.courtKey, m.court.Serial, "courtmesh/test/v1", []byte("payload"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := rec.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := UnmarshalEnvelope(raw, MaxEnvelopeSize)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := tr.Open(back, "courtmesh/test/v1", time.Now()); err != nil || c.Serial != m.court.Serial {
		t.Fatalf("open: %v", err)
	}
	back.Payload = []byte("payloaD")
	if _, err := tr.Open(back, "courtmesh/test/v1", time.Now()); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("tampered: %v", err)
	}

	// Wrap and unwrap a data key to the court's SM2 encryption key.
	dk, err := NewDataKey()
	if err != nil {
		t.Fatal(err)
	}
	w, err := WrapDataKey(m.court.EncKEM, m.court.EncKey, PurposeDossier, "（2026）京0105执1号", dk)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := UnwrapDataKey(m.enc, PurposeDossier, "（2026）京0105执1号", w); err != nil || got != dk {
		t.Fatalf("unwrap: %v", err)
	}
	if _, err := UnwrapDataKey(m.enc, PurposeDossier, "（2026）京0105执2号", w); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("unwrap for another dossier: %v", err)
	}
	w[len(w)-1] ^= 1
	if _, err := UnwrapDataKey(m.enc, PurposeDossier, "（2026）京0105执1号", w); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("unwrap of a changed key: %v", err)
	}

	// Seal and open chunks with SM4-GCM; ids are SM3.
	doc := bytes.Repeat([]byte("卷宗"), 1000)
	did := SuiteSM.DocumentID(doc)
	s, err := dk.DocumentIn(SuiteSM, did)
	if err != nil {
		t.Fatal(err)
	}
	sealed, id, err := s.Seal(nil, 0, 2, doc)
	if err != nil {
		t.Fatal(err)
	}
	if id != SuiteSM.ChunkID(sealed) || id == SuiteV1.ChunkID(sealed) {
		t.Fatal("chunk id is not SM3 of the sealed bytes")
	}
	if pt, err := s.Open(nil, id, 0, 2, sealed); err != nil || !bytes.Equal(pt, doc) {
		t.Fatalf("open: %v", err)
	}
	if _, err := s.Open(nil, id, 1, 2, sealed); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("open at another index: %v", err)
	}
	v1, err := dk.DocumentIn(SuiteV1, did)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v1.Open(nil, SuiteV1.ChunkID(sealed), 0, 2, sealed); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("an SM chunk opens under v1: %v", err)
	}
	if SuiteSM.MerkleRoot([]ChunkID{id}) == SuiteV1.MerkleRoot([]ChunkID{id}) {
		t.Fatal("Merkle roots of the two suites agree")
	}

	// Sealed fields: SM4-GCM (version 2) under SM, and each opens with
	// OpenField whatever its suite.
	f, err := dk.SealFieldIn(SuiteSM, "party/p1/id_number", []byte("110105199001011234"))
	if err != nil || f[0] != 2 {
		t.Fatalf("SM sealed field: version %d, %v", f[0], err)
	}
	if got, err := dk.OpenField("party/p1/id_number", f); err != nil || string(got) != "110105199001011234" {
		t.Fatalf("open SM field: %v", err)
	}
	if _, err := dk.OpenField("party/p2/id_number", f); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("SM field under another label: %v", err)
	}
	if f1, _ := dk.SealField("x", []byte("y")); f1[0] != 1 {
		t.Fatal("SealField no longer writes version 1")
	}

	// Keys survive their files.
	dir := t.TempDir()
	if err := SaveSigner(dir+"/sign.key", m.courtKey); err != nil {
		t.Fatal(err)
	}
	if err := SaveDecrypter(dir+"/enc.key", m.enc); err != nil {
		t.Fatal(err)
	}
	ls, err := LoadSigner(dir + "/sign.key")
	if err != nil || !ls.Public().Equals(m.courtKey.Public()) || ls.Suite() != SuiteSM {
		t.Fatalf("load signer: %v", err)
	}
	ld, err := LoadDecrypter(dir + "/enc.key")
	if err != nil || !bytes.Equal(ld.PublicKey(), m.enc.PublicKey()) {
		t.Fatalf("load decrypter: %v", err)
	}
}

// v1Mesh is TestSuiteSMRoundTrip's mesh under the default suite.
func newV1Mesh(t testing.TB) (rootKey *NodeKey, root *Certificate, courtKey *NodeKey, courtCert *Certificate, b *Bundle) {
	t.Helper()
	var err error
	if rootKey, err = GenerateNodeKey(); err != nil {
		t.Fatal(err)
	}
	if courtKey, err = GenerateNodeKey(); err != nil {
		t.Fatal(err)
	}
	enc, err := GenerateEncKey()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Second)
	if root, err = Issue(rootKey, nil, Template{Code: court.Supreme, Name: "最高人民法院", Roles: []Role{RoleRoot, RoleIssuer}, Scope: court.Supreme,
		Identity: &Identity{SigningKey: rootKey.Public()}, NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(10, 0, 0)}); err != nil {
		t.Fatal(err)
	}
	id, err := SignIdentity(courtKey, enc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if courtCert, err = Issue(rootKey, root, Template{Code: "京0105", Name: "北京市朝阳区人民法院", Roles: []Role{RoleCourt}, Identity: id,
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(2, 0, 0)}); err != nil {
		t.Fatal(err)
	}
	if b, err = BuildBundle(rootKey, root, 1, now.Add(-time.Hour), now.AddDate(0, 3, 0), []*Certificate{courtCert}, nil); err != nil {
		t.Fatal(err)
	}
	return
}

// TestMixedSuitesRefused: a mesh runs its national root's suite; records,
// certificates, bundles and identities of the other suite are refused
// with ErrMixedSuite, a message that names both suites.
func TestMixedSuitesRefused(t *testing.T) {
	t.Parallel()
	sm := newSMMesh(t)
	v1RootKey, v1Root, v1CourtKey, v1Court, v1Bundle := newV1Mesh(t)
	smTrust, v1Trust := NewTrust(sm.root, sm.bundle), NewTrust(v1Root, v1Bundle)
	now := time.Now()
	isMixed := func(t *testing.T, what string, err error) {
		t.Helper()
		if !errors.Is(err, ErrMixedSuite) || !errors.Is(err, court.ErrInvalid) {
			t.Fatalf("%s: got %v, want ErrMixedSuite", what, err)
		}
		if msg := err.Error(); !strings.Contains(msg, "suite sm") || !strings.Contains(msg, "suite v1") {
			t.Fatalf("%s: the message does not name both suites: %s", what, msg)
		}
	}

	t.Run("record", func(t *testing.T) {
		v1rec, err := Seal(v1CourtKey, v1Court.Serial, "courtmesh/test/v1", []byte("x"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = smTrust.Open(v1rec, "courtmesh/test/v1", now)
		isMixed(t, "a v1 record in an SM mesh", err)
		smrec, err := Seal(sm.courtKey, sm.court.Serial, "courtmesh/test/v1", []byte("x"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = v1Trust.Open(smrec, "courtmesh/test/v1", now)
		isMixed(t, "an SM record in a v1 mesh", err)
		// An SM signature relabelled v1 (or the reverse) is refused too.
		smrec.Suite = SuiteV1
		isMixed(t, "relabelled", smrec.VerifyWith(sm.court.SigningKey, "courtmesh/test/v1"))
	})
	t.Run("certificate", func(t *testing.T) {
		// The SM root cannot certify a v1 identity, nor verify a v1 certificate.
		id, err := SignIdentity(v1CourtKey, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Issue(sm.rootKey, sm.root, Template{Code: "沪", Name: "上海市高级人民法院", Roles: []Role{RoleIssuer}, Scope: "沪", Identity: id,
			NotBefore: now.Add(-time.Minute), NotAfter: now.AddDate(1, 0, 0)})
		isMixed(t, "issue a v1 key under an SM root", err)
		isMixed(t, "a v1 certificate under an SM issuer", v1Court.VerifyIssuedBy(sm.root))
	})
	t.Run("bundle", func(t *testing.T) {
		// A v1 bundle offered to a node that pinned the SM root.
		_, err := OpenBundle(sm.root, v1Bundle.Raw)
		if !errors.Is(err, ErrMixedSuite) && !errors.Is(err, ErrUnknownSigner) {
			t.Fatalf("v1 bundle under the SM root: %v", err)
		}
		// A bundle signed by the v1 root's key under the SM root's serial.
		env, err := Seal(v1RootKey, sm.root.Serial, PayloadBundle, sm.bundle.Envelope.Payload)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := env.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		_, err = OpenBundle(sm.root, raw)
		isMixed(t, "a v1-signed bundle for an SM root", err)
		// An SM bundle that lists a v1 certificate.
		_, err = BuildBundle(sm.rootKey, sm.root, 2, now.Add(-time.Minute), now.AddDate(0, 1, 0), []*Certificate{sm.issuer, sm.court, v1Court}, nil)
		isMixed(t, "a v1 certificate in an SM bundle", err)
	})
	t.Run("identity", func(t *testing.T) {
		if _, err := SignIdentity(sm.courtKey, sm.enc, nil); !errors.Is(err, ErrMalformed) {
			t.Fatalf("an SM identity without its transport key: %v", err)
		}
		// A v1 encryption key in an SM identity is refused at issue.
		enc, err := GenerateEncKey()
		if err != nil {
			t.Fatal(err)
		}
		id, err := SignIdentity(WithTransport(sm.courtKey, sm.transport), enc, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Issue(sm.issuerKey, sm.issuer, Template{Code: "京0106", Name: "北京市丰台区人民法院", Roles: []Role{RoleCourt}, Identity: id,
			NotBefore: now.Add(-time.Minute), NotAfter: now.AddDate(1, 0, 0)})
		if !errors.Is(err, ErrUnsupportedSuite) {
			t.Fatalf("an SM identity with an HPKE key: %v", err)
		}
	})
}
