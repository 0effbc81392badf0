package ca

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// crashDirEnv names the CA directory TestCrashChild works in; unset, that
// test is skipped (it runs only as the child of TestKilledMidWrite).
const crashDirEnv = "COURTMESH_CA_CRASH_DIR"

// TestCrashChild issues a certificate and signs a bundle, over and over,
// printing "issued SERIAL" and "bundle SEQUENCE" after each has returned,
// until it is killed.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("runs as the child of TestKilledMidWrite")
	}
	a, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		c, err := a.Issue(courtTemplate(t, "沪0101"))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("issued %d\n", c.Serial)
		b, err := a.Bundle(fixNow, bundleV, nil)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("bundle %d\n", b.Sequence)
	}
}

// TestKilledMidWrite kills a process that writes the CA directory at
// several points of its work and checks, each time, that what it had
// reported done is on disk, that the state and every issued certificate
// still read, and that the next bundle takes the next sequence. Where the
// kill lands is up to the scheduler: a run catches a temporary file of an
// interrupted write left in issued/ (which Issued must skip) now and then,
// and a write in place (truncate, then write) only rarely, its window
// being microseconds; TestCrashDebris and internal/atomicfile's tests
// pin those cases down. Durability across a power loss, the fsyncs,
// cannot be shown by a test that keeps the kernel running;
// internal/atomicfile's comment says what it does.
func TestKilledMidWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	root := newRoot(t)
	var lastSeq uint64
	issued := map[uint64]bool{}
	for round, killAfter := range []int{1, 2, 5, 9, 14, 20} {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+root.dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		// report counts one line the child printed: what it reported
		// done (a bundle sequence is checked to follow the last).
		report := func() bool {
			what, num, ok := strings.Cut(sc.Text(), " ")
			n, perr := strconv.ParseUint(num, 10, 64)
			if !ok || perr != nil {
				return false // the test runner's own lines
			}
			switch what {
			case "issued":
				issued[n] = true
			case "bundle":
				if n != lastSeq+1 {
					t.Fatalf("round %d: bundle %d after %d", round, n, lastSeq)
				}
				lastSeq = n
			default:
				return false
			}
			return true
		}
		lines := 0
		for lines < killAfter && sc.Scan() {
			if report() {
				lines++
			}
		}
		if lines < killAfter {
			t.Fatalf("round %d: the child stopped after %d lines: %v", round, lines, sc.Err())
		}
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		// What the child printed before the kill landed, on a loaded
		// machine perhaps several lines, counts as reported too.
		for sc.Scan() {
			report()
		}
		werr := cmd.Wait()
		cancel()
		var exit *exec.ExitError
		if !errors.As(werr, &exit) || exit.Exited() {
			t.Fatalf("round %d: the child was not killed: %v", round, werr)
		}

		st, err := loadState(root.dir)
		if err != nil {
			t.Fatalf("round %d: state after a kill: %v", round, err)
		}
		// The child may have finished one more bundle after its last line.
		if st.BundleSequence != lastSeq && st.BundleSequence != lastSeq+1 {
			t.Fatalf("round %d: state.json holds sequence %d, the child reported %d", round, st.BundleSequence, lastSeq)
		}
		lastSeq = st.BundleSequence
		a, err := Open(root.dir)
		if err != nil {
			t.Fatal(err)
		}
		certs, err := a.Issued()
		if err != nil {
			t.Fatalf("round %d: issued/ after a kill: %v", round, err)
		}
		have := map[uint64]bool{}
		for _, c := range certs {
			have[c.Serial] = true
		}
		for s := range issued {
			if !have[s] {
				t.Fatalf("round %d: certificate %d was reported issued but is not in issued/", round, s)
			}
		}
		b, err := a.Bundle(fixNow, bundleV, nil)
		if err != nil {
			t.Fatal(err)
		}
		if b.Sequence != lastSeq+1 {
			t.Fatalf("round %d: the bundle after the kill has sequence %d, want %d", round, b.Sequence, lastSeq+1)
		}
		lastSeq = b.Sequence
	}
}
