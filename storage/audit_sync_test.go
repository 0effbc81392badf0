package storage

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/crypto"
)

// TestAuditSyncedSharesSyncs: 32 writers append 20 entries each with
// AuditSynced on a real store at once. Every entry is in the log once and
// the chain holds; the syncs run (real Badger Syncs of the store's logs)
// are logged: how many the writers shared depends on how long the disk
// takes to sync (on tmpfs, next to nothing), so TestGroupSyncCoversEachCaller
// shows the sharing with a sync of known length.
func TestAuditSyncedSharesSyncs(t *testing.T) {
	k, err := crypto.GenerateEncKey()
	if err != nil {
		t.Fatal(err)
	}
	db, err := Open(t.TempDir(), Options{Decrypter: k})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const writers, each = 32, 20
	var wg sync.WaitGroup
	seqs := make(chan uint64, writers*each)
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				e, err := db.AuditSynced(AuditEntry{Event: "dossier.chunks", Outcome: "ok", Detail: fmt.Sprintf("writer %d, entry %d", w, i)})
				if err != nil {
					errs <- err
					return
				}
				seqs <- e.Seq
			}
		})
	}
	wg.Wait()
	close(errs)
	close(seqs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[uint64]bool{}
	for s := range seqs {
		if seen[s] {
			t.Fatalf("sequence %d returned twice", s)
		}
		seen[s] = true
	}
	all, err := db.AuditEntries(1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != writers*each || len(seen) != writers*each {
		t.Fatalf("%d entries stored, %d returned; want %d", len(all), len(seen), writers*each)
	}
	if at, err := VerifyAudit(all, ""); err != nil {
		t.Fatalf("chain broken at %d: %v", at, err)
	}
	syncs := db.auditSync.syncs
	t.Logf("%d entries appended by %d writers at once: %d syncs", writers*each, writers, syncs)
	if syncs == 0 || syncs > writers*each {
		t.Errorf("%d syncs for %d entries; want at least one and at most one per entry", syncs, writers*each)
	}
}

// TestGroupSyncCoversEachCaller: every caller of wait returns after a
// sync that began after its call and ended before its return; a failed
// sync is the error of the callers that needed it, and only of those.
func TestGroupSyncCoversEachCaller(t *testing.T) {
	var g groupSync
	type span struct{ start, end time.Time }
	var mu sync.Mutex
	var syncs []span
	fail := errors.New("fsync: input/output error")
	var failNext bool
	syncFn := func() error {
		s := span{start: time.Now()}
		time.Sleep(2 * time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		s.end = time.Now()
		syncs = append(syncs, s)
		if failNext {
			failNext = false
			return fail
		}
		return nil
	}
	const callers = 40
	type call struct {
		at, back time.Time
		err      error
	}
	calls := make([]call, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			time.Sleep(time.Duration(i%8) * 500 * time.Microsecond)
			calls[i].at = time.Now()
			calls[i].err = g.wait(syncFn)
			calls[i].back = time.Now()
		})
	}
	wg.Wait()
	for i, c := range calls {
		if c.err != nil {
			t.Fatalf("caller %d: %v", i, c.err)
		}
		covered := false
		for _, s := range syncs {
			covered = covered || (s.start.After(c.at) && !s.end.After(c.back))
		}
		if !covered {
			t.Fatalf("caller %d returned with no sync begun after its call and ended before its return", i)
		}
	}
	if len(syncs) >= callers {
		t.Errorf("%d syncs for %d callers: none shared", len(syncs), callers)
	}
	// A sync that fails is the error of the caller that needed it ...
	mu.Lock()
	failNext = true
	mu.Unlock()
	if err := g.wait(syncFn); !errors.Is(err, fail) {
		t.Fatalf("wait over a failing sync: %v; want its error", err)
	}
	// ... and not of a caller after it, whose own sync succeeds.
	if err := g.wait(syncFn); err != nil {
		t.Fatalf("wait after the failure: %v", err)
	}
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "%d callers, %d syncs\n", callers, len(syncs))
	}
}

// TestAuditSyncedWhileClosing: writers append with AuditSynced while the
// store closes under them. Each append either succeeds or returns an
// error; none panics (Badger's Sync on a closed store would).
func TestAuditSyncedWhileClosing(t *testing.T) {
	k, err := crypto.GenerateEncKey()
	if err != nil {
		t.Fatal(err)
	}
	db, err := Open(t.TempDir(), Options{Decrypter: k})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var ok, failed int
	for range 8 {
		wg.Go(func() {
			for range 10000 { // bounded; the store closes long before
				_, err := db.AuditSynced(AuditEntry{Event: "dossier.chunks", Outcome: "ok"})
				mu.Lock()
				if err != nil {
					failed++
				} else {
					ok++
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		})
	}
	for range 5000 { // until some appends went through, at most 5 s
		mu.Lock()
		n := ok
		mu.Unlock()
		if n >= 8 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	t.Logf("%d appends synced, %d refused once the store closed", ok, failed)
	if ok == 0 || failed != 8 {
		t.Errorf("%d appends, %d refusals; want some appends and each of the 8 writers refused once closed", ok, failed)
	}
	if _, err := db.AuditSynced(AuditEntry{Event: "dossier.chunks", Outcome: "ok"}); err == nil {
		t.Error("an append after Close succeeded")
	}
}

// BenchmarkAuditSynced appends entries with AuditSynced on a real store
// from 1 writer and from 16 at once, and, as the baseline in the same run,
// from 16 writers that each sync after their own append (Audit, then the
// store's sync: what AuditSynced costs without sharing). It prints
//
//	audit entries synced, 1 writer: <n>/s (<syncs> syncs); 16 writers: <n>/s (<syncs> syncs); 16 writers each syncing alone: <n>/s; shared / alone = <ratio>x
//
//	go test ./storage -run '^$' -bench '^BenchmarkAuditSynced$' -benchtime 1x
//
// COURTMESH_BENCH_AUDIT sets the entries per run (default 2000).
func BenchmarkAuditSynced(b *testing.B) {
	count := 2000
	if v, err := strconv.Atoi(os.Getenv("COURTMESH_BENCH_AUDIT")); err == nil && v > 0 {
		count = v
	}
	run := func(writers int, shared bool) (float64, uint64) {
		k, err := crypto.GenerateEncKey()
		if err != nil {
			b.Fatal(err)
		}
		db, err := Open(b.TempDir(), Options{Decrypter: k})
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		start := time.Now()
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for i := w; i < count; i += writers {
					e := AuditEntry{Event: "dossier.chunks", Outcome: "ok", Detail: fmt.Sprintf("8 of 8 chunks, request %d", i)}
					var err error
					if shared {
						_, err = db.AuditSynced(e)
					} else if _, err = db.Audit(e); err == nil {
						err = db.syncLogs()
					}
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		return float64(count) / time.Since(start).Seconds(), db.auditSync.syncs
	}
	for range b.N {
		one, s1 := run(1, true)
		many, s16 := run(16, true)
		alone, _ := run(16, false)
		fmt.Printf("audit entries synced, 1 writer: %.0f/s (%d syncs); 16 writers: %.0f/s (%d syncs); 16 writers each syncing alone: %.0f/s; shared / alone = %.2fx\n",
			one, s1, many, s16, alone, many/alone)
		b.ReportMetric(many/alone, "x-shared")
	}
}
