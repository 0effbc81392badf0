package crypto

import (
	"crypto/hpke"
	"crypto/sha256"
	"fmt"
	"hash"
	"strings"

	"github.com/emmansun/gmsm/sm3"

	"courtmesh.dev/courtmesh/court"
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
	// SuiteSM is the national cryptography suite: SM2 signatures with the
	// default user ID (SM2UserID), key wrapping by SM2 encryption of a
	// fresh secret with an SM3 KDF and SM4-GCM (KEMSM2), SM4-GCM for
	// chunks, SM3 for content addresses, Merkle roots and chains (see
	// sm.go). A mesh runs one suite, the suite of its national root.
	SuiteSM Suite = 2
)

// ParseSuite reads a suite name as given on a command line or in a
// config file: "v1" (also "default") or "sm".
func ParseSuite(name string) (Suite, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "", "v1", "default":
		return SuiteV1, nil
	case "sm":
		return SuiteSM, nil
	}
	return 0, fmt.Errorf("suite %q: %w: want v1 or sm", name, ErrUnsupportedSuite)
}

// Name is the short name ParseSuite reads: "v1" or "sm".
func (s Suite) Name() string {
	switch s {
	case SuiteV1:
		return "v1"
	case SuiteSM:
		return "sm"
	}
	return fmt.Sprintf("suite%d", uint32(s))
}

// NewHash returns the suite's hash: SHA-256 for SuiteV1, SM3 for SuiteSM.
// An unsupported suite gets SHA-256; callers check the suite first.
func (s Suite) NewHash() hash.Hash {
	if s == SuiteSM {
		return sm3.New()
	}
	return sha256.New()
}

// Sum hashes b with the suite's hash.
func (s Suite) Sum(b []byte) [32]byte {
	if s == SuiteSM {
		return sm3.Sum(b)
	}
	return sha256.Sum256(b)
}

// Check returns ErrUnsupportedSuite for a suite this build cannot use.
func (s Suite) Check() error { return s.check() }

// ErrMixedSuite: an object of another algorithm suite than the mesh's (a
// mesh runs the one suite of its national root) (court.ErrInvalid).
var ErrMixedSuite = kind(court.ErrInvalid, "algorithm suite differs from the mesh's")

// mixed is the error for an object of suite got in a mesh of suite want.
func mixed(what string, got, want Suite) error {
	return fmt.Errorf("%s uses suite %s, not suite %s: a mesh runs the one suite of its national root and cannot mix suites: %w", what, got.Name(), want.Name(), ErrMixedSuite)
}

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
	if s == SuiteV1 || s == SuiteSM {
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

// Errors returned by this package; test them with errors.Is. Each wraps
// one of court's error kinds, so that a caller who only cares about the
// kind (the API, the CLI) sees it.
var (
	// ErrBadSignature: a signature does not verify (court.ErrInvalid).
	ErrBadSignature = kind(court.ErrInvalid, "signature does not verify")
	// ErrUnsupportedSuite: the object names a suite this build cannot use
	// (court.ErrInvalid).
	ErrUnsupportedSuite = kind(court.ErrInvalid, "unsupported algorithm suite")
	// ErrMalformed: bytes that do not decode as the expected format
	// (court.ErrInvalid).
	ErrMalformed = kind(court.ErrInvalid, "malformed")
	// ErrUnknownSigner: the signer's certificate is not in the trust bundle
	// (court.ErrPermission).
	ErrUnknownSigner = kind(court.ErrPermission, "signer not certified")
	// ErrRevoked: the certificate has been revoked (court.ErrRevoked).
	ErrRevoked = kind(court.ErrRevoked, "certificate revoked")
	// ErrExpired: the certificate or bundle is past its validity
	// (court.ErrRevoked).
	ErrExpired = kind(court.ErrRevoked, "expired")
	// ErrNotYetValid: the certificate is not valid yet (court.ErrPermission).
	ErrNotYetValid = kind(court.ErrPermission, "not yet valid")
	// ErrNotAuthorised: the signer lacks the role or scope for what it
	// signed (court.ErrPermission).
	ErrNotAuthorised = kind(court.ErrPermission, "not authorised")
	// ErrStale: a bundle that is not newer than the one in force
	// (court.ErrStale).
	ErrStale = kind(court.ErrStale, "stale")
	// ErrWrongBase: a bundle delta that applies to another bundle than
	// the one in force (the node is behind: it fetches what it misses).
	ErrWrongBase = kind(court.ErrNotFound, "bundle delta for another base")
	// ErrKeyPermissions: a private key file readable by others
	// (court.ErrPermission).
	ErrKeyPermissions = kind(court.ErrPermission, "private key file permissions too open")
)

// kindErr is a sentinel of this package: its own message, and the kind it
// belongs to.
type kindErr struct {
	kind error
	msg  string
}

func (e *kindErr) Error() string { return e.msg }
func (e *kindErr) Unwrap() error { return e.kind }

func kind(k error, msg string) error { return &kindErr{kind: k, msg: msg} }
