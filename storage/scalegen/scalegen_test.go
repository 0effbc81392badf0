package scalegen

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/storage"
)

func TestCourts(t *testing.T) {
	cs := Courts()
	levels := map[court.Level]int{}
	seen := map[court.CourtCode]bool{}
	for _, c := range cs {
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		if seen[c] {
			t.Fatalf("%s twice", c)
		}
		seen[c] = true
		levels[c.Level()]++
	}
	want := map[court.Level]int{court.LevelSupreme: 1, court.LevelHigh: 33, court.LevelIntermediate: 400, court.LevelBasic: 3066}
	for l, n := range want {
		if levels[l] != n {
			t.Errorf("%s: %d courts, want %d", l, levels[l], n)
		}
	}
	if len(cs) != 3500 {
		t.Fatalf("%d courts", len(cs))
	}
}

func TestTransfersDeterministicAndValid(t *testing.T) {
	g1, g2 := NewGenerator(), NewGenerator()
	states := map[string]int{}
	overdue := 0
	const n = 20000
	for i := range n {
		a, b := g1.Transfer(i), g2.Transfer(i)
		if a.ID != b.ID || string(a.Body) != string(b.Body) {
			t.Fatalf("transfer %d differs between runs", i)
		}
		r, err := storage.TransferRecordFromJSON(a.Body)
		if err != nil {
			t.Fatal(err)
		}
		if r.State != a.State || r.CaseNumber != a.CaseNumber || r.NewCaseNumber != a.NewCaseNumber || r.Deadline != a.Deadline || r.Receiver != a.Receiver {
			t.Fatalf("transfer %d: record %+v does not match its body %+v", i, a, r)
		}
		states[a.State]++
		if !a.Deadline.IsZero() && a.Deadline.Before(court.DateOf(Now)) {
			overdue++
		}
	}
	if states["closed"] < n*3/4 || states["decided"] < n/100 || overdue == 0 || overdue >= states["decided"] {
		t.Fatalf("state mix %v, %d overdue", states, overdue)
	}
}

func TestCachedAndPrepare(t *testing.T) {
	t.Setenv(CacheEnv, t.TempDir())
	ctx := context.Background()
	dir, m, err := Cached(ctx, 500, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.N != 500 || m.Courts != 3500 {
		t.Fatalf("manifest %+v", m)
	}
	st, _ := os.Stat(filepath.Join(dir, manifestFile))
	again, _, err := Cached(ctx, 500, nil)
	if err != nil || again != dir {
		t.Fatal(again, err)
	}
	if st2, _ := os.Stat(filepath.Join(dir, manifestFile)); !st2.ModTime().Equal(st.ModTime()) {
		t.Fatal("a second run generated again")
	}
	dst := filepath.Join(t.TempDir(), "node")
	if _, err := Prepare(ctx, 500, dst, nil); err != nil {
		t.Fatal(err)
	}
	db, err := storage.Open(dst, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	counts, err := db.TransferCounts()
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for s, c := range counts {
		if int(c) != m.States[s] {
			t.Errorf("%s: %d stored, %d generated", s, c, m.States[s])
		}
		total += int(c)
	}
	if total != 500 {
		t.Fatalf("%d transfers", total)
	}
	if err := db.CheckTransferIndexes(ctx); err != nil {
		t.Fatal(err)
	}
}

// A derived fixture runs its step once per key, on a copy: the plain
// fixture stays as generated.
func TestPrepareDerived(t *testing.T) {
	t.Setenv(CacheEnv, t.TempDir())
	ctx := context.Background()
	runs := 0
	d := Derived{Key: "one statistic", Run: func(ctx context.Context, dir string) error {
		runs++
		db, err := storage.Open(dir, storage.Options{})
		if err != nil {
			return err
		}
		defer db.Close()
		return db.EnsureTransferStats(ctx, "k", func([]byte) (map[string]int64, error) { return map[string]int64{"n": 1}, nil })
	}}
	for i := range 2 {
		dst := filepath.Join(t.TempDir(), "node")
		if _, err := PrepareDerived(ctx, 200, dst, nil, d); err != nil {
			t.Fatal(err)
		}
		db, err := storage.Open(dst, storage.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if st, err := db.TransferStats(""); err != nil || st["n"] != 200 {
			t.Errorf("run %d: statistics %v, %v", i, st, err)
		}
		db.Close()
	}
	if runs != 1 {
		t.Errorf("derived step ran %d times, want once", runs)
	}
	plain := filepath.Join(t.TempDir(), "plain")
	if _, err := Prepare(ctx, 200, plain, nil); err != nil {
		t.Fatal(err)
	}
	db, err := storage.Open(plain, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if st, _ := db.TransferStats(""); len(st) != 0 {
		t.Errorf("the plain fixture has statistics %v", st)
	}
}
