package records

import (
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	cmproto "courtmesh.dev/courtmesh/protocol"
)

// maxAhead bounds the refused records dated ahead a node remembers. One
// per issuer is the usual case (a log stops at its first refused record);
// past the bound the record due soonest is forgotten, and is at worst
// fetched and refused once more.
const maxAhead = 1024

// aheadKey names a position in an issuer's log.
type aheadKey struct {
	issuer peer.ID
	seq    uint64
}

// aheadEntry is a refused record dated ahead: its hash, and when the
// checking clock reaches its date (less the tolerated skew).
type aheadEntry struct {
	hash [32]byte
	due  time.Time
}

// aheadMemo remembers the authentic records this node refused because
// they are dated ahead of its clock, so that neither gossip nor sync
// fetches, checks and audits them again at every interval: the position
// is skipped until the record is due, then tried again. Only records
// whose signature verified enter it, keyed by their signer's log, so a
// relay cannot make a node skip another court's log. It lives in memory:
// after a restart each such record is refused (and audited) once more.
// Safe for concurrent use.
type aheadMemo struct {
	mu sync.Mutex
	m  map[aheadKey]aheadEntry
}

// refused notes a refused record dated ahead. It reports whether the same
// record (same position, same hash) was refused before and is not yet due:
// then it was audited already.
func (a *aheadMemo) refused(e *cmproto.DatedAheadError) (due time.Time, again bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m == nil {
		a.m = make(map[aheadKey]aheadEntry)
	}
	k := aheadKey{e.Signer, e.Seq}
	if was, ok := a.m[k]; ok && was.hash == e.Hash && e.Now.Before(was.due) {
		return was.due, true
	}
	if _, ok := a.m[k]; !ok && len(a.m) >= maxAhead {
		var first aheadKey
		var due time.Time
		for k, v := range a.m {
			if due.IsZero() || v.due.Before(due) {
				first, due = k, v.due
			}
		}
		delete(a.m, first)
	}
	a.m[k] = aheadEntry{hash: e.Hash, due: e.Due()}
	return e.Due(), false
}

// blocked reports whether position seq of issuer's log holds a record
// refused as dated ahead that is not yet due at now; a due one is
// forgotten (it will be fetched and checked again).
func (a *aheadMemo) blocked(issuer peer.ID, seq uint64, now time.Time) (due time.Time, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	k := aheadKey{issuer, seq}
	e, ok := a.m[k]
	if !ok {
		return time.Time{}, false
	}
	if !now.Before(e.due) {
		delete(a.m, k)
		return time.Time{}, false
	}
	return e.due, true
}

// len is the number of records remembered.
func (a *aheadMemo) len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.m)
}
