package main

import (
	"context"
	"log/slog"
	"runtime"
	rtdebug "runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"

	"courtmesh.dev/courtmesh/storage"
)

// gcPacer paces the garbage collector on the node's own live heap.
//
// Go lets the garbage grow to GOGC percent of the live heap before it
// collects, and what the garbage occupies between two collections is
// resident. A node's live heap counts the store's memtable arena
// (storage.MemtableArenaBytes, 21.8 MB), allocated whole and resident
// only as writes fill it. At a fixed GOGC of 50 an idle node of the
// 100-process mesh with 17 MB of live data of its own was thus allowed
// 19 MB of garbage, over half of its anonymous memory (issue 22). After
// each collection the pacer sets the percent so that the garbage allowed
// is percent of the live heap less the arena: percent x (live - arena)
// / live, and at least floor. A node that works (a fetch, an import) has a
// live heap of its own many times the arena, and its collector runs
// close to percent as before; an idle node's runs at about 20.
//
// It runs in the collector's own rhythm (a cleanup re-armed at every
// cycle), not on a timer: an idle node collects every minute or two and
// gets no extra wake-up. The environment's GOGC, if set, is the
// operator's choice: the node then does not start the pacer.
type gcPacer struct {
	percent int    // garbage allowed, in percent of the node's own live heap
	floor   int    // the least percent it sets
	arena   uint64 // bytes of the live heap that are the memtable's arena
	live    func() uint64
	set     func(int) int // rtdebug.SetGCPercent
	log     *slog.Logger

	mu      sync.Mutex
	cur     int  // the percent in force, 0 before the first cycle
	stopped bool // Serve returned: the cleanups stop re-arming
	cycles  atomic.Int64
}

// newGCPacer returns the pacer a node runs: 50% of its own live heap, at
// least 10% of the whole.
func newGCPacer(log *slog.Logger) *gcPacer {
	return &gcPacer{percent: 50, floor: 10, arena: uint64(storage.MemtableArenaBytes()), live: liveHeap, set: rtdebug.SetGCPercent, log: log}
}

// liveHeap is the heap the last completed collection marked live.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// percentFor is the GOGC for a live heap of live bytes.
func (g *gcPacer) percentFor(live uint64) int {
	if live == 0 {
		return g.percent
	}
	own := uint64(0)
	if live > g.arena {
		own = live - g.arena
	}
	return max(g.floor, int(uint64(g.percent)*own/live))
}

// gcSentinel is allocated unreachable: its cleanup runs after the next
// collection. It holds a pointer so that it is never a tiny allocation,
// which the runtime may keep alive with its neighbours.
type gcSentinel struct{ _ *gcSentinel }

// arm has the pacer called after the next collection.
func (g *gcPacer) arm() {
	runtime.AddCleanup(&gcSentinel{}, func(g *gcPacer) { g.afterGC() }, g)
}

// afterGC sets the percent for the live heap the collection just marked,
// and re-arms the pacer until Serve has returned.
func (g *gcPacer) afterGC() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopped {
		return
	}
	g.cycles.Add(1)
	if p := g.percentFor(g.live()); p != g.cur {
		g.set(p)
		g.log.Debug("garbage collector paced on the node's own live heap", "gogc", p)
		g.cur = p
	}
	g.arm()
}

// Serve paces the collector until ctx ends, then sets percent back.
func (g *gcPacer) Serve(ctx context.Context) {
	g.mu.Lock()
	g.set(g.percent)
	g.cur = g.percent
	g.arm()
	g.mu.Unlock()
	<-ctx.Done()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.stopped = true
	g.set(g.percent)
}
