package storage

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
)

// BenchmarkBatchReads applies offers as the log sync applies them (four
// issuers' logs, runs of 128 records in one Batch: HasRecord, Transfer,
// Apply of the record and its new transfer) to fresh stores, once with
// the batch keeping what it read (readCache) and once reading the store
// every time, as before it kept anything, alternately in the same
// process, five rounds, and prints the CPU per record of each:
//
//	batch reads kept: <t> µs CPU per record; read every time: <t> µs
//
// COURTMESH_BENCH_RECORDS sets the records (default 8000).
func BenchmarkBatchReads(b *testing.B) {
	count := 8000
	if v, err := strconv.Atoi(os.Getenv("COURTMESH_BENCH_RECORDS")); err == nil && v > 0 {
		count = v
	}
	offered := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	body := []byte(`{"id":"x","state":"offered","origin":"京0101","superior":"京01"}`)
	type commit struct {
		issuer court.PeerID
		seq    uint64
		raw    []byte
		rec    TransferRecord
	}
	logs := make([][]commit, 4)
	for k := range count {
		i := k % 4
		origin := court.CourtCode("京010" + strconv.Itoa(i+1))
		cn := court.MustParseCaseNumber(fmt.Sprintf("（2025）%s执%d号", origin, 100+k))
		at := offered.Add(time.Duration(k) * time.Millisecond)
		r := TransferRecord{ID: fmt.Sprintf("%032x", k+1), State: "offered", Origin: origin, Decider: "京01", CaseNumber: cn,
			Offered: at, Updated: at, Body: body, Stats: map[string]int64{"offers": 1}}
		raw := make([]byte, 315)
		copy(raw, r.ID)
		logs[i] = append(logs[i], commit{issuer: court.PeerID("12D3KooWissuer" + strconv.Itoa(i)), seq: uint64(len(logs[i]) + 1), raw: raw, rec: r})
	}
	run := func(keep bool) time.Duration {
		dir := b.TempDir()
		k, err := crypto.GenerateEncKey()
		if err != nil {
			b.Fatal(err)
		}
		db, err := Open(dir, Options{Decrypter: k})
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		cpu0 := rusageCPU(b)
		for _, log := range logs {
			for len(log) > 0 {
				n := min(128, len(log))
				run := log[:n]
				log = log[n:]
				err := db.update(func(txn *badger.Txn) error {
					bt := &Batch{db: db, txn: txn}
					if keep {
						bt.rc = newReadCache()
					}
					defer bt.close()
					for _, c := range run {
						if have, err := bt.HasRecord(c.issuer, c.seq, c.raw); err != nil || have {
							return fmt.Errorf("HasRecord: %v, %v", have, err)
						}
						if _, err := bt.Transfer(c.rec.ID); err == nil {
							return fmt.Errorf("transfer %s already stored", c.rec.ID)
						}
						rec := c.rec
						if err := bt.Apply(Commit{Record: &LogRecord{Issuer: c.issuer, Seq: c.seq, Raw: c.raw}, TransferRecord: &rec}); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		}
		return rusageCPU(b) - cpu0
	}
	for range b.N {
		for round := range 5 {
			kept, every := run(true), run(false)
			fmt.Printf("batch reads kept: %.1f µs CPU per record; read every time: %.1f µs (round %d, %d records)\n",
				kept.Seconds()/float64(count)*1e6, every.Seconds()/float64(count)*1e6, round+1, count)
		}
	}
}

func rusageCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
