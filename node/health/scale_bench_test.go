package health

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/dashboard"
	"courtmesh.dev/courtmesh/node/nodetest"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/storage"
	"courtmesh.dev/courtmesh/storage/scalegen"
)

// BenchmarkScaleHealth times the health room's routine reads of the
// transfer store at two store sizes, as today's code makes them and as
// the code they replace made them (a full decode of every transfer), and
// prints, per operation,
//
//	scale health <op>: <time at small> -> <time at large> = <ratio>x
//
// Run: go test ./node/health -run '^$' -bench ScaleHealth -benchtime 1x
// (COURTMESH_SCALE_FULL=1 for 300,000 transfers instead of 30,000; the
// fixtures are cached, see storage/scalegen).
func BenchmarkScaleHealth(b *testing.B) {
	ctx := context.Background()
	small, large := 3000, 30000
	if os.Getenv("COURTMESH_SCALE_FULL") == "1" {
		large = 300000
	}
	now := scalegen.Now
	guard := 30
	ops := []struct {
		name string
		run  func(s *Service, db *storage.DB) error
	}{ // the "before" rows (a full decode: seconds at 30,000) run once, unwarmed
		{"scrape transfers (counters)", func(s *Service, db *storage.DB) error {
			if _, err := db.TransferCounts(); err != nil {
				return err
			}
			_, err := db.CountOverdue(ctx, court.DateOf(now))
			return err
		}},
		{"scrape, every store read", func(s *Service, db *storage.DB) error {
			if _, err := db.TransferCounts(); err != nil {
				return err
			}
			if _, err := db.CountOverdue(ctx, court.DateOf(now)); err != nil {
				return err
			}
			for _, days := range []int{7, 30, 90} {
				if _, err := db.ExpiringMeasures(ctx, court.DateOf(now), days); err != nil {
					return err
				}
			}
			if _, _, err := db.AuditHead(); err != nil {
				return err
			}
			_, err := db.LogHeads()
			return err
		}},
		{"scrape transfers (full decode, before)", func(s *Service, db *storage.DB) error {
			ts, err := decodeAll(db)
			for _, t := range ts {
				t.Overdue(now)
			}
			return err
		}},
		{"overdue alerts (deadline index)", func(s *Service, db *storage.DB) error {
			s.overdueAlerts(ctx, now)
			return nil
		}},
		{"dashboard model, operator (counters + sums)", func(s *Service, db *storage.DB) error {
			in, err := s.dashboardTransfers(ctx, court.Supreme, true, now)
			in.Now, in.Self, in.GuardDays = now, court.Supreme, guard
			dashboard.Compute(in)
			return err
		}},
		{"dashboard model, court (counters + sums)", func(s *Service, db *storage.DB) error {
			c := scalegen.Courts()[1]
			in, err := s.dashboardTransfers(ctx, c, false, now)
			in.Now, in.Self, in.GuardDays = now, c, guard
			dashboard.Compute(in)
			return err
		}},
		{"dashboard model, operator (full decode, before)", func(s *Service, db *storage.DB) error {
			ts, err := decodeAll(db)
			dashboard.Compute(dashboard.Input{Now: now, Self: court.Supreme, Operator: true, GuardDays: guard, Transfers: ts})
			return err
		}},
	}
	times := map[int][]time.Duration{}
	for b.Loop() {
		for _, n := range []int{small, large} {
			dir := filepath.Join(b.TempDir(), "node")
			if _, err := nodetest.PrepareScale(ctx, n, dir, nil); err != nil {
				b.Fatal(err)
			}
			db, err := storage.Open(dir, storage.Options{})
			if err != nil {
				b.Fatal(err)
			}
			s := testService(db, now)
			times[n] = times[n][:0]
			for _, op := range ops {
				before := strings.HasSuffix(op.name, "(full decode, before)")
				if !before {
					op.run(s, db) // warm up
				}
				start, k := time.Now(), 0
				for k < 1 || !before && (k < 3 || (time.Since(start) < 300*time.Millisecond && k < 50)) {
					if err := op.run(s, db); err != nil {
						db.Close()
						b.Fatalf("%s at %d: %v", op.name, n, err)
					}
					k++
				}
				times[n] = append(times[n], time.Since(start)/time.Duration(k))
			}
			db.Close()
		}
	}
	for i, op := range ops {
		s, l := times[small][i], times[large][i]
		fmt.Printf("scale health %s: %v -> %v = %.2fx\n", op.name, s.Round(time.Microsecond), l.Round(time.Microsecond), float64(l)/float64(s))
	}
}

// decodeAll is what every scrape, alert tick and dashboard did before:
// decode every transfer held.
func decodeAll(db *storage.DB) ([]*cmproto.Transfer, error) {
	raws, err := db.Transfers("")
	if err != nil {
		return nil, err
	}
	out := make([]*cmproto.Transfer, 0, len(raws))
	for _, b := range raws {
		var t cmproto.Transfer
		if err := json.Unmarshal(b, &t); err != nil {
			return nil, err
		}
		out = append(out, &t)
	}
	return out, nil
}
