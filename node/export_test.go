package node

import (
	"context"

	"github.com/libp2p/go-libp2p/core/peer"

	cmproto "courtmesh.dev/courtmesh/protocol"
)

// BypassGaterForTest lets every connection through the gater so that a
// test can show the per-stream checks hold on their own.
func BypassGaterForTest(o *Options) { o.bypassGater = true }

// PartitionForTest cuts (or, with cut false, restores) the network between
// n and p: the gater refuses every connection either way and the current
// ones are closed.
func PartitionForTest(n *Node, p peer.ID, cut bool) {
	if cut {
		n.gater.blocked.Store(p, struct{}{})
		n.h.Network().ClosePeer(p)
	} else {
		n.gater.blocked.Delete(p)
	}
}

// SetTransferHookForTest sets the function called after a transfer's state
// changed in n's store (the benchmark times propagation with it). Call it
// before Serve: the field is read without synchronisation.
func SetTransferHookForTest(n *Node, f func(*cmproto.Transfer)) { n.xfer.onChange = f }

// TransferTopicPeersForTest is the number of peers n knows on the
// transfers topic.
func TransferTopicPeersForTest(n *Node) int { return len(n.xfer.topic.ListPeers()) }

// IngestForTest ingests a record's raw bytes into n as if it had arrived
// from the network (verify, log, apply or hold), returning ingest's error.
func IngestForTest(n *Node, raw []byte) error { return n.xfer.ingest(raw, "") }

// PublishForTest publishes raw bytes on n's transfers topic, as a relay
// would: n does not apply them, every other node validates them.
func PublishForTest(ctx context.Context, n *Node, raw []byte) error {
	return n.xfer.topic.Publish(ctx, raw)
}
