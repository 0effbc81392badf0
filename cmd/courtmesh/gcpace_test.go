package main

import (
	"context"
	"log/slog"
	"runtime"
	"sync"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/node/nodetest"
	"courtmesh.dev/courtmesh/storage"
)

// TestGCPacerPercent: the percent allowed is 50% of the live heap less
// the memtable's arena, at least 10%; with no collection yet, 50.
func TestGCPacerPercent(t *testing.T) {
	g := &gcPacer{percent: 50, floor: 10, arena: 21_800_000}
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, 50},             // no collection marked anything yet
		{20_000_000, 10},    // less than the arena (a second arena being flushed): the floor
		{26_000_000, 10},    // 4.2 MB of its own: 8%, the floor
		{38_000_000, 21},    // an idle node of the 100-process mesh: 16.2 MB of its own
		{218_000_000, 45},   // a node at work: 196 MB of its own
		{2_180_000_000, 49}, // a national node's import
	} {
		if got := g.percentFor(c.live); got != c.want {
			t.Errorf("live heap %d B, arena %d B: GOGC %d, want %d", c.live, g.arena, got, c.want)
		}
	}
	if a := newGCPacer(slog.New(slog.DiscardHandler)).arena; a != uint64(storage.MemtableArenaBytes()) {
		t.Errorf("the node's pacer counts an arena of %d B, the store's is %d B", a, storage.MemtableArenaBytes())
	}
}

// TestGCPacerFollowsCollections runs the pacer on this test process's
// real collector and its real live heap (the percent it sets goes to a
// recorder, not to the runtime): it is called after collections, sets
// what percentFor says for the live heap, stops with its context and
// sets the percent back.
func TestGCPacerFollowsCollections(t *testing.T) {
	var mu sync.Mutex
	var sets []int
	g := &gcPacer{percent: 50, floor: 10, live: liveHeap, log: slog.New(slog.DiscardHandler),
		set: func(p int) int { mu.Lock(); defer mu.Unlock(); sets = append(sets, p); return 100 }}
	// An arena of half the live heap: the pacer then sets about 25.
	runtime.GC()
	g.arena = liveHeap() / 2
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); g.Serve(ctx) }()

	nodetest.PollUntil(t, 20*time.Second, "the pacer called after three collections", func() bool {
		runtime.GC()
		return g.cycles.Load() >= 3
	})
	mu.Lock()
	got := append([]int(nil), sets...)
	mu.Unlock()
	if len(got) < 2 || got[0] != 50 || got[1] < 20 || got[1] > 30 {
		t.Fatalf("percents set %v: want 50 at start, then about 25 (an arena of half the live heap)", got)
	}
	cancel()
	<-done
	after := g.cycles.Load()
	for range 3 {
		runtime.GC()
	}
	time.Sleep(100 * time.Millisecond) // cleanups run on their own goroutine; none is expected
	mu.Lock()
	defer mu.Unlock()
	if n := g.cycles.Load(); n != after {
		t.Errorf("the pacer ran %d times after Serve returned", n-after)
	}
	if last := sets[len(sets)-1]; last != 50 {
		t.Errorf("after Serve the percent is %d, want 50 back", last)
	}
}
