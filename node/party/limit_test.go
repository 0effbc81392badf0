package party

import (
	"testing"
	"time"

	"courtmesh.dev/courtmesh/storage"
)

// TestLockoutSurvivesRestart: a case number locked out by failed
// sign-ins stays locked, at its level, after the node restarts (a new
// limiter over the same Badger store), and a level forgotten while the
// node was down is dropped from the store.
func TestLockoutSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	open := func() (*storage.DB, *limiter) {
		t.Helper()
		db, err := storage.Open(dir, storage.Options{})
		if err != nil {
			t.Fatal(err)
		}
		l, err := newStoredLimiter(CaseLimits, clock, db, func(err error) { t.Errorf("store write: %v", err) })
		if err != nil {
			t.Fatal(err)
		}
		return db, l
	}
	const cn = "（2026）京0105执1号"
	db, l := open()
	// Two lockouts: the second, 2 minutes, is in force at the restart.
	for range CaseLimits.MaxFailures {
		l.fail(cn)
	}
	now = now.Add(CaseLimits.FirstLockout)
	var d time.Duration
	for range CaseLimits.MaxFailures {
		d = l.fail(cn)
	}
	if d != 2*CaseLimits.FirstLockout {
		t.Fatalf("second lockout %v, want %v", d, 2*CaseLimits.FirstLockout)
	}
	l.fail("（2026）京0105执2号") // another case: one failure, no lockout
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	now = now.Add(time.Minute)
	db, l = open()
	if got := l.locked(cn); got != time.Minute {
		t.Errorf("after the restart %s is locked for %v, want the minute left", cn, got)
	}
	now = now.Add(time.Minute)
	if l.locked(cn) != 0 {
		t.Fatal("still locked after its lockout ended")
	}
	// The level survived: the next lockout is the third, 4 minutes.
	for range CaseLimits.MaxFailures {
		d = l.fail(cn)
	}
	if d != 4*CaseLimits.FirstLockout {
		t.Errorf("the lockout after the restart is %v, want the third level's %v", d, 4*CaseLimits.FirstLockout)
	}
	stored, err := db.PartyLockouts()
	if err != nil || len(stored) != 2 {
		t.Fatalf("stored lockouts: %d, %v; want 2", len(stored), err)
	}
	for k := range stored {
		if k != hashKey(cn) && k != hashKey("（2026）京0105执2号") {
			t.Errorf("stored under %q, not a hash of a case number typed", k)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// Down longer than the level's memory: forgotten, and dropped.
	now = now.Add(CaseLimits.LevelMemory + time.Hour)
	db, l = open()
	defer db.Close()
	if stored, _ := db.PartyLockouts(); len(stored) != 0 {
		t.Errorf("%d lockouts kept after their levels were forgotten", len(stored))
	}
	for i := 1; i < CaseLimits.MaxFailures; i++ {
		if l.fail(cn) != 0 {
			t.Fatalf("locked after %d failures once the level was forgotten", i)
		}
	}
}
