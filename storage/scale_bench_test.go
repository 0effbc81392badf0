package storage_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/storage"
	"courtmesh.dev/courtmesh/storage/scalegen"
)

// scaleSizes returns the two store sizes BenchmarkScaleStorage compares:
// 3,000 and 300,000 transfers with COURTMESH_SCALE_FULL=1, 3,000 and
// 30,000 otherwise (CI).
func scaleSizes() (small, large int) {
	if os.Getenv("COURTMESH_SCALE_FULL") == "1" {
		return 3000, 300000
	}
	return 3000, 30000
}

// scaleOp is one storage operation a routine read or write of a node
// makes.
type scaleOp struct {
	name string
	run  func(ctx context.Context, db *storage.DB, i int) error
}

func scaleOps(g *scalegen.Generator) []scaleOp {
	probe := g.Transfer(1234) // stored at every size
	today := court.DateOf(scalegen.Now)
	return []scaleOp{
		{"count by state", func(ctx context.Context, db *storage.DB, i int) error {
			c, err := db.TransferCounts()
			if err == nil && c["closed"] == 0 {
				err = fmt.Errorf("no closed transfers counted")
			}
			return err
		}},
		{"count overdue", func(ctx context.Context, db *storage.DB, i int) error {
			n, err := db.CountOverdue(ctx, today)
			if err == nil && n == 0 {
				err = fmt.Errorf("nothing overdue")
			}
			return err
		}},
		{"list page", func(ctx context.Context, db *storage.DB, i int) error {
			p, err := db.ListTransfers(ctx, storage.TransferQuery{Limit: 100})
			if err != nil {
				return err
			}
			p, err = db.ListTransfers(ctx, storage.TransferQuery{Limit: 100, Cursor: p.Next})
			if err == nil && len(p.Records) != 100 {
				err = fmt.Errorf("second page of %d", len(p.Records))
			}
			return err
		}},
		{"list page of a court", func(ctx context.Context, db *storage.DB, i int) error {
			// The probe's superior: enough transfers at 3,000 to fill 5.
			p, err := db.ListTransfers(ctx, storage.TransferQuery{Court: probe.Decider, Limit: 5})
			if err == nil && len(p.Records) != 5 {
				err = fmt.Errorf("court page of %d", len(p.Records))
			}
			return err
		}},
		{"lookup by case number", func(ctx context.Context, db *storage.DB, i int) error {
			rs, err := db.TransfersByCase(ctx, probe.CaseNumber)
			if err == nil && (len(rs) != 1 || rs[0].ID != probe.ID) {
				err = fmt.Errorf("lookup found %d transfers", len(rs))
			}
			return err
		}},
		{"overdue page", func(ctx context.Context, db *storage.DB, i int) error {
			// 10: fewer than are overdue at 3,000 (18), so both sizes fill a page.
			p, err := db.ListTransfers(ctx, storage.TransferQuery{OverdueAt: today, Limit: 10})
			if err == nil && len(p.Records) != 10 {
				err = fmt.Errorf("no overdue transfer listed")
			}
			return err
		}},
		{"apply new transfer", func(ctx context.Context, db *storage.DB, i int) error {
			r := g.Transfer(10_000_000 + i) // beyond any fixture
			return db.Apply(storage.Commit{TransferRecord: &r,
				Record:      &storage.LogRecord{Issuer: "bench", Seq: uint64(i + 1), Raw: []byte(r.ID)},
				Checkpoints: []storage.Checkpoint{{Name: "records.applied", Issuer: "bench", Seq: uint64(i + 1)}}})
		}},
	}
}

// timeOp returns the mean time of op over at least 20 runs and 200 ms.
func timeOp(ctx context.Context, db *storage.DB, op scaleOp, next *int) (time.Duration, error) {
	for range 3 { // warm up
		if err := op.run(ctx, db, *next); err != nil {
			return 0, err
		}
		*next++
	}
	start := time.Now()
	n := 0
	for n < 20 || time.Since(start) < 200*time.Millisecond {
		if err := op.run(ctx, db, *next); err != nil {
			return 0, err
		}
		*next++
		n++
	}
	return time.Since(start) / time.Duration(n), nil
}

// BenchmarkScaleStorage times the storage side of a node's routine reads
// and writes at two store sizes and prints, per operation,
//
//	scale storage <op>: <time at small> -> <time at large> = <ratio>x
//
// Run: go test ./storage -run '^$' -bench ScaleStorage -benchtime 1x
// (COURTMESH_SCALE_FULL=1 for 300,000 transfers; the fixtures are cached,
// see storage/scalegen).
func BenchmarkScaleStorage(b *testing.B) {
	ctx := context.Background()
	small, large := scaleSizes()
	g := scalegen.NewGenerator()
	ops := scaleOps(g)
	times := map[int][]time.Duration{}
	for b.Loop() {
		for _, n := range []int{small, large} {
			dir := filepath.Join(b.TempDir(), "node")
			if _, err := scalegen.Prepare(ctx, n, dir, nil); err != nil {
				b.Fatal(err)
			}
			db, err := storage.Open(dir, storage.Options{})
			if err != nil {
				b.Fatal(err)
			}
			times[n] = times[n][:0]
			next := 0
			for _, op := range ops {
				d, err := timeOp(ctx, db, op, &next)
				if err != nil {
					db.Close()
					b.Fatalf("%s at %d: %v", op.name, n, err)
				}
				times[n] = append(times[n], d)
			}
			db.Close()
		}
	}
	for i, op := range ops {
		s, l := times[small][i], times[large][i]
		fmt.Printf("scale storage %s: %v -> %v = %.2fx\n", op.name, s, l, float64(l)/float64(s))
		b.ReportMetric(float64(l)/float64(s), "ratio-"+fmt.Sprint(i))
	}
}
