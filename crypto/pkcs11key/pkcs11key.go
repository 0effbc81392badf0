//go:build cgo

package pkcs11key

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/asn1"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	lcrypto "github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/crypto/pb"
	"github.com/miekg/pkcs11"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
)

// PKCS#11 v3.0 values miekg/pkcs11 v1.1.2 does not name.
const (
	ckkECEdwards            = 0x40
	ckmECEdwardsKeyPairGen  = 0x1055
	ckmEdDSA                = 0x1057
	defaultKeyLabel         = "courtmesh node key"
	ed25519OIDDER           = "\x06\x03\x2b\x65\x70" // id-Ed25519 (RFC 8410)
	maxPINFile              = 256
	pkcs11UserAlreadyLogged = pkcs11.CKR_USER_ALREADY_LOGGED_IN
)

// modules holds one initialised context per module path: a PKCS#11
// module is initialised once per process (C_Initialize a second time
// fails), so contexts are shared and never finalised.
var (
	modulesMu sync.Mutex
	modules   = map[string]*pkcs11.Ctx{}
)

func module(path string) (*pkcs11.Ctx, error) {
	modulesMu.Lock()
	defer modulesMu.Unlock()
	if c, ok := modules[path]; ok {
		return c, nil
	}
	if _, err := os.Stat(path); err != nil {
		return nil, court.Errorf(court.ErrNotFound, "PKCS#11 module %s: %v", path, err)
	}
	c := pkcs11.New(path)
	if c == nil {
		return nil, court.Errorf(court.ErrInvalid, "PKCS#11 module %s does not load (not a PKCS#11 library?)", path)
	}
	if err := c.Initialize(); err != nil && !isCode(err, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		return nil, fmt.Errorf("PKCS#11 module %s: initialise: %w", path, err)
	}
	modules[path] = c
	return c, nil
}

func isCode(err error, code uint) bool {
	var e pkcs11.Error
	return errors.As(err, &e) && uint(e) == code
}

// pin reads the PIN from ref.PINFile or the environment.
func (r Ref) pin() (string, error) {
	if r.PINFile != "" {
		st, err := os.Stat(r.PINFile)
		if err != nil {
			return "", fmt.Errorf("PKCS#11 PIN file: %w", err)
		}
		if st.Mode().Perm()&0o077 != 0 {
			return "", fmt.Errorf("PIN file %s has mode %v: %w; run chmod 600 %s", r.PINFile, st.Mode().Perm(), crypto.ErrKeyPermissions, r.PINFile)
		}
		if st.Size() > maxPINFile {
			return "", court.Errorf(court.ErrInvalid, "PIN file %s is larger than a PIN", r.PINFile)
		}
		b, err := os.ReadFile(r.PINFile)
		if err != nil {
			return "", fmt.Errorf("PKCS#11 PIN file: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	if p, ok := os.LookupEnv(PINEnv); ok && p != "" {
		return p, nil
	}
	return "", ErrNoPIN
}

// session is one logged-in session on a token. PKCS#11 sessions are not
// safe for concurrent use, so every call holds mu.
type session struct {
	mu  sync.Mutex
	ctx *pkcs11.Ctx
	sh  pkcs11.SessionHandle
}

func open(r Ref) (*session, error) {
	c, err := module(r.Module)
	if err != nil {
		return nil, err
	}
	pin, err := r.pin()
	if err != nil {
		return nil, err
	}
	slots, err := c.GetSlotList(true)
	if err != nil {
		return nil, fmt.Errorf("PKCS#11 module %s: list slots: %w", r.Module, err)
	}
	var found []string
	for _, s := range slots {
		ti, err := c.GetTokenInfo(s)
		if err != nil {
			continue
		}
		label := strings.TrimRight(ti.Label, " \x00")
		found = append(found, label)
		if label != r.Token {
			continue
		}
		sh, err := c.OpenSession(s, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
		if err != nil {
			return nil, fmt.Errorf("PKCS#11 token %q: open a session: %w", r.Token, err)
		}
		if err := c.Login(sh, pkcs11.CKU_USER, pin); err != nil && !isCode(err, pkcs11UserAlreadyLogged) {
			c.CloseSession(sh)
			if isCode(err, pkcs11.CKR_PIN_INCORRECT) || isCode(err, pkcs11.CKR_PIN_LEN_RANGE) || isCode(err, pkcs11.CKR_PIN_INVALID) {
				return nil, fmt.Errorf("PKCS#11 token %q: %w; check the PIN file or %s (the token locks after too many wrong PINs)", r.Token, ErrPIN, PINEnv)
			}
			return nil, fmt.Errorf("PKCS#11 token %q: log in: %w", r.Token, err)
		}
		return &session{ctx: c, sh: sh}, nil
	}
	return nil, fmt.Errorf("PKCS#11 module %s: %w %q (tokens present: %q); check --pkcs11-token, or initialise the token first", r.Module, ErrNoToken, r.Token, found)
}

// Key is an Ed25519 private key in a token. It implements libp2p's
// PrivKey, so that crypto.NodeKeyFromLibp2p wraps it into the node key
// that signs records and is the libp2p identity; Raw fails, because the
// key never leaves the token.
type Key struct {
	s    *session
	priv pkcs11.ObjectHandle
	pub  lcrypto.PubKey
	ref  Ref
}

var _ lcrypto.PrivKey = (*Key)(nil)

// Generate makes a new Ed25519 key pair in the token and returns it. A
// key with the same label already in the token is refused
// (court.ErrConflict): a new key is a new identity.
func Generate(r Ref) (*Key, error) {
	if r.Label == "" {
		r.Label = defaultKeyLabel
	}
	s, err := open(r)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if h, err := s.find(pkcs11.CKO_PRIVATE_KEY, r.Label); err != nil {
		return nil, err
	} else if h != 0 {
		return nil, court.Errorf(court.ErrConflict, "PKCS#11 token %q already holds a key labelled %q; refusing to make another (use another --pkcs11-label, or remove it with the token's own tools)", r.Token, r.Label)
	}
	pubT := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, ckkECEdwards),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true),
		pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, []byte(ed25519OIDDER)),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, r.Label),
	}
	privT := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, ckkECEdwards),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, r.Label),
	}
	pubH, privH, err := s.ctx.GenerateKeyPair(s.sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(ckmECEdwardsKeyPairGen, nil)}, pubT, privT)
	if err != nil {
		return nil, fmt.Errorf("PKCS#11 token %q: generate an Ed25519 key (CKM_EC_EDWARDS_KEY_PAIR_GEN; SoftHSM2 2.5 or later): %w", r.Token, err)
	}
	pub, err := s.publicKey(pubH)
	if err != nil {
		return nil, err
	}
	return &Key{s: s, priv: privH, pub: pub, ref: r}, nil
}

// opened caches the keys Open found, so that loading a node's keys again
// in one process reuses its logged-in session.
var (
	openedMu sync.Mutex
	opened   = map[Ref]*Key{}
)

// Open finds the key r names in its token.
func Open(r Ref) (*Key, error) {
	if r.Label == "" {
		r.Label = defaultKeyLabel
	}
	openedMu.Lock()
	defer openedMu.Unlock()
	if k, ok := opened[r]; ok {
		return k, nil
	}
	k, err := openKey(r)
	if err != nil {
		return nil, err
	}
	opened[r] = k
	return k, nil
}

func openKey(r Ref) (*Key, error) {
	s, err := open(r)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	privH, err := s.find(pkcs11.CKO_PRIVATE_KEY, r.Label)
	if err != nil {
		return nil, err
	}
	pubH, err := s.find(pkcs11.CKO_PUBLIC_KEY, r.Label)
	if err != nil {
		return nil, err
	}
	if privH == 0 || pubH == 0 {
		return nil, court.Errorf(court.ErrNotFound, "PKCS#11 token %q holds no key pair labelled %q", r.Token, r.Label)
	}
	pub, err := s.publicKey(pubH)
	if err != nil {
		return nil, err
	}
	return &Key{s: s, priv: privH, pub: pub, ref: r}, nil
}

func (s *session) find(class uint, label string) (pkcs11.ObjectHandle, error) {
	if err := s.ctx.FindObjectsInit(s.sh, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, class),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
	}); err != nil {
		return 0, fmt.Errorf("PKCS#11: find %q: %w", label, err)
	}
	hs, _, err := s.ctx.FindObjects(s.sh, 2)
	if ferr := s.ctx.FindObjectsFinal(s.sh); err == nil {
		err = ferr
	}
	if err != nil {
		return 0, fmt.Errorf("PKCS#11: find %q: %w", label, err)
	}
	switch len(hs) {
	case 0:
		return 0, nil
	case 1:
		return hs[0], nil
	}
	return 0, court.Errorf(court.ErrConflict, "PKCS#11: more than one key labelled %q", label)
}

// publicKey reads CKA_EC_POINT: the 32-byte Ed25519 key, DER OCTET
// STRING-wrapped (as SoftHSM2 returns it) or raw.
func (s *session) publicKey(h pkcs11.ObjectHandle) (lcrypto.PubKey, error) {
	attrs, err := s.ctx.GetAttributeValue(s.sh, h, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_EC_POINT, nil)})
	if err != nil || len(attrs) != 1 {
		return nil, fmt.Errorf("PKCS#11: read the public key: %w", err)
	}
	point := attrs[0].Value
	if len(point) != ed25519.PublicKeySize {
		var raw []byte
		if rest, err := asn1.Unmarshal(point, &raw); err != nil || len(rest) != 0 || len(raw) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("PKCS#11: the public key is not an Ed25519 point (%d bytes)", len(point))
		}
		point = raw
	}
	return lcrypto.UnmarshalEd25519PublicKey(point)
}

// Ref returns the reference to the key (what node.key keeps).
func (k *Key) Ref() Ref { return k.ref }

// Sign signs msg with CKM_EDDSA (pure Ed25519) in the token.
func (k *Key) Sign(msg []byte) ([]byte, error) {
	k.s.mu.Lock()
	defer k.s.mu.Unlock()
	if err := k.s.ctx.SignInit(k.s.sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(ckmEdDSA, nil)}, k.priv); err != nil {
		return nil, fmt.Errorf("PKCS#11 sign: %w", err)
	}
	sig, err := k.s.ctx.Sign(k.s.sh, msg)
	if err != nil {
		return nil, fmt.Errorf("PKCS#11 sign: %w", err)
	}
	return sig, nil
}

// GetPublic returns the public key.
func (k *Key) GetPublic() lcrypto.PubKey { return k.pub }

// Type is Ed25519.
func (k *Key) Type() pb.KeyType { return pb.KeyType_Ed25519 }

// Raw does not return the private key, which never leaves the token. It
// returns a 32-byte secret only the token can produce: SHA-256 of the
// (deterministic, RFC 8032) Ed25519 signature of a fixed domain string.
// libp2p needs Raw for one thing, the secret its QUIC transport derives
// its stateless-reset and token keys from (HKDF over Raw); 32 bytes can
// never be mistaken for a marshalled Ed25519 private key (64 bytes), and
// crypto.SaveNodeKey refuses a token key.
func (k *Key) Raw() ([]byte, error) {
	sig, err := k.Sign([]byte(rawDomain))
	if err != nil {
		return nil, err
	}
	h := sha256.Sum256(sig)
	return h[:], nil
}

// rawDomain is the message Raw signs.
const rawDomain = "courtmesh/pkcs11/libp2p-secret/v1"

// Equals compares by public key (the private half cannot be read).
func (k *Key) Equals(o lcrypto.Key) bool {
	ok, isKey := o.(*Key)
	return isKey && k.pub.Equals(ok.pub)
}

// Available reports whether this build can use PKCS#11 tokens: true in a
// build with cgo.
const Available = true
