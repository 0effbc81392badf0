package crypto

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	lcrypto "github.com/libp2p/go-libp2p/core/crypto"

	"courtmesh.dev/courtmesh/court"
)

// identityVectors builds the frozen identity samples from the vector keys
// of 京0105: version 1 (unsigned, what builds before signed identities
// wrote) and version 2 (signed, with a proof for authority 11 whose PoP
// key is the vector seed "pop").
func identityVectors(tb testing.TB) map[string][]byte {
	tb.Helper()
	priv, _, err := lcrypto.GenerateEd25519Key(bytes.NewReader(vectorSeed("court")))
	if err != nil {
		tb.Fatal(err)
	}
	nk, err := NodeKeyFromLibp2p(priv)
	if err != nil {
		tb.Fatal(err)
	}
	ek, err := deriveEncKey(vectorSeed("court-enc"))
	if err != nil {
		tb.Fatal(err)
	}
	v1, err := NewIdentity(nk, ek)
	if err != nil {
		tb.Fatal(err)
	}
	mac := possessionMAC(PossessionSecret(vectorSeed("pop"), vectorIssuerSN, v1), vectorIssuerSN, v1)
	v2, err := SignIdentity(nk, ek, &PossessionProof{Authority: vectorIssuerSN, MAC: mac})
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string][]byte{}
	for name, id := range map[string]*Identity{"identity-v1.json": v1, "identity-v2.json": v2} {
		b, err := json.MarshalIndent(id, "", "  ")
		if err != nil {
			tb.Fatal(err)
		}
		out[name] = append(b, '\n')
	}
	return out
}

// TestIdentityVectors: the frozen identity samples still parse as their
// own version, the version 2 signature and proof verify, and this build
// writes version 2 byte for byte.
func TestIdentityVectors(t *testing.T) {
	gen := identityVectors(t)
	if *updateVectors {
		for name, b := range gen {
			if err := os.WriteFile(filepath.Join(vectorDir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tt := range []struct {
		file    string
		version int
		sigErr  error
	}{
		{"identity-v1.json", 1, ErrIdentityUnsigned},
		{"identity-v2.json", 2, nil},
	} {
		t.Run(tt.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(vectorDir, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(raw, gen[tt.file]) {
				t.Errorf("this build writes %s differently than the frozen sample: bump IdentityVersion for an intended change", tt.file)
			}
			var id Identity
			if err := json.Unmarshal(raw, &id); err != nil {
				t.Fatal(err)
			}
			if id.Version != tt.version {
				t.Errorf("version %d, want %d", id.Version, tt.version)
			}
			if err := id.VerifySignature(); !errors.Is(err, tt.sigErr) || (tt.sigErr == nil) != (err == nil) {
				t.Errorf("VerifySignature: %v, want %v", err, tt.sigErr)
			}
			if tt.version == 2 {
				if err := id.CheckPossession(vectorIssuerSN, PossessionSecret(vectorSeed("pop"), vectorIssuerSN, &id)); err != nil {
					t.Errorf("CheckPossession: %v", err)
				}
			}
		})
	}
}

// TestIdentitySignatureCoversEveryField: changing any field of a signed
// identity breaks its signature.
func TestIdentitySignatureCoversEveryField(t *testing.T) {
	nk, ek := testNodeKey(t, "a"), testEncKey(t, "a")
	other := testEncKey(t, "b")
	for _, tt := range []struct {
		name   string
		mutate func(*Identity)
	}{
		{"encryption key", func(id *Identity) { id.EncKey = other.PublicKey() }},
		{"no encryption key", func(id *Identity) { id.EncKey, id.EncKEM = nil, 0 }},
		{"KEM", func(id *Identity) { id.EncKEM++ }},
		{"proof MAC", func(id *Identity) { id.Proof.MAC[0] ^= 1 }},
		{"proof authority", func(id *Identity) { id.Proof.Authority++ }},
		{"proof dropped", func(id *Identity) { id.Proof = nil }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			id, err := SignIdentity(nk, ek, &PossessionProof{Authority: 7, MAC: bytes.Repeat([]byte{1}, 32)})
			if err != nil {
				t.Fatal(err)
			}
			if err := id.VerifySignature(); err != nil {
				t.Fatal(err)
			}
			tt.mutate(id)
			if err := id.VerifySignature(); !errors.Is(err, ErrBadSignature) || !errors.Is(err, court.ErrInvalid) {
				t.Errorf("after changing the %s: %v, want a bad signature", tt.name, err)
			}
		})
	}
}
