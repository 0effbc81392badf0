package crypto

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha512"
	"math/big"
	"testing"

	"filippo.io/edwards25519"
	lcrypto "github.com/libp2p/go-libp2p/core/crypto"
)

// sigCase is one (key, message, signature) to verify.
type sigCase struct {
	name          string
	pub, msg, sig []byte
}

// TestEd25519MatchesStdlib holds verifySignature (curve25519-voi) to the
// verdict of crypto/ed25519 on valid signatures, tampered ones, and the
// edge cases where Ed25519 verifiers are known to disagree: small-order
// and mixed-order public keys and R, non-canonical encodings of both, S at
// or over the group order, wrong lengths. Some of these the standard
// library accepts (a small-order key with S = 0, a mixed-order key for
// one message in eight), the rest it refuses; both kinds must be present,
// or the test proves nothing.
func TestEd25519MatchesStdlib(t *testing.T) {
	cases := ed25519EdgeCases(t)
	accepted := map[string]int{}
	for _, c := range cases {
		want := ed25519.Verify(c.pub, c.msg, c.sig)
		pub, err := lcrypto.UnmarshalEd25519PublicKey(c.pub)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := verifySignature(pub, c.msg, c.sig); got != want {
			t.Errorf("%s: pub %x sig %x: verifySignature says %v, crypto/ed25519 says %v", c.name, c.pub, c.sig, got, want)
		}
		if want {
			accepted[c.name]++
		}
	}
	t.Logf("%d cases, accepted by both: %v", len(cases), accepted)
	for _, name := range []string{"valid", "small-order key, S = 0", "mixed-order key"} {
		if accepted[name] == 0 {
			t.Errorf("no %q case was accepted: the corpus lost the cases it exists for", name)
		}
	}
	if n := len(cases) - sumValues(accepted); n < len(cases)/2 {
		t.Errorf("only %d of %d cases refused", n, len(cases))
	}
}

// FuzzEd25519MatchesStdlib is TestEd25519MatchesStdlib over any input,
// seeded with its cases.
func FuzzEd25519MatchesStdlib(f *testing.F) {
	for _, c := range ed25519EdgeCases(f) {
		f.Add(c.pub, c.msg, c.sig)
	}
	f.Fuzz(func(t *testing.T, rawPub, msg, sig []byte) {
		if len(rawPub) != ed25519.PublicKeySize {
			return
		}
		pub, err := lcrypto.UnmarshalEd25519PublicKey(rawPub)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := verifySignature(pub, msg, sig), ed25519.Verify(rawPub, msg, sig); got != want {
			t.Fatalf("pub %x msg %x sig %x: verifySignature says %v, crypto/ed25519 says %v", rawPub, msg, sig, got, want)
		}
	})
}

func sumValues(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// ed25519EdgeCases builds the corpus: every point is computed here with
// filippo.io/edwards25519 (the standard library's own arithmetic, as a
// package), not copied from elsewhere.
func ed25519EdgeCases(tb testing.TB) []sigCase {
	tb.Helper()
	var cases []sigCase
	add := func(name string, pub, msg, sig []byte) {
		cases = append(cases, sigCase{name, bytes.Clone(pub), bytes.Clone(msg), bytes.Clone(sig)})
	}
	msgs := [][]byte{nil, []byte("courtmesh"), randBytes(tb, 300)}

	// Valid signatures, then each tampered with.
	for i := range 8 {
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			tb.Fatal(err)
		}
		msg := msgs[i%len(msgs)]
		sig := ed25519.Sign(priv, msg)
		add("valid", pub, msg, sig)
		for _, bit := range []int{0, 100, 255, 256, 300, 511} {
			s := bytes.Clone(sig)
			s[bit/8] ^= 1 << (bit % 8)
			add("signature bit flipped", pub, msg, s)
		}
		add("message changed", pub, append(bytes.Clone(msg), 0), sig)
		add("signature short", pub, msg, sig[:63])
		add("signature long", pub, msg, append(bytes.Clone(sig), 0))
		add("signature empty", pub, msg, nil)
		// S + L and S + 2L encode the same scalar: refused (S must be
		// below the group order), as is S = L itself.
		for _, over := range []*big.Int{new(big.Int).Add(leToInt(sig[32:]), groupOrder), new(big.Int).Add(leToInt(sig[32:]), new(big.Int).Lsh(groupOrder, 1))} {
			add("S over the group order", pub, msg, append(bytes.Clone(sig[:32]), intToLE(over)...))
		}
		add("S is the group order", pub, msg, append(bytes.Clone(sig[:32]), intToLE(groupOrder)...))
		// R shifted by each small-order point: accepted by cofactored
		// verifiers, refused by the standard library.
		R, err := new(edwards25519.Point).SetBytes(sig[:32])
		if err != nil {
			tb.Fatal(err)
		}
		for k, T := range torsionPoints(tb) {
			if k == 0 {
				continue
			}
			shifted := new(edwards25519.Point).Add(R, T)
			add("mixed-order R", pub, msg, append(shifted.Bytes(), sig[32:]...))
		}
	}

	// Small-order keys (and their non-canonical encodings) with
	// small-order R (canonical or not) and S = 0: [0]B - [k]A is a
	// small-order point, and it equals R for some of them.
	zero := make([]byte, 32)
	encs := torsionEncodings(tb)
	for _, a := range encs {
		for _, r := range encs {
			for _, msg := range msgs[:2] {
				add("small-order key, S = 0", a, msg, append(bytes.Clone(r), zero...))
			}
		}
	}

	// A signer's own mixed-order R: R = [r]B + T under an honest key,
	// S = r + k·a. Refused by the standard library ([S]B - [k]A is [r]B,
	// not R); accepted by cofactored verifiers, and so batch ones.
	for j, T := range torsionPoints(tb) {
		if j == 0 {
			continue
		}
		a := randScalar(tb)
		A := new(edwards25519.Point).ScalarBaseMult(a)
		msg := []byte{byte(j)}
		r := randScalar(tb)
		R := new(edwards25519.Point).Add(new(edwards25519.Point).ScalarBaseMult(r), T)
		add("signer's mixed-order R", A.Bytes(), msg, append(R.Bytes(), signScalar(tb, R, A, msg, a, r).Bytes()...))
	}

	// Mixed-order keys A = [a]B + T, signed honestly with a: valid under
	// the standard library only when [k]T is the identity for the
	// message's k (one message in ord(T)).
	for j, T := range torsionPoints(tb) {
		if j == 0 {
			continue
		}
		a := randScalar(tb)
		A := new(edwards25519.Point).Add(new(edwards25519.Point).ScalarBaseMult(a), T)
		for i := range 16 {
			msg := []byte{byte(j), byte(i)}
			r := randScalar(tb)
			R := new(edwards25519.Point).ScalarBaseMult(r)
			add("mixed-order key", A.Bytes(), msg, append(R.Bytes(), signScalar(tb, R, A, msg, a, r).Bytes()...))
		}
	}
	return cases
}

// signScalar returns S = r + k·a, k = SHA-512(R || A || msg) mod L: the
// second half of an Ed25519 signature, for any R and A.
func signScalar(tb testing.TB, R, A *edwards25519.Point, msg []byte, a, r *edwards25519.Scalar) *edwards25519.Scalar {
	tb.Helper()
	h := sha512.New()
	h.Write(R.Bytes())
	h.Write(A.Bytes())
	h.Write(msg)
	k, err := new(edwards25519.Scalar).SetUniformBytes(h.Sum(nil))
	if err != nil {
		tb.Fatal(err)
	}
	return new(edwards25519.Scalar).MultiplyAdd(k, a, r)
}

// groupOrder is L, the order of the prime-order subgroup.
var groupOrder, _ = new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)

// torsionPoints returns the eight small-order points, [k]T8 for k = 0..7
// and T8 of order 8, found as the small-order part P - [1/8][8]P of
// points P decoded from random bytes.
func torsionPoints(tb testing.TB) []*edwards25519.Point {
	tb.Helper()
	eight := scalarFromInt(8)
	inv8 := new(edwards25519.Scalar).Invert(eight)
	id := edwards25519.NewIdentityPoint()
	for range 1000 {
		P, err := new(edwards25519.Point).SetBytes(randBytes(tb, 32))
		if err != nil {
			continue // not a point
		}
		prime := new(edwards25519.Point).ScalarMult(inv8, new(edwards25519.Point).MultByCofactor(P))
		T := new(edwards25519.Point).Subtract(P, prime)
		// Of order 8 exactly: [4]T is not the identity.
		four := new(edwards25519.Point).Add(T, T)
		four.Add(four, four)
		if four.Equal(id) == 1 {
			continue
		}
		out := []*edwards25519.Point{edwards25519.NewIdentityPoint()}
		for k := 1; k < 8; k++ {
			out = append(out, new(edwards25519.Point).Add(out[k-1], T))
		}
		return out
	}
	tb.Fatal("no point of order 8 found in 1000 tries")
	return nil
}

// torsionEncodings returns the small-order points' canonical encodings
// and their non-canonical ones: the sign bit flipped (the negated point's
// encoding where x is not 0, a non-canonical "-0" where it is), and y + p
// where that still fits in 255 bits (y < 19).
func torsionEncodings(tb testing.TB) [][]byte {
	tb.Helper()
	p := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))
	var out [][]byte
	for _, T := range torsionPoints(tb) {
		enc := T.Bytes()
		out = append(out, enc)
		y := leToInt(append(bytes.Clone(enc[:31]), enc[31]&0x7f))
		sign := enc[31] & 0x80
		flipped := bytes.Clone(enc)
		flipped[31] ^= 0x80
		out = append(out, flipped)
		if y.Cmp(big.NewInt(19)) < 0 {
			nc := intToLE(new(big.Int).Add(y, p))
			nc[31] |= sign
			out = append(out, nc)
		}
	}
	return out
}

func scalarFromInt(n byte) *edwards25519.Scalar {
	b := make([]byte, 32)
	b[0] = n
	s, _ := new(edwards25519.Scalar).SetCanonicalBytes(b)
	return s
}

func randScalar(tb testing.TB) *edwards25519.Scalar {
	s, err := new(edwards25519.Scalar).SetUniformBytes(randBytes(tb, 64))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func randBytes(tb testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return b
}

// leToInt reads a little-endian unsigned integer.
func leToInt(b []byte) *big.Int {
	be := make([]byte, len(b))
	for i := range b {
		be[len(b)-1-i] = b[i]
	}
	return new(big.Int).SetBytes(be)
}

// intToLE writes n as 32 little-endian bytes.
func intToLE(n *big.Int) []byte {
	be := n.FillBytes(make([]byte, 32))
	out := make([]byte, 32)
	for i := range be {
		out[31-i] = be[i]
	}
	return out
}

// BenchmarkVerifySignature compares the standard library's Ed25519 check
// with verifySignature's, on the same signatures.
func BenchmarkVerifySignature(b *testing.B) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	msg := randBytes(b, 300)
	sig := ed25519.Sign(priv, msg)
	lpub, err := lcrypto.UnmarshalEd25519PublicKey(pub)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("stdlib", func(b *testing.B) {
		for b.Loop() {
			if !ed25519.Verify(pub, msg, sig) {
				b.Fatal("refused")
			}
		}
	})
	b.Run("courtmesh", func(b *testing.B) {
		for b.Loop() {
			if !verifySignature(lpub, msg, sig) {
				b.Fatal("refused")
			}
		}
	})
}
