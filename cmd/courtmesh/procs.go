package main

import (
	"context"
	"log/slog"
	"os"
	"runtime"
	"syscall"
	"time"
)

// procGovernor runs the node on one processor (GOMAXPROCS 1) while it is
// idle and on the runtime's default, every core it may use, while it
// works.
//
// A court's node is idle nearly all the time: heartbeats, gossip and
// Badger's compactors wake it some 160 times a second and each wake-up
// does almost nothing. With more than one processor the Go scheduler
// also wakes a second thread to look for work at each of them, and on a
// virtual machine a thread's wake-up costs more than the work: in
// TestMeshOfProcesses the nodes' idle CPU was 1.10-1.23% of a core with
// two processors and 0.90% with one (issue 22). The governor samples the
// process's CPU time every second: a second that used half a core or
// more gives the node every core at once; ten seconds in a row under 5%
// of a core take it back to one. A fetch, an import or a burst of
// records thus runs at most its first second on one core.
//
// The environment's GOMAXPROCS, if set, is the operator's choice: the
// governor then does nothing.
type procGovernor struct {
	every     time.Duration // sampling period
	busy      float64       // a sample at or above this many cores: all of them
	quiet     float64       // samples below this many cores...
	quietRuns int           // ...this many in a row: one processor
	cpu       func() time.Duration
	log       *slog.Logger
}

func newProcGovernor(log *slog.Logger) *procGovernor {
	return &procGovernor{every: time.Second, busy: 0.5, quiet: 0.05, quietRuns: 10, cpu: processCPU, log: log}
}

// processCPU is the CPU time the process has used, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Serve governs GOMAXPROCS until ctx ends, then gives the runtime its
// default back.
func (g *procGovernor) Serve(ctx context.Context) {
	if os.Getenv("GOMAXPROCS") != "" {
		g.log.Info("GOMAXPROCS is set in the environment: the node keeps it, busy or idle", "gomaxprocs", runtime.GOMAXPROCS(0))
		return
	}
	if runtime.GOMAXPROCS(0) == 1 {
		return // one processor already: nothing to govern
	}
	defer runtime.SetDefaultGOMAXPROCS()
	t := time.NewTicker(g.every)
	defer t.Stop()
	idle, quietFor := false, 0
	last, at := g.cpu(), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now, cpu := time.Now(), g.cpu()
		cores := float64(cpu-last) / float64(now.Sub(at))
		last, at = cpu, now
		switch {
		case cores >= g.busy:
			quietFor = 0
			if idle {
				runtime.SetDefaultGOMAXPROCS()
				idle = false
				g.log.Debug("the node works: every processor", "gomaxprocs", runtime.GOMAXPROCS(0), "cores_used", cores)
			}
		case cores < g.quiet:
			quietFor++
			if !idle && quietFor >= g.quietRuns {
				runtime.GOMAXPROCS(1)
				idle = true
				g.log.Debug("the node is idle: one processor", "cores_used", cores)
			}
		default:
			quietFor = 0
		}
	}
}
