package party

import (
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"time"

	"courtmesh.dev/courtmesh/storage"
)

// Limits against guessing. Every key (a source address, a case number as
// typed) has a count of failed sign-ins; after MaxFailures in a row it is
// locked out, first for FirstLockout, each further lockout twice as long,
// up to MaxLockout. A lockout level is forgotten only after LevelMemory
// without failures. A success clears the failures of its source, never
// those of its case number (another party of the same case must not be
// able to reset an attack on a code). docs/operations.md shows the
// arithmetic.
type Limits struct {
	MaxFailures  int           // failures before a lockout
	FirstLockout time.Duration // the first lockout; each next one doubles
	MaxLockout   time.Duration // the longest lockout
	LevelMemory  time.Duration // a key with no failure this long starts afresh
	MaxKeys      int           // keys remembered at most (unlocked ones are dropped first)
}

// CaseLimits are the limits per case number.
var CaseLimits = Limits{MaxFailures: 5, FirstLockout: time.Minute, MaxLockout: 24 * time.Hour, LevelMemory: 7 * 24 * time.Hour, MaxKeys: 200_000}

// SourceLimits are the limits per source address.
var SourceLimits = Limits{MaxFailures: 20, FirstLockout: time.Minute, MaxLockout: 24 * time.Hour, LevelMemory: 24 * time.Hour, MaxKeys: 200_000}

type limitEntry struct {
	fails    int
	lockouts int
	until    time.Time
	last     time.Time
}

// LockoutStore keeps a limiter's entries across restarts (storage.DB).
type LockoutStore interface {
	PutPartyLockout(key string, l storage.PartyLockout) error
	DeletePartyLockout(key string) error
	PartyLockouts() (map[string]storage.PartyLockout, error)
}

// limiter keeps the failures and lockouts of keys in memory and, with a
// store, in the store: a restart neither lifts a lockout nor forgets a
// level. Keys are held hashed (a case number as typed is a party's
// input).
type limiter struct {
	l     Limits
	now   func() time.Time
	store LockoutStore // nil: in memory only
	// failed counts the store's write errors (the lockout still holds in
	// memory; the portal logs them).
	failed func(error)
	mu     sync.Mutex
	m      map[string]*limitEntry
}

func newLimiter(l Limits, now func() time.Time) *limiter {
	return &limiter{l: l, now: now, m: map[string]*limitEntry{}}
}

// newStoredLimiter is newLimiter over the entries kept in st, which it
// keeps up to date; failed is called with each write error.
func newStoredLimiter(l Limits, now func() time.Time, st LockoutStore, failed func(error)) (*limiter, error) {
	lm := newLimiter(l, now)
	lm.store, lm.failed = st, failed
	es, err := st.PartyLockouts()
	if err != nil {
		return nil, err
	}
	t := now()
	for k, e := range es {
		if !e.Until.After(t) && t.Sub(e.Last) > l.LevelMemory {
			lm.drop(k) // forgotten while the node was down
			continue
		}
		lm.m[k] = &limitEntry{fails: e.Fails, lockouts: e.Lockouts, until: e.Until, last: e.Last}
	}
	return lm, nil
}

// hashKey is the key under which a limiter holds key.
func hashKey(key string) string {
	h := sha256.Sum256([]byte("courtmesh party limit\x00" + key))
	return hex.EncodeToString(h[:16])
}

// save writes k's entry to the store (under mu).
func (l *limiter) save(k string, e *limitEntry) {
	if l.store == nil {
		return
	}
	if err := l.store.PutPartyLockout(k, storage.PartyLockout{Fails: e.fails, Lockouts: e.lockouts, Until: e.until, Last: e.last}); err != nil && l.failed != nil {
		l.failed(err)
	}
}

// drop forgets k in memory and in the store (under mu).
func (l *limiter) drop(k string) {
	delete(l.m, k)
	if l.store == nil {
		return
	}
	if err := l.store.DeletePartyLockout(k); err != nil && l.failed != nil {
		l.failed(err)
	}
}

// locked reports how long key stays locked out (0: not locked).
func (l *limiter) locked(key string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.m[hashKey(key)]
	if e == nil {
		return 0
	}
	if d := e.until.Sub(l.now()); d > 0 {
		return d
	}
	return 0
}

// fail counts a failure of key and returns the lockout it started (0:
// none yet).
func (l *limiter) fail(key string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	key = hashKey(key)
	now := l.now()
	e := l.m[key]
	defer func() { l.save(key, e) }()
	if e != nil && now.Sub(e.last) > l.l.LevelMemory && !e.until.After(now) {
		e = nil // forgotten
	}
	if e == nil {
		l.makeRoom(now)
		e = &limitEntry{}
		l.m[key] = e
	}
	e.last = now
	e.fails++
	if e.fails < l.l.MaxFailures {
		return 0
	}
	e.fails = 0
	d := l.l.FirstLockout << min(e.lockouts, 30)
	if d > l.l.MaxLockout || d <= 0 {
		d = l.l.MaxLockout
	}
	e.lockouts++
	e.until = now.Add(d)
	return d
}

// succeed clears key's failures (not its lockout level).
func (l *limiter) succeed(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := hashKey(key)
	if e := l.m[k]; e != nil && e.fails > 0 {
		e.fails = 0
		l.save(k, e)
	}
}

// makeRoom drops forgotten keys, then unlocked ones, when the map is full
// (under mu). Locked keys are kept: dropping them would lift a lockout.
func (l *limiter) makeRoom(now time.Time) {
	if len(l.m) < l.l.MaxKeys {
		return
	}
	for k, e := range l.m {
		if !e.until.After(now) && now.Sub(e.last) > l.l.LevelMemory {
			l.drop(k)
		}
	}
	for k, e := range l.m {
		if len(l.m) < l.l.MaxKeys {
			return
		}
		if !e.until.After(now) {
			l.drop(k)
		}
	}
}
