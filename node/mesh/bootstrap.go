package mesh

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pubsubpb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"courtmesh.dev/courtmesh/crypto"
	cmproto "courtmesh.dev/courtmesh/protocol"
)

// Bootstrap keeps the configured bootstrap peers connected: it dials each
// admitted one that is not connected, now and every Every.
//
// A node that its own bundle in force does not certify (its certificate
// revoked or expired, or not in the bundle) dials less and less often,
// down to once in maxRedialBackoff rounds: a peer with the same bundle
// refuses it at the gater after a handshake that costs the peer CPU, and
// it used to pay that every Every, for ever. It still dials now and then,
// because a peer may hold a newer bundle that certifies it (a new node
// installed with an older bundle, a court certified again), which it
// learns once connected. It says so once in the log.
type Bootstrap struct {
	Host      host.Host
	Admission Admission
	Peers     []string // multiaddrs with /p2p/ peer IDs
	Every     time.Duration
	Log       *slog.Logger
	// Certified says whether the bundle in force certifies this node
	// now; nil: always.
	Certified func() error
}

// Serve runs until ctx ends. A malformed address is an error at once.
func (b *Bootstrap) Serve(ctx context.Context) error {
	var infos []peer.AddrInfo
	for _, s := range b.Peers {
		ai, err := peer.AddrInfoFromString(s)
		if err != nil {
			return fmt.Errorf("bootstrap address %q: %w", s, err)
		}
		if ai.ID != b.Host.ID() {
			infos = append(infos, *ai)
		}
	}
	if len(infos) == 0 {
		return nil
	}
	t := time.NewTicker(b.Every)
	defer t.Stop()
	var r redial
	for {
		err := b.certified()
		switch {
		case err != nil && !r.uncertified:
			b.Log.Warn("this node is not certified by the trust bundle in force: dialling the bootstrap peers less and less often, down to once every "+(maxRedialBackoff*b.Every).String()+" (a peer's newer bundle, or courtmesh trust install, may certify it)", "reason", err)
		case err == nil && r.uncertified:
			b.Log.Info("this node is certified again: dialling the bootstrap peers every " + b.Every.String())
		}
		if r.due(err == nil) {
			b.dial(ctx, infos)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// maxRedialBackoff is the most rounds (of Bootstrap.Every) between two
// rounds of dials by a node that is not certified: 64 x 10 s by default,
// about 11 minutes.
const maxRedialBackoff = 64

// redial decides which rounds dial: every one while the node is
// certified; while it is not, the first, then after 2, 4, ... rounds, at
// most maxRedialBackoff.
type redial struct {
	uncertified bool
	backoff     int // rounds between dials while uncertified
	skip        int // rounds left to skip
}

func (r *redial) due(certified bool) bool {
	if certified {
		*r = redial{}
		return true
	}
	if !r.uncertified {
		*r = redial{uncertified: true, backoff: 2, skip: 1}
		return true
	}
	if r.skip > 0 {
		r.skip--
		return false
	}
	r.backoff = min(2*r.backoff, maxRedialBackoff)
	r.skip = r.backoff - 1
	return true
}

func (b *Bootstrap) certified() error {
	if b.Certified == nil {
		return nil
	}
	return b.Certified()
}

// dial connects each admitted peer of infos that is not connected.
func (b *Bootstrap) dial(ctx context.Context, infos []peer.AddrInfo) {
	for _, ai := range infos {
		if b.Host.Network().Connectedness(ai.ID) == network.Connected || b.Admission.Admit(ai.ID) != nil {
			continue
		}
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if err := b.Host.Connect(dctx, ai); err != nil {
			b.Log.Debug("bootstrap dial failed", "peer", ai.ID, "reason", err)
		}
		cancel()
	}
}

// NewPubSub starts gossipsub on h for the life of ctx: courtmesh's
// protocol IDs, message id = the suite's hash of the payload, no message
// signing (records carry their own signatures), and only admitted peers.
// extra options come after these (a test's tracer).
func NewPubSub(ctx context.Context, h host.Host, adm Admission, extra ...pubsub.Option) (*pubsub.PubSub, error) {
	// The message id is the hash of the mesh's suite (SHA-256, or SM3 in
	// an SM mesh): every peer of a mesh computes the same.
	suite := crypto.SuiteV1
	if t, ok := adm.(interface{ Trust() *crypto.Trust }); ok {
		suite = t.Trust().Suite()
	}
	opts := []pubsub.Option{
		// A feature is claimed only for courtmesh's protocols: the router
		// asks about a peer it has no stream to (protocol "") too, and a
		// yes sent it grafts and gossip it has no queue for, each one
		// dropped ("No send queue for peer": 835 RPCs while a
		// 1,000-host mocknet formed its mesh, where plain gossip drops
		// none).
		pubsub.WithGossipSubProtocols(cmproto.GossipSubProtocols, func(f pubsub.GossipSubFeature, p protocol.ID) bool {
			return slices.Contains(cmproto.GossipSubProtocols, p) &&
				(f == pubsub.GossipSubFeatureMesh || f == pubsub.GossipSubFeaturePX || f == pubsub.GossipSubFeatureIdontwant)
		}),
		pubsub.WithMessageIdFn(func(m *pubsubpb.Message) string {
			h := suite.Sum(m.Data)
			return string(h[:])
		}),
		pubsub.WithMessageSignaturePolicy(pubsub.StrictNoSign),
		pubsub.WithNoAuthor(),
		pubsub.WithMaxMessageSize(4 * cmproto.MaxGossipMessage),
		pubsub.WithPeerFilter(func(p peer.ID, _ string) bool { return adm.Admit(p) == nil }),
		// Our own records go to every subscribed peer at once, not only to
		// the mesh: a peer that joined since the last heartbeat still hears
		// them. Records are rare and small; relaying stays on the mesh.
		pubsub.WithFloodPublish(true),
		// The default per-peer queue (32) dropped messages while meshes
		// formed under load in the 1,000-node benchmark.
		pubsub.WithPeerOutboundQueueSize(128),
	}
	// On a context that does not keep the per-peer contexts gossipsub
	// never cancels (weakctx.go): memory stays flat under churn.
	ps, err := pubsub.NewGossipSub(newWeakChildren(ctx), h, append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("gossipsub: %w", err)
	}
	return ps, nil
}
