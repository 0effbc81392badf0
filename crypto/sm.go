package crypto

// The national cryptography suite (SuiteSM): SM2 signatures (GB/T
// 32918.2) with the standard's default user ID, SM2 public-key encryption
// (GB/T 32918.4) as the key-encapsulation step of key wrapping, SM3 (GB/T
// 32905) for hashes, and SM4 (GB/T 32907) in GCM mode for sealing.
//
// The primitives come from github.com/emmansun/gmsm, which says of itself
// that it is not a certified implementation. Every private-key operation
// is reached through Signer and Decrypter only, so that a certified
// device (a GM/T 0018 cipher machine or a USB key behind PKCS#11) can
// replace SM2Key and SM2EncKey without touching a caller.

import (
	"bytes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/hkdf"
	"crypto/rand"
	"fmt"
	"io"
	"math/big"

	"github.com/emmansun/gmsm/kdf"
	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/sm4"
	lcrypto "github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/crypto/pb"
)

// SM2UserID is the signer identity (IDA) bound into every SM2 signature
// of this suite: the default user ID of GM/T 0009-2012 §10,
// "1234567812345678". A court's certified device must use the same.
const SM2UserID = "1234567812345678"

// KeyTypeSM2 is the in-memory key type an SM2 public key reports through
// libp2p's PubKey interface. It is not a libp2p key type: an SM2 key is
// never marshalled by libp2p (certificates and identities encode it
// themselves, see marshalSigningKey) and never a peer ID.
const KeyTypeSM2 pb.KeyType = 0x534d32

// KEMSM2 names SuiteSM's key wrapping (SM2 encryption of a fresh secret,
// SM3 KDF, SM4-GCM) in a certificate's encryption_kem field. It is a
// courtmesh identifier, not an HPKE KEM id registered with IANA, chosen
// outside the range the HPKE registry uses.
const KEMSM2 uint16 = 0x5332

// sm2PointSize is the size of an uncompressed SM2 point: 0x04 || X || Y.
const sm2PointSize = 65

// sm2CiphertextSize is the size of the SM2 ciphertext of a 32-byte secret
// in C1 || C3 || C2 order with C1 uncompressed (GB/T 32918.4 §6.1).
const sm2CiphertextSize = sm2PointSize + 32 + 32

// SM2PublicKey is an SM2 public key. It implements libp2p's PubKey so
// that certificates and Signer.Public carry it like an Ed25519 key.
type SM2PublicKey struct {
	pub *ecdsa.PublicKey
}

var _ lcrypto.PubKey = (*SM2PublicKey)(nil)

// ParseSM2PublicKey decodes an uncompressed point (0x04 || X || Y) on the
// SM2 curve.
func ParseSM2PublicKey(b []byte) (*SM2PublicKey, error) {
	if len(b) != sm2PointSize || b[0] != 4 {
		return nil, fmt.Errorf("sm2 public key: %w: want a %d-byte uncompressed point", ErrMalformed, sm2PointSize)
	}
	c := sm2.P256()
	x, y := new(big.Int).SetBytes(b[1:33]), new(big.Int).SetBytes(b[33:])
	p := c.Params().P
	if x.Cmp(p) >= 0 || y.Cmp(p) >= 0 || !c.IsOnCurve(x, y) {
		return nil, fmt.Errorf("sm2 public key: %w: not a point on the SM2 curve", ErrMalformed)
	}
	return &SM2PublicKey{pub: &ecdsa.PublicKey{Curve: c, X: x, Y: y}}, nil
}

// Raw returns the uncompressed point.
func (k *SM2PublicKey) Raw() ([]byte, error) { return sm2Point(k.pub), nil }

// Type returns KeyTypeSM2.
func (k *SM2PublicKey) Type() pb.KeyType { return KeyTypeSM2 }

// Equals reports whether o is the same SM2 key.
func (k *SM2PublicKey) Equals(o lcrypto.Key) bool {
	ok, isSM2 := o.(*SM2PublicKey)
	return isSM2 && bytes.Equal(sm2Point(k.pub), sm2Point(ok.pub))
}

// Verify checks an ASN.1 SM2 signature over data with SM2UserID.
func (k *SM2PublicKey) Verify(data, sig []byte) (bool, error) {
	return sm2.VerifyASN1WithSM2(k.pub, []byte(SM2UserID), data, sig), nil
}

func sm2Point(p *ecdsa.PublicKey) []byte {
	b := make([]byte, sm2PointSize)
	b[0] = 4
	p.X.FillBytes(b[1:33])
	p.Y.FillBytes(b[33:])
	return b
}

// sm2Scalar checks d is a valid SM2 private scalar (1 <= d <= n-2) and
// returns the key.
func sm2FromScalar(d *big.Int) (*sm2.PrivateKey, error) {
	c := sm2.P256()
	nMinus1 := new(big.Int).Sub(c.Params().N, big.NewInt(1))
	if d.Sign() <= 0 || d.Cmp(nMinus1) >= 0 {
		return nil, fmt.Errorf("sm2 private key: %w: scalar out of range", ErrMalformed)
	}
	priv := new(sm2.PrivateKey)
	priv.Curve = c
	priv.D = new(big.Int).Set(d)
	priv.X, priv.Y = c.ScalarBaseMult(d.FillBytes(make([]byte, 32)))
	return priv, nil
}

// deriveSM2 derives an SM2 private key deterministically from ikm (SM3
// KDF of GB/T 32918.4 §5.4.3, reduced into [1, n-2]). It exists for
// frozen vectors and reproducible fixtures; a node's real keys come from
// GenerateSM2Key and GenerateSM2EncKey.
func deriveSM2(ikm []byte) (*sm2.PrivateKey, error) {
	n := sm2.P256().Params().N
	d := new(big.Int).SetBytes(kdf.Kdf(sm3.New(), append([]byte("courtmesh sm2 derive v1\x00"), ikm...), 40))
	d.Mod(d, new(big.Int).Sub(n, big.NewInt(2)))
	return sm2FromScalar(d.Add(d, big.NewInt(1)))
}

// SM2Key is an SM2 signing key held in memory (a file). It signs records
// and certificates under SuiteSM. Under SuiteSM the node's libp2p identity
// stays its Ed25519 NodeKey (libp2p has no SM2 key type); the certificate
// binds both.
type SM2Key struct {
	priv *sm2.PrivateKey
	pub  *SM2PublicKey
}

var _ Signer = (*SM2Key)(nil)

// GenerateSM2Key makes a fresh SM2 signing key.
func GenerateSM2Key() (*SM2Key, error) {
	priv, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate sm2 key: %w", err)
	}
	return newSM2Key(priv), nil
}

func newSM2Key(priv *sm2.PrivateKey) *SM2Key {
	return &SM2Key{priv: priv, pub: &SM2PublicKey{pub: &priv.PublicKey}}
}

// Suite implements Signer.
func (k *SM2Key) Suite() Suite { return SuiteSM }

// Public implements Signer.
func (k *SM2Key) Public() lcrypto.PubKey { return k.pub }

// Sign implements Signer: an ASN.1 SM2 signature with SM2UserID.
func (k *SM2Key) Sign(msg []byte) ([]byte, error) {
	sig, err := k.priv.Sign(rand.Reader, msg, sm2.NewSM2SignerOption(true, []byte(SM2UserID)))
	if err != nil {
		return nil, fmt.Errorf("sm2 sign: %w", err)
	}
	return sig, nil
}

// SM2EncKey is a node's SM2 decryption key under SuiteSM.
type SM2EncKey struct {
	priv *sm2.PrivateKey
}

var _ Decrypter = (*SM2EncKey)(nil)

// GenerateSM2EncKey makes a fresh SM2 encryption key.
func GenerateSM2EncKey() (*SM2EncKey, error) {
	priv, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate sm2 encryption key: %w", err)
	}
	return &SM2EncKey{priv: priv}, nil
}

// KEM implements Decrypter.
func (k *SM2EncKey) KEM() uint16 { return KEMSM2 }

// PublicKey implements Decrypter: the uncompressed point.
func (k *SM2EncKey) PublicKey() []byte { return sm2Point(&k.priv.PublicKey) }

// Open implements Decrypter for a ciphertext made by wrapSM2.
func (k *SM2EncKey) Open(info, ciphertext []byte) ([]byte, error) {
	if len(ciphertext) < sm2CiphertextSize+16 {
		return nil, fmt.Errorf("open wrapped key: %w", ErrBadSignature)
	}
	kemCT := ciphertext[:sm2CiphertextSize]
	z, err := sm2.Decrypt(k.priv, kemCT)
	if err != nil || len(z) != 32 {
		return nil, fmt.Errorf("open wrapped key: %w", ErrBadSignature)
	}
	aead, err := sm2WrapAEAD(z, kemCT, info)
	if err != nil {
		return nil, err
	}
	pt, err := aead.Open(nil, make([]byte, aead.NonceSize()), ciphertext[sm2CiphertextSize:], info)
	if err != nil {
		return nil, fmt.Errorf("open wrapped key: %w", ErrBadSignature)
	}
	return pt, nil
}

// wrapSM2 seals plaintext to the SM2 public key pub, bound to info:
//
//	z      = 32 random bytes
//	C      = SM2-Encrypt(pub, z), C1 || C3 || C2, C1 uncompressed (129 bytes)
//	kek    = SM3-KDF("courtmesh sm2 wrap v1" || 0 || z || C || info, 16)
//	output = C || SM4-GCM(kek, nonce = 0^12, plaintext, aad = info)
//
// The KEK is used once (z is fresh), so the fixed nonce is safe.
func wrapSM2(random io.Reader, pub, info, plaintext []byte) ([]byte, error) {
	pk, err := ParseSM2PublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("wrap: recipient key: %w", err)
	}
	z := make([]byte, 32)
	if _, err := io.ReadFull(random, z); err != nil {
		return nil, fmt.Errorf("wrap: %w", err)
	}
	kemCT, err := sm2.Encrypt(random, pk.pub, z, sm2.NewPlainEncrypterOpts(sm2.MarshalUncompressed, sm2.C1C3C2))
	if err != nil {
		return nil, fmt.Errorf("wrap: sm2 encrypt: %w", err)
	}
	if len(kemCT) != sm2CiphertextSize {
		return nil, fmt.Errorf("wrap: sm2 ciphertext of %d bytes, want %d", len(kemCT), sm2CiphertextSize)
	}
	aead, err := sm2WrapAEAD(z, kemCT, info)
	if err != nil {
		return nil, err
	}
	return aead.Seal(kemCT, make([]byte, aead.NonceSize()), plaintext, info), nil
}

func sm2WrapAEAD(z, kemCT, info []byte) (cipher.AEAD, error) {
	in := append([]byte("courtmesh sm2 wrap v1\x00"), z...)
	in = append(in, kemCT...)
	in = append(in, info...)
	return newSM4GCM(kdf.Kdf(sm3.New(), in, 16))
}

func newSM4GCM(key []byte) (cipher.AEAD, error) {
	block, err := sm4.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// sm4FieldAEAD is SuiteSM's AEAD of a sealed field: SM4-GCM under
// HKDF-SM3(dataKey, info = "courtmesh field v1" || label), 16 bytes.
func sm4FieldAEAD(k DataKey, label string) (cipher.AEAD, error) {
	sub, err := hkdf.Key(sm3.New, k[:], nil, "courtmesh field v1"+label, 16)
	if err != nil {
		return nil, err
	}
	return newSM4GCM(sub)
}

// sm4DocumentAEAD is SuiteSM's chunk AEAD of a document: SM4-GCM under
// HKDF-SM3(dataKey, info = "courtmesh chunk v1" || documentID), 16 bytes.
func sm4DocumentAEAD(k DataKey, id DocumentID) (cipher.AEAD, error) {
	sub, err := hkdf.Key(sm3.New, k[:], nil, "courtmesh chunk v1"+string(id[:]), 16)
	if err != nil {
		return nil, fmt.Errorf("derive document key: %w", err)
	}
	return newSM4GCM(sub)
}

// SuiteOfKey returns the suite whose signatures the public key pub
// verifies: SuiteV1 for Ed25519, SuiteSM for SM2.
func SuiteOfKey(pub lcrypto.PubKey) (Suite, error) {
	if _, ok := pub.(*SM2PublicKey); ok {
		return SuiteSM, nil
	}
	if pub != nil && pub.Type() == lcrypto.Ed25519 {
		return SuiteV1, nil
	}
	return 0, fmt.Errorf("signing key: %w: no suite signs with this key type", ErrUnsupportedSuite)
}

// marshalSigningKey encodes a signing public key for a certificate or an
// identity: libp2p's marshalled form for Ed25519 (SuiteV1, unchanged), the
// uncompressed point for SM2 (SuiteSM).
func marshalSigningKey(pub lcrypto.PubKey) ([]byte, error) {
	if k, ok := pub.(*SM2PublicKey); ok {
		return k.Raw()
	}
	return lcrypto.MarshalPublicKey(pub)
}

// unmarshalSigningKey decodes a signing key of suite s written by
// marshalSigningKey.
func unmarshalSigningKey(s Suite, b []byte) (lcrypto.PubKey, error) {
	switch s {
	case SuiteSM:
		return ParseSM2PublicKey(b)
	case SuiteV1:
		k, err := lcrypto.UnmarshalPublicKey(b)
		if err != nil {
			return nil, err
		}
		if k.Type() != lcrypto.Ed25519 {
			return nil, fmt.Errorf("signing key type %v: %w", k.Type(), ErrUnsupportedSuite)
		}
		return k, nil
	}
	return nil, s.check()
}

// kemOf is the encryption KEM a suite uses.
func kemOf(s Suite) uint16 {
	if s == SuiteSM {
		return KEMSM2
	}
	return hpkeKEM.ID()
}
