package node_test

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node"
	"courtmesh.dev/courtmesh/node/datadir"
	"courtmesh.dev/courtmesh/node/devmesh"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
	"courtmesh.dev/courtmesh/storage"
)

// BenchmarkRecordValidation measures what a node spends on each transfer
// record that reaches it: decode (envelope, payload), the signature and
// the signer's certificate against the trust bundle, the state machine's
// apply, and the store (the record in its issuer's log, the transfer and
// its indexes). The records are offers of distinct cases signed by four
// basic courts, each court's in log order, ingested by a running node of
// their superior court (京01) in the default suite, in two ways, each by
// a fresh copy of that node:
//
//   - as log sync brings them (the headline): each court's log in the
//     groups of 256 records that a sync pull ingests at once
//     (node.IngestRangeForTest: records.Service.IngestRange, one store
//     transaction per run of records);
//   - one at a time, as gossip brings them (node.IngestForTest: one store
//     transaction per record).
//
// It prints, each over its own timed loop in the same run, the records
// divided by the process's CPU seconds (user+sys, every goroutine:
// Badger's writer and the node's idle work are counted):
//
//	records validated: <n>/s per core
//	records validated one at a time (gossip): <n>/s per core
//	signature verifications alone: <n>/s per core
//
// the last being the same records' Ed25519 signature checks and nothing
// else (crypto.Envelope.VerifyWith, the call ingest makes): the ceiling
// the other two can approach but not pass. Then
//
//	store writes alone: <t> µs CPU per record (...)
//	floor, signature + store writes: <n>/s per core
//
// the first being what Badger alone costs to write the keys and values
// the sync ingest wrote (the log, the transfers, their indexes and
// counters), into a fresh store opened as a node opens its own, in
// transactions of as many records' keys as one storage.Batch holds, with
// no reads, checks or encoding (storeAloneTimed); the second, what a
// record would cost if ingest did nothing but check its signature and
// write its keys: a lower ceiling than the signature's alone.
//
//	go test ./node -run '^$' -bench '^BenchmarkRecordValidation$' -benchtime 1x
//
// COURTMESH_BENCH_RECORDS sets the number of records (default 4000);
// COURTMESH_BENCH_PROFILE=dir writes CPU profiles of the loops to
// dir/records.cpu.pprof (sync), dir/records-gossip.cpu.pprof and
// dir/records-store.cpu.pprof (store writes alone).
func BenchmarkRecordValidation(b *testing.B) {
	count := fbEnvInt("COURTMESH_BENCH_RECORDS", 4000)
	for range b.N {
		b.StopTimer()
		m, err := devmesh.Build(b.TempDir(), benchCourts(7), time.Now())
		if err != nil {
			b.Fatal(err)
		}
		recs := signOffers(b, m, count)
		// Fresh copies of 京01's data directory, the offers' superior.
		syncDir, gossipDir := copyDataDir(b, m.Dirs[2]), copyDataDir(b, m.Dirs[2])
		load := loadavg()

		// Sync: each court's log in ranges, as pullOnce ingests them.
		var ranges [][][]byte
		for c := range 4 {
			var log [][]byte
			for k := c; k < len(recs); k += 4 {
				log = append(log, recs[k])
			}
			for len(log) > 0 {
				n := min(256, len(log))
				ranges = append(ranges, log[:n])
				log = log[n:]
			}
		}
		b.StartTimer()
		syncCPU, syncWall := ingestTimed(b, syncDir, "records", func(n *node.Node) error {
			for _, r := range ranges {
				for i, err := range node.IngestRangeForTest(n, r) {
					if err != nil {
						return fmt.Errorf("record %d of a range: %w", i, err)
					}
				}
			}
			return nil
		})
		b.StopTimer()
		gossipCPU, _ := ingestTimed(b, gossipDir, "records-gossip", func(n *node.Node) error {
			for _, raw := range recs {
				if err := node.IngestForTest(n, raw); err != nil {
					return err
				}
			}
			return nil
		})
		verifyCPU := verifyTimed(b, m, recs)
		// What the sync ingest wrote: its store less a store that a node
		// opened and closed (read after the timed loops, so that nothing
		// of it runs during them).
		written := newEntries(storedKeys(b, openedCopy(b, m.Dirs[2])), storedKeys(b, syncDir))
		storeCPU := storeAloneTimed(b, written, count)

		perCore := float64(count) / syncCPU.Seconds()
		fmt.Printf("\nBenchmarkRecordValidation: %d offers (suite %s), ingested by a running node; load average %s\n",
			count, crypto.SuiteV1, load)
		fmt.Printf("records validated: %.0f/s per core\n", perCore)
		fmt.Printf("  (log sync, ranges of 256 records: %.1f µs CPU per record, %.0f/s wall on %d cores)\n",
			syncCPU.Seconds()/float64(count)*1e6, float64(count)/syncWall.Seconds(), runtime.GOMAXPROCS(0))
		fmt.Printf("records validated one at a time (gossip): %.0f/s per core\n", float64(count)/gossipCPU.Seconds())
		fmt.Printf("  (%.1f µs CPU per record)\n", gossipCPU.Seconds()/float64(count)*1e6)
		fmt.Printf("signature verifications alone: %.0f/s per core\n", float64(count)/verifyCPU.Seconds())
		fmt.Printf("  (%.1f µs CPU per record)\n", verifyCPU.Seconds()/float64(count)*1e6)
		fmt.Printf("store writes alone: %.1f µs CPU per record (%.1f keys per record, written to a fresh store in transactions of %d records' keys)\n",
			storeCPU.Seconds()/float64(count)*1e6, float64(len(written))/float64(count), storeTxnRecords)
		floor := verifyCPU + storeCPU
		fmt.Printf("floor, signature + store writes: %.0f/s per core\n\n", float64(count)/floor.Seconds())
		b.ReportMetric(perCore, "records/s/core")
		b.ReportMetric(float64(count)/gossipCPU.Seconds(), "gossip-records/s/core")
		b.ReportMetric(float64(count)/verifyCPU.Seconds(), "verifications/s/core")
		b.ReportMetric(float64(count)/floor.Seconds(), "floor-records/s/core")
	}
}

// ingestTimed starts a node on dir, runs ingest on it and returns the
// process's CPU time and the wall time of ingest alone.
func ingestTimed(b *testing.B, dir datadir.Dir, profile string, ingest func(*node.Node) error) (cpu, wall time.Duration) {
	n, err := node.New(node.Options{Dir: dir})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Serve(ctx) }()
	select {
	case <-n.Ready():
	case err := <-done:
		cancel()
		b.Fatalf("node stopped: %v", err)
	}
	runtime.GC()
	stopProf := fbProfile(b, profile)
	cpu0, w0 := cpuTime(), time.Now()
	ierr := ingest(n)
	cpu, wall = cpuTime()-cpu0, time.Since(w0)
	stopProf()
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	if ierr != nil {
		b.Fatal(ierr)
	}
	return cpu, wall
}

// verifyTimed returns the process's CPU time to check the signature of
// every record in recs and nothing else: the envelopes are decoded and
// the signers' keys looked up before the clock starts.
func verifyTimed(b *testing.B, m *devmesh.Mesh, recs [][]byte) time.Duration {
	keys := map[uint64]*crypto.Certificate{}
	for _, c := range m.Certs {
		keys[c.Serial] = c
	}
	envs := make([]*crypto.Envelope, len(recs))
	for i, raw := range recs {
		env, err := crypto.UnmarshalEnvelope(raw, cmproto.MaxGossipMessage)
		if err != nil {
			b.Fatal(err)
		}
		if keys[env.SignerSerial] == nil {
			b.Fatalf("record %d: no certificate with serial %d", i, env.SignerSerial)
		}
		envs[i] = env
	}
	runtime.GC()
	cpu0 := cpuTime()
	for _, env := range envs {
		if err := env.VerifyWith(keys[env.SignerSerial].SigningKey, cmproto.PayloadRecord); err != nil {
			b.Fatal(err)
		}
	}
	return cpuTime() - cpu0
}

// copyDataDir copies a node's data directory (not running) to a new
// directory, keeping each file's mode (the keys' 0600).
func copyDataDir(b testing.TB, src datadir.Dir) datadir.Dir {
	dst := filepath.Join(b.TempDir(), "node")
	err := filepath.WalkDir(string(src), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(string(src), p)
		if err != nil {
			return err
		}
		st, err := d.Info()
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, st.Mode().Perm())
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(to, data, st.Mode().Perm())
	})
	if err != nil {
		b.Fatal(err)
	}
	return datadir.Dir(dst)
}

// signOffers signs count offers of distinct cases by the basic courts
// 京0101..京0104 of m (benchCourts), each court's with consecutive log
// sequence numbers from 1, in an order that keeps every log in order.
func signOffers(b testing.TB, m *devmesh.Mesh, count int) [][]byte {
	now := time.Now()
	filed := court.DateOf(now.AddDate(-1, 0, 0)).String()
	keys := map[int]*crypto.NodeKey{}
	out := make([][]byte, 0, count)
	for k := range count {
		i := 3 + k%4 // 京0101..京0104
		nk, ok := keys[i]
		if !ok {
			var err error
			if nk, _, err = m.Dirs[i].Keys(); err != nil {
				b.Fatal(err)
			}
			keys[i] = nk
		}
		code := m.Courts[i].Code
		body := &pb.Record{Body: &pb.Record_Offer{Offer: &pb.TransferOffer{
			CaseNumber: fmt.Sprintf("（2025）%s执%d号", code, 100+k), OriginCourt: string(code), SuperiorCourt: "京01",
			FiledOn: filed, Grounds: []pb.Ground{pb.Ground_GROUND_LONG_UNEXECUTED, pb.Ground_GROUND_INTERFERENCE},
			AmountOutstandingFen: 12_345_678_00, EarliestMeasureExpiry: court.DateOf(now.AddDate(0, 8, 0)).String(),
			Assets: []*pb.AssetCount{{AssetClass: string(court.AssetClasses()[0]), Count: 2}},
		}}}
		raw, err := cmproto.SealRecord(nk, m.Certs[i], uint64(k/4+1), now, court.NewTransferID(), body)
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, raw)
	}
	return out
}

// openedCopy returns a copy of a node's data directory (not running) on
// which a node was opened and closed: its store as it is before ingest.
func openedCopy(b testing.TB, src datadir.Dir) datadir.Dir {
	dir := copyDataDir(b, src)
	n, err := node.New(node.Options{Dir: dir})
	if err != nil {
		b.Fatal(err)
	}
	if err := n.Close(); err != nil {
		b.Fatal(err)
	}
	return dir
}

// storedKeys returns the records' log, the transfers, their indexes and
// counters (every key under rl/, rh/, x/ and ix/, with its value) of the
// store of dir, a node's data directory that no node runs.
func storedKeys(b testing.TB, dir datadir.Dir) map[string][]byte {
	db, err := storage.Open(string(dir), storage.Options{ReadOnly: true, Chunks: storage.NewMemChunks()})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	out := map[string][]byte{}
	err = db.Badger().View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := string(it.Item().Key())
			if !strings.HasPrefix(k, "rl/") && !strings.HasPrefix(k, "rh/") && !strings.HasPrefix(k, "x/") && !strings.HasPrefix(k, "ix/") {
				continue
			}
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			out[k] = v
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return out
}

// entry is one key and value of a store.
type entry struct{ k, v []byte }

// newEntries returns the keys of after that before does not hold with the
// same value, in key order.
func newEntries(before, after map[string][]byte) []entry {
	var out []entry
	for k, v := range after {
		if old, ok := before[k]; !ok || !bytes.Equal(old, v) {
			out = append(out, entry{[]byte(k), v})
		}
	}
	slices.SortFunc(out, func(a, b entry) int { return bytes.Compare(a.k, b.k) })
	return out
}

// storeTxnRecords is the records whose keys storeAloneTimed writes in one
// transaction: as many as ingest applies in one storage.Batch.
const storeTxnRecords = 128

// storeAloneTimed returns the process's CPU time to write es, what
// ingesting count records wrote, into a fresh store opened as a node
// opens its own (storage.Open: Badger encrypted at rest, the node's
// options), in one transaction per storeTxnRecords records' share of es
// and nothing else: no reads, no checks, no encoding. It is what Badger
// alone costs for what a record stores, the floor of ingest's store part.
func storeAloneTimed(b testing.TB, es []entry, count int) time.Duration {
	db, err := storage.Open(b.TempDir(), storage.Options{Chunks: storage.NewMemChunks()})
	if err != nil {
		b.Fatal(err)
	}
	per := (len(es)*storeTxnRecords + count - 1) / count
	runtime.GC()
	stopProf := fbProfile(b, "records-store")
	cpu0 := cpuTime()
	for rest := es; len(rest) > 0; {
		n := min(per, len(rest))
		err := db.Badger().Update(func(txn *badger.Txn) error {
			for _, e := range rest[:n] {
				if err := txn.Set(e.k, e.v); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		rest = rest[n:]
	}
	cpu := cpuTime() - cpu0
	stopProf()
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	return cpu
}
