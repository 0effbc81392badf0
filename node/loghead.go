package node

import (
	"encoding/hex"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node/api"
)

// LogHead answers GET /v1/trust/log-head: this node's view of the record
// log of the key certificate serial certifies, revoked or not. It joins
// the health room (the head the key's heartbeats showed) and the records
// room (the chain of the log as stored here).
func (n *Node) LogHead(serial, seq uint64) (api.LogHead, error) {
	var c *crypto.Certificate
	for _, cc := range n.trust.Trust().Bundle().Certs {
		if cc.Serial == serial {
			c = cc
		}
	}
	if c == nil || c.PeerID == "" {
		return api.LogHead{}, court.Errorf(court.ErrNotFound, "certificate serial %d: no node certificate with that serial in trust bundle %d", serial, n.trust.Trust().Bundle().Sequence)
	}
	_, revoked := n.trust.Trust().Revocation(serial)
	out := api.LogHead{Court: string(c.Code), Serial: serial, Peer: c.PeerID.String(), Revoked: revoked}
	w, at, ok := n.health.WitnessedRecordHead(c.PeerID)
	if ok {
		out.Witnessed = &api.LogPosition{Seq: w.Seq, Head: hex.EncodeToString(w.Head[:])}
		out.WitnessedAt = &at
	}
	at0 := seq
	if at0 == 0 && ok {
		if have, err := n.db.LogHead(court.PeerID(c.PeerID.String())); err == nil && have >= w.Seq {
			at0 = w.Seq
		}
	}
	held, err := n.xfer.LogPosition(c.PeerID, at0)
	if err != nil {
		return api.LogHead{}, err
	}
	out.Held = api.LogPosition{Seq: held.Seq, Head: hex.EncodeToString(held.Head[:])}
	out.Agrees = ok && held == w
	return out, nil
}
