package node_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"courtmesh.dev/courtmesh/crypto"
)

// TestFetchStallOnTheOnlySource: the origin is the only source, and its
// first answer to the receiver stalls past the limit. The stream is given
// up and opened again, and the fetch completes from the same source.
func TestFetchStallOnTheOnlySource(t *testing.T) {
	s := newScenario(t)
	for _, n := range s.by {
		n.Fetcher().SetStall(time.Second)
		n.Fetcher().SetRetryPause(200 * time.Millisecond)
	}
	cn, chunks := s.bigCase("京0105", 5, 2<<20)
	id := s.handedOver(t, cn)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	receiver := s.as("京0108").PeerID()
	var stalls atomic.Int32
	s.as("京0105").Fetcher().SetTamper(func(p peer.ID, cid crypto.ChunkID, sealed []byte) []byte {
		if p == receiver && stalls.Add(1) == 1 {
			select { // the first answer: silent past the stall limit
			case <-time.After(3 * time.Second):
			case <-ctx.Done():
			}
		}
		return sealed
	})
	p, err := s.as("京0108").Fetcher().Fetch(ctx, id)
	if err != nil {
		t.Fatalf("the fetch from a single source that stalled once: %v", err)
	}
	if p.Verified != chunks || p.Sources["京0105"] != chunks {
		t.Fatalf("verified %d of %d chunks, sources %v", p.Verified, chunks, p.Sources)
	}
	if stalls.Load() < 2 {
		t.Fatal("the stall never happened; the test shows nothing")
	}
}
