package court

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
)

// TransferID names a transfer: 16 random bytes in hex, chosen by the
// origin court when it offers. It names no party and no case, so it may
// appear in logs, metrics labels never (unbounded), broadcasts and URLs.
type TransferID string

// NewTransferID returns a fresh random ID.
func NewTransferID() TransferID {
	var b [16]byte
	rand.Read(b[:])
	return TransferID(hex.EncodeToString(b[:]))
}

// ParseTransferID checks the form of an ID.
func ParseTransferID(s string) (TransferID, error) {
	if len(s) != 32 {
		return "", fmt.Errorf("%w transfer id %q: want 32 hex digits", ErrInvalid, s)
	}
	if _, err := hex.DecodeString(s); err != nil {
		return "", fmt.Errorf("%w transfer id %q: want 32 hex digits", ErrInvalid, s)
	}
	return TransferID(s), nil
}

// String returns the ID's hex form.
func (id TransferID) String() string { return string(id) }

// LogValue logs the ID as its hex form.
func (id TransferID) LogValue() slog.Value { return slog.StringValue(string(id)) }

// PeerID is a node's libp2p peer ID in its text form (base58 of the
// multihash of its Ed25519 key; certificates bind it to a court). The
// vocabulary keeps it as text so that the store and the court rules need
// no libp2p; the network rooms convert at the edge (peer.Decode,
// peer.ID.String).
type PeerID string

// String returns the text form.
func (p PeerID) String() string { return string(p) }

// LogValue logs the peer ID as its text form.
func (p PeerID) LogValue() slog.Value { return slog.StringValue(string(p)) }
