package importer_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/storage"
	"courtmesh.dev/courtmesh/storage/gen"
	"courtmesh.dev/courtmesh/storage/importer"
)

// benchCases generates n cases whose documents are padded to docSize.
func benchCases(tb testing.TB, n int, docSize int64) ([]gen.Case, int64) {
	tb.Helper()
	cases, err := gen.Generate(filepath.Join(tb.TempDir(), "cases"), gen.Options{Cases: n, Seed: 99, RefDate: refDate, DocSize: docSize})
	if err != nil {
		tb.Fatal(err)
	}
	var total int64
	for _, c := range cases {
		total += c.Bytes
	}
	return cases, total
}

// importOnce imports all cases into a fresh store and returns the time
// spent in Import (store open and close excluded).
func importOnce(tb testing.TB, cases []gen.Case) time.Duration {
	tb.Helper()
	db := openStore(tb, newDataDir(tb))
	defer db.Close()
	start := time.Now()
	for _, c := range cases {
		if _, err := importer.Import(context.Background(), db, c.Dir, importer.Options{}); err != nil {
			tb.Fatal(err)
		}
	}
	return time.Since(start)
}

// rawOnce writes the same document bytes, cut into the same chunks, into
// a fresh Badger with the store's options and encryption, with plain Set
// in transactions of the same size, then syncs; the time of the writes is
// returned.
func rawOnce(tb testing.TB, cases []gen.Case) time.Duration {
	tb.Helper()
	dir := tb.TempDir()
	key := make([]byte, 32)
	rand.Read(key)
	bdb, err := badger.Open(storage.BadgerOptions(filepath.Join(dir, "raw"), key, nil, false))
	if err != nil {
		tb.Fatal(err)
	}
	defer bdb.Close()
	start := time.Now()
	var seq int
	for _, c := range cases {
		err := filepath.WalkDir(c.Dir, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			txn := bdb.NewTransaction(true)
			pending := 0
			for {
				buf := make([]byte, crypto.DefaultChunkSize)
				n, err := io.ReadFull(f, buf)
				if n > 0 {
					seq++
					if err := txn.Set([]byte("raw/"+strconv.Itoa(seq)), buf[:n]); err != nil {
						return err
					}
					if pending += n; pending >= 16<<20 {
						if err := txn.Commit(); err != nil {
							return err
						}
						txn, pending = bdb.NewTransaction(true), 0
					}
				}
				if err == io.EOF || err == io.ErrUnexpectedEOF {
					break
				}
				if err != nil {
					return err
				}
			}
			return txn.Commit()
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	if err := bdb.Sync(); err != nil {
		tb.Fatal(err)
	}
	return time.Since(start)
}

// BenchmarkImport measures import throughput next to a raw Badger write of
// the same bytes in the same run:
//
//	go test ./storage/importer -run '^$' -bench Import -benchtime 3x
func BenchmarkImport(b *testing.B) {
	for _, size := range []struct {
		name    string
		cases   int
		docSize int64
	}{{"8cases-8MBdocs", 8, 8 << 20}, {"100cases-small", 100, 0}} {
		cases, total := benchCases(b, size.cases, size.docSize)
		b.Run(size.name+"/import", func(b *testing.B) {
			b.SetBytes(total)
			var d time.Duration
			for range b.N {
				d += importOnce(b, cases)
			}
			b.ReportMetric(float64(size.cases*b.N)/d.Seconds(), "cases/s")
		})
		b.Run(size.name+"/raw", func(b *testing.B) {
			b.SetBytes(total)
			for range b.N {
				rawOnce(b, cases)
			}
		})
	}
}

// TestImportThroughputTable prints import and raw-write throughput for the
// same bytes, measured in the same run. It is a measurement, not a timed
// assertion (shared machines are noisy): it only runs when asked for with
// COURTMESH_BENCH=1, and reports the ratio against the 0.5x goal.
//
//	COURTMESH_BENCH=1 go test ./storage/importer -run TestImportThroughputTable -v
func TestImportThroughputTable(t *testing.T) {
	if os.Getenv("COURTMESH_BENCH") != "1" {
		t.Skip("throughput table: set COURTMESH_BENCH=1")
	}
	cases, total := benchCases(t, 3, 8<<20)
	const rounds = 3
	var imp, raw time.Duration
	for range rounds {
		imp += importOnce(t, cases)
		raw += rawOnce(t, cases)
	}
	mb := float64(total*rounds) / (1 << 20)
	impMBs, rawMBs := mb/imp.Seconds(), mb/raw.Seconds()
	ratio := impMBs / rawMBs
	t.Logf("\n%-28s %10s %10s\n%-28s %10.1f %10.2f\n%-28s %10.1f %10s\n%-28s %10.2fx (goal >= 0.5x)",
		fmt.Sprintf("%d cases, %.0f MB, %d rounds", len(cases), float64(total)/(1<<20), rounds), "MB/s", "cases/s",
		"import (validate+seal+write)", impMBs, float64(len(cases)*rounds)/imp.Seconds(),
		"raw Badger Set, same chunks", rawMBs, "-",
		"import / raw", ratio)
}
