package crypto

import (
	"encoding/base64"
	"fmt"
	"math/big"
)

// Key file types of SuiteSM (keyFile.Type).
const (
	keyTypeSM2Sign = "sm2"
	keyTypeSM2Enc  = "sm2-enc"
)

// SignKeyFile is the file of a node's SM2 signing key under SuiteSM (its
// node.key stays the Ed25519 libp2p key).
const SignKeyFile = "sign.key"

// SaveSM2Key writes an SM2 signing key to path with mode 0600, refusing
// to overwrite.
func SaveSM2Key(path string, k *SM2Key) error {
	return writeKeyFile(path, keyFile{Version: 1, Type: keyTypeSM2Sign, Key: base64.StdEncoding.EncodeToString(k.priv.D.FillBytes(make([]byte, 32)))})
}

// SaveSM2EncKey writes an SM2 encryption key to path with mode 0600,
// refusing to overwrite.
func SaveSM2EncKey(path string, k *SM2EncKey) error {
	return writeKeyFile(path, keyFile{Version: 1, Type: keyTypeSM2Enc, Key: base64.StdEncoding.EncodeToString(k.priv.D.FillBytes(make([]byte, 32)))})
}

func sm2KeyFromFile(path string, kf keyFile) (*SM2Key, error) {
	raw, err := base64.StdEncoding.DecodeString(kf.Key)
	if err != nil || len(raw) != 32 {
		return nil, fmt.Errorf("key %s: %w: want 32 bytes of base64", path, ErrMalformed)
	}
	priv, err := sm2FromScalar(new(big.Int).SetBytes(raw))
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", path, err)
	}
	return newSM2Key(priv), nil
}

// LoadSigner reads a signing key file of either suite: an Ed25519 node
// key (SuiteV1) or an SM2 signing key (SuiteSM).
func LoadSigner(path string) (Signer, error) {
	kf, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	switch kf.Type {
	case keyTypeSM2Sign:
		return sm2KeyFromFile(path, kf)
	case "ed25519":
		return LoadNodeKey(path)
	}
	return nil, fmt.Errorf("signing key %s: %w: type %q", path, ErrUnsupportedSuite, kf.Type)
}

// LoadDecrypter reads an encryption key file of either suite: an HPKE key
// (SuiteV1) or an SM2 encryption key (SuiteSM).
func LoadDecrypter(path string) (Decrypter, error) {
	kf, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	if kf.Type == keyTypeSM2Enc {
		k, err := sm2KeyFromFile(path, kf)
		if err != nil {
			return nil, err
		}
		return &SM2EncKey{priv: k.priv}, nil
	}
	return LoadEncKey(path)
}

// GenerateSigner makes a fresh signing key of suite s.
func GenerateSigner(s Suite) (Signer, error) {
	switch s {
	case SuiteV1:
		return GenerateNodeKey()
	case SuiteSM:
		return GenerateSM2Key()
	}
	return nil, s.check()
}

// SaveSigner writes a signing key made by GenerateSigner (0600, never
// overwriting).
func SaveSigner(path string, s Signer) error {
	switch k := s.(type) {
	case *NodeKey:
		return SaveNodeKey(path, k)
	case *SM2Key:
		return SaveSM2Key(path, k)
	}
	return fmt.Errorf("save signing key %s: %w: a %T is not kept in a file", path, ErrUnsupportedSuite, s)
}

// GenerateDecrypter makes a fresh encryption key of suite s.
func GenerateDecrypter(s Suite) (Decrypter, error) {
	switch s {
	case SuiteV1:
		return GenerateEncKey()
	case SuiteSM:
		return GenerateSM2EncKey()
	}
	return nil, s.check()
}

// SaveDecrypter writes an encryption key made by GenerateDecrypter.
func SaveDecrypter(path string, d Decrypter) error {
	switch k := d.(type) {
	case *EncKey:
		return SaveEncKey(path, k)
	case *SM2EncKey:
		return SaveSM2EncKey(path, k)
	}
	return fmt.Errorf("save encryption key %s: %w: a %T is not kept in a file", path, ErrUnsupportedSuite, d)
}
