package crypto

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"

	lcrypto "github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"courtmesh.dev/courtmesh/court"
)

// IdentityVersion is the identity file version this build writes.
//
// Version 1 (unsigned public keys) is still read, so that an old
// identity.json can be challenged and re-proved, but a certificate
// authority certifies only version 2: signed by the node key, carrying a
// proof of possession of the encryption key.
const IdentityVersion = 2

// Identity is the public half of a node's keys: what `courtmesh init`
// prints and sends to the certificate authority.
type Identity struct {
	PeerID     peer.ID
	SigningKey lcrypto.PubKey
	EncKEM     uint16
	EncKey     []byte

	// Version is the file version it was read from; zero for an identity
	// built in memory and not yet signed.
	Version int
	// Proof is the proof of possession of EncKey, nil until the holder has
	// answered an authority's challenge (see ProvePossession).
	Proof *PossessionProof
	// Signature is the node key's signature over every field above (see
	// identityTBS); nil for a version 1 identity.
	Signature []byte
	// PeerSignature is, under SuiteSM only, the Ed25519 transport key's
	// signature over the same fields (payload type
	// identityPeerPayloadType): the SM2 signing key and the libp2p key
	// each vouch for the other. Nil under SuiteV1, where they are one key.
	PeerSignature []byte
}

// Suite is the algorithm suite of the identity's signing key.
func (id *Identity) Suite() Suite {
	s, err := SuiteOfKey(id.SigningKey)
	if err != nil {
		return 0
	}
	return s
}

// TransportSigner is a Signer that also holds the node's libp2p transport
// key (its peer ID). Under SuiteV1 they are one key (NodeKey); under
// SuiteSM the signer is SM2 and the transport key Ed25519: pair them with
// WithTransport.
type TransportSigner interface {
	Signer
	// Transport returns the node's libp2p key.
	Transport() *NodeKey
}

// Transport implements TransportSigner: a NodeKey is its own transport key.
func (k *NodeKey) Transport() *NodeKey { return k }

type pairedSigner struct {
	Signer
	t *NodeKey
}

func (p pairedSigner) Transport() *NodeKey { return p.t }

// WithTransport pairs a record signer with the node's transport key.
func WithTransport(s Signer, t *NodeKey) TransportSigner { return pairedSigner{Signer: s, t: t} }

// transportOf returns the transport key of s (nil if s does not carry one).
func transportOf(s Signer) *NodeKey {
	if ts, ok := s.(TransportSigner); ok {
		return ts.Transport()
	}
	return nil
}

// PossessionProof answers one authority's PossessionChallenge: the
// authority's certificate serial and an HMAC keyed by the secret the
// challenge sealed to the encryption key.
type PossessionProof struct {
	Authority uint64
	MAC       []byte
}

// NewIdentity collects the public keys of a node. The result is not
// signed: see SignIdentity and ProvePossession.
func NewIdentity(s Signer, d Decrypter) (*Identity, error) {
	id := &Identity{SigningKey: s.Public()}
	suite, err := SuiteOfKey(s.Public())
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	pk := s.Public()
	if suite != SuiteV1 {
		t := transportOf(s)
		if t == nil && d == nil {
			// An offline issuing key of suite sm: no peer, no transport key.
			return id, nil
		}
		if t == nil {
			return nil, fmt.Errorf("identity: %w: a suite %s signer needs the node's Ed25519 transport key (crypto.WithTransport)", ErrMalformed, suite.Name())
		}
		pk = t.Public()
	}
	if id.PeerID, err = peer.IDFromPublicKey(pk); err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	if d != nil {
		id.EncKEM, id.EncKey = d.KEM(), d.PublicKey()
	}
	return id, nil
}

// identityPayloadType is the envelope payload type an identity signature
// is made under (crypto.Seal, signer serial 0: not certified yet).
const identityPayloadType = "courtmesh/identity/v2"

// identityPeerPayloadType is the payload type of the transport key's
// signature over an identity of SuiteSM.
const identityPeerPayloadType = "courtmesh/identity-peer/v2"

// identityTBS is the canonical encoding the node key signs: every field
// length-prefixed (unsigned varint), the proof included.
func identityTBS(id *Identity) ([]byte, error) {
	sk, err := marshalSigningKey(id.SigningKey)
	if err != nil {
		return nil, err
	}
	b := appendField(nil, []byte(id.PeerID))
	b = appendField(b, sk)
	b = binary.AppendUvarint(b, uint64(id.EncKEM))
	b = appendField(b, id.EncKey)
	if id.Proof != nil {
		b = append(b, 1)
		b = binary.AppendUvarint(b, id.Proof.Authority)
		b = appendField(b, id.Proof.MAC)
	} else {
		b = append(b, 0)
	}
	return b, nil
}

func appendField(b, f []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(f)))
	return append(b, f...)
}

// SignIdentity returns the identity of s and d, with proof (may be nil),
// signed by s.
func SignIdentity(s Signer, d Decrypter, proof *PossessionProof) (*Identity, error) {
	id, err := NewIdentity(s, d)
	if err != nil {
		return nil, err
	}
	id.Proof = proof
	tbs, err := identityTBS(id)
	if err != nil {
		return nil, fmt.Errorf("sign identity: %w", err)
	}
	env, err := Seal(s, 0, identityPayloadType, tbs)
	if err != nil {
		return nil, fmt.Errorf("sign identity: %w", err)
	}
	id.Version, id.Signature = IdentityVersion, env.Signature
	if s.Suite() != SuiteV1 && id.PeerID != "" {
		penv, err := Seal(transportOf(s), 0, identityPeerPayloadType, tbs)
		if err != nil {
			return nil, fmt.Errorf("sign identity with the transport key: %w", err)
		}
		id.PeerSignature = penv.Signature
	}
	return id, nil
}

// ErrIdentityUnsigned: an identity without the node key's signature
// (version 1, from a build before signed identities) (court.ErrInvalid).
var ErrIdentityUnsigned = kind(court.ErrInvalid, "identity is not signed by its node key")

// ErrNoPossessionProof: an identity whose encryption key carries no valid
// proof of possession for this authority (court.ErrInvalid).
var ErrNoPossessionProof = kind(court.ErrInvalid, "no valid proof of possession of the encryption key")

// VerifySignature checks the node key's signature over the identity.
func (id *Identity) VerifySignature() error {
	if len(id.Signature) == 0 {
		return fmt.Errorf("identity %s (version %d): %w", id.PeerID, id.Version, ErrIdentityUnsigned)
	}
	tbs, err := identityTBS(id)
	if err != nil {
		return fmt.Errorf("identity %s: %w: %v", id.PeerID, ErrMalformed, err)
	}
	suite, err := SuiteOfKey(id.SigningKey)
	if err != nil {
		return fmt.Errorf("identity %s: %w", id.PeerID, err)
	}
	env := &Envelope{Suite: suite, PayloadType: identityPayloadType, Payload: tbs, Signature: id.Signature}
	if err := env.VerifyWith(id.SigningKey, identityPayloadType); err != nil {
		return fmt.Errorf("identity %s: %w", id.PeerID, err)
	}
	if suite == SuiteV1 || (id.PeerID == "" && len(id.EncKey) == 0 && len(id.PeerSignature) == 0) {
		return nil // v1, or an offline issuing key of suite sm
	}
	pk, err := id.PeerID.ExtractPublicKey()
	if err != nil || len(id.PeerSignature) == 0 {
		return fmt.Errorf("identity %s: %w: no signature of its transport key", id.PeerID, ErrBadSignature)
	}
	penv := &Envelope{Suite: SuiteV1, PayloadType: identityPeerPayloadType, Payload: tbs, Signature: id.PeerSignature}
	if err := penv.VerifyWith(pk, identityPeerPayloadType); err != nil {
		return fmt.Errorf("identity %s: transport key: %w", id.PeerID, err)
	}
	return nil
}

// identityJSON is the versioned file form of an Identity.
type identityJSON struct {
	Version    int        `json:"version"`
	PeerID     string     `json:"peer_id"`
	SigningKey string     `json:"signing_key"`
	EncKEM     uint16     `json:"encryption_kem,omitempty"`
	EncKey     string     `json:"encryption_key,omitempty"`
	Proof      *proofJSON `json:"possession_proof,omitempty"`
	Signature  string     `json:"signature,omitempty"`
	// Suite and PeerSignature are written for SuiteSM only.
	Suite         string `json:"suite,omitempty"`
	PeerSignature string `json:"peer_signature,omitempty"`
}

type proofJSON struct {
	Authority uint64 `json:"authority_serial"`
	MAC       string `json:"mac"`
}

// MarshalJSON implements json.Marshaler. An identity with a signature is
// written as version 2, one without as version 1 (the old unsigned form).
func (id *Identity) MarshalJSON() ([]byte, error) {
	sk, err := marshalSigningKey(id.SigningKey)
	if err != nil {
		return nil, err
	}
	j := identityJSON{Version: 1, PeerID: id.PeerID.String(), SigningKey: base64.StdEncoding.EncodeToString(sk), EncKEM: id.EncKEM}
	if len(id.EncKey) > 0 {
		j.EncKey = base64.StdEncoding.EncodeToString(id.EncKey)
	}
	if len(id.Signature) > 0 {
		j.Version, j.Signature = IdentityVersion, base64.StdEncoding.EncodeToString(id.Signature)
		if id.Proof != nil {
			j.Proof = &proofJSON{Authority: id.Proof.Authority, MAC: base64.StdEncoding.EncodeToString(id.Proof.MAC)}
		}
		if s := id.Suite(); s != SuiteV1 {
			j.Suite, j.PeerSignature = s.Name(), base64.StdEncoding.EncodeToString(id.PeerSignature)
			if id.PeerID == "" {
				j.PeerID = ""
			}
		}
	} else if id.Proof != nil {
		return nil, fmt.Errorf("identity %s: %w: a proof of possession without a signature", id.PeerID, ErrMalformed)
	}
	return json.Marshal(j)
}

// UnmarshalJSON implements json.Unmarshaler and checks that the peer ID
// matches the signing key. It reads versions 1 and 2; it does not verify
// a version 2 signature (see VerifySignature).
func (id *Identity) UnmarshalJSON(b []byte) error {
	var j identityJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("identity: %w: %v", ErrMalformed, err)
	}
	if j.Version != 1 && j.Version != 2 {
		return fmt.Errorf("identity: %w: version %d (this build reads 1 and 2)", ErrMalformed, j.Version)
	}
	var pid peer.ID
	var err error
	if j.PeerID != "" || j.Suite == "" {
		if pid, err = peer.Decode(j.PeerID); err != nil {
			return fmt.Errorf("identity: %w: peer id: %v", ErrMalformed, err)
		}
	} else if j.EncKey != "" {
		return fmt.Errorf("identity: %w: an encryption key without a peer id", ErrMalformed)
	}
	skb, err := base64.StdEncoding.DecodeString(j.SigningKey)
	if err != nil {
		return fmt.Errorf("identity: %w: signing key", ErrMalformed)
	}
	suite := SuiteV1
	if j.Suite != "" {
		if j.Version != 2 {
			return fmt.Errorf("identity: %w: a suite is named only in version 2", ErrMalformed)
		}
		if suite, err = ParseSuite(j.Suite); err != nil || suite == SuiteV1 {
			return fmt.Errorf("identity: %w: suite %q", ErrMalformed, j.Suite)
		}
	}
	sk, err := unmarshalSigningKey(suite, skb)
	if err != nil {
		return fmt.Errorf("identity: %w: signing key: %v", ErrMalformed, err)
	}
	if pid != "" {
		if err := checkPeerBinding(suite, pid, sk); err != nil {
			return fmt.Errorf("identity: %w: %v", ErrMalformed, err)
		}
	}
	var ek []byte
	if j.EncKey != "" {
		if ek, err = base64.StdEncoding.DecodeString(j.EncKey); err != nil {
			return fmt.Errorf("identity: %w: encryption key", ErrMalformed)
		}
		if j.EncKEM != kemOf(suite) {
			return fmt.Errorf("identity: %w: KEM %#x", ErrUnsupportedSuite, j.EncKEM)
		}
		if err := checkEncKey(suite, ek); err != nil {
			return fmt.Errorf("identity: %w: encryption key: %v", ErrMalformed, err)
		}
	}
	out := Identity{PeerID: pid, SigningKey: sk, EncKEM: j.EncKEM, EncKey: ek, Version: j.Version}
	switch j.Version {
	case 1:
		if j.Signature != "" || j.Proof != nil {
			return fmt.Errorf("identity: %w: version 1 carries no signature or proof", ErrMalformed)
		}
	case 2:
		if out.Signature, err = base64.StdEncoding.DecodeString(j.Signature); err != nil || len(out.Signature) == 0 {
			return fmt.Errorf("identity: %w: version 2 without a valid signature field", ErrMalformed)
		}
		if j.Proof != nil {
			mac, err := base64.StdEncoding.DecodeString(j.Proof.MAC)
			if err != nil || len(mac) != sha256.Size || j.Proof.Authority == 0 {
				return fmt.Errorf("identity: %w: possession proof", ErrMalformed)
			}
			out.Proof = &PossessionProof{Authority: j.Proof.Authority, MAC: mac}
		}
		if suite != SuiteV1 && pid != "" {
			if out.PeerSignature, err = base64.StdEncoding.DecodeString(j.PeerSignature); err != nil || len(out.PeerSignature) == 0 {
				return fmt.Errorf("identity: %w: suite %s without a valid peer_signature field", ErrMalformed, suite.Name())
			}
		} else if j.PeerSignature != "" {
			return fmt.Errorf("identity: %w: peer_signature outside suite sm", ErrMalformed)
		}
	}
	*id = out
	return nil
}

// Proof of possession of the encryption key.
//
// A KEM key cannot sign, and an HPKE public key alone lets anyone seal to
// it, so nothing the holder computes alone proves it holds the private
// key. The proof is therefore one offline round trip (RFC 4210's
// challenge-response proof of possession for encryption keys):
//
//  1. The authority derives a secret r = HMAC(authority PoP key, identity
//     digest) and seals r to the identity's encryption key with HPKE, info
//     bound to the authority serial and the identity digest
//     (NewPossessionChallenge). The authority keeps no per-challenge state.
//  2. The node checks the challenge names its own peer ID and keys, opens
//     it, and writes a signed identity whose proof is
//     HMAC(r, domain || authority serial || identity digest)
//     (ProvePossession). r itself never leaves the node.
//  3. The authority recomputes r and the MAC and compares
//     (CheckPossession), and checks the node key's signature over the
//     whole identity, proof included.
//
// Only the holder of the decryption key (or of the authority's PoP key)
// can learn r, the MAC binds the proof to one peer ID, one encryption key
// and one authority, and the signature binds both keys to the node key.

const (
	popInfoDomain = "courtmesh/possession-challenge/v1"
	popMACDomain  = "courtmesh/possession-proof/v1"
	popSecretDom  = "courtmesh/possession-secret/v1"
)

// identityDigest is SHA-256 over the public keys the proof covers.
func identityDigest(id *Identity) [sha256.Size]byte {
	b := appendField(nil, []byte(id.PeerID))
	b = binary.AppendUvarint(b, uint64(id.EncKEM))
	b = appendField(b, id.EncKey)
	return sha256.Sum256(b)
}

func popContext(domain string, authority uint64, d [sha256.Size]byte) []byte {
	b := appendField(nil, []byte(domain))
	b = binary.AppendUvarint(b, authority)
	return append(b, d[:]...)
}

// PossessionSecret derives the secret an authority seals to id's
// encryption key from the authority's PoP key (32 random bytes it keeps).
func PossessionSecret(popKey []byte, authority uint64, id *Identity) []byte {
	m := hmac.New(sha256.New, popKey)
	m.Write(popContext(popSecretDom, authority, identityDigest(id)))
	return m.Sum(nil)
}

func possessionMAC(secret []byte, authority uint64, id *Identity) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write(popContext(popMACDomain, authority, identityDigest(id)))
	return m.Sum(nil)
}

// PossessionChallenge is the challenge an authority sends to a node: a
// secret sealed to the node's encryption key.
type PossessionChallenge struct {
	Authority uint64 // serial of the authority's certificate
	PeerID    peer.ID
	KeyDigest [sha256.Size]byte // identityDigest of the challenged identity
	Sealed    []byte            // HPKE enc || ciphertext of the secret
}

// NewPossessionChallenge seals secret (from PossessionSecret) to id's
// encryption key.
func NewPossessionChallenge(authority uint64, secret []byte, id *Identity) (*PossessionChallenge, error) {
	if len(id.EncKey) == 0 {
		return nil, fmt.Errorf("challenge %s: %w: the identity has no encryption key to prove", id.PeerID, ErrMalformed)
	}
	d := identityDigest(id)
	sealed, err := Wrap(id.EncKEM, id.EncKey, popContext(popInfoDomain, authority, d), secret)
	if err != nil {
		return nil, fmt.Errorf("challenge %s: %w", id.PeerID, err)
	}
	return &PossessionChallenge{Authority: authority, PeerID: id.PeerID, KeyDigest: d, Sealed: sealed}, nil
}

// ProvePossession answers ch with the node's keys and returns the signed
// identity carrying the proof. A challenge for another node's keys is
// refused (court.ErrInvalid) without being opened.
func ProvePossession(s Signer, d Decrypter, ch *PossessionChallenge) (*Identity, error) {
	id, err := NewIdentity(s, d)
	if err != nil {
		return nil, err
	}
	if ch.PeerID != id.PeerID || ch.KeyDigest != identityDigest(id) {
		return nil, court.Errorf(court.ErrInvalid, "the challenge is for node %s, not for this node (%s): ask the authority for a challenge made from this node's identity.json", ch.PeerID, id.PeerID)
	}
	secret, err := d.Open(popContext(popInfoDomain, ch.Authority, ch.KeyDigest), ch.Sealed)
	if err != nil {
		return nil, fmt.Errorf("open the challenge of authority %d: %w", ch.Authority, err)
	}
	return SignIdentity(s, d, &PossessionProof{Authority: ch.Authority, MAC: possessionMAC(secret, ch.Authority, id)})
}

// CheckPossession checks id's proof of possession against the secret the
// authority derives (PossessionSecret). It does not check the signature.
func (id *Identity) CheckPossession(authority uint64, secret []byte) error {
	if id.Proof == nil {
		return fmt.Errorf("identity %s: %w: it answers no challenge", id.PeerID, ErrNoPossessionProof)
	}
	if id.Proof.Authority != authority {
		return fmt.Errorf("identity %s: %w: it answers the challenge of authority %d, not %d", id.PeerID, ErrNoPossessionProof, id.Proof.Authority, authority)
	}
	if !hmac.Equal(id.Proof.MAC, possessionMAC(secret, authority, id)) {
		return fmt.Errorf("identity %s: %w: the answer does not match the challenge", id.PeerID, ErrNoPossessionProof)
	}
	return nil
}

// challengeJSON is the versioned file form of a PossessionChallenge.
type challengeJSON struct {
	Version   int    `json:"version"`
	Authority uint64 `json:"authority_serial"`
	PeerID    string `json:"peer_id"`
	KeyDigest string `json:"key_digest"`
	Sealed    string `json:"sealed"`
}

// MarshalJSON implements json.Marshaler.
func (ch *PossessionChallenge) MarshalJSON() ([]byte, error) {
	return json.Marshal(challengeJSON{Version: 1, Authority: ch.Authority, PeerID: ch.PeerID.String(),
		KeyDigest: base64.StdEncoding.EncodeToString(ch.KeyDigest[:]), Sealed: base64.StdEncoding.EncodeToString(ch.Sealed)})
}

// UnmarshalJSON implements json.Unmarshaler.
func (ch *PossessionChallenge) UnmarshalJSON(b []byte) error {
	var j challengeJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("challenge: %w: %v", ErrMalformed, err)
	}
	if j.Version != 1 {
		return fmt.Errorf("challenge: %w: version %d", ErrMalformed, j.Version)
	}
	pid, err := peer.Decode(j.PeerID)
	if err != nil {
		return fmt.Errorf("challenge: %w: peer id: %v", ErrMalformed, err)
	}
	d, err := base64.StdEncoding.DecodeString(j.KeyDigest)
	if err != nil || len(d) != sha256.Size {
		return fmt.Errorf("challenge: %w: key digest", ErrMalformed)
	}
	sealed, err := base64.StdEncoding.DecodeString(j.Sealed)
	if err != nil || len(sealed) == 0 {
		return fmt.Errorf("challenge: %w: sealed secret", ErrMalformed)
	}
	*ch = PossessionChallenge{Authority: j.Authority, PeerID: pid, Sealed: sealed}
	copy(ch.KeyDigest[:], d)
	return nil
}

// checkEncKey checks an encryption public key of suite s decodes.
func checkEncKey(s Suite, pub []byte) error {
	if s == SuiteSM {
		_, err := ParseSM2PublicKey(pub)
		return err
	}
	_, err := hpkeKEM.NewPublicKey(pub)
	return err
}
