package node_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node"
	"courtmesh.dev/courtmesh/node/devmesh"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
)

// BenchmarkRecordValidation measures what a node spends on each transfer
// record that reaches it: decode (envelope, payload), the signature and
// the signer's certificate against the trust bundle, the state machine's
// apply, and the store (the record in its issuer's log, the transfer and
// its indexes, in one commit): node.IngestForTest, the path a record from
// gossip or sync takes. The records are offers of distinct cases signed
// by four basic courts, each court's in log order, ingested by a running
// node of their superior court (京01) in the default suite, one after
// the other.
//
// It prints one line, exactly "records validated: <n>/s per core": the
// records divided by the process's CPU seconds (user+sys, every
// goroutine: Badger's writer and the node's idle work are counted) over
// the timed loop; and the wall rate.
//
//	go test ./node -run '^$' -bench '^BenchmarkRecordValidation$' -benchtime 1x
//
// COURTMESH_BENCH_RECORDS sets the number of records (default 4000);
// COURTMESH_BENCH_PROFILE=dir writes a CPU profile of the loop to
// dir/records.cpu.pprof.
func BenchmarkRecordValidation(b *testing.B) {
	count := fbEnvInt("COURTMESH_BENCH_RECORDS", 4000)
	for range b.N {
		b.StopTimer()
		m, err := devmesh.Build(b.TempDir(), benchCourts(7), time.Now())
		if err != nil {
			b.Fatal(err)
		}
		recs := signOffers(b, m, count)
		n, err := node.New(node.Options{Dir: m.Dirs[2]}) // 京01, the offers' superior
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
		stopProf := fbProfile(b, "records")
		load := loadavg()
		b.StartTimer()
		cpu0, w0 := cpuTime(), time.Now()
		for _, raw := range recs {
			if err := node.IngestForTest(n, raw); err != nil {
				b.Fatal(err)
			}
		}
		cpu, wall := cpuTime()-cpu0, time.Since(w0)
		b.StopTimer()
		stopProf()
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		perCore := float64(count) / cpu.Seconds()
		fmt.Printf("\nBenchmarkRecordValidation: %d offers (suite %s), ingested one after the other by a running node; load average %s\n",
			count, crypto.SuiteV1, load)
		fmt.Printf("records validated: %.0f/s per core\n", perCore)
		fmt.Printf("  (%.1f µs CPU per record, %.0f/s wall on %d cores)\n\n", cpu.Seconds()/float64(count)*1e6, float64(count)/wall.Seconds(), runtime.GOMAXPROCS(0))
		b.ReportMetric(perCore, "records/s/core")
	}
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
