package node_test

import (
	"context"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/config"
	"courtmesh.dev/courtmesh/node/datadir"
	"courtmesh.dev/courtmesh/node/devmesh"
	"courtmesh.dev/courtmesh/node/nodetest"
	"courtmesh.dev/courtmesh/node/records"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
	"courtmesh.dev/courtmesh/storage"
)

// revocationMesh is the scenario mesh with some courts' nodes not started
// yet: they join after the revocation, with empty stores.
type revocationMesh struct {
	t     *testing.T
	m     *devmesh.Mesh
	nodes map[court.CourtCode]*node.Node
	stop  map[court.CourtCode]func()
}

func (rm *revocationMesh) start(code court.CourtCode) *node.Node {
	rm.t.Helper()
	for i, c := range rm.m.Courts {
		if c.Code != code {
			continue
		}
		o := node.Options{Dir: rm.m.Dirs[i], Logger: testLogger(rm.t)}
		cfg, err := config.Load(o.Dir.Path(datadir.ConfigFile))
		if err != nil {
			rm.t.Fatal(err)
		}
		cfg.SyncInterval.Duration = time.Second
		cfg.HeartbeatInterval.Duration = time.Second
		o.Config = &cfg
		n, stop := startStoppable(rm.t, o)
		rm.nodes[code], rm.stop[code] = n, stop
		return n
	}
	rm.t.Fatalf("no court %s", code)
	return nil
}

func connectNodes(t *testing.T, a, b *node.Node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Host().Connect(ctx, peer.AddrInfo{ID: b.PeerID(), Addrs: b.Host().Addrs()}); err != nil {
		t.Fatalf("connect: %v", err)
	}
}

// revokedAudits counts n's record.rejected entries that name court code
// as the signer (court field and peer), whatever peer relayed them.
func revokedAudits(t *testing.T, n *node.Node, code court.CourtCode, p peer.ID) int {
	t.Helper()
	es, err := n.Store().AuditEntries(1, 0)
	if err != nil {
		t.Fatal(err)
	}
	c := 0
	for _, e := range es {
		if e.Event == "record.rejected" && e.Court == string(code) && e.Peer == p.String() {
			c++
		}
	}
	return c
}

// TestRecordsBeforeRevocationStayValid: a court's key is revoked with a
// cut-off at the head of its record log that the national operator's node
// witnessed in its heartbeats. A node that joins later takes the records
// the key signed up to the cut-off (and shows the transfer as the mesh
// has it), refuses the record after it once, audited in the signer's name,
// and does not pull and audit it again at the next syncs. A record the
// stolen key back-dates into the trusted part is refused, whether it is
// offered alone or in a forged copy of the log.
//
// It is long on purpose: one story on one mesh, the revocation, the
// late joiner and the forged records in order.
func TestRecordsBeforeRevocationStayValid(t *testing.T) {
	ctx := context.Background()
	m, err := devmesh.Build(t.TempDir(), scenarioCourts(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	rm := &revocationMesh{t: t, m: m, nodes: map[court.CourtCode]*node.Node{}, stop: map[court.CourtCode]func(){}}
	// Running from the start: the operator, the origin, the decider and
	// the receiver whose key will be lost. 京 joins later; 京02 and 京0102
	// play the forger's relay and a node that meets it first.
	first := []court.CourtCode{court.Supreme, "京0105", "京01", "京0108"}
	for _, c := range first {
		rm.start(c)
	}
	for i, a := range first {
		for _, b := range first[i+1:] {
			connectNodes(t, rm.nodes[a], rm.nodes[b])
		}
	}
	s := &scenario{t: t, by: rm.nodes}
	safe, _ := s.cases("京0105", 4)
	tr := must(t)(rm.nodes["京0105"].Workflow().Offer(ctx, api.OfferRequest{CaseNumber: safe[0].String(), Superior: "京01", Grounds: []string{"long_unexecuted"}}))
	running := []*node.Node{rm.nodes[court.Supreme], rm.nodes["京0105"], rm.nodes["京01"], rm.nodes["京0108"]}
	s.expectOn(tr.ID, cmproto.StateOffered, running, "the running nodes")
	must(t)(rm.nodes["京01"].Workflow().Decide(ctx, tr.ID, api.DecideRequest{Mode: "designated", Receiver: "京0108", DecisionNumber: "（2026）京01执监31号"}))
	s.expectOn(tr.ID, cmproto.StateDecided, running, "the running nodes")
	newCase := nodetest.CaseNo(time.Now(), "京0108", court.TypeEnforcement, 3101)
	must(t)(rm.nodes["京0108"].Workflow().Accept(ctx, tr.ID, api.AcceptRequest{NewCaseNumber: newCase}))
	s.expectOn(tr.ID, cmproto.StateAccepted, running, "the running nodes")

	victim := meshSigner(t, m, "京0108")
	vlog := court.PeerID(victim.peer().String())
	op := rm.nodes[court.Supreme]

	// The operator's node witnesses the receiver's log head in its
	// heartbeats, and its own copy of that log agrees.
	var head api.LogHead
	nodetest.PollUntil(t, 20*time.Second, "the operator witnessing 京0108's log head", func() bool {
		head, err = op.LogHead(victim.cert.Serial, 0)
		return err == nil && head.Witnessed != nil && head.Witnessed.Seq >= 1 && head.Agrees
	})
	cut := head.Witnessed.Seq
	hb, _ := hex.DecodeString(head.Witnessed.Head)
	pinned := crypto.LogPosition{Seq: cut, Head: [32]byte(hb)}

	// The key is lost: the court's node goes, and the thief signs on.
	// A record after the cut-off reaches the nodes before the revocation
	// does; they keep it in the log (its body is refused by the state
	// machine, but it is authentic and in position).
	rm.stop["京0108"]()
	delete(rm.nodes, "京0108")
	running = running[:3]
	after := victim.seal(t, cut+1, tr.ID, &pb.Record{Body: &pb.Record_Withdrawal{Withdrawal: &pb.Withdrawal{Reason: "不再执行 (stolen key)"}}})
	for _, n := range running {
		_ = node.IngestForTest(n, after)
		if h, err := n.Store().LogHead(vlog); err != nil || h != cut+1 {
			t.Fatalf("%s holds 京0108's log up to %d (%v), want %d", n.Status().CourtCode, h, err, cut+1)
		}
	}

	// Revoked after the witnessed head.
	if err := m.CA.RevokeAfter(victim.cert.Serial, "key lost (test)", time.Now(), &pinned); err != nil {
		t.Fatal(err)
	}
	b, err := m.CA.Bundle(time.Now(), 30*24*time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := op.InstallBundleRaw(ctx, b.Raw, b.Head); err != nil || !ok {
		t.Fatalf("install on the operator node: %v %v", ok, err)
	}
	nodetest.PollUntil(t, 20*time.Second, "the revoking bundle on every running node", func() bool {
		for _, n := range running {
			if n.Status().Bundle.Sequence != b.Sequence {
				return false
			}
		}
		return true
	})
	// The nodes that held the records before keep the transfer as it was.
	s.expectOn(tr.ID, cmproto.StateAccepted, running, "the running nodes after the revocation")

	// A node joins later, with an empty store: it takes the trusted part.
	late := rm.start("京")
	if ok, err := late.InstallBundleRaw(ctx, b.Raw, b.Head); err != nil || !ok {
		t.Fatalf("install on the late node: %v %v", ok, err)
	}
	for _, n := range running {
		connectNodes(t, late, n)
	}
	s.expectOn(tr.ID, cmproto.StateAccepted, []*node.Node{late}, "the node that joined after the revocation")
	got := viewOf(t, late, tr.ID)
	if got.receiver != "京0108" || got.newCase != newCase {
		t.Errorf("late node: receiver %s, new case %q", got.receiver, got.newCase)
	}
	if h, err := late.Store().LogHead(vlog); err != nil || h != cut {
		t.Errorf("late node holds 京0108's log up to %d (%v), want the cut-off %d", h, err, cut)
	}
	// The record after the cut-off is refused once, in the signer's name.
	nodetest.PollUntil(t, 20*time.Second, "the record after the cut-off refused on the late node", func() bool {
		return revokedAudits(t, late, "京0108", victim.peer()) >= 1
	})
	for round := 0; round < 3; round++ {
		for _, n := range running {
			if err := node.SyncWithForTest(ctx, late, n.PeerID()); err != nil {
				t.Fatalf("sync with %s: %v", n.Status().CourtCode, err)
			}
		}
	}
	if c := revokedAudits(t, late, "京0108", victim.peer()); c != 1 {
		t.Errorf("late node: %d refusals of 京0108's record after the cut-off audited over 4+ syncs, want 1", c)
	}
	es, _ := late.Store().AuditEntries(1, 0)
	for _, e := range es {
		if e.Event == "record.rejected" && e.Court == "京0108" {
			for _, w := range []string{"serial " + strconv.FormatUint(victim.cert.Serial, 10), "relayed by", crypto.ErrRevoked.Error()} {
				if !strings.Contains(e.Detail, w) {
					t.Errorf("audit entry %q does not say %q", e.Detail, w)
				}
			}
			if e.Transfer != string(tr.ID) {
				t.Errorf("audit entry names transfer %q, want %s", e.Transfer, tr.ID)
			}
		}
	}
	// Offered again directly: refused, not audited again.
	if err := node.IngestForTest(late, after); !errors.Is(err, court.ErrStale) {
		t.Errorf("the refused record again: %v, want it ignored as refused already", err)
	}
	// A fresh record of the stolen key after the cut-off: refused, named.
	fresh := victim.seal(t, cut+2, tr.ID, &pb.Record{Body: &pb.Record_Rejection{Rejection: &pb.Rejection{Reason: "stolen key"}}})
	if err := node.IngestForTest(late, fresh); !errors.Is(err, crypto.ErrRevoked) {
		t.Errorf("a fresh record after the cut-off: %v, want ErrRevoked", err)
	}

	// Back-dated: the thief signs another record at a trusted position.
	forged := victim.seal(t, cut, tr.ID, &pb.Record{Body: &pb.Record_Acceptance{Acceptance: &pb.Acceptance{NewCaseNumber: nodetest.CaseNo(time.Now(), "京0108", court.TypeEnforcement, 3999)}}})
	if err := node.IngestForTest(late, forged); !errors.Is(err, storage.ErrEquivocation) {
		t.Errorf("back-dated record on a node that holds the trusted log: %v, want equivocation", err)
	}
	// On a node that lacks the trusted log, alone: not taken.
	relay := rm.start("京02")
	if ok, err := relay.InstallBundleRaw(ctx, b.Raw, b.Head); err != nil || !ok {
		t.Fatalf("install on the relay: %v %v", ok, err)
	}
	if err := node.IngestForTest(relay, forged); !errors.Is(err, records.ErrUnpinned) {
		t.Errorf("back-dated record alone on an empty node: %v, want ErrUnpinned", err)
	}
	if h, err := relay.Store().LogHead(vlog); err != nil || h != 0 {
		t.Errorf("the back-dated record entered the log (head %d, %v)", h, err)
	}
	// In a forged copy of the log, served by the relay (its store made to
	// hold the thief's record, the first records honest): refused and
	// audited once by a node that meets the relay first; the honest copy
	// is taken from an honest node afterwards.
	honest, err := op.Store().LogRange(vlog, 1, cut, int(cut))
	if err != nil || len(honest) != int(cut) {
		t.Fatalf("operator's copy of 京0108's log: %d records, %v", len(honest), err)
	}
	forgedLog := append(append([][]byte(nil), honest[:cut-1]...), forged)
	for i, raw := range forgedLog {
		if err := relay.Store().Apply(storage.Commit{Record: &storage.LogRecord{Issuer: vlog, Seq: uint64(i + 1), Raw: raw}}); err != nil {
			t.Fatal(err)
		}
	}
	third := rm.start("京0102")
	if ok, err := third.InstallBundleRaw(ctx, b.Raw, b.Head); err != nil || !ok {
		t.Fatalf("install on the third node: %v %v", ok, err)
	}
	connectNodes(t, third, relay)
	// The exchange on connecting may already be pulling the log (a sync
	// of a log another pull is busy with returns at once): wait for the
	// refusal, then sync again and count.
	nodetest.PollUntil(t, 20*time.Second, "the forged log refused on the third node", func() bool {
		if err := node.SyncWithForTest(ctx, third, relay.PeerID()); err != nil {
			t.Fatal(err)
		}
		return revokedAudits(t, third, "京0108", victim.peer()) >= 1
	})
	for round := 0; round < 3; round++ {
		if err := node.SyncWithForTest(ctx, third, relay.PeerID()); err != nil {
			t.Fatal(err)
		}
	}
	if h, err := third.Store().LogHead(vlog); err != nil || h != 0 {
		t.Errorf("third node took 京0108's forged log up to %d (%v)", h, err)
	}
	if c := revokedAudits(t, third, "京0108", victim.peer()); c != 1 {
		t.Errorf("third node: %d refusals of the forged log audited over 3 syncs, want 1", c)
	}
	connectNodes(t, third, op)
	if err := node.SyncWithForTest(ctx, third, op.PeerID()); err != nil {
		t.Fatal(err)
	}
	s.expectOn(tr.ID, cmproto.StateAccepted, []*node.Node{third}, "the third node, synced with an honest one")
	if h, err := third.Store().LogHead(vlog); err != nil || h != cut {
		t.Errorf("third node holds 京0108's log up to %d (%v), want %d", h, err, cut)
	}
	for i := uint64(1); i <= cut; i++ {
		if ok, err := third.Store().HasRecord(vlog, i, honest[i-1]); err != nil || !ok {
			t.Errorf("third node: record %d of 京0108 is not the honest one (%v, %v)", i, ok, err)
		}
	}
}
