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
type Bootstrap struct {
	Host      host.Host
	Admission Admission
	Peers     []string // multiaddrs with /p2p/ peer IDs
	Every     time.Duration
	Log       *slog.Logger
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
	for {
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
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
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
