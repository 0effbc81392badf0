package node

import "github.com/libp2p/go-libp2p/core/peer"

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
