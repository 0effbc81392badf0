package node_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/crypto"
)

// BenchmarkSuites prints what each algorithm suite costs, in one run, as
// lines "suite <name> <measure>: <value>":
//
//   - signatures and verifications per second on one core (a 256-byte
//     record's signed bytes, crypto.Signer / Certificate key);
//
// The per-core measures divide by the CPU time of the measuring thread
// (getrusage RUSAGE_THREAD, the goroutine locked to it), not by wall
// time, so that other processes on a shared machine do not deflate them.
//
//   - seal and open GB/s on one core (1 MiB chunks, DocumentSealer);
//
//   - chunk-id hashing GB/s on one core (ChunkID of 1 MiB sealed chunks);
//
//   - the dossier fetch's CPU seconds per GiB: a 7-court mesh of the suite
//     on loopback (devmesh.BuildSuite), a generated dossier of
//     COURTMESH_SUITE_BENCH_MB MiB (default 64) handed over from 京0105 to
//     京0108, and the whole process's user+sys CPU (every node, both ends)
//     over Node.Fetch, divided by the dossier's GiB.
//
//     go test ./node -run '^$' -bench '^BenchmarkSuites$' -benchtime 1x
func BenchmarkSuites(b *testing.B) {
	mb := fbEnvInt("COURTMESH_SUITE_BENCH_MB", 64)
	for range b.N {
		for _, s := range []crypto.Suite{crypto.SuiteV1, crypto.SuiteSM} {
			for _, line := range suiteCosts(b, s, int64(mb)<<20) {
				fmt.Println(line)
			}
		}
	}
}

// threadCPU is the CPU time of the calling OS thread.
func threadCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func suiteCosts(b *testing.B, s crypto.Suite, fetchBytes int64) []string {
	name := s.Name()
	runtime.LockOSThread() // unlocked before the fetch
	var out []string
	add := func(measure, format string, a ...any) {
		out = append(out, fmt.Sprintf("suite %s %s: %s", name, measure, fmt.Sprintf(format, a...)))
	}
	signer, err := crypto.GenerateSigner(s)
	if err != nil {
		b.Fatal(err)
	}
	msg := make([]byte, 256)
	rand.Read(msg)
	const sigs = 2000
	t0 := threadCPU(b)
	var sig []byte
	for range sigs {
		if sig, err = signer.Sign(msg); err != nil {
			b.Fatal(err)
		}
	}
	add("signatures/s/core", "%.0f", sigs/(threadCPU(b)-t0).Seconds())
	pub := signer.Public()
	t0 = threadCPU(b)
	for range sigs {
		if ok, _ := pub.Verify(msg, sig); !ok {
			b.Fatal("signature does not verify")
		}
	}
	add("verifications/s/core", "%.0f", sigs/(threadCPU(b)-t0).Seconds())

	dk, err := crypto.NewDataKey()
	if err != nil {
		b.Fatal(err)
	}
	sealer, err := dk.DocumentIn(s, s.DocumentID(msg))
	if err != nil {
		b.Fatal(err)
	}
	const chunk, chunks = 1 << 20, 256
	pt := make([]byte, chunk)
	rand.Read(pt)
	// The sealed chunks' buffers are made and touched before the clock
	// starts, as the open loop's is: both rows time the cipher and the
	// hash, not the allocator or the first touch of fresh pages.
	sealed := make([][]byte, chunks)
	for i := range sealed {
		sealed[i] = make([]byte, chunk+crypto.ChunkOverhead)
		clear(sealed[i])
		sealed[i] = sealed[i][:0]
	}
	ids := make([]crypto.ChunkID, chunks)
	t0 = threadCPU(b)
	for i := range chunks {
		if sealed[i], ids[i], err = sealer.Seal(sealed[i], uint32(i), chunks, pt); err != nil {
			b.Fatal(err)
		}
	}
	add("seal GB/s/core", "%.2f", float64(chunk*chunks)/(threadCPU(b)-t0).Seconds()/1e9)
	buf := make([]byte, chunk)
	clear(buf)
	t0 = threadCPU(b)
	for i := range chunks {
		if _, err := sealer.Open(buf[:0], ids[i], uint32(i), chunks, sealed[i]); err != nil {
			b.Fatal(err)
		}
	}
	add("open GB/s/core (incl. chunk-id check)", "%.2f", float64(chunk*chunks)/(threadCPU(b)-t0).Seconds()/1e9)
	t0 = threadCPU(b)
	for i := range chunks {
		ids[i] = s.ChunkID(sealed[i])
	}
	add("chunk-id hashing GB/s/core", "%.2f", float64(chunk*chunks)/(threadCPU(b)-t0).Seconds()/1e9)
	runtime.GC()

	m := fbStartMeshSuite(b, s)
	cn, bytes := fbBigCase(b, m.as(b, "京0105"), fetchBytes)
	id := m.handOver(b, cn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	runtime.UnlockOSThread()
	c0, w0 := fbCPU(), time.Now()
	p, err := m.as(b, "京0108").Fetcher().Fetch(ctx, id)
	if err != nil {
		b.Fatal(err)
	}
	cpu, wall := fbCPU()-c0, time.Since(w0)
	gib := float64(p.Bytes) / (1 << 30)
	add("fetch CPU s/GiB", "%.2f (%d MiB of documents, %d MiB sealed fetched in %.2fs wall)", cpu.Seconds()/gib, bytes>>20, p.Bytes>>20, wall.Seconds())
	m.stop()
	return out
}
