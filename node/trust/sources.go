package trust

import (
	"math/rand/v2"
	"slices"
	"sync"

	"github.com/libp2p/go-libp2p/core/peer"

	"courtmesh.dev/courtmesh/crypto"
)

// Many sources. A node remembers which peers hold which bundle sequence
// (they announced it, offered it, or told us they hold it when they asked
// us), and pulls a whole bundle from them in random order rather than
// from the announcer first. A server serves a whole bundle to at most
// uploadFanout askers per bundle and uploadConcurrency at once; beyond,
// it answers "busy" and the asker goes to another source, which by then
// may be one of those the server served: the bundle spreads as a tree.
// An asker that found no other source for lastResortAfter rounds asks as
// a last resort, which a server serves within its concurrency limit.
const (
	uploadConcurrency = 8  // whole-bundle uploads at once, per node
	uploadFanout      = 8  // whole-bundle uploads per bundle before "busy" (last resorts aside)
	lastResortAfter   = 4  // rounds of busy sources before asking as a last resort
	maxPullRounds     = 12 // rounds (with backoff) before waiting for the next announcement
	holderSeqs        = 4  // sequences remembered
	holdersPerSeq     = 64 // peers remembered per sequence
)

// holders remembers, for the few newest sequences heard of, the peers that
// hold them (bounded: holderSeqs sequences of holdersPerSeq peers).
type holders struct {
	mu  sync.Mutex
	seq map[uint64][]peer.ID // most recent last
}

// add records that p holds sequence seq.
func (h *holders) add(seq uint64, p peer.ID) {
	if p == "" {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.seq == nil {
		h.seq = map[uint64][]peer.ID{}
	}
	ps, known := h.seq[seq]
	if !known && len(h.seq) >= holderSeqs {
		oldest := seq
		for s := range h.seq {
			oldest = min(oldest, s)
		}
		if oldest == seq {
			return // older than every sequence remembered
		}
		delete(h.seq, oldest)
	}
	ps = slices.DeleteFunc(ps, func(q peer.ID) bool { return q == p })
	if len(ps) >= holdersPerSeq {
		ps = ps[1:]
	}
	h.seq[seq] = append(ps, p)
}

// of returns the peers known to hold seq or a newer sequence, in random
// order, each once.
func (h *holders) of(seq uint64) []peer.ID {
	h.mu.Lock()
	var out []peer.ID
	for s, ps := range h.seq {
		if s >= seq {
			out = append(out, ps...)
		}
	}
	h.mu.Unlock()
	slices.Sort(out)
	out = slices.Compact(out)
	rand.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// newest returns the newest sequence remembered (0: none).
func (h *holders) newest() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	var n uint64
	for s := range h.seq {
		n = max(n, s)
	}
	return n
}

// forget drops what is known of sequences up to seq (installed).
func (h *holders) forget(seq uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.seq {
		if s <= seq {
			delete(h.seq, s)
		}
	}
}

// uploads bounds the whole-bundle uploads of a node: at most concurrency
// at once, and at most fanout per bundle (keyed by its full sequence)
// unless the asker asks as a last resort.
type uploads struct {
	mu          sync.Mutex
	concurrency int
	fanout      int
	active      int
	seq         uint64 // the full sequence served counts
	served      int    // uploads of seq started (last resorts included)
}

// reserve takes an upload slot for bundle seq, or returns false (busy).
func (u *uploads) reserve(seq uint64, lastResort bool) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.seq != seq {
		u.seq, u.served = seq, 0
	}
	if u.active >= u.concurrency || (u.served >= u.fanout && !lastResort) {
		return false
	}
	u.active++
	u.served++
	return true
}

func (u *uploads) release() {
	u.mu.Lock()
	u.active--
	u.mu.Unlock()
}

// partial is the beginning of a whole bundle whose download stopped: the
// bundle named by a root-signed head (its full sequence, size and
// SHA-256), and the bytes received, fewer than size (at most
// crypto.MaxBundleSize). A pull of the same bundle from another source
// resumes from there.
type partial struct {
	head *crypto.BundleHead
	buf  []byte
}

// partials holds at most one partial bundle.
type partials struct {
	mu sync.Mutex
	p  *partial
}

// take returns the bytes already received of the bundle named by head,
// and removes them (the caller puts back what it has if it stops again).
// A partial of another bundle of the same or an older sequence is
// discarded (a head mismatch, or superseded); one of a newer is kept.
func (ps *partials) take(head *crypto.BundleHead) []byte {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	p := ps.p
	if p == nil {
		return nil
	}
	if p.head.Sequence > head.Sequence {
		return nil
	}
	ps.p = nil
	if !sameBundle(p.head, head) {
		return nil
	}
	return p.buf
}

// put keeps buf, the beginning of the bundle named by head, unless a
// longer beginning of it, or one of a newer bundle, is already kept.
func (ps *partials) put(head *crypto.BundleHead, buf []byte) {
	if len(buf) == 0 || uint64(len(buf)) >= head.Size {
		return
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if p := ps.p; p != nil && (p.head.Sequence > head.Sequence || (sameBundle(p.head, head) && len(p.buf) >= len(buf))) {
		return
	}
	ps.p = &partial{head: head, buf: buf}
}

// pending reports whether a partial bundle newer than have is kept.
func (ps *partials) pending(have uint64) bool {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.p != nil && ps.p.head.Sequence > have
}

// drop discards a partial bundle not newer than have (installed).
func (ps *partials) drop(have uint64) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.p != nil && ps.p.head.Sequence <= have {
		ps.p = nil
	}
}

// sameBundle reports whether two heads name the same whole bundle.
func sameBundle(a, b *crypto.BundleHead) bool {
	return a.Sequence == b.Sequence && a.Hash == b.Hash && a.Size == b.Size
}
