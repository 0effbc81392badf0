package mesh

import (
	"context"
	"iter"
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// MeshPeers knows, for each topic this node has joined, which peers are in
// its gossipsub mesh of that topic, from gossipsub's own trace (graft,
// prune, leave, a peer gone). It lets a frequent message go to the mesh
// only: NewPubSub floods this node's own messages to every subscribed
// peer it is connected to (WithFloodPublish), which is right for the rare
// records and trust updates that a peer joined since the last gossip
// heartbeat must still hear, and wasteful for a heartbeat every 30 s:
// each of the flooded peers relays it on its own mesh at once, so nearly
// every mesh link carries it both ways, and an idle node in a province
// of 100 courts received each court's heartbeat some nine times over.
//
// Pass Option() to NewPubSub; then Publish sends a message to the mesh.
type MeshPeers struct {
	mu    sync.Mutex
	peers map[string]map[peer.ID]struct{}
}

// NewMeshPeers returns an empty MeshPeers.
func NewMeshPeers() *MeshPeers {
	return &MeshPeers{peers: map[string]map[peer.ID]struct{}{}}
}

// Option is the gossipsub option that feeds m from the router's trace.
func (m *MeshPeers) Option() pubsub.Option { return pubsub.WithRawTracer(meshTrace{m}) }

// Count returns how many peers are in this node's mesh of topic.
func (m *MeshPeers) Count(topic string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.peers[topic])
}

func (m *MeshPeers) has(topic string, p peer.ID) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.peers[topic][p]
	return ok
}

// Publish validates data as t.Publish does (the topic's validators run
// here, on this node's own message) and sends it to the peers in this
// node's mesh of t; with no mesh yet (just started, or every mesh peer
// gone) to every subscribed peer, as t.Publish would. The mesh relays it
// on; peers outside it hear of it from gossip.
//
// The message is handed to gossipsub's event loop by PublishBatch, whose
// send does not watch the context: t's own validation does, so a node
// that stops while one goroutine publishes in turn (the heartbeat loop)
// gets an error here, not a send that never returns.
func (m *MeshPeers) Publish(ctx context.Context, ps *pubsub.PubSub, t *pubsub.Topic, data []byte) error {
	var b pubsub.MessageBatch
	if err := t.AddToBatch(ctx, &b, data); err != nil {
		return err
	}
	return ps.PublishBatch(&b, func(o *pubsub.BatchPublishOptions) error {
		o.Strategy = &meshOnly{m: m, topic: t.String(), flood: m.Count(t.String()) == 0}
		return nil
	})
}

// meshOnly is the RPC scheduler of Publish: of the RPCs the router would
// send (to every subscribed peer: flood publishing), it keeps those to the
// topic's mesh peers, or all of them when flood is set.
type meshOnly struct {
	m     *MeshPeers
	topic string
	flood bool
	rpcs  []pendingRPC
}

type pendingRPC struct {
	p   peer.ID
	rpc *pubsub.RPC
}

func (s *meshOnly) AddRPC(p peer.ID, _ string, rpc *pubsub.RPC) {
	if s.flood || s.m.has(s.topic, p) {
		s.rpcs = append(s.rpcs, pendingRPC{p, rpc})
	}
}

func (s *meshOnly) All() iter.Seq2[peer.ID, *pubsub.RPC] {
	return func(yield func(peer.ID, *pubsub.RPC) bool) {
		for _, r := range s.rpcs {
			if !yield(r.p, r.rpc) {
				return
			}
		}
	}
}

// meshTrace is the pubsub.RawTracer that keeps MeshPeers; it ignores
// every event but those that change a mesh.
type meshTrace struct{ m *MeshPeers }

func (t meshTrace) Graft(p peer.ID, topic string) {
	t.m.mu.Lock()
	defer t.m.mu.Unlock()
	s := t.m.peers[topic]
	if s == nil {
		s = map[peer.ID]struct{}{}
		t.m.peers[topic] = s
	}
	s[p] = struct{}{}
}

func (t meshTrace) Prune(p peer.ID, topic string) {
	t.m.mu.Lock()
	defer t.m.mu.Unlock()
	delete(t.m.peers[topic], p)
}

func (t meshTrace) Leave(topic string) {
	t.m.mu.Lock()
	defer t.m.mu.Unlock()
	delete(t.m.peers, topic)
}

// OnClosedOutboundStream: the router drops the peer from every mesh.
func (t meshTrace) OnClosedOutboundStream(p peer.ID) {
	t.m.mu.Lock()
	defer t.m.mu.Unlock()
	for _, s := range t.m.peers {
		delete(s, p)
	}
}

func (meshTrace) OnNewOutboundStream(peer.ID, protocol.ID)             {}
func (meshTrace) Join(string)                                          {}
func (meshTrace) ValidateMessage(*pubsub.Message)                      {}
func (meshTrace) DeliverMessage(*pubsub.Message)                       {}
func (meshTrace) RejectMessage(*pubsub.Message, string)                {}
func (meshTrace) DuplicateMessage(*pubsub.Message)                     {}
func (meshTrace) ThrottlePeer(peer.ID)                                 {}
func (meshTrace) RecvRPC(*pubsub.RPC)                                  {}
func (meshTrace) SendRPC(*pubsub.RPC, peer.ID)                         {}
func (meshTrace) SendRPCCompleted(*pubsub.RPC, peer.ID, time.Duration) {}
func (meshTrace) DropRPC(*pubsub.RPC, peer.ID)                         {}
func (meshTrace) UndeliverableMessage(*pubsub.Message)                 {}
