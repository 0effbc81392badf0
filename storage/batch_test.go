package storage

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"courtmesh.dev/courtmesh/court"
)

// TestBatch: commits applied through one Batch see each other's writes
// and end as the same commits applied one by one (records, log heads,
// transfers, indexes, counters, statistics, held records); a batch whose
// function fails writes nothing; a batch does not release held records.
func TestBatch(t *testing.T) {
	one, _, _ := testStore(t)
	defer one.Close()
	bat, _, _ := testStore(t)
	defer bat.Close()
	rec := func(id, state, caseNo string) *TransferRecord {
		r := record(t, id, state, "沪0101", "沪01", "沪0104", caseNo, "", "2025-04-01", t0)
		r.Stats, r.Tags = map[string]int64{"open": 1}, []string{"funds"}
		return &r
	}
	commits := []Commit{
		{Record: &LogRecord{Issuer: "peerA", Seq: 1, Raw: []byte("a1")}, TransferRecord: rec("t1", "offered", "（2024）沪0101执1号")},
		{Record: &LogRecord{Issuer: "peerA", Seq: 2, Raw: []byte("a2")}, TransferRecord: rec("t2", "offered", "（2024）沪0101执2号")},
		{Record: &LogRecord{Issuer: "peerB", Seq: 1, Raw: []byte("b1")}, TransferRecord: rec("t1", "decided", "（2024）沪0101执1号")},
		{Record: &LogRecord{Issuer: "peerB", Seq: 3, Raw: []byte("b3")}, Hold: &Held{Transfer: "t2", Hash: "h3", Raw: []byte("b3")}},
		{Record: &LogRecord{Issuer: "peerA", Seq: 3, Raw: []byte("a3")}},
	}
	for _, c := range commits {
		if err := one.Apply(c); err != nil {
			t.Fatal(err)
		}
	}
	err := bat.Batch(func(b *Batch) error {
		for i, c := range commits {
			if has, err := b.HasRecord(c.Record.Issuer, c.Record.Seq, c.Record.Raw); err != nil || has {
				t.Fatalf("commit %d: HasRecord before it: %v, %v", i, has, err)
			}
			if w := c.TransferRecord; w != nil {
				// Read before the write (the batch keeps what it read):
				// the write must be seen after it all the same.
				_, _ = b.Transfer(w.ID)
			}
			if err := b.Apply(c); err != nil {
				t.Fatal(err)
			}
			if has, err := b.HasRecord(c.Record.Issuer, c.Record.Seq, c.Record.Raw); err != nil || !has {
				t.Fatalf("commit %d: HasRecord after it: %v, %v", i, has, err)
			}
			if w := c.TransferRecord; w != nil {
				if body, err := b.Transfer(w.ID); err != nil || string(body) != string(w.Body) {
					t.Fatalf("commit %d: Transfer %s after it: %s, %v; want its body", i, w.ID, body, err)
				}
			}
		}
		if _, err := b.HasRecord("peerA", 1, []byte("other")); !errors.Is(err, ErrEquivocation) {
			t.Errorf("another record at a written position: %v, want ErrEquivocation", err)
		}
		if body, err := b.Transfer("t1"); err != nil || string(body) != string(commits[2].TransferRecord.Body) {
			t.Errorf("Transfer t1 in the batch: %s, %v; want the decided body", body, err)
		}
		if _, err := b.Transfer("t9"); !errors.Is(err, court.ErrNotFound) {
			t.Errorf("Transfer of none: %v", err)
		}
		for id, want := range map[string]bool{"t1": false, "t2": true} {
			if got, err := b.HasHeld(id); err != nil || got != want {
				t.Errorf("HasHeld(%s) = %v, %v; want %v", id, got, err, want)
			}
		}
		if err := b.Apply(Commit{Unhold: &Held{Transfer: "t2", Hash: "h3"}}); !errors.Is(err, court.ErrInvalid) {
			t.Errorf("Unhold in a batch: %v, want invalid", err)
		}
		if b.Len() != len(commits) || b.Size() == 0 {
			t.Errorf("Len %d, Size %d", b.Len(), b.Size())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, db := range []*DB{one, bat} {
		if err := db.CheckTransferIndexes(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	same := func(what string, f func(db *DB) (any, error)) {
		t.Helper()
		a, aerr := f(one)
		b, berr := f(bat)
		if aerr != nil || berr != nil || !reflect.DeepEqual(a, b) {
			t.Errorf("%s: batch %v (%v), one by one %v (%v)", what, b, berr, a, aerr)
		}
	}
	same("log heads", func(db *DB) (any, error) { return db.LogHeads() })
	same("counts", func(db *DB) (any, error) { return db.TransferCounts() })
	same("stats of 沪01", func(db *DB) (any, error) { return db.TransferStats("沪01") })
	same("held t2", func(db *DB) (any, error) { return db.HeldRecords("t2") })
	for _, id := range []string{"t1", "t2"} {
		same("transfer "+id, func(db *DB) (any, error) { return db.GetTransfer(id) })
	}
	same("log of peerA", func(db *DB) (any, error) { return db.LogRange("peerA", 1, 9, 9) })

	// A batch whose function fails writes nothing.
	fail := errors.New("stop")
	err = bat.Batch(func(b *Batch) error {
		if err := b.Apply(Commit{Record: &LogRecord{Issuer: "peerC", Seq: 1, Raw: []byte("c1")}, TransferRecord: rec("t3", "offered", "（2024）沪0101执3号")}); err != nil {
			t.Fatal(err)
		}
		return fail
	})
	if !errors.Is(err, fail) {
		t.Fatalf("failed batch: %v", err)
	}
	if h, _ := bat.LogHead("peerC"); h != 0 {
		t.Errorf("a failed batch moved a log head to %d", h)
	}
	if _, err := bat.GetTransfer("t3"); !errors.Is(err, court.ErrNotFound) {
		t.Errorf("a failed batch stored a transfer: %v", err)
	}
}
