package crypto

import (
	"crypto/hpke"
	"errors"
	"fmt"
)

// Suite identifies the set of algorithms a signed or sealed object uses.
// It travels in every envelope and sealed header so that a national
// cryptography suite (SM2/SM3/SM4) can sit beside the default one.
type Suite uint32

const (
	// SuiteV1 is the default suite: Ed25519 signatures, HPKE with
	// ML-KEM-768+X25519, HKDF-SHA256 and AES-256-GCM for key wrapping,
	// AES-256-GCM for chunks, SHA-256 for content addresses and chains.
	SuiteV1 Suite = 1
	// SuiteSM is reserved for SM2 signatures, SM4 sealing and SM3 hashing.
	// It is not implemented; objects carrying it are rejected as unsupported.
	SuiteSM Suite = 2
)

// String names the suite.
func (s Suite) String() string {
	switch s {
	case SuiteV1:
		return "v1(ed25519,mlkem768x25519,aes256gcm,sha256)"
	case SuiteSM:
		return "sm(sm2,sm3,sm4)"
	}
	return fmt.Sprintf("suite(%d)", uint32(s))
}

func (s Suite) check() error {
	if s == SuiteV1 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrUnsupportedSuite, s)
}

// The HPKE algorithms of SuiteV1.
var (
	hpkeKEM  = hpke.MLKEM768X25519()
	hpkeKDF  = hpke.HKDFSHA256()
	hpkeAEAD = hpke.AES256GCM()
)

// Errors returned by this package; test them with errors.Is.
var (
	// ErrBadSignature: a signature does not verify.
	ErrBadSignature = errors.New("signature does not verify")
	// ErrUnsupportedSuite: the object names a suite this build cannot use.
	ErrUnsupportedSuite = errors.New("unsupported algorithm suite")
	// ErrMalformed: bytes that do not decode as the expected format.
	ErrMalformed = errors.New("malformed")
	// ErrUnknownSigner: the signer's certificate is not in the trust bundle.
	ErrUnknownSigner = errors.New("signer not certified")
	// ErrRevoked: the certificate has been revoked.
	ErrRevoked = errors.New("certificate revoked")
	// ErrExpired: the certificate or bundle is past its validity.
	ErrExpired = errors.New("expired")
	// ErrNotYetValid: the certificate is not valid yet.
	ErrNotYetValid = errors.New("not yet valid")
	// ErrNotAuthorised: the signer lacks the role or scope for what it signed.
	ErrNotAuthorised = errors.New("not authorised")
	// ErrStale: a bundle that is not newer than the one in force.
	ErrStale = errors.New("stale")
	// ErrKeyPermissions: a private key file readable by others.
	ErrKeyPermissions = errors.New("private key file permissions too open")
)
