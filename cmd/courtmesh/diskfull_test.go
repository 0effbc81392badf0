package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/nodetest"
	"courtmesh.dev/courtmesh/storage"
	"courtmesh.dev/courtmesh/storage/gen"
)

// The disk-full tests run the real binary with its data directory on a
// small tmpfs the test mounts (CI runs as root; without root no
// filesystem can be mounted and they skip), and fill that filesystem
// with a file of their own while the node imports or fetches.

// sharedBuild is one build of the binary for the disk-full and fault
// tests (TestMain removes it).
var sharedBuild struct {
	once     sync.Once
	dir, bin string
	err      error
}

// sharedE2E is newE2E with the binary built once for every test that
// uses it.
func sharedE2E(t *testing.T) *e2e {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the real binary; skipped with -short")
	}
	sharedBuild.once.Do(func() {
		dir, err := os.MkdirTemp("", "courtmesh-test-bin-")
		if err != nil {
			sharedBuild.err = err
			return
		}
		sharedBuild.dir, sharedBuild.bin = dir, filepath.Join(dir, "courtmesh")
		args := []string{"build", "-o", sharedBuild.bin}
		if raceEnabled {
			args = append(args, "-race")
		}
		if out, err := exec.Command("go", append(args, ".")...).CombinedOutput(); err != nil {
			sharedBuild.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if sharedBuild.err != nil {
		t.Fatal(sharedBuild.err)
	}
	return &e2e{t: t, bin: sharedBuild.bin}
}

// smallDisk mounts a tmpfs of size bytes on dir (created if needed) and
// unmounts it when the test ends, after everything registered later (the
// nodes' stops). Not root: the test skips.
func smallDisk(t *testing.T, dir string, size int64) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("not root: no filesystem can be mounted for a full disk (CI runs as root)")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		t.Fatalf("mount a %d-byte tmpfs on %s: %v", size, dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			syscall.Unmount(dir, syscall.MNT_DETACH)
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
}

// fillDisk grows the file name until about leave bytes are free on its
// filesystem (it only grows it: a file already larger stays).
func fillDisk(t *testing.T, name string, leave int64) {
	t.Helper()
	free, err := storage.FreeSpace(filepath.Dir(name))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	block := make([]byte, 1<<20)
	for n := free - leave; n > 0; n -= int64(len(block)) {
		if _, err := f.Write(block[:min(n, int64(len(block)))]); err != nil {
			t.Fatalf("fill the disk of %s: %v", name, err)
		}
	}
}

// exitStatus runs a command and returns its exit status and output.
func (e *e2e) exitStatus(args ...string) (int, string) {
	out, err := e.run(args...)
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, out
	case errors.As(err, &ee):
		return ee.ExitCode(), out
	}
	return -1, out + err.Error()
}

// storedChunks counts the chunk files and pack bytes under a data
// directory's chunk store, and the files left in its tmp folder.
func storedChunks(t *testing.T, data string) (files int, packBytes int64, tmp int) {
	t.Helper()
	root := filepath.Join(data, storage.StoreDir, storage.ChunkDir)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case strings.HasPrefix(rel, "tmp"+string(filepath.Separator)):
			tmp++
		case strings.HasPrefix(rel, "packs"+string(filepath.Separator)):
			if fi, err := d.Info(); err == nil {
				packBytes += fi.Size()
			}
		default:
			files++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files, packBytes, tmp
}

// alertKinds is the kinds of the alerts a node raises.
func alertKinds(t *testing.T, c *e2eCourt) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var as []api.Alert
	if err := c.client(t).Do(ctx, "GET", "/v1/alerts", nil, &as); err != nil {
		t.Fatalf("%s: GET /v1/alerts: %v", c.code, err)
	}
	var out []string
	for _, a := range as {
		out = append(out, a.Kind)
	}
	return out
}

var diskFullMetric = regexp.MustCompile(`(?m)^courtmesh_disk_full_refusals_total\{write="(\w+)"\} (\d+)$`)

// diskFullRefusals reads courtmesh_disk_full_refusals_total{write} from
// the node's metrics.
func diskFullRefusals(t *testing.T, c *e2eCourt, write string) int {
	t.Helper()
	h := newHTTPCourt(t, c, false)
	req, err := http.NewRequest("GET", h.base+"/v1/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+h.token)
	resp, err := h.hc.Do(req)
	if err != nil {
		t.Fatalf("%s: GET /v1/metrics: %v", c.code, err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if m := diskFullMetric.FindStringSubmatch(sc.Text()); m != nil && m[1] == write {
			n, _ := strconv.Atoi(m[2])
			return n
		}
	}
	t.Fatalf("%s: no courtmesh_disk_full_refusals_total{write=%q} in the metrics", c.code, write)
	return 0
}

// alive fails the test if the court's node process has exited or its
// API does not answer.
func alive(t *testing.T, c *e2eCourt) {
	t.Helper()
	select {
	case err := <-c.done:
		c.done <- err
		t.Fatalf("%s: the node died: %v", c.code, err)
	default:
	}
	if _, err := c.apiStatus(t); err != nil {
		t.Fatalf("%s: the node's API does not answer: %v", c.code, err)
	}
}

const (
	// testReserve is the disk_reserve of the nodes on a small disk.
	testReserve = 16 << 20
	mib         = 1 << 20
)

// diskFullImport runs a node of 京0105 on a small disk and, runs times,
// fills the disk so that a generated case does not fit above the reserve,
// imports it through the running node (refused: disk_full, exit status
// 7, nothing stored, the node alive, alert and metric raised), frees the
// space and imports it again (done). It returns the report and the court,
// still running.
func diskFullImport(t *testing.T, e *e2e, runs int) (*nodetest.FaultReport, *e2eCourt, []gen.Case) {
	t.Helper()
	base := t.TempDir()
	cs, err := gen.Generate(filepath.Join(base, "cases"), gen.Options{Cases: runs, Seed: 41, Court: "京0105", DocSize: mib})
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, c := range cs {
		total += c.Bytes
	}
	root := filepath.Join(base, "root")
	e.must(t, "ca", "init", "--dir", root)
	origin := &e2eCourt{code: "京0105", roles: "court", extraConfig: fmt.Sprintf("disk_reserve = \"%dMiB\"\n", testReserve/mib)}
	smallDisk(t, filepath.Join(base, "n0"), 48*mib+total*3/2)
	e.certifyAndStart(t, base, root, []*e2eCourt{origin})
	filler := filepath.Join(origin.dir, "filler")

	r := &nodetest.FaultReport{Name: "disk_full_import", Runs: runs}
	for i, c := range cs {
		// The case needs about c.Bytes; leave half of that above the reserve.
		fillDisk(t, filler, testReserve+c.Bytes/2)
		files, packs, _ := storedChunks(t, origin.dir)
		r.AtRisk += int(c.Bytes/mib) + c.Documents + 1 // its chunks, about
		status, out := e.exitStatus("case", "import", "--data", origin.dir, c.Dir)
		if status != 7 || !strings.Contains(out, "disk is full") || !strings.Contains(out, "nothing was imported") {
			t.Fatalf("run %d: import on a full disk: exit status %d, %s; want 7 (unavailable) and a message saying the disk is full and nothing was imported", i, status, out)
		}
		if i == 0 {
			t.Logf("the refused import says: %s", strings.TrimSpace(out))
		}
		alive(t, origin)
		lost := false
		if f2, p2, tmp := storedChunks(t, origin.dir); f2 != files || p2 != packs || tmp != 0 {
			t.Errorf("run %d: the refused import left chunks: %d chunk files, %d pack bytes, %d temporary files; %d, %d, 0 before", i, f2, p2, tmp, files, packs)
			lost = true
		}
		var list []api.CaseSummary
		e.mustJSON(t, &list, "case", "list", "--json", "--data", origin.dir)
		if slices.ContainsFunc(list, func(s api.CaseSummary) bool { return s.Case == c.Number.String() }) {
			t.Errorf("run %d: the refused case %s is listed", i, c.Number)
			lost = true
		}
		if free, _ := storage.FreeSpace(origin.dir); free < testReserve-2*mib {
			t.Errorf("run %d: %s free after the refusal: the reserve of %s was eaten into", i, storage.HumanBytes(free), storage.HumanBytes(testReserve))
		}
		if !slices.Contains(alertKinds(t, origin), "disk_full") {
			t.Errorf("run %d: no disk_full alert after the refusal", i)
		}
		if n := diskFullRefusals(t, origin, "import"); n < i+1 {
			t.Errorf("run %d: courtmesh_disk_full_refusals_total{write=\"import\"} = %d, want at least %d", i, n, i+1)
		}

		// Space freed: the same import goes through, and the alert ends.
		if err := os.Remove(filler); err != nil {
			t.Fatal(err)
		}
		freed := time.Now()
		if status, out := e.exitStatus("case", "import", "--data", origin.dir, c.Dir); status != 0 {
			t.Errorf("run %d: import once space was freed: exit status %d: %s", i, status, out)
			lost = true
		}
		r.Recover(time.Since(freed))
		if slices.Contains(alertKinds(t, origin), "disk_full") {
			t.Errorf("run %d: the disk_full alert stays after space was freed", i)
		}
		if lost {
			r.Lost++
		}
	}
	return r, origin, cs
}

// TestDiskFullDuringImport: an import that does not fit above the disk's
// reserve is refused with a clear error (disk_full, exit status 7), the
// node stays up and answers, nothing of the case is stored, an alert and
// a metric say so, and once space is freed the import goes through. With
// the disk filled past the reserve and the node stopped, `case list`
// opens the store read-only instead of dying, an offline import is
// refused, and the node starts and serves on the full disk. (A disk
// filled by another writer in the middle of an import is
// storage.TestDiskFullMidImport.)
func TestDiskFullDuringImport(t *testing.T) {
	e := sharedE2E(t)
	r, origin, cs := diskFullImport(t, e, 1)
	t.Logf("refused and imported again: %d chunks at risk, %d lost, import done %v after space was freed", r.AtRisk, r.Lost, r.Recovered.Round(time.Millisecond))

	// The disk past its reserve, the node stopped: offline commands read.
	stopCourt(t, origin)
	filler := filepath.Join(origin.dir, "filler")
	fillDisk(t, filler, 2*mib)
	cmd := exec.Command(e.bin, "case", "list", "--json", "--data", origin.dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("case list on a full disk: %v\n%s%s", err, out, stderr.String())
	}
	if !strings.Contains(stderr.String(), "read-only") || !strings.Contains(string(out), cs[0].Number.String()) {
		t.Errorf("case list on a full disk: %s / %s; want the case listed and a note that the store is read-only", out, stderr.String())
	}
	if _, out := e.exitStatus("doctor", "--data", origin.dir); !strings.Contains(out, "below its reserve") {
		t.Errorf("doctor on a full disk does not say it is below its reserve:\n%s", out)
	}
	if status, out := e.exitStatus("case", "import", "--data", origin.dir, cs[0].Dir); status != 0 && status != 7 {
		t.Errorf("offline import on a full disk: exit status %d: %s; want 7 (or 0: the case is stored unchanged)", status, out)
	}

	// The node starts on the full disk, serves, and says the disk is full.
	again := &e2eCourt{code: origin.code, roles: origin.roles, dir: origin.dir, peer: origin.peer, serial: origin.serial, log: origin.log + ".2", extraConfig: origin.extraConfig}
	e.start(t, again, nil)
	alive(t, again)
	if !slices.Contains(alertKinds(t, again), "disk_full") {
		t.Error("a node started on a full disk raises no disk_full alert")
	}
	var list []api.CaseSummary
	e.mustJSON(t, &list, "case", "list", "--json", "--data", again.dir)
	if len(list) != 1 {
		t.Errorf("the node on a full disk lists %d cases, want 1", len(list))
	}
	stopCourt(t, again)
}

// diskFullFetch runs a mesh of three court processes, the receiver's data
// directory on a small disk, and, runs times: hands a generated dossier
// over, fills the receiver's disk so that only half the dossier fits
// above its reserve, and fetches (refused part way: disk_full, the
// chunks verified so far kept, the node alive and in the mesh, alert and
// metric raised, the status naming the reason and saying the fetch can
// resume); then frees the space and fetches again, which must finish in
// one run from where it stopped, the filed case byte for byte the
// imported one.
func diskFullFetch(t *testing.T, e *e2e, runs int) *nodetest.FaultReport {
	t.Helper()
	base := t.TempDir()
	dry, err := gen.Generate(filepath.Join(base, "dry"), gen.Options{Cases: runs, Seed: 23, Court: "京0105"})
	if err != nil {
		t.Fatal(err)
	}
	docs := 0
	for _, c := range dry {
		docs = max(docs, c.Documents)
	}
	cs, err := gen.Generate(filepath.Join(base, "cases"), gen.Options{Cases: runs, Seed: 23, Court: "京0105", DocSize: 12 * mib / int64(docs)})
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, c := range cs {
		total += c.Bytes
	}
	root := filepath.Join(base, "root")
	e.must(t, "ca", "init", "--dir", root)
	exports := filepath.Join(base, "exports")
	if err := os.MkdirAll(exports, 0o700); err != nil {
		t.Fatal(err)
	}
	courts := []*e2eCourt{
		{code: "京01", roles: "court"},
		{code: "京0105", roles: "court"},
		{code: "京0108", roles: "court", exportsDir: exports, extraConfig: fmt.Sprintf("disk_reserve = \"%dMiB\"\n", testReserve/mib)},
	}
	dec, origin, recv := courts[0], courts[1], courts[2]
	smallDisk(t, filepath.Join(base, "n2"), 48*mib+total*3/2)
	e.certifyAndStart(t, base, root, courts)
	for _, c := range courts {
		nodetest.PollUntil(t, 30*time.Second, c.code+" sees the other courts", func() bool {
			ps, err := c.apiPeers(t)
			return err == nil && len(ps) == len(courts)-1
		})
	}
	filler := filepath.Join(recv.dir, "filler")

	r := &nodetest.FaultReport{Name: "disk_full_fetch", Runs: runs}
	for i, c := range cs {
		failed := t.Failed()
		e.long(t, 5*time.Minute, "case", "import", "--data", origin.dir, c.Dir)
		var tr api.Transfer
		e.mustJSON(t, &tr, "transfer", "offer", "--json", "--data", origin.dir, "--case", c.Number.String(), "--superior", "京01")
		id := string(tr.ID)
		e.waitState(t, id, "offered", courts...)
		e.must(t, "transfer", "decide", "--data", dec.dir, "--mode", "designated", "--to", "京0108", "--decision", fmt.Sprintf("（2026）京01执监%d号", 300+i), id)
		e.waitState(t, id, "decided", courts...)
		e.must(t, "transfer", "accept", "--data", recv.dir, "--case", nodetest.CaseNo(time.Now(), "京0108", court.TypeEnforcement, 3100+i), id)
		e.waitState(t, id, "accepted", courts...)
		e.must(t, "transfer", "handover", "--data", origin.dir, "--override", "端到端测试：续行已办理", id)
		e.waitState(t, id, "handed_over", courts...)

		// Half the dossier fits above the reserve.
		fillDisk(t, filler, testReserve+c.Bytes/2)
		status, out := e.exitStatus("dossier", "fetch", "--data", recv.dir, id)
		if status != 7 || !strings.Contains(out, "disk is full") || !strings.Contains(out, "disk_full") {
			t.Fatalf("run %d: fetch onto a full disk: exit status %d: %s; want 7 and the reason", i, status, tail(out, 2000))
		}
		if i == 0 {
			t.Logf("the refused fetch says: %s", tail(strings.TrimSpace(out), 1500))
		}
		alive(t, recv)
		var cut api.FetchProgress
		e.mustJSON(t, &cut, "dossier", "status", "--data", recv.dir, id)
		if cut.State != "failed" || cut.Code != "disk_full" || !cut.Resumable ||
			!slices.ContainsFunc(cut.Failures, func(f api.FetchFailure) bool { return f.Reason == "disk_full" && f.Court == "京0108" }) {
			t.Errorf("run %d: status of the refused fetch: state %s, code %q, resumable %t, failures %+v; want failed, disk_full, resumable, a disk_full failure", i, cut.State, cut.Code, cut.Resumable, cut.Failures)
		}
		if cut.Verified == 0 || cut.Verified >= cut.Chunks {
			t.Errorf("run %d: %d of %d chunks verified before the disk was full; want some but not all", i, cut.Verified, cut.Chunks)
		}
		r.AtRisk += cut.Verified
		if free, _ := storage.FreeSpace(recv.dir); free < testReserve-2*mib {
			t.Errorf("run %d: %s free after the refusal: the reserve of %s was eaten into", i, storage.HumanBytes(free), storage.HumanBytes(testReserve))
		}
		if !slices.Contains(alertKinds(t, recv), "disk_full") {
			t.Errorf("run %d: no disk_full alert after the refused fetch", i)
		}
		if n := diskFullRefusals(t, recv, "fetch"); n < i+1 {
			t.Errorf("run %d: courtmesh_disk_full_refusals_total{write=\"fetch\"} = %d, want at least %d", i, n, i+1)
		}
		// Still in the mesh and answering: the transfer as everyone has it.
		if ps, err := recv.apiPeers(t); err != nil || len(ps) != 2 {
			t.Errorf("run %d: the receiver after the refusal: %d peers, %v", i, len(ps), err)
		}

		// Space freed: one run finishes from where it stopped.
		if err := os.Remove(filler); err != nil {
			t.Fatal(err)
		}
		freed := time.Now()
		var p api.FetchProgress
		e.mustJSONLong(t, 5*time.Minute, &p, "dossier", "fetch", "--json", "--data", recv.dir, id)
		r.Recover(time.Since(freed))
		if p.State != "done" || p.NewCase == "" {
			t.Errorf("run %d: the fetch once space was freed ended %s: %s (failures %+v)", i, p.State, p.Error, p.Failures)
			r.Lost += cut.Verified
			continue
		}
		if p.Resumed < cut.Verified {
			t.Errorf("run %d: the second fetch resumed %d chunks; %d were verified before the disk was full", i, p.Resumed, cut.Verified)
			r.Lost += cut.Verified - p.Resumed
		}
		// The decider, which holds a grant but no copy, answers that it
		// has none (missing); nothing else may fail.
		for _, f := range p.Failures {
			if f.Reason != "missing" || f.Court != "京01" {
				t.Errorf("run %d: a failure in the second fetch: %+v", i, f)
			}
		}
		out = filepath.Join(exports, fmt.Sprintf("run-%d", i))
		e.long(t, 5*time.Minute, "case", "export", "--data", recv.dir, "--out", out, "--purpose", "核对移交卷宗", p.NewCase)
		if files, _ := sameTree(t, c.Dir, out); files == 0 {
			t.Errorf("run %d: the export of %s holds no file", i, p.NewCase)
		}
		if t.Failed() && !failed {
			r.Lost++ // something of this run is wrong
		}
		os.RemoveAll(out)
	}
	return r
}

// TestDiskFullDuringFetch: a fetch that fills the receiver's disk stops
// at the reserve with a clear error (disk_full, exit status 7, the
// reason in the fetch status), the node lives on in the mesh, an alert
// and a metric say so, and once space is freed one more run finishes the
// fetch from the chunks it kept; the filed case exports byte for byte as
// the origin imported it.
func TestDiskFullDuringFetch(t *testing.T) {
	e := sharedE2E(t)
	r := diskFullFetch(t, e, 1)
	t.Logf("%d chunks verified before the disk was full, %d lost; done %v after space was freed", r.AtRisk, r.Lost, r.Recovered.Round(time.Millisecond))
}
