package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node/datadir"
	"courtmesh.dev/courtmesh/node/devmesh"
	"courtmesh.dev/courtmesh/storage/scalegen"
)

// Helpers of TestMeshOfProcesses: the national bundle, starting,
// killing and stopping node processes, reading their logs and /proc.

// nationalBundle certifies, with the mesh's root, every court of
// scalegen.Courts that has no node here and one issuer per province, as
// the country's bundle holds them, signs the bundle and installs it in
// every data directory.
func nationalBundle(t *testing.T, m *devmesh.Mesh, have []court.CourtCode, now time.Time) *crypto.Bundle {
	t.Helper()
	nb, na := now.Add(-time.Hour), now.Add(365*24*time.Hour)
	var tmpls []crypto.Template
	for _, c := range scalegen.Courts() {
		if c.Level() == court.LevelHigh {
			tmpls = append(tmpls, crypto.Template{Code: c, Name: string(c) + " issuer", Roles: []crypto.Role{crypto.RoleIssuer}, Scope: c,
				NotBefore: nb, NotAfter: na})
		}
		if !slices.Contains(have, c) {
			tmpls = append(tmpls, crypto.Template{Code: c, Name: string(c) + " court", Roles: []crypto.Role{crypto.RoleCourt}, NotBefore: nb, NotAfter: na})
		}
	}
	work := make(chan crypto.Template)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) + 2 {
		wg.Go(func() {
			for tm := range work {
				err := func() error {
					k, err := crypto.GenerateNodeKey()
					if err != nil {
						return err
					}
					ek, err := crypto.GenerateEncKey()
					if err != nil {
						return err
					}
					if tm.Identity, err = crypto.NewIdentity(k, ek); err != nil {
						return err
					}
					_, err = m.CA.Issue(tm)
					return err
				}()
				if err != nil {
					select {
					case errs <- fmt.Errorf("certify %s: %w", tm.Code, err):
					default:
					}
				}
			}
		})
	}
	for _, tm := range tmpls {
		work <- tm
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	b, err := m.CA.Bundle(now, 30*24*time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	rootRaw, err := m.CA.Root.Envelope.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range m.Dirs {
		if _, _, err := datadir.InstallTrust(d, rootRaw, b.Raw); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

func mustKeys(t *testing.T, d datadir.Dir) *crypto.NodeKey {
	t.Helper()
	k, _, err := d.Keys()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// mustSerial is the serial of p's certificate in the mesh's CA.
func mustSerial(t *testing.T, m *devmesh.Mesh, p *meshProc) uint64 {
	t.Helper()
	for _, c := range m.Certs {
		if string(c.Code) == p.code {
			return c.Serial
		}
	}
	t.Fatalf("no certificate of %s", p.code)
	return 0
}

// lineAddr is the node's address behind its delay line. The line's port
// is known once it listens; before that the node is not a bootstrap peer
// of anyone.
func (p *meshProc) lineAddr() string {
	a := p.proxy.Addr()
	return fmt.Sprintf("/ip4/%s/tcp/%d/p2p/%s", a.IP, a.Port, p.peer)
}

// target is the node's own listen address (host:port), for its line.
func (p *meshProc) target(t *testing.T) string {
	t.Helper()
	st, err := p.apiStatus(t)
	if err != nil {
		t.Fatalf("%s: %v", p.code, err)
	}
	for _, a := range st.ListenAddrs {
		// /ip4/127.1.x.y/tcp/PORT
		f := strings.Split(a, "/")
		if len(f) >= 5 && f[1] == "ip4" && f[2] == p.ip && f[3] == "tcp" {
			return net.JoinHostPort(f[2], f[4])
		}
	}
	t.Fatalf("%s listens on %v, not on %s", p.code, st.ListenAddrs, p.ip)
	return ""
}

// startProc writes the node's config and runs `courtmesh run`, a new log
// file per start, and waits until its API answers.
func (p *meshProc) startProc(t *testing.T, e *e2e, base string) {
	t.Helper()
	quoted := make([]string, len(p.boot))
	for i, b := range p.boot {
		quoted[i] = strconv.Quote(b)
	}
	cfg := fmt.Sprintf(`version = 1
listen = ["/ip4/%s/tcp/0"]
api_listen = "off"
metrics_listen = "off"
reconnect_interval = "2s"
log_format = "json"
bootstrap = [%s]
exports_dir = %q
`, p.ip, strings.Join(quoted, ", "), devmesh.ExportsDir(datadir.Dir(p.dir)))
	if err := os.WriteFile(filepath.Join(p.dir, datadir.ConfigFile), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p.runs++
	p.log = filepath.Join(base, fmt.Sprintf("n%d.run%d.log", p.i, p.runs))
	logf, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"run", "--data", p.dir}
	if pd := os.Getenv(meshProfileEnv); pd != "" {
		// Profiles of every run, for `go tool pprof` (debugging the idle
		// figures): CPU over the whole run, heap when told to stop.
		stem := filepath.Join(pd, fmt.Sprintf("n%d.%s.run%d", p.i, p.code, p.runs))
		args = append(args, "--cpuprofile", stem+".cpu.pprof", "--memprofile", stem+".heap.pprof")
	}
	cmd := exec.Command(e.bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait(); logf.Close() }()
	p.cmd, p.done, p.killed = cmd, done, false
	deadline := time.Now().Add(2 * time.Minute)
	for {
		select {
		case err := <-done:
			done <- err
			b, _ := os.ReadFile(p.log)
			t.Fatalf("%s exited before its API answered: %v\n%s", p.code, err, tail(string(b), 4000))
		default:
		}
		if _, err := p.apiStatus(t); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: API not answering after 2 minutes", p.code)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill ends the process with SIGKILL, as a crash would.
func (p *meshProc) kill(t *testing.T) {
	t.Helper()
	p.cmd.Process.Kill()
	select {
	case err := <-p.done:
		p.done <- err
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not die within 30s of SIGKILL", p.code)
	}
	p.killed = true
}

// stopAll stops every running process with SIGTERM, all at once, and
// waits for them (SIGKILL after 30 s).
func stopAll(t *testing.T, ps []*meshProc) {
	for _, p := range ps {
		if p.cmd != nil && !p.killed {
			p.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	for _, p := range ps {
		if p.cmd == nil || p.killed {
			continue
		}
		select {
		case err := <-p.done:
			if err != nil {
				t.Logf("%s exited: %v", p.code, err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("%s did not stop within 30s of SIGTERM; killing it", p.code)
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			if b, err := os.ReadFile(p.log); err == nil {
				t.Logf("--- log of %s (%s) ---\n%s", p.code, p.log, tail(string(b), 2000))
			}
		}
	}
}

// transferIDs is the state of each transfer the node lists.
func (p *meshProc) transferIDs(t *testing.T) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var ts []struct {
		ID    string `json:"id"`
		State string `json:"state"`
	}
	if err := p.client(t).Do(ctx, "GET", "/v1/transfers?limit=1000", nil, &ts); err != nil {
		return nil, err
	}
	ids := map[string]string{}
	for _, x := range ts {
		ids[x.ID] = x.State
	}
	return ids, nil
}

// logLine is what the test reads of a node's JSON log line.
type logLine struct {
	Time     time.Time `json:"time"`
	Msg      string    `json:"msg"`
	Transfer string    `json:"transfer"`
	Kind     string    `json:"kind"`
	Sequence uint64    `json:"sequence"`
	Whole    bool      `json:"whole"`
	Source   string    `json:"source"`
}

// readLogs reads every log line of every start of the node.
func (p *meshProc) readLogs(t *testing.T) []logLine {
	t.Helper()
	var out []logLine
	for r := 1; r <= p.runs; r++ {
		f, err := os.Open(filepath.Join(filepath.Dir(p.log), fmt.Sprintf("n%d.run%d.log", p.i, r)))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var l logLine
			if json.Unmarshal(sc.Bytes(), &l) == nil && !l.Time.IsZero() {
				out = append(out, l)
			}
		}
		f.Close()
	}
	return out
}

// appliedOffers maps each offer the node applied to when it did.
func appliedOffers(ls []logLine) map[string]time.Time {
	return appliedAfter(ls, time.Time{})
}

func appliedAfter(ls []logLine, after time.Time) map[string]time.Time {
	out := map[string]time.Time{}
	for _, l := range ls {
		if (l.Msg == "transfer record applied" || l.Msg == "held transfer record applied") && l.Kind == "offer" && l.Time.After(after) {
			if _, ok := out[l.Transfer]; !ok {
				out[l.Transfer] = l.Time
			}
		}
	}
	return out
}

// hadBefore: the node applied the offer before its restart.
func hadBefore(ls []logLine, id string, at time.Time) bool {
	for _, l := range ls {
		if l.Transfer == id && l.Kind == "offer" && l.Time.Before(at) {
			return true
		}
	}
	return false
}

func procCodes(ps []*meshProc) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.code)
	}
	return out
}

func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return ds[min(len(ds)-1, len(ds)*p/100)].Round(time.Millisecond)
}

func pctF(xs []float64, p int) float64 {
	if len(xs) == 0 {
		return 0
	}
	return xs[min(len(xs)-1, len(xs)*p/100)]
}

// procCPU is the process's user and system CPU so far, in seconds
// (/proc/PID/stat, in clock ticks of 1/100 s).
func procCPU(t *testing.T, pid int) float64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	// Fields after the command: state is f[0]; utime and stime are the
	// 14th and 15th fields of the line, f[11] and f[12] here.
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("/proc/%d/stat: %q", pid, s)
	}
	return (ut + st) / 100
}

// procRuns is how many times the process's threads have been put on a
// processor so far (the third field of /proc/PID/task/*/schedstat): its
// wake-ups, which on a virtual machine cost more than the idle node's
// work. Threads that ended are not counted; an idle node starts none.
func procRuns(t *testing.T, pid int) float64 {
	t.Helper()
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil || len(tasks) == 0 {
		t.Fatalf("/proc/%d/task/*/schedstat: %v (%d threads)", pid, err, len(tasks))
	}
	var runs float64
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // the thread ended since the glob
		}
		fs := strings.Fields(string(b))
		if len(fs) != 3 {
			t.Fatalf("%s: %q", f, b)
		}
		n, err := strconv.ParseFloat(fs[2], 64)
		if err != nil {
			t.Fatalf("%s: %q", f, b)
		}
		runs += n
	}
	return runs
}

// procRSS is the process's resident set in MB (/proc/PID/status VmRSS).
func procRSS(t *testing.T, pid int) float64 { return procStatusMB(t, pid, "VmRSS") }

// procStatusMB is a "kB" line of /proc/PID/status (RssAnon, RssFile) in MB.
func procStatusMB(t *testing.T, pid int, key string) float64 {
	return procKBLineMB(t, fmt.Sprintf("/proc/%d/status", pid), key)
}

// procPSS is the process's proportional set size in MB
// (/proc/PID/smaps_rollup Pss): its own pages, and each page it shares
// divided by the number of processes that map it.
func procPSS(t *testing.T, pid int) float64 { return procRollupMB(t, pid, "Pss") }

// procRollupMB is a "kB" line of /proc/PID/smaps_rollup (Pss,
// FilePmdMapped) in MB.
func procRollupMB(t *testing.T, pid int, key string) float64 {
	return procKBLineMB(t, fmt.Sprintf("/proc/%d/smaps_rollup", pid), key)
}

// procKBLineMB is the line "key: N kB" of the /proc file path, in MB.
func procKBLineMB(t *testing.T, path, key string) float64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			if err != nil {
				t.Fatalf("%s: %s %q", path, key, v)
			}
			return kb * 1024 / 1e6
		}
	}
	t.Fatalf("%s has no %s", path, key)
	return 0
}

// waitNodes polls each node (those not yet there) until ok holds for all
// of them, for at most limit; it fails naming the nodes that are not
// there, with what they last said. It returns how long it waited.
func waitNodes(t *testing.T, ps []*meshProc, limit time.Duration, what string, ok func(*meshProc) (bool, string)) time.Duration {
	t.Helper()
	start := time.Now()
	left := slices.Clone(ps)
	last := map[*meshProc]string{}
	for {
		left = slices.DeleteFunc(left, func(p *meshProc) bool {
			done, state := ok(p)
			last[p] = state
			return done
		})
		if len(left) == 0 {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			var msg []string
			for _, p := range left {
				msg = append(msg, fmt.Sprintf("%s: %s", p.code, last[p]))
			}
			t.Fatalf("after %v, %d nodes not %s: %s", limit, len(left), what, strings.Join(msg, "; "))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
