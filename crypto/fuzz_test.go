package crypto

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// fuzzPKI is a small fixed PKI the fuzzers seed from and check against.
type fuzzPKI struct {
	f      *fixture
	jing   party
	court  party
	bundle *Bundle
}

func newFuzzPKI(tb testing.TB) *fuzzPKI {
	f := newFixture(tb)
	jing := f.issuer("京")
	c := f.node("京0105", jing)
	b := f.bundle(1, []Revocation{{Serial: 4242, RevokedAt: fixNow, Reason: "fuzz"}}, jing, c, f.node("沪0101", f.root))
	return &fuzzPKI{f: f, jing: jing, court: c, bundle: b}
}

func FuzzUnmarshalEnvelope(f *testing.F) {
	pki := newFuzzPKI(f)
	rec, err := Seal(pki.court.key, pki.court.cert.Serial, "courtmesh/test/v1", []byte("案件"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(mustMarshalEnv(f, rec))
	f.Add(mustMarshalEnv(f, pki.court.cert.Envelope))
	f.Add(mustMarshalEnv(f, pki.f.root.cert.Envelope))
	f.Add([]byte{})
	f.Add([]byte{0x08, 0x01})
	pub := pki.court.key.Public()
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := UnmarshalEnvelope(b, MaxEnvelopeSize)
		if err != nil {
			if e != nil {
				t.Fatal("error with an envelope")
			}
			return
		}
		// Whatever decodes re-encodes to something that decodes the same.
		raw, err := e.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a decoded envelope: %v", err)
		}
		e2, err := UnmarshalEnvelope(raw, MaxEnvelopeSize)
		if err != nil {
			t.Fatalf("re-decoding: %v", err)
		}
		if e2.Suite != e.Suite || e2.PayloadType != e.PayloadType || e2.SignerSerial != e.SignerSerial ||
			!bytes.Equal(e2.Payload, e.Payload) || !bytes.Equal(e2.Signature, e.Signature) {
			t.Fatalf("re-decoding changed the envelope")
		}
		if err := e.VerifyWith(pub, e.PayloadType); err == nil &&
			(!bytes.Equal(e.Payload, rec.Payload) || e.PayloadType != rec.PayloadType || e.SignerSerial != rec.SignerSerial) {
			t.Fatalf("a forged envelope verifies: %+v", e)
		}
		_, _ = ParseCertificate(e)
	})
}

// FuzzParseCertificate feeds certificate payloads inside an envelope.
func FuzzParseCertificate(f *testing.F) {
	pki := newFuzzPKI(f)
	for _, c := range pki.bundle.Certs {
		f.Add(c.Envelope.Payload, c.Envelope.SignerSerial)
	}
	f.Add([]byte{}, uint64(0))
	f.Fuzz(func(t *testing.T, payload []byte, signer uint64) {
		env := &Envelope{Suite: SuiteV1, PayloadType: PayloadCertificate, Payload: payload, SignerSerial: signer, Signature: make([]byte, 64)}
		c, err := ParseCertificate(env)
		if err != nil {
			if c != nil {
				t.Fatal("error with a certificate")
			}
			return
		}
		// A parsed certificate is well formed and re-encodes.
		if c.Serial == 0 || c.SigningKey == nil || len(c.Roles) == 0 || !c.NotAfter.After(c.NotBefore) {
			t.Fatalf("parsed an ill-formed certificate: %+v", c)
		}
		if err := c.checkShape(); err != nil {
			t.Fatalf("parsed certificate fails its shape check: %v", err)
		}
		if _, err := c.proto(); err != nil {
			t.Fatalf("proto of a parsed certificate: %v", err)
		}
		_ = c.String()
		_ = c.ValidAt(fixNow)
		// The zero signature never verifies, whoever is asked.
		for _, issuer := range []*Certificate{pki.f.root.cert, pki.jing.cert, pki.court.cert, c} {
			if err := c.VerifyIssuedBy(issuer); err == nil {
				t.Fatalf("a zero signature verifies against %v", issuer)
			}
		}
	})
}

// FuzzOpenBundle opens fuzzed bytes against a fixed pinned root. Since the
// fuzzer cannot forge the root's signature, it also signs the fuzzed bytes
// as a bundle payload with the root key, to reach the bundle parser.
func FuzzOpenBundle(f *testing.F) {
	pki := newFuzzPKI(f)
	root := pki.f.root
	f.Add(pki.bundle.Raw)
	f.Add(pki.bundle.Envelope.Payload)
	f.Add([]byte{})
	check := func(t *testing.T, b *Bundle) {
		if b.Sequence == 0 || len(b.Certs) == 0 || b.Certs[0].Serial != root.cert.Serial || !b.ExpiresAt.After(b.IssuedAt) {
			t.Fatalf("opened an ill-formed bundle: %+v", b)
		}
		tr := NewTrust(root.cert, b)
		for _, now := range []time.Time{fixNow, b.ExpiresAt, b.ExpiresAt.Add(BundleGrace + time.Second)} {
			_ = b.Status(now).String()
			for _, p := range tr.Peers(now) {
				if _, err := tr.ByPeer(p, now); err != nil {
					t.Fatalf("Peers lists %s but ByPeer refuses it: %v", p, err)
				}
			}
			for _, c := range b.Certs {
				_, _ = tr.BySerial(c.Serial, now)
				_, _ = tr.Court(c.Code, now)
				_, _ = tr.Parent(c.Code)
			}
		}
		if _, err := tr.ByPeer(peer.ID("x"), fixNow); err == nil {
			t.Fatal("admitted a made-up peer")
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if b, err := OpenBundle(root.cert, raw); err == nil {
			check(t, b)
		}
		if len(raw) > MaxEnvelopeSize {
			return
		}
		env, err := Seal(root.key, root.cert.Serial, PayloadBundle, raw)
		if err != nil {
			t.Fatal(err)
		}
		if b, err := OpenBundle(root.cert, mustMarshalEnv(t, env)); err == nil {
			check(t, b)
		}
	})
}

func FuzzIdentityJSON(f *testing.F) {
	for _, label := range []string{"a", "b"} {
		id, err := NewIdentity(testNodeKey(f, label), testEncKey(f, label))
		if err != nil {
			f.Fatal(err)
		}
		b, err := json.Marshal(id)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		id.EncKey, id.EncKEM = nil, 0
		if b, err = json.Marshal(id); err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var id Identity
		if err := json.Unmarshal(b, &id); err != nil {
			return
		}
		if id.SigningKey == nil {
			// JSON null leaves the value untouched.
			if !bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
				t.Fatalf("no signing key after decoding %q", b)
			}
			return
		}
		if !id.PeerID.MatchesPublicKey(id.SigningKey) {
			t.Fatalf("decoded identity whose peer id does not match its key")
		}
		out, err := json.Marshal(&id)
		if err != nil {
			t.Fatalf("Marshal of a decoded identity: %v", err)
		}
		var again Identity
		if err := json.Unmarshal(out, &again); err != nil {
			t.Fatalf("re-decoding %s: %v", out, err)
		}
		if again.PeerID != id.PeerID || !again.SigningKey.Equals(id.SigningKey) || again.EncKEM != id.EncKEM || !bytes.Equal(again.EncKey, id.EncKey) {
			t.Fatalf("re-decoding changed the identity")
		}
	})
}
