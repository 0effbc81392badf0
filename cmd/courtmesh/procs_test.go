package main

import (
	"context"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/node/nodetest"
)

// TestProcGovernor runs the governor on this test process, with the real
// runtime and its real CPU time, sampling every 100 ms: idle, the process
// goes to one processor; two goroutines spinning give it every processor
// back within a sample or two; idle again, one; when the governor stops,
// the runtime's default is back. With GOMAXPROCS in the environment it
// changes nothing.
func TestProcGovernor(t *testing.T) {
	if os.Getenv("GOMAXPROCS") != "" {
		t.Skip("GOMAXPROCS is set in this test's environment: the governor would rightly do nothing")
	}
	full := runtime.GOMAXPROCS(0)
	if full < 2 {
		t.Skipf("this machine gives the process %d processor: nothing to govern", full)
	}
	t.Cleanup(runtime.SetDefaultGOMAXPROCS)
	g := &procGovernor{every: 100 * time.Millisecond, busy: 0.5, quiet: 0.2, quietRuns: 3, cpu: processCPU, log: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); g.Serve(ctx) }()
	defer func() { cancel(); <-done }()

	procs := func() int { return runtime.GOMAXPROCS(0) }
	nodetest.PollUntil(t, 20*time.Second, "one processor while idle", func() bool { return procs() == 1 })

	// Work: two goroutines spinning (bounded: they stop with the test
	// or after 20 s).
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			deadline := time.Now().Add(20 * time.Second)
			for time.Now().Before(deadline) {
				select {
				case <-stop:
					return
				default:
				}
				spin()
			}
		})
	}
	took := nodetest.PollUntil(t, 20*time.Second, "every processor while working", func() bool { return procs() == full })
	close(stop)
	wg.Wait()
	t.Logf("working: %d processors after %v", full, took.Round(time.Millisecond))
	nodetest.PollUntil(t, 20*time.Second, "one processor when idle again", func() bool { return procs() == 1 })

	cancel()
	<-done
	if p := procs(); p != full {
		t.Fatalf("the governor stopped with GOMAXPROCS %d, want the default %d back", p, full)
	}

	// The operator's GOMAXPROCS stands: the governor returns at once and
	// the process stays on every processor past the quiet samples that
	// would have taken it to one.
	t.Setenv("GOMAXPROCS", "2")
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	done2 := make(chan struct{})
	go func() { defer close(done2); g.Serve(ctx2) }()
	time.Sleep(6 * g.every) // twice the quiet run, not a wait for a condition
	select {
	case <-done2:
	default:
		t.Fatal("with GOMAXPROCS in the environment the governor is still running")
	}
	if p := procs(); p != full {
		t.Fatalf("with GOMAXPROCS in the environment the governor set %d, want %d untouched", p, full)
	}
}

// spinSink keeps spin's work from being optimised away.
var spinSink atomic.Uint64

// spin burns some CPU.
func spin() {
	x := uint64(7)
	for i := range uint64(100_000) {
		x = x*31 + i
	}
	spinSink.Add(x)
}
