package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/libp2p/go-libp2p/core/peer"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/datadir"
	"courtmesh.dev/courtmesh/node/devmesh"
	"courtmesh.dev/courtmesh/node/nodetest"
	"courtmesh.dev/courtmesh/node/nodetest/served"
	"courtmesh.dev/courtmesh/storage"
)

// auditNode runs a node in this process until stop is called (or the
// test ends); stop waits until its store is closed.
func auditNode(t *testing.T, d datadir.Dir) (n *node.Node, stop func()) {
	t.Helper()
	return served.Start(t, node.Options{Dir: d})
}

// meshRow returns the operator's view of peer p, through its API.
func meshRow(t *testing.T, opDir datadir.Dir, p peer.ID) (api.CourtHealth, bool) {
	t.Helper()
	cl, err := client(string(opDir))
	if err != nil {
		t.Fatal(err)
	}
	var rows []api.CourtHealth
	if err := cl.Do(context.Background(), "GET", "/v1/mesh", nil, &rows); err != nil {
		t.Fatalf("GET /v1/mesh: %v", err)
	}
	for _, r := range rows {
		if r.PeerID == p.String() {
			return r, true
		}
	}
	return api.CourtHealth{}, false
}

// rechain is what someone who rewrites an audit log and wants it to pass
// `audit verify` does: recompute every hash from the rewritten entry on,
// and the head record (the format of storage/audit.go).
func rechain(es []storage.AuditEntry) {
	for i := range es {
		if i > 0 {
			es[i].Prev = es[i-1].Hash
		}
		e := es[i]
		e.Hash = ""
		b, _ := json.Marshal(e)
		h := sha256.Sum256(append([]byte("courtmesh audit v1\n"), b...))
		es[i].Hash = hex.EncodeToString(h[:])
	}
}

func auditKey(seq uint64) []byte { return binary.BigEndian.AppendUint64([]byte("au/"), seq) }

// rewrite stores es over the entries with the same sequence numbers and,
// if head, points the head record at the last of them.
func rewrite(t *testing.T, dir datadir.Dir, es []storage.AuditEntry, head bool) {
	t.Helper()
	db, err := storage.Open(string(dir), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Badger().Update(func(txn *badger.Txn) error {
		for _, e := range es {
			b, _ := json.Marshal(e)
			if err := txn.Set(auditKey(e.Seq), b); err != nil {
				return err
			}
		}
		if head {
			last := es[len(es)-1]
			b, _ := json.Marshal(map[string]any{"seq": last.Seq, "hash": last.Hash})
			return txn.Set([]byte("meta/audit-head"), b)
		}
		return nil
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
}

// storedAudit reads a stopped node's audit log.
func storedAudit(t *testing.T, dir datadir.Dir) []storage.AuditEntry {
	t.Helper()
	db, err := storage.Open(string(dir), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	es, err := db.AuditEntries(1, 0)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// The must-show test: a court's audit log is rewritten on disk while its
// node is stopped. `audit verify` names the rewritten entry; rewritten
// again with every hash recomputed it passes verify alone, but not against
// the head the mesh witnessed, and once the node runs again its heartbeat
// shows the operator another hash where it saw one before: the operator
// view flags the node audit_forked and raises an alert.
func TestAuditTamperDetected(t *testing.T) {
	m, err := devmesh.Build(t.TempDir(), []devmesh.Court{
		{Code: court.Supreme, Roles: []crypto.Role{crypto.RoleCourt, crypto.RoleOperator}},
		{Code: "京0105", Roles: []crypto.Role{crypto.RoleCourt}},
	}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range m.Dirs {
		if err := os.WriteFile(d.Path(datadir.ConfigFile), []byte(devmesh.LoopbackConfig+"heartbeat_interval = \"200ms\"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	opDir, vDir := m.Dirs[0], m.Dirs[1]
	op, _ := auditNode(t, opDir)
	victim, stopVictim := auditNode(t, vDir)
	vid := victim.PeerID()
	connect := func(n *node.Node) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.Host().Connect(ctx, peer.AddrInfo{ID: op.PeerID(), Addrs: op.Host().Addrs()}); err != nil {
			t.Fatal(err)
		}
	}
	connect(victim)

	// Twenty events, one a minute from a day ago (the store keeps the time
	// it is given), so that a time range selects some of them.
	t0 := time.Now().Add(-24 * time.Hour).Truncate(time.Minute).UTC()
	var ours []storage.AuditEntry
	for i := range 20 {
		e, err := victim.Store().Audit(storage.AuditEntry{Time: t0.Add(time.Duration(i) * time.Minute), Event: "grant.added", Outcome: "ok",
			Court: "京0108", Detail: fmt.Sprintf("test event %d", i)})
		if err != nil {
			t.Fatal(err)
		}
		ours = append(ours, e)
	}

	// Export a range through the running node's API and verify it.
	export := filepath.Join(t.TempDir(), "range.jsonl")
	out, err := runCLI(t, "audit", "export", "--data", string(vDir), "--from", t0.Add(5*time.Minute).Format(time.RFC3339), "--to", t0.Add(10*time.Minute).Format(time.RFC3339), "--out", export)
	if err != nil {
		t.Fatalf("audit export: %v\n%s", err, out)
	}
	want := fmt.Sprintf("exported audit entries %d..%d (5)", ours[5].Seq, ours[9].Seq)
	if !strings.Contains(out, want) || !strings.Contains(out, ours[4].Hash) {
		t.Errorf("audit export said:\n%s\nwant %q and the link to entry %d's hash", out, want, ours[4].Seq)
	}
	if out, err := runCLI(t, "audit", "verify", "--file", export, "--prev", ours[4].Hash); err != nil || !strings.Contains(out, "every link holds") {
		t.Errorf("verify the export: %v\n%s", err, out)
	}
	out, err = runCLI(t, "audit", "verify", "--file", export, "--prev", ours[3].Hash)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("audit entry %d: link to the previous entry is broken", ours[5].Seq)) {
		t.Errorf("verify the export with the wrong --prev: %v\n%s", err, out)
	}

	// The operator witnesses the victim's head.
	var witnessed api.CourtHealth
	nodetest.PollUntil(t, 20*time.Second, "the operator witnesses the victim's audit head", func() bool {
		seq, head, _ := victim.Store().AuditHead()
		r, ok := meshRow(t, opDir, vid)
		witnessed = r
		return ok && r.Online && r.AuditLength == seq && r.AuditHead == head && seq >= ours[19].Seq
	})
	stopVictim()

	// Offline, the untouched log verifies.
	if out, err := runCLI(t, "audit", "verify", "--data", string(vDir)); err != nil || !strings.Contains(out, "every link holds") {
		t.Fatalf("verify the untouched log: %v\n%s", err, out)
	}

	// 1. Rewrite one entry's content in place.
	target := ours[7]
	forged := target
	forged.Detail = "nothing happened here"
	rewrite(t, vDir, []storage.AuditEntry{forged}, false)
	out, err = runCLI(t, "audit", "verify", "--data", string(vDir))
	wantErr := fmt.Sprintf("audit entry %d: content does not match its hash (rewritten)", target.Seq)
	if err == nil || !strings.Contains(err.Error(), wantErr) {
		t.Fatalf("verify after the rewrite: %v\n%s\nwant %q", err, out, wantErr)
	}

	// 2. Recompute the chain from there and the head, as an attacker would:
	// verify alone cannot tell, the witnessed head can.
	es := storedAudit(t, vDir)
	tail := slices.Clone(es[target.Seq-1:])
	tail[0] = forged
	tail[0].Prev = es[target.Seq-2].Hash
	rechain(tail)
	rewrite(t, vDir, tail, true)
	if out, err := runCLI(t, "audit", "verify", "--data", string(vDir)); err != nil {
		t.Fatalf("a recomputed chain holds together on its own: %v\n%s", err, out)
	}
	out, err = runCLI(t, "audit", "verify", "--data", string(vDir), "--witnessed", fmt.Sprintf("%d:%s", witnessed.AuditLength, witnessed.AuditHead))
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("audit entry %d: hash", witnessed.AuditLength)) || !strings.Contains(err.Error(), "differs from the witnessed") {
		t.Fatalf("verify against the witnessed head: %v\n%s", err, out)
	}

	// 3. The node runs again; its heartbeat carries the new head.
	victim, _ = auditNode(t, vDir)
	connect(victim)
	nodetest.PollUntil(t, 20*time.Second, "the operator flags the rewritten log", func() bool {
		r, ok := meshRow(t, opDir, vid)
		return ok && r.Online && slices.Contains(r.Flags, "audit_forked")
	})
	var alerts []api.Alert
	cl, err := client(string(opDir))
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Do(context.Background(), "GET", "/v1/alerts", nil, &alerts); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(alerts, func(a api.Alert) bool {
		return a.Kind == "audit_inconsistent" && a.Court == "京0105" && a.Severity == "critical" && strings.Contains(a.Message, "audit_forked")
	}) {
		t.Errorf("operator alerts %+v, want audit_inconsistent for 京0105", alerts)
	}
}

// An export is a file of JSON lines; verify names the first bad line or
// entry in it.
func TestAuditVerifyFileRefusals(t *testing.T) {
	var es []storage.AuditEntry
	for i := range 5 {
		es = append(es, storage.AuditEntry{Seq: uint64(i + 1), Time: time.Date(2025, 6, 1, 8, i, 0, 0, time.UTC), Event: "test", Outcome: "ok"})
	}
	rechain(es)
	write := func(t *testing.T, es []storage.AuditEntry, extra string) string {
		t.Helper()
		p := filepath.Join(t.TempDir(), "export.jsonl")
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		w := bufio.NewWriter(f)
		for _, e := range es {
			b, _ := json.Marshal(e)
			w.Write(append(b, '\n'))
		}
		w.WriteString(extra)
		w.Flush()
		f.Close()
		return p
	}
	removed := slices.Delete(slices.Clone(es), 2, 3)
	rewritten := slices.Clone(es)
	rewritten[3].Outcome = "refused"
	tests := []struct {
		name    string
		file    string
		args    []string
		wantErr string
		wantOut string
	}{
		{"whole", write(t, es, ""), nil, "", "entries 1..5 (5), every link holds"},
		{"mid-chain", write(t, es[2:], ""), nil, "", "compare that link with the head of entry 2"},
		{"mid-chain, right prev", write(t, es[2:], ""), []string{"--prev", es[1].Hash}, "", "every link holds"},
		{"mid-chain, wrong prev", write(t, es[2:], ""), []string{"--prev", es[0].Hash}, "audit entry 3: link to the previous entry is broken", ""},
		{"entry removed", write(t, removed, ""), nil, "audit entry 4: expected sequence 3", ""},
		{"entry rewritten", write(t, rewritten, ""), nil, "audit entry 4: content does not match its hash (rewritten)", ""},
		{"witnessed head differs", write(t, es, ""), []string{"--witnessed", "5:" + strings.Repeat("0", 64)}, "audit entry 5: hash", ""},
		{"not JSON", write(t, es, "garbage\n"), nil, "line 6 of the export is not an audit entry", ""},
		{"empty", write(t, nil, ""), nil, "holds no entries", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runCLI(t, append([]string{"audit", "verify", "--file", tt.file}, tt.args...)...)
			if tt.wantErr == "" {
				if err != nil || !strings.Contains(out, tt.wantOut) {
					t.Errorf("verify: %v\n%s\nwant %q", err, out, tt.wantOut)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("verify: %v\n%s\nwant error %q", err, out, tt.wantErr)
			}
		})
	}
}
