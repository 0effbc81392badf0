package main

import (
	"context"
	"errors"
	"os"
	"runtime/pprof"
)

// profiles are the debug-only profiles of `courtmesh run`: a CPU profile
// over the node's whole life and a heap profile taken as the node is told
// to stop (before it closes anything). Either path may be empty (none).
// They hold no personal data: only function names, file paths and
// counts.
type profiles struct {
	cpu, heap string
	cpuFile   *os.File
	quit      chan struct{}
	heapDone  chan error
}

// start begins the CPU profile now, and arranges the heap profile for
// when ctx ends (or stop is called, whichever comes first).
func (p *profiles) start(ctx context.Context) error {
	if p.cpu != "" {
		f, err := os.Create(p.cpu)
		if err != nil {
			return errorf("debugging profile %s: %w", p.cpu, err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return errorf("debugging profile %s: %w", p.cpu, err)
		}
		p.cpuFile = f
	}
	if p.heap != "" {
		p.quit, p.heapDone = make(chan struct{}), make(chan error, 1)
		go func() {
			select {
			case <-ctx.Done():
			case <-p.quit: // the node failed to start
			}
			p.heapDone <- writeHeapProfile(p.heap)
		}()
	}
	return nil
}

// stop ends the CPU profile and waits for the heap profile; it returns
// what failed to be written.
func (p *profiles) stop() error {
	var errs []error
	if p.cpuFile != nil {
		pprof.StopCPUProfile()
		if err := p.cpuFile.Close(); err != nil {
			errs = append(errs, errorf("debugging profile %s: %w", p.cpu, err))
		}
	}
	if p.heapDone != nil {
		close(p.quit)
		if err := <-p.heapDone; err != nil {
			errs = append(errs, errorf("debugging profile %s: %w", p.heap, err))
		}
	}
	return errors.Join(errs...)
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
