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
// the chain holds; the commits (one transaction and one real Badger Sync
// each) are logged: how many entries each carried depends on how long
// the disk takes, so TestAuditQueueCommitsTogether shows the grouping
// with a commit of known length.
func TestAuditSyncedSharesSyncs(t *testing.T) {
	db := openAuditStore(t)
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
	commits := db.auditQ.commits
	t.Logf("%d entries appended by %d writers at once: %d commits", writers*each, writers, commits)
	if commits == 0 || commits > writers*each {
		t.Errorf("%d commits for %d entries; want at least one and at most one per entry", commits, writers*each)
	}
}

// TestAuditQueueCommitsTogether: 40 callers queue at once on a commit
// that takes 2 ms. Each returns only once its entry is committed, each
// entry is committed exactly once, and the callers shared commits.
func TestAuditQueueCommitsTogether(t *testing.T) {
	var q auditQueue
	var mu sync.Mutex
	var batches [][]*auditReq
	run := func(b []*auditReq) {
		time.Sleep(2 * time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		batches = append(batches, b)
	}
	const callers = 40
	reqs := make([]*auditReq, callers)
	var wg sync.WaitGroup
	for i := range callers {
		reqs[i] = &auditReq{e: AuditEntry{Seq: uint64(i)}}
		wg.Go(func() {
			time.Sleep(time.Duration(i%8) * 500 * time.Microsecond)
			q.commit(reqs[i], run)
			if !reqs[i].done {
				t.Errorf("caller %d returned before its entry was committed", i)
			}
		})
	}
	wg.Wait()
	seen := map[*auditReq]int{}
	for _, b := range batches {
		for _, r := range b {
			seen[r]++
		}
	}
	for i, r := range reqs {
		if seen[r] != 1 {
			t.Fatalf("entry %d committed %d times", i, seen[r])
		}
	}
	if len(batches) >= callers || q.commits != uint64(len(batches)) {
		t.Errorf("%d commits (counted %d) for %d callers: none shared", len(batches), q.commits, callers)
	}
	t.Logf("%d callers, %d commits", callers, len(batches))
}

// TestAuditSyncedFaultInABatch: 16 writers append at once, every other
// entry refused by the test fault. The refused ones return its error and
// are not stored; the others are, once each, and the chain holds.
func TestAuditSyncedFaultInABatch(t *testing.T) {
	db := openAuditStore(t)
	defer db.Close()
	fault := errors.New("disk full")
	db.SetAuditFault(func(e AuditEntry) error {
		if e.Outcome == "refused" {
			return fault
		}
		return nil
	})
	const writers, each = 16, 10
	var wg sync.WaitGroup
	var mu sync.Mutex
	stored := map[uint64]string{}
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				outcome := []string{"ok", "refused"}[(w+i)%2]
				e, err := db.AuditSynced(AuditEntry{Event: "dossier.chunks", Outcome: outcome, Detail: fmt.Sprintf("writer %d, entry %d", w, i)})
				switch {
				case outcome == "refused" && !errors.Is(err, fault):
					t.Errorf("writer %d, entry %d: %v; want the fault", w, i, err)
				case outcome == "ok" && err != nil:
					t.Errorf("writer %d, entry %d: %v", w, i, err)
				case outcome == "ok":
					mu.Lock()
					stored[e.Seq] = e.Detail
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	all, err := db.AuditEntries(1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != writers*each/2 || len(stored) != len(all) {
		t.Fatalf("%d entries stored, %d returned as stored; want %d", len(all), len(stored), writers*each/2)
	}
	for _, e := range all {
		if e.Outcome != "ok" || stored[e.Seq] != e.Detail {
			t.Fatalf("entry %d (%s, %q) is not the one returned for that sequence (%q)", e.Seq, e.Outcome, e.Detail, stored[e.Seq])
		}
	}
	if at, err := VerifyAudit(all, ""); err != nil {
		t.Fatalf("chain broken at %d: %v", at, err)
	}
}

// TestAuditSyncedWhileClosing: writers append with AuditSynced while the
// store closes under them. Each append either succeeds or returns an
// error; none panics (Badger's Sync on a closed store would).
func TestAuditSyncedWhileClosing(t *testing.T) {
	db := openAuditStore(t)
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
// from 16 writers that each commit and sync their own entry (Audit, then
// the store's sync: what AuditSynced costs without grouping). It prints
//
//	audit entries synced, 1 writer: <n>/s (<commits> commits); 16 writers: <n>/s (<commits> commits); 16 writers each alone: <n>/s; grouped / alone = <ratio>x
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
		db := openAuditStore(b)
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
		return float64(count) / time.Since(start).Seconds(), db.auditQ.commits
	}
	for range b.N {
		one, s1 := run(1, true)
		many, s16 := run(16, true)
		alone, _ := run(16, false)
		fmt.Printf("audit entries synced, 1 writer: %.0f/s (%d commits); 16 writers: %.0f/s (%d commits); 16 writers each alone: %.0f/s; grouped / alone = %.2fx\n",
			one, s1, many, s16, alone, many/alone)
		b.ReportMetric(many/alone, "x-shared")
	}
}

// openAuditStore opens a fresh store in a temporary directory, encrypted
// at rest as a node opens its own; the caller closes it.
func openAuditStore(tb testing.TB) *DB {
	tb.Helper()
	k, err := crypto.GenerateEncKey()
	if err != nil {
		tb.Fatal(err)
	}
	db, err := Open(tb.TempDir(), Options{Decrypter: k})
	if err != nil {
		tb.Fatal(err)
	}
	return db
}
