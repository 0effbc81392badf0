package node

import (
	"context"
	"crypto/sha256"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"

	"courtmesh.dev/courtmesh/node/datadir"
	"courtmesh.dev/courtmesh/node/nodetest"
)

// newStoppedNode builds a node that is not served: its validator and
// install path work without Serve. Cleanup closes the host and store.
func newStoppedNode(t *testing.T, d datadir.Dir) *Node {
	t.Helper()
	nodetest.WriteLoopbackConfig(t, d)
	n, err := New(Options{Dir: d, Logger: nodetest.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// serveNode builds and serves a node until the test ends.
func serveNode(t *testing.T, d datadir.Dir) *Node {
	t.Helper()
	nodetest.WriteLoopbackConfig(t, d)
	n, err := New(Options{Dir: d, Logger: nodetest.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	select {
	case <-n.Ready():
	case err := <-done:
		done <- err // for the cleanup
		t.Fatalf("node stopped: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("node not ready after 20s")
	}
	return n
}

// TestTrustGossipDuplicateDeliveredOnce publishes the same announcement
// bytes twice on a three-node mesh: a subscriber on another node gets it
// once (message id = SHA-256 of the payload), whether it comes directly
// or relayed.
func TestTrustGossipDuplicateDeliveredOnce(t *testing.T) {
	m := nodetest.NewTrustMesh(t)
	a, b, c := serveNode(t, m.Dirs[0]), serveNode(t, m.Dirs[3]), serveNode(t, m.Dirs[2])
	nodes := []*Node{a, b, c}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i, x := range nodes {
		for _, y := range nodes[i+1:] {
			if err := x.h.Connect(ctx, peer.AddrInfo{ID: y.PeerID(), Addrs: y.h.Addrs()}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, x := range nodes {
		nodetest.PollUntil(t, 20*time.Second, "every node on the trust topic", func() bool { return len(x.trust.Topic().ListPeers()) == 2 })
	}
	subB, err := b.trust.Topic().Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	defer subB.Cancel()
	subC, err := c.trust.Topic().Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	defer subC.Cancel()

	seq := a.Trust().Bundle().Sequence + 1 // newer, so that receivers accept it
	msg := nodetest.Announce{Key: m.Keys[0], Serial: m.Certs[0].Serial, Seq: seq, AnnouncedAt: 1}.Bytes(t)
	sentinelA := nodetest.Announce{Key: m.Keys[0], Serial: m.Certs[0].Serial, Seq: seq, AnnouncedAt: 2}.Bytes(t)
	sentinelC := nodetest.Announce{Key: m.Keys[2], Serial: m.Certs[2].Serial, Seq: seq, AnnouncedAt: 3}.Bytes(t)
	// Gossipsub (v0.19) publishes to the topic mesh only, which the
	// heartbeat forms after the peers join: wait for it.
	ready := pubsub.WithReadiness(pubsub.MinTopicSize(2))
	for i := range 2 {
		if err := a.trust.Topic().Publish(ctx, msg, ready); err != nil {
			t.Logf("publish #%d: %v", i+1, err)
		}
	}
	if err := a.trust.Topic().Publish(ctx, sentinelA); err != nil {
		t.Fatal(err)
	}
	// Once C has both, anything it relays of msg to B is queued before
	// C's own sentinel.
	count := func(sub *pubsub.Subscription, until ...[]byte) map[string]int {
		t.Helper()
		seen := map[string]int{}
		for {
			done := true
			for _, u := range until {
				if seen[string(u)] == 0 {
					done = false
				}
			}
			if done {
				return seen
			}
			m, err := sub.Next(ctx)
			if err != nil {
				t.Fatalf("waiting for messages: %v (seen %d)", err, len(seen))
			}
			seen[string(m.Data)]++
			if id := sha256.Sum256(m.Data); m.ID != string(id[:]) {
				t.Errorf("message id %x, want the SHA-256 of the payload %x", m.ID, id)
			}
		}
	}
	count(subC, msg, sentinelA)
	if err := c.trust.Topic().Publish(ctx, sentinelC, ready); err != nil {
		t.Fatal(err)
	}
	seen := count(subB, msg, sentinelA, sentinelC)
	if seen[string(msg)] != 1 {
		t.Errorf("the announcement published twice was delivered %d times, want 1", seen[string(msg)])
	}
	for k, v := range seen {
		if v != 1 {
			t.Errorf("a message of %d bytes delivered %d times", len(k), v)
		}
	}
}
