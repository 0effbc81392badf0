package crypto

import (
	"encoding/base64"
	"encoding/json"
	"fmt"

	lcrypto "github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Identity is the public half of a node's keys: what `courtmesh init`
// prints and sends to the certificate authority.
type Identity struct {
	PeerID     peer.ID
	SigningKey lcrypto.PubKey
	EncKEM     uint16
	EncKey     []byte
}

// NewIdentity collects the public keys of a node.
func NewIdentity(s Signer, d Decrypter) (*Identity, error) {
	id := &Identity{SigningKey: s.Public()}
	var err error
	if id.PeerID, err = peer.IDFromPublicKey(s.Public()); err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	if d != nil {
		id.EncKEM, id.EncKey = d.KEM(), d.PublicKey()
	}
	return id, nil
}

// identityJSON is the versioned file form of an Identity.
type identityJSON struct {
	Version    int    `json:"version"`
	PeerID     string `json:"peer_id"`
	SigningKey string `json:"signing_key"`
	EncKEM     uint16 `json:"encryption_kem,omitempty"`
	EncKey     string `json:"encryption_key,omitempty"`
}

// MarshalJSON implements json.Marshaler.
func (id *Identity) MarshalJSON() ([]byte, error) {
	sk, err := lcrypto.MarshalPublicKey(id.SigningKey)
	if err != nil {
		return nil, err
	}
	j := identityJSON{Version: 1, PeerID: id.PeerID.String(), SigningKey: base64.StdEncoding.EncodeToString(sk), EncKEM: id.EncKEM}
	if len(id.EncKey) > 0 {
		j.EncKey = base64.StdEncoding.EncodeToString(id.EncKey)
	}
	return json.Marshal(j)
}

// UnmarshalJSON implements json.Unmarshaler and checks that the peer ID
// matches the signing key.
func (id *Identity) UnmarshalJSON(b []byte) error {
	var j identityJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("identity: %w: %v", ErrMalformed, err)
	}
	if j.Version != 1 {
		return fmt.Errorf("identity: %w: version %d", ErrMalformed, j.Version)
	}
	pid, err := peer.Decode(j.PeerID)
	if err != nil {
		return fmt.Errorf("identity: %w: peer id: %v", ErrMalformed, err)
	}
	skb, err := base64.StdEncoding.DecodeString(j.SigningKey)
	if err != nil {
		return fmt.Errorf("identity: %w: signing key", ErrMalformed)
	}
	sk, err := lcrypto.UnmarshalPublicKey(skb)
	if err != nil {
		return fmt.Errorf("identity: %w: signing key: %v", ErrMalformed, err)
	}
	if !pid.MatchesPublicKey(sk) {
		return fmt.Errorf("identity: %w: peer id does not match the signing key", ErrMalformed)
	}
	var ek []byte
	if j.EncKey != "" {
		if ek, err = base64.StdEncoding.DecodeString(j.EncKey); err != nil {
			return fmt.Errorf("identity: %w: encryption key", ErrMalformed)
		}
		if j.EncKEM != hpkeKEM.ID() {
			return fmt.Errorf("identity: %w: KEM %#x", ErrUnsupportedSuite, j.EncKEM)
		}
		if _, err := hpkeKEM.NewPublicKey(ek); err != nil {
			return fmt.Errorf("identity: %w: encryption key: %v", ErrMalformed, err)
		}
	}
	*id = Identity{PeerID: pid, SigningKey: sk, EncKEM: j.EncKEM, EncKey: ek}
	return nil
}
