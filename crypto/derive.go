package crypto

import "fmt"

// deriveEncKey derives an HPKE key of SuiteV1's KEM deterministically from
// the input keying material ikm (RFC 9180 DeriveKeyPair). It exists for
// frozen test vectors and reproducible fixtures: a node's real key comes
// from GenerateEncKey. ikm must be secret and carry at least 32 bytes of
// entropy if the key is ever used for real.
func deriveEncKey(ikm []byte) (*EncKey, error) {
	priv, err := hpkeKEM.DeriveKeyPair(ikm)
	if err != nil {
		return nil, fmt.Errorf("derive encryption key: %w", err)
	}
	return &EncKey{priv: priv, pub: priv.PublicKey().Bytes()}, nil
}
