// Package pkcs11key keeps a node's Ed25519 key (its signing key and
// libp2p identity under suite v1) in a PKCS#11 token instead of a file.
//
// The private key is generated in the token (CKM_EC_EDWARDS_KEY_PAIR_GEN,
// CKA_SENSITIVE, not extractable) and only ever used through C_Sign with
// CKM_EDDSA; it never leaves the token. The node's data directory keeps a
// reference in node.key (module path, token label, key label, public
// key), never a PIN. The PIN comes from a file named at init or from the
// environment variable COURTMESH_PKCS11_PIN, never from the command line.
//
// Tested against SoftHSM2 (2.5 or later carries Ed25519). A court's
// certified device (a GM/T 0018 cipher machine or a USB key with a
// PKCS#11 module) must likewise carry an Ed25519 (EdDSA) signing key for
// suite v1; for suite sm it must carry SM2 signing (and, for the
// decryption key, SM2 decryption), which SoftHSM2 does not.
//
// It uses cgo (github.com/miekg/pkcs11). A build without cgo (the
// static cross-builds for linux/arm64 and linux/loong64, CGO_ENABLED=0)
// compiles the same API from nocgo.go: Available is false there, and
// Generate and Open refuse with ErrUnavailable, so a node whose node.key
// names a token says so and names the fix instead of failing to build.
package pkcs11key

import (
	"courtmesh.dev/courtmesh/court"
)

// PINEnv is the environment variable the PIN is read from when no PIN
// file is named.
const PINEnv = "COURTMESH_PKCS11_PIN"

// Errors, with court's kinds.
var (
	// ErrNoToken: no token with the label in the module (court.ErrNotFound).
	ErrNoToken = court.Errorf(court.ErrNotFound, "no PKCS#11 token with that label")
	// ErrPIN: the token refused the PIN (court.ErrPermission).
	ErrPIN = court.Errorf(court.ErrPermission, "the PKCS#11 token refused the PIN")
	// ErrNoPIN: no PIN file and no PIN in the environment (court.ErrInvalid).
	ErrNoPIN = court.Errorf(court.ErrInvalid, "no PKCS#11 PIN: name a PIN file or set "+PINEnv)
	// ErrUnavailable: this build has no PKCS#11 support, because it was
	// built without cgo (court.ErrUnavailable).
	ErrUnavailable = court.Errorf(court.ErrUnavailable, "PKCS#11 is unavailable in this build of courtmesh (built without cgo)")
)

// Ref names a key in a token. It is what node.key holds for a token key.
type Ref struct {
	Module  string // path of the PKCS#11 module (.so)
	Token   string // token label
	Label   string // key label (CKA_LABEL of both halves)
	PINFile string // optional: a file holding the PIN (else PINEnv)
}
