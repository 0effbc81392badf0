package storage

import (
	"runtime"
	"testing"
)

// TestMemtableArenaBytes: opening a store adds at least
// MemtableArenaBytes to the live heap (the memtable's arena, allocated
// whole before anything is written) and not much more (the caches'
// tables, the store's own state): the figure a node paces its garbage
// collector on is what Badger allocates.
func TestMemtableArenaBytes(t *testing.T) {
	arena := MemtableArenaBytes()
	if arena < 16<<20 {
		t.Fatalf("MemtableArenaBytes = %d, less than the 16 MiB memtable", arena)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	db := openAuditStore(t)
	defer db.Close()
	runtime.GC()
	runtime.ReadMemStats(&after)
	grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("opening a store: live heap +%.1f MB; MemtableArenaBytes %.1f MB", float64(grew)/1e6, float64(arena)/1e6)
	if grew < arena || grew > arena+8<<20 {
		t.Fatalf("opening a store grew the live heap by %d bytes; MemtableArenaBytes says %d (+ up to 8 MiB)", grew, arena)
	}
}
