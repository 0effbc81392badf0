package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/nodetest"
	"courtmesh.dev/courtmesh/storage"
	"courtmesh.dev/courtmesh/storage/gen"
)

// The fault suite's tests in this package (TestFault…) run the real
// binary: each kills or starves a court's process and checks that what
// it held or was told is neither lost nor left half done. Each repeats
// its fault nodetest.FaultRuns times (COURTMESH_FAULT_RUNS) and prints
// one line of the suite's table; docs/faults.md lists the faults.

// TestFaultDiskFullImport is TestDiskFullDuringImport as a fault of the
// suite: imports refused on a full disk, then done once space is freed.
func TestFaultDiskFullImport(t *testing.T) {
	r, _, _ := diskFullImport(t, sharedE2E(t), nodetest.FaultRuns(t, 1))
	r.Print(t)
}

// TestFaultDiskFullFetch is TestDiskFullDuringFetch as a fault of the
// suite: fetches stopped at the reserve, then finished once space is
// freed.
func TestFaultDiskFullFetch(t *testing.T) {
	r := diskFullFetch(t, sharedE2E(t), nodetest.FaultRuns(t, 1))
	r.Print(t)
}

// TestFaultKillDuringImport SIGKILLs `courtmesh case import` at a random
// point of a 16 MiB import (by the store's growth, as
// TestCrashDuringImport does at a larger size): the case is then absent
// or complete, never half there, and the same import run again stores it
// whole. At risk: the import's chunks; lost: runs that left anything else.
func TestFaultKillDuringImport(t *testing.T) {
	e := sharedE2E(t)
	runs := nodetest.FaultRuns(t, 3)
	cs, err := gen.Generate(filepath.Join(t.TempDir(), "cases"), gen.Options{Cases: 1, Seed: 78, RefDate: testRef, DocSize: 16 * mib / 9})
	if err != nil {
		t.Fatal(err)
	}
	c := cs[0]
	key, err := crypto.GenerateEncKey()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	r := &nodetest.FaultReport{Name: "kill_during_import", Runs: runs}
	for i := range runs {
		data := newDataDir(t, key)
		storeDir := filepath.Join(data, storage.StoreDir)
		threshold := rng.Int64N(c.Bytes)
		cmd := exec.Command(e.bin, "case", "import", "--data", data, c.Dir)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		tick := time.NewTicker(2 * time.Millisecond)
		deadline := time.After(2 * time.Minute)
	wait:
		for {
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("run %d: import failed without being killed: %v\n%s", i, err, out.String())
				}
				break wait
			case <-tick.C:
				if diskUsage(storeDir) >= threshold {
					cmd.Process.Signal(syscall.SIGKILL)
					<-done
					break wait
				}
			case <-deadline:
				cmd.Process.Kill()
				<-done
				t.Fatalf("run %d: import did not finish in 2 minutes", i)
			}
		}
		tick.Stop()
		r.AtRisk += int(c.Bytes/mib) + c.Documents + 1
		killed := time.Now()
		state := checkAbsentOrComplete(t, data, key, c) // fails the test on anything else
		if out, err := e.run("case", "import", "--data", data, c.Dir); err != nil {
			r.Lost++
			t.Errorf("run %d: the import run again after the kill: %v\n%s", i, err, out)
		}
		r.Recover(time.Since(killed))
		if got := checkAbsentOrComplete(t, data, key, c); got != "complete" {
			r.Lost++
			t.Errorf("run %d: after the import was run again the case is %s", i, got)
		}
		t.Logf("run %d: killed at %d MiB of store growth: case %s, then complete", i, threshold/mib, state)
	}
	r.Print(t)
}

// faultMesh is three court processes: the decider, the origin and the
// receiver, each bootstrapping to those started before it.
type faultMesh struct {
	e                 *e2e
	base              string
	dec, origin, recv *e2eCourt
	bootstrap         []string
	restarts          int
}

func newFaultMesh(t *testing.T, e *e2e) *faultMesh {
	t.Helper()
	m := &faultMesh{e: e, base: t.TempDir()}
	root := filepath.Join(m.base, "root")
	e.must(t, "ca", "init", "--dir", root)
	courts := []*e2eCourt{{code: "京01", roles: "court"}, {code: "京0105", roles: "court"}, {code: "京0108", roles: "court"}}
	m.dec, m.origin, m.recv = courts[0], courts[1], courts[2]
	m.bootstrap = e.certifyAndStart(t, m.base, root, courts)
	for _, c := range courts {
		m.meshed(t, c)
	}
	return m
}

func (m *faultMesh) courts() []*e2eCourt { return []*e2eCourt{m.dec, m.origin, m.recv} }

// meshed waits until c sees the two other courts.
func (m *faultMesh) meshed(t *testing.T, c *e2eCourt) {
	t.Helper()
	nodetest.PollUntil(t, 30*time.Second, c.code+" sees the other courts", func() bool {
		ps, err := c.apiPeers(t)
		return err == nil && len(ps) == 2
	})
}

// killRecv SIGKILLs the receiver's node.
func (m *faultMesh) killRecv(t *testing.T) {
	t.Helper()
	if err := m.recv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err := <-m.recv.done
	m.recv.done <- err // for the harness's cleanup
}

// restartRecv starts the receiver's node again on its data directory and
// waits until it is back in the mesh.
func (m *faultMesh) restartRecv(t *testing.T) {
	t.Helper()
	m.restarts++
	again := &e2eCourt{code: m.recv.code, roles: m.recv.roles, dir: m.recv.dir, peer: m.recv.peer, serial: m.recv.serial,
		log: fmt.Sprintf("%s.%d", m.recv.log, m.restarts+1)}
	var others []string
	for _, b := range m.bootstrap {
		if !strings.HasSuffix(b, "/p2p/"+m.recv.peer) {
			others = append(others, b)
		}
	}
	m.e.start(t, again, others)
	m.recv = again
	m.meshed(t, again)
}

// toDecided imports c into the origin, offers it and has the decider
// designate the receiver; it returns the transfer.
func (m *faultMesh) toDecided(t *testing.T, c gen.Case, n int) string {
	t.Helper()
	e := m.e
	e.long(t, 5*time.Minute, "case", "import", "--data", m.origin.dir, c.Dir)
	var tr api.Transfer
	e.mustJSON(t, &tr, "transfer", "offer", "--json", "--data", m.origin.dir, "--case", c.Number.String(), "--superior", "京01")
	id := string(tr.ID)
	e.waitState(t, id, "offered", m.courts()...)
	e.must(t, "transfer", "decide", "--data", m.dec.dir, "--mode", "designated", "--to", "京0108", "--decision", fmt.Sprintf("（2026）京01执监%d号", 800+n), id)
	e.waitState(t, id, "decided", m.courts()...)
	return id
}

// killDuring sends a request to the receiver's node and SIGKILLs the
// node after, then waits for the answer and returns its error (nil: the
// node answered done before it died).
func (m *faultMesh) killDuring(t *testing.T, method, path string, body any, after time.Duration) error {
	t.Helper()
	cl := m.recv.client(t)
	res := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		res <- cl.Do(ctx, method, path, body, nil)
	}()
	time.Sleep(after)
	m.killRecv(t)
	return <-res
}

// newCaseNumber is the receiver's case number of the nth transfer.
func newCaseNumber(n int) string {
	return nodetest.CaseNo(time.Now(), "京0108", court.TypeEnforcement, 4100+n)
}

// toHandedOver takes c from import to handover.
func (m *faultMesh) toHandedOver(t *testing.T, c gen.Case, n int) string {
	t.Helper()
	id := m.toDecided(t, c, n)
	m.e.must(t, "transfer", "accept", "--data", m.recv.dir, "--case", newCaseNumber(n), id)
	m.e.waitState(t, id, "accepted", m.courts()...)
	m.e.must(t, "transfer", "handover", "--data", m.origin.dir, "--override", "端到端测试：续行已办理", id)
	m.e.waitState(t, id, "handed_over", m.courts()...)
	return id
}

// transferOn is a transfer as a court's node holds it.
func transferOn(t *testing.T, c *e2eCourt, id string) (api.Transfer, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var tr api.Transfer
	err := c.client(t).Do(ctx, "GET", "/v1/transfers/"+id, nil, &tr)
	return tr, err
}

// agree waits up to 30 s for every court to hold the transfer alike by
// get, and returns that value ("" if they never agree).
func (m *faultMesh) agree(t *testing.T, id string, get func(api.Transfer) string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var vals []string
		for _, c := range m.courts() {
			tr, err := transferOn(t, c, id)
			if err != nil {
				vals = append(vals, "?")
				continue
			}
			vals = append(vals, get(tr))
		}
		if vals[0] != "?" && vals[0] == vals[1] && vals[1] == vals[2] {
			return vals[0]
		}
		if time.Now().After(deadline) {
			t.Logf("transfer %s as the three courts hold it: %v", id, vals)
			return ""
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestFaultKillDuringFetch SIGKILLs the receiver's node once a fifth of a
// 24 MiB dossier is verified, starts it again, and fetches once more: one
// run finishes from the kept chunks (none verified before the kill is
// fetched again) and the filed case verifies. At risk: the chunks
// verified before the kill; lost: those fetched again or never finished.
func TestFaultKillDuringFetch(t *testing.T) {
	e := sharedE2E(t)
	runs := nodetest.FaultRuns(t, 1)
	m := newFaultMesh(t, e)
	dry, err := gen.Generate(filepath.Join(m.base, "dry"), gen.Options{Cases: runs, Seed: 31, Court: "京0105"})
	if err != nil {
		t.Fatal(err)
	}
	docs := 0
	for _, c := range dry {
		docs = max(docs, c.Documents)
	}
	cs, err := gen.Generate(filepath.Join(m.base, "cases"), gen.Options{Cases: runs, Seed: 31, Court: "京0105", DocSize: 24 * mib / int64(docs)})
	if err != nil {
		t.Fatal(err)
	}
	r := &nodetest.FaultReport{Name: "kill_during_fetch"}
	for i, c := range cs {
		id := m.toHandedOver(t, c, i)
		e.must(t, "dossier", "fetch", "--detach", "--data", m.recv.dir, id)
		var cut api.FetchProgress
		nodetest.PollUntil(t, 2*time.Minute, "chunks verified", func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := m.recv.client(t).Do(ctx, "GET", "/v1/transfers/"+id+"/fetch", nil, &cut)
			return err == nil && (cut.State != "running" || (cut.Chunks > 0 && cut.Verified >= 1))
		})
		m.killRecv(t)
		if cut.State != "running" || cut.Verified >= cut.Chunks {
			// On a loaded machine a poll can come too late: this run
			// killed nothing in flight, and does not count.
			t.Logf("run %d: the fetch was %s with %d of %d chunks when the kill was due; not counted", i, cut.State, cut.Verified, cut.Chunks)
			m.restartRecv(t)
			continue
		}
		r.Runs++
		r.AtRisk += cut.Verified
		killed := time.Now()
		m.restartRecv(t)
		var p api.FetchProgress
		e.mustJSONLong(t, 5*time.Minute, &p, "dossier", "fetch", "--json", "--data", m.recv.dir, id)
		r.Recover(time.Since(killed))
		if p.State != "done" {
			r.Lost += cut.Verified
			t.Errorf("run %d: the fetch after the restart ended %s: %s (failures %+v)", i, p.State, p.Error, p.Failures)
			continue
		}
		if p.Resumed < cut.Verified {
			r.Lost += cut.Verified - p.Resumed
			t.Errorf("run %d: %d chunks resumed; %d were verified before the kill", i, p.Resumed, cut.Verified)
		}
		if out := e.must(t, "dossier", "verify", "--data", m.recv.dir, p.NewCase); !strings.Contains(out, "verified") {
			t.Errorf("run %d: dossier verify: %s", i, out)
		}
		t.Logf("run %d: killed with %d of %d chunks verified; the next run resumed %d, fetched %d", i, cut.Verified, cut.Chunks, p.Resumed, p.Fetched)
	}
	if r.Runs == 0 {
		t.Fatal("no run killed the node in the middle of a fetch: the dossiers are too small to be cut")
	}
	r.Print(t)
}

// TestFaultKillDuringAcceptance SIGKILLs the receiver's node a random few
// milliseconds into `transfer accept`, starts it again, and lets the mesh
// sync: the three courts then agree, on accepted or (the kill came first)
// decided, and an acceptance the command reported done is never lost;
// accepting again where it did not happen works. At risk: the acceptance
// records; lost: an acceptance reported done that the mesh does not hold,
// or courts that disagree.
func TestFaultKillDuringAcceptance(t *testing.T) {
	e := sharedE2E(t)
	runs := nodetest.FaultRuns(t, 2)
	m := newFaultMesh(t, e)
	cs, err := gen.Generate(filepath.Join(m.base, "cases"), gen.Options{Cases: runs, Seed: 32, Court: "京0105"})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	r := &nodetest.FaultReport{Name: "kill_during_acceptance", Runs: runs}
	for i, c := range cs {
		id := m.toDecided(t, c, i)
		r.AtRisk++
		// The request goes straight to the node's API (the command line's
		// own start would take longer than the window aimed at), and the
		// node is killed a random few milliseconds after it was sent:
		// before, while or after it signs, stores and publishes.
		acceptErr := m.killDuring(t, "POST", "/v1/transfers/"+id+"/accept", api.AcceptRequest{NewCaseNumber: newCaseNumber(i)}, time.Duration(rng.IntN(20))*time.Millisecond)
		killed := time.Now()
		m.restartRecv(t)
		state := m.agree(t, id, func(tr api.Transfer) string { return string(tr.State) })
		r.Recover(time.Since(killed))
		switch {
		case state == "":
			r.Lost++
			t.Errorf("run %d: the courts disagree on %s after the restart", i, id)
		case acceptErr == nil && state != "accepted":
			r.Lost++
			t.Errorf("run %d: `transfer accept` reported done, but the mesh holds %s as %s", i, id, state)
		case state == "decided":
			// The kill came first: accepting again works.
			e.must(t, "transfer", "accept", "--data", m.recv.dir, "--case", newCaseNumber(i), id)
			e.waitState(t, id, "accepted", m.courts()...)
		}
		t.Logf("run %d: accept: %v; after the restart every court holds %s", i, acceptErr, state)
	}
	r.Print(t)
}

// TestFaultKillDuringAssetUpdate SIGKILLs the receiver's node a random
// few milliseconds into `assets update` (a renewal of a measure of the
// received case), starts it again, and lets the mesh sync: origin and
// receiver then count the same asset updates (the change and its record
// are kept together, and a record left unsent goes out at the start), and
// an update the command reported done is never lost. At risk: the update
// records; lost: an update reported done that a court lacks, or courts
// that disagree.
func TestFaultKillDuringAssetUpdate(t *testing.T) {
	e := sharedE2E(t)
	runs := nodetest.FaultRuns(t, 2)
	m := newFaultMesh(t, e)
	cs, err := gen.Generate(filepath.Join(m.base, "cases"), gen.Options{Cases: 1, Seed: 33, Court: "京0105"})
	if err != nil {
		t.Fatal(err)
	}
	id := m.toHandedOver(t, cs[0], 0)
	var p api.FetchProgress
	e.mustJSONLong(t, 5*time.Minute, &p, "dossier", "fetch", "--json", "--data", m.recv.dir, id)
	if p.State != "done" {
		t.Fatalf("fetch: %s: %s", p.State, p.Error)
	}
	e.waitState(t, id, "received", m.courts()...)
	var detail api.CaseDetail
	e.mustJSON(t, &detail, "case", "show", "--json", "--data", m.recv.dir, "--purpose", "故障测试", p.NewCase)
	measure := ""
	for _, ms := range detail.Measures {
		if ms.Status == "active" && ms.Expiry != "" {
			measure = ms.ID
			break
		}
	}
	if measure == "" {
		t.Fatalf("the received case %s has no active measure with a term to renew: %+v", p.NewCase, detail.Measures)
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 4))
	r := &nodetest.FaultReport{Name: "kill_during_asset_update", Runs: runs}
	count := func(tr api.Transfer) string { return fmt.Sprint(tr.AssetUpdates) }
	want := 0
	for i := range runs {
		r.AtRisk++
		updErr := m.killDuring(t, "POST", "/v1/transfers/"+id+"/assets", api.AssetChange{Kind: "renewal", Measure: measure}, time.Duration(rng.IntN(20))*time.Millisecond)
		killed := time.Now()
		m.restartRecv(t)
		got := m.agree(t, id, count)
		r.Recover(time.Since(killed))
		switch {
		case got == "":
			r.Lost++
			t.Errorf("run %d: origin and receiver disagree on the asset updates of %s after the restart", i, id)
		case updErr == nil && got != fmt.Sprint(want+1):
			r.Lost++
			t.Errorf("run %d: `assets update` reported done, but the courts count %s updates; want %d", i, got, want+1)
		}
		if got != "" {
			fmt.Sscan(got, &want)
		}
		t.Logf("run %d: update: %v; after the restart the courts count %s asset updates", i, updErr, got)
		// The measure renewed is the one in force now: renew that next.
		e.mustJSON(t, &detail, "case", "show", "--json", "--data", m.recv.dir, "--purpose", "故障测试", p.NewCase)
		for _, ms := range detail.Measures {
			if ms.Status == "active" && ms.Expiry != "" && (ms.ID == measure || ms.Renews == measure) {
				measure = ms.ID
			}
		}
	}
	r.Print(t)
}
