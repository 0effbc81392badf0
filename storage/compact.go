package storage

import (
	"time"
)

// Badger's own compactors (Options.NumCompactors) each wake every 50 ms,
// whether or not there is anything to compact; on an idle court node that
// polling, and the scheduler work of waking for it, was more than half
// of the node's CPU (issue 22: TestMeshOfProcesses measured 1.0% of a
// core per idle node with two compactors, 0.43% with none). So the store
// opens Badger without compactors and compacts itself, from one goroutine
// that looks at the levels every compactEvery: when Badger would compact
// (level 0 holds NumLevelZeroTables tables, or a level is over its
// target size), it has Badger compact the tree (DB.Flatten: level 0 into
// the base level, and each level into the next, down to the last).
//
// Flatten rewrites the tree down to its last level each time, where
// Badger's compactors move one level's excess at a time: more bytes
// written per compaction, but a court writes a few MB of metadata a day
// (chunks live outside Badger), so a compaction comes every few days.
// Writes are never refused meanwhile: past NumLevelZeroTablesStall level-0
// tables Badger holds a memtable flush until the next compaction, at most
// compactEvery later.
const compactEvery = time.Second

// compactWorkers is the number of goroutines Flatten compacts a level
// with.
const compactWorkers = 2

// serveCompactions runs until stop is closed, then closes done.
func (db *DB) serveCompactions(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(compactEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		if !db.needsCompaction() {
			continue
		}
		start := time.Now()
		if err := db.bdb.Flatten(compactWorkers); err != nil {
			db.log.Warn("store compaction failed; it is tried again", "reason", err)
			continue
		}
		db.log.Debug("store compacted", "took", time.Since(start).Round(time.Millisecond))
	}
}

// needsCompaction reports whether Badger's compactors would compact now:
// a level's score (level 0: its tables over NumLevelZeroTables; the
// others: their size over their target) is at least 1.
func (db *DB) needsCompaction() bool {
	for _, l := range db.bdb.Levels() {
		if l.Score >= 1 {
			return true
		}
	}
	return false
}
