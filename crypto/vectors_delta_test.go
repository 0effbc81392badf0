package crypto

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	lcrypto "github.com/libp2p/go-libp2p/core/crypto"

	"courtmesh.dev/courtmesh/court"
)

// The frozen bundle head and the chain of deltas on top of bundle.hex
// (see testdata/README.md). They are made from the same seeds and fixed
// times as the other vectors, so a build regenerates the same bytes.
var deltaVectorFiles = []string{
	"bundle-head.hex",
	"freshness.seed.hex",
	"delta-2.hex",
	"delta-3.hex",
	"delta-4.hex",
}

const (
	vectorFreshnessSN = uint64(12)
	vectorRevoked2    = uint64(9998)
)

// The fixed times of the delta vectors.
var (
	vectorDelta2At      = vectorTime.Add(24 * time.Hour)
	vectorDelta3At      = vectorTime.Add(48 * time.Hour)
	vectorDelta4At      = vectorTime.Add(72 * time.Hour)
	vectorDeltaExpiry   = vectorTime.AddDate(0, 3, 1)
	vectorFreshExpiry   = vectorDeltaExpiry.Add(30 * 24 * time.Hour)
	vectorFreshCertTill = vectorTime.AddDate(1, 0, 0)
)

func vectorKey(tb testing.TB, seed []byte) *NodeKey {
	tb.Helper()
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

// vectorBase opens the frozen root certificate and bundle.hex, as bytes
// given (the generated or the frozen ones).
func vectorBase(tb testing.TB, v map[string][]byte) (*Certificate, *Bundle) {
	tb.Helper()
	env, err := UnmarshalEnvelope(v["root.cert.hex"], MaxEnvelopeSize)
	if err != nil {
		tb.Fatalf("root.cert.hex: %v", err)
	}
	root, err := ParseCertificate(env)
	if err != nil {
		tb.Fatalf("root.cert.hex: %v", err)
	}
	b, err := OpenBundle(root, v["bundle.hex"])
	if err != nil {
		tb.Fatalf("bundle.hex: %v", err)
	}
	return root, b
}

// generateDeltaVectors builds, on the generated base vectors: the
// root-signed head of bundle.hex; delta 2 (root: 京0105 revoked with its
// log trusted up to record 1, the expiry one day later); delta 3 (root:
// adds a freshness signer, serial 12); delta 4 (the freshness signer: 30
// more days and a revocation of serial 9998).
func generateDeltaVectors(tb testing.TB, base map[string][]byte) map[string][]byte {
	tb.Helper()
	out := map[string][]byte{}
	root, b1 := vectorBase(tb, base)
	rootKey := vectorKey(tb, base["root.seed.hex"])
	head, err := SignBundleHead(rootKey, root, b1)
	if err != nil {
		tb.Fatal(err)
	}
	out["bundle-head.hex"] = head

	d2, b2, err := BuildDelta(rootKey, root, root, b1, DeltaChange{
		IssuedAt: vectorDelta2At, ExpiresAt: vectorDeltaExpiry,
		Revoke: []Revocation{{Serial: vectorCourtSN, RevokedAt: vectorDelta2At, Reason: "key lost (test vector)",
			LastTrusted: &LogPosition{Seq: 1, Head: ChainRecordLog([32]byte{}, base["record.envelope.hex"])}}},
	})
	if err != nil {
		tb.Fatal(err)
	}
	out["delta-2.hex"] = d2.Raw

	fseed := vectorSeed("freshness")
	out["freshness.seed.hex"] = fseed
	fkey := vectorKey(tb, fseed)
	fcert, err := Issue(rootKey, root, Template{
		Code: court.Supreme, Name: "national operator freshness signer", Roles: []Role{RoleFreshness},
		Identity:  &Identity{SigningKey: fkey.Public()},
		NotBefore: vectorTime, NotAfter: vectorFreshCertTill, Serial: vectorFreshnessSN,
	})
	if err != nil {
		tb.Fatal(err)
	}
	d3, b3, err := BuildDelta(rootKey, root, root, b2, DeltaChange{
		IssuedAt: vectorDelta3At, ExpiresAt: vectorDeltaExpiry, Add: []*Certificate{fcert},
	})
	if err != nil {
		tb.Fatal(err)
	}
	out["delta-3.hex"] = d3.Raw

	d4, _, err := BuildDelta(fkey, fcert, root, b3, DeltaChange{
		IssuedAt: vectorDelta4At, ExpiresAt: vectorFreshExpiry,
		Revoke: []Revocation{{Serial: vectorRevoked2, RevokedAt: vectorDelta4At, Reason: "freshness test vector"}},
	})
	if err != nil {
		tb.Fatal(err)
	}
	out["delta-4.hex"] = d4.Raw
	if len(out) != len(deltaVectorFiles) {
		tb.Fatalf("generated %d delta vectors, listed %d", len(out), len(deltaVectorFiles))
	}
	return out
}

// TestBundleDeltaVectors checks the frozen bundle head and deltas: they
// decode and verify with today's code to the meaning they were made
// with, and this build produces them byte for byte. -update-vectors
// rewrites them (only for an intentional, versioned change).
func TestBundleDeltaVectors(t *testing.T) {
	t.Parallel()
	gen := generateDeltaVectors(t, generateVectors(t))
	if *updateVectors {
		for _, name := range deltaVectorFiles {
			if err := os.WriteFile(filepath.Join(vectorDir, name), encodeHex(gen[name]), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("rewrote %d delta vectors in %s", len(deltaVectorFiles), vectorDir)
	}
	v := readVectors(t)
	for _, name := range deltaVectorFiles {
		h, err := os.ReadFile(filepath.Join(vectorDir, name))
		if err != nil {
			t.Fatalf("%v (regenerate only as testdata/README.md says)", err)
		}
		if v[name], err = decodeHex(h); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	t.Run("verify", func(t *testing.T) { verifyDeltaVectors(t, v) })
	t.Run("reproduce", func(t *testing.T) {
		for _, name := range deltaVectorFiles {
			if !bytes.Equal(v[name], gen[name]) {
				t.Errorf("%s: this build produces different bytes than the frozen vector: the head or delta format, the state digest or their inputs changed. "+
					"If that is intended, bump the format version and regenerate (see testdata/README.md)", name)
			}
		}
	})
}

func verifyDeltaVectors(t *testing.T, v map[string][]byte) {
	root, b1 := vectorBase(t, v)

	h, err := OpenBundleHead(root, v["bundle-head.hex"])
	if err != nil {
		t.Fatalf("bundle-head.hex: %v", err)
	}
	if h.Sequence != 1 || h.Size != uint64(len(v["bundle.hex"])) || !h.ExpiresAt.Equal(vectorTime.AddDate(0, 3, 0)) || !h.Matches(b1) {
		t.Fatalf("bundle-head.hex: %+v does not describe bundle.hex", h)
	}
	if _, err := OpenBundleHead(b1.Certs[1], v["bundle-head.hex"]); err == nil {
		t.Fatal("bundle-head.hex opens against the 京 issuer as root")
	}

	// Deltas apply in order only, each to the base it names.
	if _, err := ApplyDelta(root, b1, v["delta-3.hex"]); !errors.Is(err, ErrWrongBase) {
		t.Fatalf("delta 3 on bundle 1: %v, want %v", err, ErrWrongBase)
	}
	b2, err := ApplyDelta(root, b1, v["delta-2.hex"])
	if err != nil {
		t.Fatalf("delta-2.hex: %v", err)
	}
	want := LogPosition{Seq: 1, Head: ChainRecordLog([32]byte{}, v["record.envelope.hex"])}
	if r, ok := b2.revocation(vectorCourtSN); b2.Sequence != 2 || !ok || r.LastTrusted == nil || *r.LastTrusted != want ||
		!r.RevokedAt.Equal(vectorDelta2At) || !b2.ExpiresAt.Equal(vectorDeltaExpiry) || len(b2.Certs) != 3 {
		t.Fatalf("delta-2.hex: bundle %d, revocations %+v, expires %v", b2.Sequence, b2.Revocations, b2.ExpiresAt)
	}
	if _, err := ApplyDelta(root, b2, v["delta-2.hex"]); !errors.Is(err, ErrStale) {
		t.Fatalf("delta 2 again: %v, want %v", err, ErrStale)
	}
	b3, err := ApplyDelta(root, b2, v["delta-3.hex"])
	if err != nil {
		t.Fatalf("delta-3.hex: %v", err)
	}
	fkey := vectorKey(t, v["freshness.seed.hex"])
	var serials []uint64
	for _, c := range b3.Certs {
		serials = append(serials, c.Serial)
	}
	fcert := b3.Certs[len(b3.Certs)-1]
	if b3.Sequence != 3 || !slices.Equal(serials, []uint64{vectorRootSN, vectorIssuerSN, vectorCourtSN, vectorFreshnessSN}) ||
		!fcert.HasRole(RoleFreshness) || !fcert.SigningKey.Equals(fkey.Public()) || fcert.PeerID != "" {
		t.Fatalf("delta-3.hex: bundle %d, serials %v, added %v", b3.Sequence, serials, fcert)
	}
	d4, err := PeekDelta(v["delta-4.hex"])
	if err != nil {
		t.Fatalf("delta-4.hex: %v", err)
	}
	if d4.Signer != vectorFreshnessSN || d4.BaseSequence != 3 || d4.Sequence != 4 || d4.BaseState != b3.State() {
		t.Fatalf("delta-4.hex: signer %d, %d -> %d", d4.Signer, d4.BaseSequence, d4.Sequence)
	}
	b4, err := ApplyDelta(root, b3, v["delta-4.hex"])
	if err != nil {
		t.Fatalf("delta-4.hex: %v", err)
	}
	if _, ok := b4.revocation(vectorRevoked2); b4.Sequence != 4 || !ok || !b4.ExpiresAt.Equal(vectorFreshExpiry) ||
		b4.State() != d4.State || len(b4.Deltas) != 3 || !bytes.Equal(b4.Raw, v["bundle.hex"]) {
		t.Fatalf("delta-4.hex: bundle %d, revocations %+v, expires %v", b4.Sequence, b4.Revocations, b4.ExpiresAt)
	}
	// The freshness signer's delta does not verify as the root's: its
	// signature is checked against the signer it names.
	forged := bytes.Clone(v["delta-4.hex"])
	forged[len(forged)-1] ^= 1
	if _, err := ApplyDelta(root, b3, forged); err == nil {
		t.Fatal("delta-4.hex with a flipped signature bit applies")
	}
}
