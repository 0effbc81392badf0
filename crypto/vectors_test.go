package crypto

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	lcrypto "github.com/libp2p/go-libp2p/core/crypto"

	"courtmesh.dev/courtmesh/court"
)

var updateVectors = flag.Bool("update-vectors", false, "rewrite the frozen vectors in crypto/testdata/vectors; only for an intentional, versioned format change (see testdata/README.md)")

const vectorDir = "testdata/vectors"

// The fixed inputs of the vectors. Changing any of them changes every
// vector: do not.
var (
	vectorTime     = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	vectorPayload  = []byte("courtmesh test vector: (2026)京0105执1号")
	vectorRecType  = "courtmesh/test-vector/v1"
	vectorRootSN   = uint64(1)
	vectorIssuerSN = uint64(11)
	vectorCourtSN  = uint64(101)
	vectorRevoked  = uint64(9999)
)

// vectorSeed is the 32-byte seed of the vector key called label.
func vectorSeed(label string) []byte {
	s := sha256.Sum256([]byte("courtmesh test vector v1: " + label))
	return s[:]
}

// vectorFiles lists the vectors in the order they are generated.
var vectorFiles = []string{
	"root.seed.hex",
	"issuer.seed.hex",
	"court.seed.hex",
	"court-enc.ikm.hex",
	"root.cert.hex",
	"issuer-jing.cert.hex",
	"court-jing0105.cert.hex",
	"record.tbs.hex",
	"record.envelope.hex",
	"bundle.hex",
	"bundle-v2.hex",
}

// generateVectors builds every vector from the fixed inputs. Ed25519
// signatures and RFC 9180 DeriveKeyPair are deterministic, so the result
// is the same bytes on every run.
func generateVectors(tb testing.TB) map[string][]byte {
	tb.Helper()
	out := map[string][]byte{}
	nodeKey := func(name string) *NodeKey {
		seed := vectorSeed(name)
		out[name+".seed.hex"] = seed
		priv, _, err := lcrypto.GenerateEd25519Key(bytes.NewReader(seed))
		if err != nil {
			tb.Fatal(err)
		}
		k, err := NodeKeyFromLibp2p(priv)
		if err != nil {
			tb.Fatal(err)
		}
		return k
	}
	must := func(c *Certificate, err error) *Certificate {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
		return c
	}
	rootKey, issuerKey, courtKey := nodeKey("root"), nodeKey("issuer"), nodeKey("court")
	ikm := vectorSeed("court-enc")
	out["court-enc.ikm.hex"] = ikm
	courtEnc, err := deriveEncKey(ikm)
	if err != nil {
		tb.Fatal(err)
	}
	courtID, err := NewIdentity(courtKey, courtEnc)
	if err != nil {
		tb.Fatal(err)
	}

	root := must(Issue(rootKey, nil, Template{
		Code: court.Supreme, Name: "最高人民法院", Roles: []Role{RoleRoot}, Scope: court.Supreme,
		Identity:  &Identity{SigningKey: rootKey.Public()},
		NotBefore: vectorTime, NotAfter: vectorTime.AddDate(20, 0, 0), Serial: vectorRootSN,
	}))
	issuer := must(Issue(rootKey, root, Template{
		Code: "京", Name: "北京市高级人民法院", Roles: []Role{RoleIssuer}, Scope: "京",
		Identity:  &Identity{SigningKey: issuerKey.Public()},
		NotBefore: vectorTime, NotAfter: vectorTime.AddDate(10, 0, 0), Serial: vectorIssuerSN,
	}))
	courtCert := must(Issue(issuerKey, issuer, Template{
		Code: "京0105", Name: "北京市朝阳区人民法院", Roles: []Role{RoleCourt}, Identity: courtID,
		NotBefore: vectorTime, NotAfter: vectorTime.AddDate(2, 0, 0), Serial: vectorCourtSN,
	}))
	rec, err := Seal(courtKey, courtCert.Serial, vectorRecType, vectorPayload)
	if err != nil {
		tb.Fatal(err)
	}
	b, err := BuildBundle(rootKey, root, 1, vectorTime, vectorTime.AddDate(0, 3, 0),
		[]*Certificate{issuer, courtCert},
		[]Revocation{{Serial: vectorRevoked, RevokedAt: vectorTime, Reason: "test vector"}})
	if err != nil {
		tb.Fatal(err)
	}
	for name, c := range map[string]*Certificate{"root.cert.hex": root, "issuer-jing.cert.hex": issuer, "court-jing0105.cert.hex": courtCert} {
		out[name] = mustMarshalEnv(tb, c.Envelope)
	}
	out["record.tbs.hex"] = signedBytes(rec.Suite, rec.PayloadType, rec.SignerSerial, rec.Payload)
	out["record.envelope.hex"] = mustMarshalEnv(tb, rec)
	out["bundle.hex"] = b.Raw
	// Version 2: 京0105 revoked, its log trusted up to its first record
	// (the record above), whose chain hash the revocation pins.
	recRaw := mustMarshalEnv(tb, rec)
	b2, err := BuildBundle(rootKey, root, 2, vectorTime, vectorTime.AddDate(0, 3, 0),
		[]*Certificate{issuer, courtCert},
		[]Revocation{{Serial: vectorRevoked, RevokedAt: vectorTime, Reason: "test vector"},
			{Serial: vectorCourtSN, RevokedAt: vectorTime.Add(time.Hour), Reason: "key lost (test vector)",
				LastTrusted: &LogPosition{Seq: 1, Head: ChainRecordLog([32]byte{}, recRaw)}}})
	if err != nil {
		tb.Fatal(err)
	}
	out["bundle-v2.hex"] = b2.Raw
	if len(out) != len(vectorFiles) {
		tb.Fatalf("generated %d vectors, listed %d", len(out), len(vectorFiles))
	}
	return out
}

// encodeHex writes b as lower-case hex, 64 digits a line.
func encodeHex(b []byte) []byte {
	h := hex.EncodeToString(b)
	var sb strings.Builder
	for len(h) > 64 {
		sb.WriteString(h[:64])
		sb.WriteByte('\n')
		h = h[64:]
	}
	sb.WriteString(h)
	sb.WriteByte('\n')
	return []byte(sb.String())
}

func decodeHex(b []byte) ([]byte, error) {
	return hex.DecodeString(strings.Join(strings.Fields(string(b)), ""))
}

// readVectors loads the frozen vectors from disk.
func readVectors(t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, name := range vectorFiles {
		h, err := os.ReadFile(filepath.Join(vectorDir, name))
		if err != nil {
			t.Fatalf("%v (regenerate only as testdata/README.md says)", err)
		}
		b, err := decodeHex(h)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = b
	}
	return out
}

// TestVectors re-verifies the frozen vectors and checks that this build
// still produces them byte for byte: a signed format never changes by
// accident. Run with -update-vectors to rewrite them, and only for an
// intentional, versioned change.
func TestVectors(t *testing.T) {
	t.Parallel()
	gen := generateVectors(t)
	if *updateVectors {
		if err := os.MkdirAll(vectorDir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, name := range vectorFiles {
			if err := os.WriteFile(filepath.Join(vectorDir, name), encodeHex(gen[name]), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("rewrote %d vectors in %s", len(vectorFiles), vectorDir)
	}
	v := readVectors(t)

	t.Run("verify", func(t *testing.T) { verifyVectors(t, v) })
	t.Run("reproduce", func(t *testing.T) {
		for _, name := range vectorFiles {
			if !bytes.Equal(v[name], gen[name]) {
				t.Errorf("%s: this build produces different bytes than the frozen vector: a signed format or its inputs changed. "+
					"If that is intended, bump the format version and regenerate (see testdata/README.md)", name)
			}
		}
	})
}

// verifyVectors checks the frozen bytes with the package's own parsers and
// verifiers, as a node would years later.
func verifyVectors(t *testing.T, v map[string][]byte) {
	key := func(name string) *NodeKey {
		priv, _, err := lcrypto.GenerateEd25519Key(bytes.NewReader(v[name]))
		if err != nil {
			t.Fatal(err)
		}
		k, err := NodeKeyFromLibp2p(priv)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	cert := func(name string) *Certificate {
		t.Helper()
		env, err := UnmarshalEnvelope(v[name], MaxEnvelopeSize)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		c, err := ParseCertificate(env)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return c
	}
	rootKey, issuerKey, courtKey := key("root.seed.hex"), key("issuer.seed.hex"), key("court.seed.hex")
	root := cert("root.cert.hex")
	issuer := cert("issuer-jing.cert.hex")
	courtCert := cert("court-jing0105.cert.hex")

	if !root.SelfSigned() || root.Serial != vectorRootSN || root.Code != court.Supreme || !root.SigningKey.Equals(rootKey.Public()) {
		t.Fatalf("root certificate: %v", root)
	}
	if err := root.VerifyIssuedBy(root); err != nil {
		t.Fatalf("root: %v", err)
	}
	if issuer.Code != "京" || issuer.Scope != "京" || !issuer.HasRole(RoleIssuer) || !issuer.SigningKey.Equals(issuerKey.Public()) {
		t.Fatalf("issuer certificate: %v", issuer)
	}
	if err := issuer.VerifyIssuedBy(root); err != nil {
		t.Fatalf("issuer: %v", err)
	}
	enc, err := deriveEncKey(v["court-enc.ikm.hex"])
	if err != nil {
		t.Fatal(err)
	}
	if courtCert.Code != "京0105" || courtCert.Parent != "京01" || courtCert.Level != court.LevelBasic ||
		courtCert.PeerID != courtKey.PeerID() || !bytes.Equal(courtCert.EncKey, enc.PublicKey()) ||
		!courtCert.NotBefore.Equal(vectorTime) || !courtCert.NotAfter.Equal(vectorTime.AddDate(2, 0, 0)) {
		t.Fatalf("court certificate: %v", courtCert)
	}
	if err := courtCert.VerifyIssuedBy(issuer); err != nil {
		t.Fatalf("court: %v", err)
	}

	b, err := OpenBundle(root, v["bundle.hex"])
	if err != nil {
		t.Fatalf("bundle: %v", err)
	}
	var serials []uint64
	for _, c := range b.Certs {
		serials = append(serials, c.Serial)
	}
	if b.Sequence != 1 || !slices.Equal(serials, []uint64{vectorRootSN, vectorIssuerSN, vectorCourtSN}) ||
		len(b.Revocations) != 1 || b.Revocations[0].Serial != vectorRevoked {
		t.Fatalf("bundle %d: serials %v, revocations %v", b.Sequence, serials, b.Revocations)
	}
	for i, name := range []string{"root.cert.hex", "issuer-jing.cert.hex", "court-jing0105.cert.hex"} {
		if got := mustMarshalEnv(t, b.Certs[i].Envelope); !bytes.Equal(got, v[name]) {
			t.Errorf("bundle certificate #%d differs from %s", i, name)
		}
	}

	rec, err := UnmarshalEnvelope(v["record.envelope.hex"], MaxEnvelopeSize)
	if err != nil {
		t.Fatalf("record: %v", err)
	}
	if got := signedBytes(rec.Suite, rec.PayloadType, rec.SignerSerial, rec.Payload); !bytes.Equal(got, v["record.tbs.hex"]) {
		t.Fatalf("record: signed bytes differ from record.tbs.hex")
	}
	if ok, err := courtKey.Public().Verify(v["record.tbs.hex"], rec.Signature); !ok || err != nil {
		t.Fatalf("record signature over record.tbs.hex: %v", err)
	}
	tr := NewTrust(root, b)
	signer, err := tr.Open(rec, vectorRecType, vectorTime.Add(time.Hour))
	if err != nil {
		t.Fatalf("record: %v", err)
	}
	if signer.Serial != vectorCourtSN || !bytes.Equal(rec.Payload, vectorPayload) {
		t.Fatalf("record signed by %v, payload %q", signer, rec.Payload)
	}
	// Years later, offline: the certificate has expired but the record
	// still verifies against the key it names.
	if err := rec.VerifyWith(courtCert.SigningKey, vectorRecType); err != nil {
		t.Fatalf("record against the court's certificate: %v", err)
	}
	if _, err := tr.Open(rec, vectorRecType, vectorTime.AddDate(3, 0, 0)); err == nil {
		t.Fatal("record opens after its signer's certificate and the bundle expired")
	}

	// Version 2: the court's key revoked after record 1 of its log, whose
	// chain hash it pins. Record 1 still opens; record 2 would not.
	b2, err := OpenBundle(root, v["bundle-v2.hex"])
	if err != nil {
		t.Fatalf("bundle v2: %v", err)
	}
	want := LogPosition{Seq: 1, Head: ChainRecordLog([32]byte{}, v["record.envelope.hex"])}
	if b2.Sequence != 2 || len(b2.Revocations) != 2 || b2.Revocations[0].LastTrusted != nil ||
		b2.Revocations[1].Serial != vectorCourtSN || b2.Revocations[1].LastTrusted == nil || *b2.Revocations[1].LastTrusted != want {
		t.Fatalf("bundle v2 %d: revocations %+v, want serial %d trusted up to %v", b2.Sequence, b2.Revocations, vectorCourtSN, want)
	}
	tr2 := NewTrust(root, b2)
	if _, err := tr2.Open(rec, vectorRecType, vectorTime.Add(2*time.Hour)); !errors.Is(err, ErrRevoked) {
		t.Fatalf("bundle v2: a revoked signer opens without its log position: %v", err)
	}
	if c, rv, err := tr2.OpenRecord(rec, vectorRecType, 1, vectorTime.Add(2*time.Hour)); err != nil || c.Serial != vectorCourtSN || rv == nil || rv.LastTrusted.Head != want.Head {
		t.Fatalf("bundle v2: record 1 of the revoked court: %v, %v, %v", c, rv, err)
	}
	var re *RevokedRecordError
	if _, _, err := tr2.OpenRecord(rec, vectorRecType, 2, vectorTime.Add(2*time.Hour)); !errors.As(err, &re) || re.Signer.Serial != vectorCourtSN {
		t.Fatalf("bundle v2: record 2 of the revoked court: %v", err)
	}
}
