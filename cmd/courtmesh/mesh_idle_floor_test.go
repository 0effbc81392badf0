package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/storage"
)

// The idle floor of TestMeshOfProcesses: what a node's idle CPU cannot go
// below on this machine, measured over the same window as the nodes, in
// processes of their own (the test binary again, as
// TestIdleFloorProcess), on one processor as an idle node runs
// (procGovernor):
//   - "store": a process holding only an open store, opened as a node
//     opens its own (storage.Open: Badger with the node's options, in a
//     new directory) and nothing else. Badger v4's compactors (two, its
//     least) each wake every 50 ms whether or not there is work, a fixed
//     ticker that no option changes;
//   - "ticker": a process whose one goroutine wakes every 50 ms and does
//     nothing, the cost of the wake-ups alone (the Go scheduler and the
//     kernel waking and parking threads).

// idleFloorEnv tells the test binary which floor process to be.
const idleFloorEnv = "COURTMESH_IDLE_FLOOR"

// floorProc is a running floor process.
type floorProc struct {
	kind string
	cmd  *exec.Cmd
	in   io.WriteCloser
}

// startFloor starts the floor process kind ("store" or "ticker") and
// waits until it says it is ready.
func startFloor(t *testing.T, kind string) *floorProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestIdleFloorProcess$", "-test.count=1", "-test.timeout=0")
	// On one processor, as an idle node runs (procGovernor).
	cmd.Env = append(os.Environ(), idleFloorEnv+"="+kind+":"+t.TempDir(), "GOMAXPROCS=1")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f := &floorProc{kind: kind, cmd: cmd, in: in}
	t.Cleanup(f.stop)
	ready := make(chan struct{}, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "idle floor ready") {
				ready <- struct{}{}
			}
		}
		close(ready)
	}()
	select {
	case _, ok := <-ready:
		if !ok {
			t.Fatalf("the %s floor process ended before it was ready", kind)
		}
	case <-time.After(time.Minute):
		t.Fatalf("the %s floor process not ready after a minute", kind)
	}
	return f
}

// stop closes the process's standard input, which ends it, and waits.
func (f *floorProc) stop() {
	if f.in == nil {
		return
	}
	f.in.Close()
	f.in = nil
	done := make(chan struct{})
	go func() { f.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		f.cmd.Process.Kill()
		<-done
	}
}

// TestIdleFloorProcess is a floor process of TestMeshOfProcesses, run by
// it in a process of its own with COURTMESH_IDLE_FLOOR set to
// "store:DIR" or "ticker:DIR"; on its own it has nothing to do. It runs
// until its standard input ends.
func TestIdleFloorProcess(t *testing.T) {
	spec := os.Getenv(idleFloorEnv)
	if spec == "" {
		t.Skip("a floor process of TestMeshOfProcesses; it starts it")
	}
	kind, dir, _ := strings.Cut(spec, ":")
	stdinEnds := make(chan struct{})
	go func() { io.Copy(io.Discard, os.Stdin); close(stdinEnds) }()
	switch kind {
	case "store":
		db, err := storage.Open(dir, storage.Options{})
		if err != nil {
			t.Fatal(err)
		}
		fmt.Println("idle floor ready: store open")
		<-stdinEnds
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	case "ticker":
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		fmt.Println("idle floor ready: ticking")
		for {
			select {
			case <-tick.C:
			case <-stdinEnds:
				return
			}
		}
	default:
		t.Fatalf("%s=%q: no such floor process", idleFloorEnv, spec)
	}
}
