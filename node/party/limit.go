package party

import (
	"sync"
	"time"
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

// limiter keeps the failures and lockouts of keys, in memory.
type limiter struct {
	l   Limits
	now func() time.Time
	mu  sync.Mutex
	m   map[string]*limitEntry
}

func newLimiter(l Limits, now func() time.Time) *limiter {
	return &limiter{l: l, now: now, m: map[string]*limitEntry{}}
}

// locked reports how long key stays locked out (0: not locked).
func (l *limiter) locked(key string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.m[key]
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
	now := l.now()
	e := l.m[key]
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
	if e := l.m[key]; e != nil {
		e.fails = 0
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
			delete(l.m, k)
		}
	}
	for k, e := range l.m {
		if len(l.m) < l.l.MaxKeys {
			return
		}
		if !e.until.After(now) {
			delete(l.m, k)
		}
	}
}
