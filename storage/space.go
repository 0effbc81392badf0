package storage

import (
	"fmt"
	"sync"
	"time"

	"courtmesh.dev/courtmesh/court"
)

// Disk space. Badger writes its memtable and value log through memory
// maps of sparse files: on a full disk a write to a page that has no block
// behind it kills the process (SIGBUS) instead of returning an error. So
// the store never lets the bulk writers (an import's chunks, a fetch's
// chunks) eat into a reserve kept free on the data directory's
// filesystem: what stays free is always enough for Badger to commit the
// records that follow (the import's, the fetch's bits, transfer records
// from the mesh) and for the audit log to append. Those small record
// writes are not checked: they are what the reserve is for.

// DefaultReserve is the free space kept on the data directory's
// filesystem when Options.Reserve is zero (config key disk_reserve):
// Badger's memtable (64 MiB, fsynced to a file that fills as it grows),
// the level-0 table a memtable is flushed to (as much again), room for a
// compaction to write before it deletes, and the audit log.
const DefaultReserve int64 = 256 << 20

// ErrDiskFull refuses a write that would leave less than the reserve free
// on the data directory's filesystem. Kind unavailable (try again once
// space is freed), code "disk_full". Nothing of the refused write is
// kept except what a fetch verified before it (it resumes from there).
var ErrDiskFull = court.NewCoded(court.ErrUnavailable, "disk_full", "the data directory's disk is full")

// Space is the data directory's disk as the store sees it.
type Space struct {
	// Free is the space available to the node's user on the store's
	// filesystem, in bytes; -1 if it cannot be read.
	Free int64 `json:"free_bytes"`
	// Reserve is the space kept free for Badger and the audit log.
	Reserve int64 `json:"reserve_bytes"`
	// Low: the free space is below the reserve, or a write was refused
	// and would still not fit (it clears once enough space is freed).
	Low bool `json:"low"`
	// Refused counts the writes refused since the store opened;
	// LastRefused is when the latest was, LastWrite what it was
	// ("import", "fetch").
	Refused     uint64    `json:"refused"`
	LastRefused time.Time `json:"last_refused,omitzero"`
	LastWrite   string    `json:"last_write,omitempty"`
}

// spaceGuard checks bulk writes against the reserve.
type spaceGuard struct {
	dir     string
	reserve int64
	now     func() time.Time
	// remote: the chunks are not on this disk (S3Chunks); a bulk write
	// then needs no room of its own, only a disk above its reserve for
	// the records.
	remote bool

	mu        sync.Mutex
	refused   uint64
	lastAt    time.Time
	lastNeed  int64
	lastWrite string
	onRefuse  func(write string)
}

// need returns ErrDiskFull if writing n more bytes would leave less than
// the reserve free. write names the writer ("import", "fetch") for the
// counters and the message; whole is the size of the whole write n is
// part of (at least n): the space stays low until it would fit.
func (g *spaceGuard) need(write string, n, whole int64) error {
	if g.remote {
		n, whole = 0, 0
	}
	free, err := FreeSpace(g.dir)
	if err != nil || free < 0 {
		return nil // cannot tell: the write's own error will say
	}
	if free-n >= g.reserve {
		return nil
	}
	g.mu.Lock()
	g.refused++
	g.lastAt, g.lastNeed, g.lastWrite = g.now(), max(n, whole), write
	hook := g.onRefuse
	g.mu.Unlock()
	if hook != nil {
		hook(write)
	}
	return fmt.Errorf("%w: the %s needs %s more and %s is free on the disk of %s, of which %s is kept in reserve (disk_reserve) so that the store can always commit and the audit log append; free space on that disk or move the data directory to a larger one, then try again",
		ErrDiskFull, write, HumanBytes(n), HumanBytes(free), g.dir, HumanBytes(g.reserve))
}

func (g *spaceGuard) state() Space {
	free, err := FreeSpace(g.dir)
	if err != nil {
		free = -1
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	s := Space{Free: free, Reserve: g.reserve, Refused: g.refused, LastRefused: g.lastAt, LastWrite: g.lastWrite}
	if free >= 0 {
		s.Low = free < g.reserve || (g.refused > 0 && free-g.lastNeed < g.reserve)
	}
	return s
}

// Space returns the state of the data directory's disk: free space, the
// reserve, and the writes refused for want of space.
func (db *DB) Space() Space { return db.space.state() }

// SetOnDiskFull sets a function called (with "import" or "fetch") each
// time a write is refused for want of space: the node counts them in a
// metric. Nil removes it.
func (db *DB) SetOnDiskFull(f func(write string)) {
	db.space.mu.Lock()
	db.space.onRefuse = f
	db.space.mu.Unlock()
}

// ReadOnly reports whether the store was opened read-only.
func (db *DB) ReadOnly() bool { return db.readOnly }

// ErrReadOnly refuses a write to a store opened read-only (Options.ReadOnly,
// as the command line does on a full disk). Kind unavailable.
var ErrReadOnly = court.NewCoded(court.ErrUnavailable, "read_only", "the store is open read-only")

// writable refuses op on a store opened read-only.
func (db *DB) writable(op string) error {
	if !db.readOnly {
		return nil
	}
	return fmt.Errorf("%s: %w (the data directory's disk has less free space than its reserve): free space on it, then run the command again", op, ErrReadOnly)
}

// HumanBytes formats n as B, KiB, MiB or GiB.
func HumanBytes(n int64) string {
	switch {
	case n >= 1<<30 || n <= -1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20 || n <= -1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10 || n <= -1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
