package crypto

import (
	"crypto/ed25519"

	lcrypto "github.com/libp2p/go-libp2p/core/crypto"
	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// stdlibRules are the rules crypto/ed25519 verifies by: cofactorless
// verification, S below the group order, R compared by its canonical
// encoding, non-canonical and small-order A accepted. Every courtmesh node
// and every offline check applies exactly these, so that a record is
// valid everywhere or nowhere.
var stdlibRules = &voi.Options{Verify: voi.VerifyOptionsStdLib}

// verifySignature reports whether sig is pub's signature of msg.
//
// Ed25519 signatures, the default suite's, are checked by curve25519-voi
// with the standard library's rules (stdlibRules). Its AVX2 arithmetic
// checks one in about 70% of the standard library's time on amd64
// (BenchmarkVerifySignature), and a node spends most of the CPU a record
// costs on that check (issue 22, docs/scale.md "Records validated per
// core"). TestEd25519MatchesStdlib and FuzzEd25519MatchesStdlib hold the
// two to the same verdict on valid, forged and edge-case signatures
// (small-order and mixed-order points, non-canonical encodings, S at or
// over the group order).
//
// Its batch verification, about half the cost again per signature, is
// not used: batches are sound only under cofactored rules (RFC 8032's
// [8] check, ZIP-215). Under those a certified court could sign, by
// choosing an R with a small-order part, records that every courtmesh
// node accepts and the standard library, OpenSSL and libsodium (an
// auditor's tools, and nodes of earlier releases) refuse: evidence its
// signer could later call invalid, and a split mesh during an upgrade.
// TestEd25519MatchesStdlib fails under those rules (its mixed-order and
// small-order key cases).
//
// Other key types (SM2) go through the key's own Verify.
func verifySignature(pub lcrypto.PubKey, msg, sig []byte) bool {
	if k, ok := pub.(*lcrypto.Ed25519PublicKey); ok {
		raw, err := k.Raw()
		if err != nil || len(raw) != ed25519.PublicKeySize {
			return false
		}
		return voi.VerifyWithOptions(voi.PublicKey(raw), msg, sig, stdlibRules)
	}
	ok, err := pub.Verify(msg, sig)
	return err == nil && ok
}
