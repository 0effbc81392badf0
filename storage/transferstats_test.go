package storage

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
)

// bodyStats is a statistics definition for the tests: one per transfer,
// one per state, and the amount outstanding (mult times).
func bodyStats(mult int64) StatsFunc {
	return func(body []byte) (map[string]int64, error) {
		var b struct {
			State  string `json:"state"`
			Amount int64  `json:"amount_outstanding_fen"`
		}
		if err := json.Unmarshal(body, &b); err != nil {
			return nil, err
		}
		return map[string]int64{"n": 1, "state/" + b.State: 1, "fen": b.Amount * mult}, nil
	}
}

func statsWrite(t *testing.T, id, state string, body []byte, fn StatsFunc) *TransferWrite {
	t.Helper()
	st, err := fn(body)
	if err != nil {
		t.Fatal(err)
	}
	return &TransferWrite{ID: id, State: state, Data: body, Stats: st}
}

func wantStats(t *testing.T, db *DB, c court.CourtCode, want map[string]int64) {
	t.Helper()
	got, err := db.TransferStats(c)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got, want) {
		t.Errorf("statistics of %q: %v, want %v", c, got, want)
	}
}

// The sums follow every write, per scope, and a change replaces what the
// transfer's previous state added.
func TestTransferStatsSums(t *testing.T) {
	ctx := context.Background()
	db, _, _ := testStore(t)
	defer db.Close()
	fn := bodyStats(1)
	b1 := protoBody(t, "t1", "offered", "京0105", "京01", "", "（2024）京0105执1号", "", "", t0)
	b2 := protoBody(t, "t2", "decided", "京0105", "京01", "京0108", "（2024）京0105执2号", "", "2025-03-05", t0.Add(time.Hour))
	b3 := protoBody(t, "t3", "decided", "沪0101", "沪01", "沪0104", "（2024）沪0101执3号", "", "2025-03-04", t0.Add(2*time.Hour))
	for _, w := range []*TransferWrite{statsWrite(t, "t1", "offered", b1, fn), statsWrite(t, "t2", "decided", b2, fn), statsWrite(t, "t3", "decided", b3, fn)} {
		if err := db.Apply(Commit{Transfer: w}); err != nil {
			t.Fatal(err)
		}
	}
	wantStats(t, db, "", map[string]int64{"n": 3, "state/offered": 1, "state/decided": 2, "fen": 300000})
	wantStats(t, db, "京0105", map[string]int64{"n": 2, "state/offered": 1, "state/decided": 1, "fen": 200000})
	wantStats(t, db, "京0108", map[string]int64{"n": 1, "state/decided": 1, "fen": 100000})
	wantStats(t, db, "沪0104", map[string]int64{"n": 1, "state/decided": 1, "fen": 100000})
	wantStats(t, db, "粤01", map[string]int64{})

	// Overdue per court, from the per-court deadline counters.
	at := court.Date{Year: 2025, Month: 3, Day: 6}
	for c, want := range map[court.CourtCode]int{"京0105": 1, "京0108": 1, "京01": 1, "沪0104": 1, "京0106": 0} {
		if n, err := db.CountCourtOverdue(ctx, c, at); err != nil || n != want {
			t.Errorf("overdue at %s: %d, %v; want %d", c, n, err, want)
		}
	}
	if n, _ := db.CountCourtOverdue(ctx, "沪0104", court.Date{Year: 2025, Month: 3, Day: 4}); n != 0 {
		t.Errorf("due on the 4th, overdue on the 4th: %d", n)
	}
	// The deadline index's entries carry what an alert needs.
	es, more, err := db.OverdueEntries(ctx, at, 10)
	if err != nil || more || len(es) != 2 {
		t.Fatalf("overdue entries %+v, more %v, %v", es, more, err)
	}
	want := DueEntry{ID: "t3", State: "decided", Deadline: court.Date{Year: 2025, Month: 3, Day: 4}, Offered: t0.Add(2 * time.Hour),
		Origin: "沪0101", Decider: "沪01", Receiver: "沪0104"}
	if es[0] != want || es[1].ID != "t2" || es[1].Receiver != "京0108" {
		t.Errorf("overdue entries %+v, want first %+v, then t2", es, want)
	}
	if es, more, _ := db.OverdueEntries(ctx, at, 1); len(es) != 1 || !more {
		t.Errorf("limit 1: %d entries, more %v", len(es), more)
	}

	// t2 accepted: its decided state no longer counts.
	b2a := protoBody(t, "t2", "accepted", "京0105", "京01", "京0108", "（2024）京0105执2号", "（2025）京0108执4号", "2025-03-05", t0.Add(time.Hour))
	if err := db.Apply(Commit{Transfer: statsWrite(t, "t2", "accepted", b2a, fn)}); err != nil {
		t.Fatal(err)
	}
	wantStats(t, db, "京0108", map[string]int64{"n": 1, "state/accepted": 1, "fen": 100000})
	wantStats(t, db, "", map[string]int64{"n": 3, "state/offered": 1, "state/decided": 1, "state/accepted": 1, "fen": 300000})
	if n, _ := db.CountCourtOverdue(ctx, "京0108", at); n != 0 {
		t.Errorf("accepted, still overdue at the receiver: %d", n)
	}
	if err := db.CheckTransferIndexes(ctx); err != nil {
		t.Fatal(err)
	}

	// A negative statistic is refused, and nothing of the commit lands.
	bad := statsWrite(t, "t1", "offered", b1, fn)
	bad.Stats["fen"] = -1
	if err := db.Apply(Commit{Transfer: bad}); !errors.Is(err, court.ErrInvalid) {
		t.Errorf("negative statistic: %v, want ErrInvalid", err)
	}
	wantStats(t, db, "", map[string]int64{"n": 3, "state/offered": 1, "state/decided": 1, "state/accepted": 1, "fen": 300000})
}

// EnsureTransferStats recomputes every transfer's statistics and every
// sum once per definition, and only then.
func TestEnsureTransferStats(t *testing.T) {
	ctx := context.Background()
	db, dir, k := testStore(t)
	// Written without statistics, as by a build before them.
	for i, c := range []court.CourtCode{"京0105", "京0106", "沪0101"} {
		id := "t" + string(rune('1'+i))
		b := protoBody(t, id, "offered", c, court.CourtCode(string(c)[:len(c)-2]), "", "（2024）"+string(c)+"执1号", "", "", t0.Add(time.Duration(i)*time.Hour))
		if err := db.Apply(Commit{Transfer: &TransferWrite{ID: id, State: "offered", Data: b}}); err != nil {
			t.Fatal(err)
		}
	}
	wantStats(t, db, "", map[string]int64{})
	calls := 0
	counting := func(fn StatsFunc) StatsFunc {
		return func(b []byte) (map[string]int64, error) { calls++; return fn(b) }
	}
	if err := db.EnsureTransferStats(ctx, "def-1", counting(bodyStats(1))); err != nil {
		t.Fatal(err)
	}
	if calls != 3 {
		t.Errorf("%d transfers computed, want 3", calls)
	}
	wantStats(t, db, "", map[string]int64{"n": 3, "state/offered": 3, "fen": 300000})
	wantStats(t, db, "京0106", map[string]int64{"n": 1, "state/offered": 1, "fen": 100000})
	if r, _ := db.GetTransfer("t2"); r.Stats["n"] != 1 {
		t.Errorf("record's own statistics %v", r.Stats)
	}
	if err := db.CheckTransferIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	db.Close()

	// The same definition again, after a restart: nothing recomputed.
	db, err := Open(dir, Options{Decrypter: k})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	calls = 0
	if err := db.EnsureTransferStats(ctx, "def-1", counting(bodyStats(1))); err != nil || calls != 0 {
		t.Fatalf("same definition: %d computed, %v", calls, err)
	}
	// A new definition replaces every sum; names it no longer has go.
	if err := db.EnsureTransferStats(ctx, "def-2", counting(func(b []byte) (map[string]int64, error) {
		return map[string]int64{"m": 2}, nil
	})); err != nil || calls != 3 {
		t.Fatalf("new definition: %d computed, %v", calls, err)
	}
	wantStats(t, db, "", map[string]int64{"m": 6})
	wantStats(t, db, "沪0101", map[string]int64{"m": 2})
	if err := db.CheckTransferIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	// A definition that fails leaves the store to try again.
	boom := errors.New("boom")
	if err := db.EnsureTransferStats(ctx, "def-3", func([]byte) (map[string]int64, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("failing definition: %v", err)
	}
	calls = 0
	if err := db.EnsureTransferStats(ctx, "def-3", counting(bodyStats(2))); err != nil || calls != 3 {
		t.Fatalf("after a failure: %d computed, %v", calls, err)
	}
	wantStats(t, db, "", map[string]int64{"n": 3, "state/offered": 3, "fen": 600000})
}
