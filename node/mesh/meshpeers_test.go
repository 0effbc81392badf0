package mesh

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

type admitAll struct{}

func (admitAll) Admit(peer.ID) error { return nil }

// TestMeshOnlyPublishReachesAllWithFewerCopies: twelve real hosts on
// loopback, every one connected to every other, on one topic. MeshPeers
// agrees with the other end of every link (a peer in A's mesh has A in
// its own); a message A publishes with MeshPeers.Publish goes to A's mesh
// peers only, where Topic.Publish floods it to all eleven; both reach
// every node, and the mesh-only one is received fewer times over.
func TestMeshOnlyPublishReachesAllWithFewerCopies(t *testing.T) {
	const n, topic = 30, "/courtmesh/test/mesh-only"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	hosts := make([]host.Host, n)
	meshes := make([]*MeshPeers, n)
	tapes := make([]*tape, n)
	topics := make([]*pubsub.Topic, n)
	subs := make([]*pubsub.Subscription, n)
	pss := make([]*pubsub.PubSub, n)
	for i := range n {
		h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		hosts[i], meshes[i], tapes[i] = h, NewMeshPeers(), &tape{}
		if pss[i], err = NewPubSub(ctx, h, admitAll{}, meshes[i].Option(), pubsub.WithRawTracer(tapes[i])); err != nil {
			t.Fatal(err)
		}
		if topics[i], err = pss[i].Join(topic); err != nil {
			t.Fatal(err)
		}
		if subs[i], err = topics[i].Subscribe(); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		for j := range i {
			if err := hosts[i].Connect(ctx, peer.AddrInfo{ID: hosts[j].ID(), Addrs: hosts[j].Addrs()}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The meshes form on gossipsub's heartbeats (1 s); wait until every
	// node has one of at least Dlo and every link agrees at both ends.
	symmetric := func() error {
		for i := range n {
			if c := meshes[i].Count(topic); c < pubsub.GossipSubDlo {
				return fmt.Errorf("node %d: %d mesh peers", i, c)
			}
			for j := range n {
				if i != j && meshes[i].has(topic, hosts[j].ID()) != meshes[j].has(topic, hosts[i].ID()) {
					return fmt.Errorf("nodes %d and %d disagree on their mesh link", i, j)
				}
			}
		}
		return nil
	}
	var err error
	for range 200 {
		if err = symmetric(); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("meshes after 10 s: %v", err)
	}

	publish := func(data []byte, meshOnly bool) (sentTo, copies int) {
		t.Helper()
		meshAt := meshes[0].Count(topic)
		if meshOnly {
			err = meshes[0].Publish(ctx, pss[0], topics[0], data)
		} else {
			err = topics[0].Publish(ctx, data)
		}
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			m, err := subs[i].Next(ctx)
			if err != nil || !bytes.Equal(m.Data, data) {
				t.Fatalf("node %d: %v, got %q, want %q", i, err, m.GetData(), data)
			}
		}
		time.Sleep(300 * time.Millisecond) // the last copies in flight
		sentTo = tapes[0].sent(data)
		for i := range n {
			copies += tapes[i].received(data)
		}
		// A gossip heartbeat may graft or prune between the count and
		// the send; the mesh is at most Dhi either way.
		if meshOnly && (sentTo > pubsub.GossipSubDhi || sentTo < min(meshAt, pubsub.GossipSubDlo)) {
			t.Errorf("mesh-only publication sent to %d peers, the publisher's mesh has %d", sentTo, meshAt)
		}
		if !meshOnly && sentTo != n-1 {
			t.Errorf("Topic.Publish sent to %d peers, want every one (%d): flood publishing is off?", sentTo, n-1)
		}
		return sentTo, copies
	}
	// Alternately, three of each: the copies vary with the meshes.
	const rounds = 3
	var floodCopies, meshCopies int
	var meshTo []int
	for r := range rounds {
		_, c := publish(fmt.Appendf(nil, "flooded %d", r), false)
		floodCopies += c
		to, c := publish(fmt.Appendf(nil, "to the mesh %d", r), true)
		meshCopies += c
		meshTo = append(meshTo, to)
	}
	per := func(c int) float64 { return float64(c) / rounds / (n - 1) }
	t.Logf("%d hosts, each connected to all, %d messages each way: flooded to %d peers, each received %.1f times per node; to the mesh: to %v peers, received %.1f times per node",
		n, rounds, n-1, per(floodCopies), meshTo, per(meshCopies))
	if meshCopies >= floodCopies {
		t.Errorf("mesh-only publications received %d times in all, flooded %d: no fewer", meshCopies, floodCopies)
	}
}

// tape counts, per message payload, the peers an RPC carrying it was sent
// to and the RPCs that brought it in.
type tape struct {
	mu   sync.Mutex
	out  map[string]map[peer.ID]bool
	recv map[string]int
}

func (tp *tape) sent(data []byte) int {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return len(tp.out[string(data)])
}

func (tp *tape) received(data []byte) int {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return tp.recv[string(data)]
}

func (tp *tape) SendRPC(rpc *pubsub.RPC, p peer.ID) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	if tp.out == nil {
		tp.out = map[string]map[peer.ID]bool{}
	}
	for _, m := range rpc.GetPublish() {
		if tp.out[string(m.Data)] == nil {
			tp.out[string(m.Data)] = map[peer.ID]bool{}
		}
		tp.out[string(m.Data)][p] = true
	}
}

func (tp *tape) RecvRPC(rpc *pubsub.RPC) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	if tp.recv == nil {
		tp.recv = map[string]int{}
	}
	for _, m := range rpc.GetPublish() {
		tp.recv[string(m.Data)]++
	}
}

func (*tape) OnNewOutboundStream(peer.ID, protocol.ID)             {}
func (*tape) OnClosedOutboundStream(peer.ID)                       {}
func (*tape) Join(string)                                          {}
func (*tape) Leave(string)                                         {}
func (*tape) Graft(peer.ID, string)                                {}
func (*tape) Prune(peer.ID, string)                                {}
func (*tape) ValidateMessage(*pubsub.Message)                      {}
func (*tape) DeliverMessage(*pubsub.Message)                       {}
func (*tape) RejectMessage(*pubsub.Message, string)                {}
func (*tape) DuplicateMessage(*pubsub.Message)                     {}
func (*tape) ThrottlePeer(peer.ID)                                 {}
func (*tape) SendRPCCompleted(*pubsub.RPC, peer.ID, time.Duration) {}
func (*tape) DropRPC(*pubsub.RPC, peer.ID)                         {}
func (*tape) UndeliverableMessage(*pubsub.Message)                 {}
