package crypto

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// Fuzzers for the decoders SuiteSM adds: SM2 public keys, SM certificates
// and bundles, SM identities and SM-wrapped keys. Seeds are the frozen SM
// vectors.

func smVectorSeeds(tb testing.TB) map[string][]byte {
	out := map[string][]byte{}
	for _, name := range vectorSMFiles {
		h, err := os.ReadFile(filepath.Join(vectorSMDir, name))
		if err != nil {
			tb.Fatal(err)
		}
		b, err := decodeHex(h)
		if err != nil {
			tb.Fatal(err)
		}
		out[name] = b
	}
	return out
}

func FuzzParseSM2PublicKey(f *testing.F) {
	k, err := GenerateSM2Key()
	if err != nil {
		f.Fatal(err)
	}
	raw, _ := k.Public().Raw()
	f.Add(raw)
	f.Add(make([]byte, sm2PointSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		pk, err := ParseSM2PublicKey(b)
		if err != nil {
			return
		}
		back, _ := pk.Raw()
		if !bytes.Equal(back, b) {
			t.Fatal("an SM2 key does not re-encode to its bytes")
		}
		if ok, _ := pk.Verify([]byte("x"), []byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01}); ok {
			t.Fatal("a made-up signature verifies")
		}
	})
}

func FuzzSMCertificateAndBundle(f *testing.F) {
	v := smVectorSeeds(f)
	for _, name := range []string{"root.cert.hex", "issuer-jing.cert.hex", "court-jing0105.cert.hex", "bundle.hex", "record.envelope.hex"} {
		f.Add(v[name])
	}
	env, err := UnmarshalEnvelope(v["root.cert.hex"], MaxEnvelopeSize)
	if err != nil {
		f.Fatal(err)
	}
	root, err := ParseCertificate(env)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if bn, err := OpenBundle(root, b); err == nil {
			for _, c := range bn.Certs {
				if c.Suite != SuiteSM {
					t.Fatalf("a bundle of the SM root opened with a certificate of suite %v", c.Suite)
				}
			}
			if !bytes.Equal(b, v["bundle.hex"]) {
				t.Fatal("a bundle other than the frozen one verifies under the root")
			}
		}
		e, err := UnmarshalEnvelope(b, MaxEnvelopeSize)
		if err != nil {
			return
		}
		c, err := ParseCertificate(e)
		if err != nil {
			return
		}
		if c.Suite != e.Suite {
			t.Fatalf("certificate of suite %v in an envelope of suite %v", c.Suite, e.Suite)
		}
		if err := c.VerifyIssuedBy(root); err == nil && c.Serial != root.Serial && !bytes.Equal(b, v["issuer-jing.cert.hex"]) {
			t.Fatal("a certificate other than the frozen ones verifies under the root")
		}
	})
}

func FuzzSMIdentityJSON(f *testing.F) {
	raw, err := os.ReadFile(filepath.Join(vectorSMDir, "identity.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
	f.Add([]byte(`{"version":2,"suite":"sm"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var id Identity
		if err := json.Unmarshal(b, &id); err != nil {
			return
		}
		out, err := json.Marshal(&id)
		if err != nil {
			t.Fatalf("marshal a decoded identity: %v", err)
		}
		var id2 Identity
		if err := json.Unmarshal(out, &id2); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if id2.PeerID != id.PeerID || !id2.SigningKey.Equals(id.SigningKey) || id2.Suite() != id.Suite() ||
			!bytes.Equal(id2.PeerSignature, id.PeerSignature) || !bytes.Equal(id2.Signature, id.Signature) {
			t.Fatal("re-decoding changed the identity")
		}
	})
}

func FuzzSMUnwrap(f *testing.F) {
	v := smVectorSeeds(f)
	k := smVectorKeysFrom(f, v)
	w, err := WrapDataKey(KEMSM2, k.enc.PublicKey(), PurposeDossier, vectorDossier, DataKey{1})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(w, []byte(vectorDossier))
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, ct, dossier []byte) {
		got, err := UnwrapDataKey(k.enc, PurposeDossier, string(dossier), ct)
		if err != nil {
			return
		}
		// Only what was wrapped for this dossier opens. (w is not compared:
		// each fuzzing worker wraps its own, with fresh randomness.)
		if string(dossier) != vectorDossier || got != (DataKey{1}) {
			t.Fatalf("a forged wrapped key opened for %q", dossier)
		}
	})
}

func FuzzSMOpenChunk(f *testing.F) {
	var dk DataKey
	doc := []byte("卷宗 chunk")
	s, err := dk.DocumentIn(SuiteSM, SuiteSM.DocumentID(doc))
	if err != nil {
		f.Fatal(err)
	}
	sealed, id, err := s.Seal(nil, 0, 1, doc)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sealed, uint32(0), uint32(1))
	f.Fuzz(func(t *testing.T, b []byte, index, count uint32) {
		pt, err := s.Open(nil, SuiteSM.ChunkID(b), index, count, b)
		if err != nil {
			return
		}
		if !bytes.Equal(b, sealed) || index != 0 || count != 1 || !bytes.Equal(pt, doc) || SuiteSM.ChunkID(b) != id {
			t.Fatal("a forged chunk opened")
		}
	})
}
