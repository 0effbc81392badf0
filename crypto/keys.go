package crypto

import (
	"crypto/hpke"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	lcrypto "github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"courtmesh.dev/courtmesh/court"
)

// Signer signs on behalf of one key. Implementations must be safe for
// concurrent use. The file-backed NodeKey is one; a hardware module can be
// another without touching callers.
type Signer interface {
	// Suite is the algorithm suite of the signatures.
	Suite() Suite
	// Public returns the public half in libp2p's marshalled form.
	Public() lcrypto.PubKey
	// Sign signs msg (already domain-separated by the caller).
	Sign(msg []byte) ([]byte, error)
}

// Decrypter opens HPKE-wrapped keys addressed to one encryption key.
// Implementations must be safe for concurrent use and never expose the
// private key.
type Decrypter interface {
	// KEM returns the HPKE KEM id of the key.
	KEM() uint16
	// PublicKey returns the HPKE public key bytes.
	PublicKey() []byte
	// Open decrypts an HPKE ciphertext (enc || ct) produced by Wrap.
	Open(info, ciphertext []byte) ([]byte, error)
}

// NodeKey is a node's Ed25519 identity key: it signs records and is the
// node's libp2p peer ID.
type NodeKey struct {
	priv lcrypto.PrivKey
}

var _ Signer = (*NodeKey)(nil)

// GenerateNodeKey makes a fresh Ed25519 key.
func GenerateNodeKey() (*NodeKey, error) {
	priv, _, err := lcrypto.GenerateEd25519Key(nil)
	if err != nil {
		return nil, fmt.Errorf("generate node key: %w", err)
	}
	return &NodeKey{priv: priv}, nil
}

// NodeKeyFromLibp2p wraps an existing libp2p private key (Ed25519 only).
func NodeKeyFromLibp2p(priv lcrypto.PrivKey) (*NodeKey, error) {
	if priv.Type() != lcrypto.Ed25519 {
		return nil, fmt.Errorf("node key: %w: want Ed25519, got %v", ErrUnsupportedSuite, priv.Type())
	}
	return &NodeKey{priv: priv}, nil
}

// Suite implements Signer.
func (k *NodeKey) Suite() Suite { return SuiteV1 }

// Public implements Signer.
func (k *NodeKey) Public() lcrypto.PubKey { return k.priv.GetPublic() }

// Sign implements Signer.
func (k *NodeKey) Sign(msg []byte) ([]byte, error) { return k.priv.Sign(msg) }

// PeerID is the libp2p peer ID of the key.
func (k *NodeKey) PeerID() peer.ID {
	id, err := peer.IDFromPrivateKey(k.priv)
	if err != nil {
		// Ed25519 keys always yield an ID; reaching here is a programming error.
		panic(err)
	}
	return id
}

// Libp2p returns the key for the libp2p host. It is the only way the
// private key leaves this package.
func (k *NodeKey) Libp2p() lcrypto.PrivKey { return k.priv }

// EncKey is a node's HPKE decryption key (ML-KEM-768+X25519 by default).
type EncKey struct {
	priv hpke.PrivateKey
	pub  []byte
}

var _ Decrypter = (*EncKey)(nil)

// GenerateEncKey makes a fresh HPKE key of SuiteV1's KEM.
func GenerateEncKey() (*EncKey, error) {
	priv, err := hpkeKEM.GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("generate encryption key: %w", err)
	}
	return &EncKey{priv: priv, pub: priv.PublicKey().Bytes()}, nil
}

// KEM implements Decrypter.
func (k *EncKey) KEM() uint16 { return hpkeKEM.ID() }

// PublicKey implements Decrypter.
func (k *EncKey) PublicKey() []byte { return append([]byte(nil), k.pub...) }

// Open implements Decrypter.
func (k *EncKey) Open(info, ciphertext []byte) ([]byte, error) {
	pt, err := hpke.Open(k.priv, hpkeKDF, hpkeAEAD, info, ciphertext)
	if err != nil {
		return nil, fmt.Errorf("open wrapped key: %w", ErrBadSignature)
	}
	return pt, nil
}

// Wrap seals plaintext (a data key) to the public key pub of KEM kem,
// bound to info, and is opened by Decrypter.Open. For an HPKE KEM
// (SuiteV1) the result is enc || ciphertext; for KEMSM2 (SuiteSM) see
// wrapSM2.
func Wrap(kem uint16, pub, info, plaintext []byte) ([]byte, error) {
	if kem == KEMSM2 {
		return wrapSM2(rand.Reader, pub, info, plaintext)
	}
	if kem != hpkeKEM.ID() {
		return nil, fmt.Errorf("wrap: %w: KEM %#x", ErrUnsupportedSuite, kem)
	}
	pk, err := hpkeKEM.NewPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("wrap: recipient key: %w", ErrMalformed)
	}
	return hpke.Seal(pk, hpkeKDF, hpkeAEAD, info, plaintext)
}

// Key file names inside a node's data directory.
const (
	NodeKeyFile = "node.key"
	EncKeyFile  = "enc.key"
)

// keyFile is the versioned on-disk form of a private key.
type keyFile struct {
	Version int    `json:"version"`
	Type    string `json:"type"`
	Key     string `json:"key"`
	// Token is set for type "pkcs11": the key lives in a token and Key is
	// its public key (libp2p-marshalled, base64).
	Token *TokenKeyRef `json:"token,omitempty"`
}

// keyTypeToken is the key file type of a reference to a key in a
// PKCS#11 token.
const keyTypeToken = "pkcs11"

// TokenKeyRef names a node key kept in a PKCS#11 token (see package
// crypto/pkcs11key). It holds no secret: the PIN comes from PINFile or
// the environment.
type TokenKeyRef struct {
	Module  string `json:"module"`             // path of the PKCS#11 module
	Token   string `json:"token"`              // token label
	Label   string `json:"label"`              // key label
	PINFile string `json:"pin_file,omitempty"` // a file holding the PIN; empty: the environment
}

// ErrTokenKey: a key file that names a key in a PKCS#11 token, which
// LoadNodeKey cannot open (court.ErrInvalid); see ReadTokenKeyRef.
var ErrTokenKey = kind(court.ErrInvalid, "the key lives in a PKCS#11 token")

// SaveTokenKeyRef writes a reference to a node key in a token, with its
// public key, to path (0600, never overwriting).
func SaveTokenKeyRef(path string, ref TokenKeyRef, pub lcrypto.PubKey) error {
	raw, err := lcrypto.MarshalPublicKey(pub)
	if err != nil {
		return fmt.Errorf("save token key reference: %w", err)
	}
	return writeKeyFile(path, keyFile{Version: 1, Type: keyTypeToken, Key: base64.StdEncoding.EncodeToString(raw), Token: &ref})
}

// ReadTokenKeyRef reads a key file written by SaveTokenKeyRef. ok is
// false (and the error nil) for a key file of another type.
func ReadTokenKeyRef(path string) (ref TokenKeyRef, pub lcrypto.PubKey, ok bool, err error) {
	kf, err := readKeyFile(path)
	if err != nil || kf.Type != keyTypeToken {
		return ref, nil, false, err
	}
	raw, err := base64.StdEncoding.DecodeString(kf.Key)
	if err != nil || kf.Token == nil {
		return ref, nil, false, fmt.Errorf("key %s: %w: token reference", path, ErrMalformed)
	}
	if pub, err = lcrypto.UnmarshalPublicKey(raw); err != nil {
		return ref, nil, false, fmt.Errorf("key %s: %w: %v", path, ErrMalformed, err)
	}
	return *kf.Token, pub, true, nil
}

// SaveNodeKey writes the key to path with mode 0600, refusing to
// overwrite an existing file.
func SaveNodeKey(path string, k *NodeKey) error {
	if _, ok := k.priv.(*lcrypto.Ed25519PrivateKey); !ok {
		return fmt.Errorf("save node key %s: %w: a %T (a key in a token) is never written to a file", path, ErrUnsupportedSuite, k.priv)
	}
	raw, err := lcrypto.MarshalPrivateKey(k.priv)
	if err != nil {
		return fmt.Errorf("save node key: %w", err)
	}
	return writeKeyFile(path, keyFile{Version: 1, Type: "ed25519", Key: base64.StdEncoding.EncodeToString(raw)})
}

// SaveEncKey writes the key to path with mode 0600, refusing to overwrite.
func SaveEncKey(path string, k *EncKey) error {
	raw, err := k.priv.Bytes()
	if err != nil {
		return fmt.Errorf("save encryption key: %w", err)
	}
	return writeKeyFile(path, keyFile{Version: 1, Type: fmt.Sprintf("hpke-kem-%#04x", k.KEM()), Key: base64.StdEncoding.EncodeToString(raw)})
}

// LoadNodeKey reads a key written by SaveNodeKey. A file readable by group
// or others is refused.
func LoadNodeKey(path string) (*NodeKey, error) {
	kf, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	if kf.Type == keyTypeToken && kf.Token != nil {
		return nil, fmt.Errorf("node key %s: %w %q (module %s)", path, ErrTokenKey, kf.Token.Token, kf.Token.Module)
	}
	if kf.Type != "ed25519" {
		return nil, fmt.Errorf("node key %s: %w: type %q", path, ErrUnsupportedSuite, kf.Type)
	}
	raw, err := base64.StdEncoding.DecodeString(kf.Key)
	if err != nil {
		return nil, fmt.Errorf("node key %s: %w", path, ErrMalformed)
	}
	priv, err := lcrypto.UnmarshalPrivateKey(raw)
	if err != nil {
		return nil, fmt.Errorf("node key %s: %w: %v", path, ErrMalformed, err)
	}
	return NodeKeyFromLibp2p(priv)
}

// LoadEncKey reads a key written by SaveEncKey.
func LoadEncKey(path string) (*EncKey, error) {
	kf, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	if kf.Type != fmt.Sprintf("hpke-kem-%#04x", hpkeKEM.ID()) {
		return nil, fmt.Errorf("encryption key %s: %w: type %q", path, ErrUnsupportedSuite, kf.Type)
	}
	raw, err := base64.StdEncoding.DecodeString(kf.Key)
	if err != nil {
		return nil, fmt.Errorf("encryption key %s: %w", path, ErrMalformed)
	}
	priv, err := hpkeKEM.NewPrivateKey(raw)
	if err != nil {
		return nil, fmt.Errorf("encryption key %s: %w", path, ErrMalformed)
	}
	return &EncKey{priv: priv, pub: priv.PublicKey().Bytes()}, nil
}

func writeKeyFile(path string, kf keyFile) error {
	b, err := json.MarshalIndent(kf, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("key directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write key %s: %w", path, err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("write key %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write key %s: %w", path, err)
	}
	return f.Close()
}

func readKeyFile(path string) (keyFile, error) {
	var kf keyFile
	st, err := os.Stat(path)
	if err != nil {
		return kf, fmt.Errorf("read key: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return kf, fmt.Errorf("key %s has mode %v: %w; run chmod 600 %s", path, st.Mode().Perm(), ErrKeyPermissions, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return kf, fmt.Errorf("read key: %w", err)
	}
	if err := json.Unmarshal(b, &kf); err != nil {
		return kf, fmt.Errorf("key %s: %w: %v", path, ErrMalformed, err)
	}
	if kf.Version != 1 {
		return kf, fmt.Errorf("key %s: %w: version %d", path, ErrMalformed, kf.Version)
	}
	return kf, nil
}
