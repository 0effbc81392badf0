package node_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/cases"
	"courtmesh.dev/courtmesh/node/devmesh"
	"courtmesh.dev/courtmesh/node/nodetest"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
	"courtmesh.dev/courtmesh/storage"
	"courtmesh.dev/courtmesh/storage/gen"
)

// signer is a court's node key and certificate, taken from its data
// directory: what a court (or a thief of its key) signs records with,
// without going through its node.
type signer struct {
	code court.CourtCode
	key  *crypto.NodeKey
	cert *crypto.Certificate
}

func meshSigner(t *testing.T, m *devmesh.Mesh, code court.CourtCode) signer {
	t.Helper()
	for i, c := range m.Courts {
		if c.Code == code {
			key, err := crypto.LoadNodeKey(m.Dirs[i].Path(crypto.NodeKeyFile))
			if err != nil {
				t.Fatal(err)
			}
			return signer{code: code, key: key, cert: m.Certs[i]}
		}
	}
	t.Fatalf("no court %s in the mesh", code)
	return signer{}
}

func (s signer) peer() peer.ID { return s.key.PeerID() }

// seal signs body as the given entry of the signer's log.
func (s signer) seal(t *testing.T, seq uint64, id court.TransferID, body *pb.Record) []byte {
	t.Helper()
	raw, err := cmproto.SealRecord(s.key, s.cert, seq, time.Now(), id, body)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// nextSeq is the first position of the signer's log that no node holds.
func nextSeq(t *testing.T, nodes []*node.Node, s signer) uint64 {
	t.Helper()
	var top uint64
	for _, n := range nodes {
		h, err := n.Store().LogHead(court.PeerID(s.peer().String()))
		if err != nil {
			t.Fatal(err)
		}
		top = max(top, h)
	}
	return top + 1
}

// logEntry finds the record of kind for transfer id in issuer's log as n
// holds it, and returns its position and bytes.
func logEntry(t *testing.T, n *node.Node, issuer signer, id court.TransferID, kind cmproto.Kind) (uint64, []byte) {
	t.Helper()
	head, err := n.Store().LogHead(court.PeerID(issuer.peer().String()))
	if err != nil {
		t.Fatal(err)
	}
	raws, err := n.Store().LogRange(court.PeerID(issuer.peer().String()), 1, head, int(head))
	if err != nil {
		t.Fatal(err)
	}
	for i, raw := range raws {
		r, err := cmproto.DecodeRecord(raw, n.Trust(), time.Now())
		if err == nil && r.Transfer == id && r.Kind == kind {
			return uint64(i + 1), raw
		}
	}
	t.Fatalf("no %s of %s in %s's log", kind, id, issuer.code)
	return 0, nil
}

// view is what a node shows of a transfer, and how long its audit log is.
type view struct {
	state    cmproto.State
	records  int
	receiver court.CourtCode
	newCase  string
	auditSeq uint64
}

func viewOf(t *testing.T, n *node.Node, id court.TransferID) view {
	t.Helper()
	tr, err := n.Workflow().Transfer(id)
	if err != nil {
		t.Fatalf("%s: %v", n.Status().CourtCode, err)
	}
	seq, _, err := n.Store().AuditHead()
	if err != nil {
		t.Fatal(err)
	}
	return view{state: tr.State, records: len(tr.Records), receiver: tr.Receiver, newCase: tr.NewCaseNumber, auditSeq: seq}
}

// audits counts n's audit entries of event whose detail mentions every
// one of words.
func audits(t *testing.T, n *node.Node, event string, words ...string) int {
	t.Helper()
	es, err := n.Store().AuditEntries(1, 0)
	if err != nil {
		t.Fatal(err)
	}
	count := 0
	for _, e := range es {
		if e.Event != event {
			continue
		}
		all := true
		for _, w := range words {
			all = all && strings.Contains(e.Detail, w)
		}
		if all {
			count++
		}
	}
	return count
}

// publishFromEach publishes a fresh record (fresh(i)) from each node in
// turn. A refused record travels one hop only (gossipsub forwards only
// what its validator accepts), so it reaches the publisher's topic mesh
// and no further; with every node publishing once, every node hears one
// from a neighbour in its mesh.
func publishFromEach(t *testing.T, nodes []*node.Node, fresh func(i int) []byte) {
	t.Helper()
	for i, n := range nodes {
		if err := node.PublishForTest(context.Background(), n, fresh(i)); err != nil {
			t.Fatal(err)
		}
	}
}

// decided runs the story up to the decision: as 京0105 offer, as 京01
// designate 京0108, and waits until every node has it.
func (s *scenario) decided() court.TransferID {
	s.t.Helper()
	ctx := context.Background()
	safe, _ := s.cases("京0105", 6)
	if len(safe) == 0 {
		s.t.Fatal("the generator made no case without a near-expiry measure")
	}
	tr := must(s.t)(s.as("京0105").Workflow().Offer(ctx, api.OfferRequest{CaseNumber: safe[0].String(), Superior: "京01", Grounds: []string{"long_unexecuted"}}))
	s.expectEverywhere(tr.ID, cmproto.StateOffered)
	must(s.t)(s.as("京01").Workflow().Decide(ctx, tr.ID, api.DecideRequest{Mode: "designated", Receiver: "京0108", DecisionNumber: "（2026）京01执监21号"}))
	s.expectEverywhere(tr.ID, cmproto.StateDecided)
	return tr.ID
}

// A replayed record, ingested again anywhere or published again on the
// topic, changes nothing.
func TestReplayedRecordChangesNothing(t *testing.T) {
	s := newScenario(t)
	id := s.decided()
	j01 := meshSigner(t, s.tm.Mesh, "京01")
	j0105 := meshSigner(t, s.tm.Mesh, "京0105")
	_, decision := logEntry(t, s.as("京01"), j01, id, cmproto.KindDecision)
	_, offer := logEntry(t, s.as("京0105"), j0105, id, cmproto.KindOffer)

	before := map[*node.Node]view{}
	for _, n := range s.tm.nodes {
		before[n] = viewOf(t, n, id)
		for _, raw := range [][]byte{offer, decision} {
			if err := node.IngestForTest(n, raw); !errors.Is(err, cmproto.ErrDuplicate) {
				t.Errorf("%s: replay: %v, want ErrDuplicate", n.Status().CourtCode, err)
			}
		}
		if got := viewOf(t, n, id); got != before[n] {
			t.Errorf("%s: the replay changed %+v into %+v", n.Status().CourtCode, before[n], got)
		}
	}

	// Published again on the topic, from a node that did not issue them.
	ctx := context.Background()
	for _, raw := range [][]byte{offer, decision} {
		if err := node.PublishForTest(ctx, s.as("京0108"), raw); err != nil {
			t.Fatal(err)
		}
	}
	// A new record from the same node follows the replays on the topic;
	// once it is everywhere, so is whatever the replays did.
	must(t)(s.as("京0108").Workflow().Accept(ctx, id, api.AcceptRequest{NewCaseNumber: nodetest.CaseNo(time.Now(), "京0108", court.TypeEnforcement, 1301)}))
	s.expectEverywhere(id, cmproto.StateAccepted)
	for _, n := range s.tm.nodes {
		got := viewOf(t, n, id)
		if got.records != before[n].records+1 || got.auditSeq != before[n].auditSeq {
			t.Errorf("%s: after the replays and one acceptance: %d records (want %d), audit head %d (want %d)",
				n.Status().CourtCode, got.records, before[n].records+1, got.auditSeq, before[n].auditSeq)
		}
	}
}

// A second, different acceptance signed by the receiver at a new position
// of its log is refused everywhere; the first stands.
func TestResignedRecordRefused(t *testing.T) {
	s := newScenario(t)
	ctx := context.Background()
	id := s.decided()
	first := nodetest.CaseNo(time.Now(), "京0108", court.TypeEnforcement, 1401)
	must(t)(s.as("京0108").Workflow().Accept(ctx, id, api.AcceptRequest{NewCaseNumber: first}))
	s.expectEverywhere(id, cmproto.StateAccepted)

	recv := meshSigner(t, s.tm.Mesh, "京0108")
	seq := nextSeq(t, s.tm.nodes, recv)
	resigned := recv.seal(t, seq, id, &pb.Record{Body: &pb.Record_Acceptance{Acceptance: &pb.Acceptance{NewCaseNumber: nodetest.CaseNo(time.Now(), "京0108", court.TypeEnforcement, 1402)}}})
	// Control: the record is authentic and well formed; only the state
	// of the transfer refuses it.
	if _, err := cmproto.DecodeRecord(resigned, s.as("京").Trust(), time.Now()); err != nil {
		t.Fatalf("control: the re-signed acceptance does not decode: %v", err)
	}
	for _, n := range s.tm.nodes {
		before := viewOf(t, n, id)
		err := node.IngestForTest(n, resigned)
		switch {
		case errors.Is(err, court.ErrConflict) && !errors.Is(err, storage.ErrEquivocation):
		case errors.Is(err, cmproto.ErrDuplicate):
			// The node already pulled it (sync) from a node we gave it
			// to; the state check below shows it refused it then.
			t.Logf("%s already had the re-signed acceptance from a peer", n.Status().CourtCode)
		default:
			t.Errorf("%s: re-signed acceptance: %v, want ErrConflict", n.Status().CourtCode, err)
		}
		if got := viewOf(t, n, id); got.state != cmproto.StateAccepted || got.newCase != first || got.records != before.records {
			t.Errorf("%s: after the re-signed acceptance: %+v", n.Status().CourtCode, got)
		}
	}

	// Over gossip, the same: every node refuses such records and audits
	// the refusal.
	want := map[*node.Node]int{}
	for _, n := range s.tm.nodes {
		want[n] = audits(t, n, "record.rejected", string(id), court.ErrConflict.Error()) + 1
	}
	publishFromEach(t, s.tm.nodes, func(i int) []byte {
		return recv.seal(t, seq+1+uint64(i), id, &pb.Record{Body: &pb.Record_Acceptance{Acceptance: &pb.Acceptance{NewCaseNumber: nodetest.CaseNo(time.Now(), "京0108", court.TypeEnforcement, 1410+i)}}})
	})
	nodetest.PollUntil(t, 20*time.Second, "re-signed acceptances refused and audited on every node", func() bool {
		for _, n := range s.tm.nodes {
			if audits(t, n, "record.rejected", string(id), court.ErrConflict.Error()) < want[n] {
				return false
			}
		}
		return true
	})
	for _, n := range s.tm.nodes {
		if got := viewOf(t, n, id); got.state != cmproto.StateAccepted || got.newCase != first || got.records != 3 {
			t.Errorf("%s: the first acceptance does not stand: %+v", n.Status().CourtCode, got)
		}
	}

	// A node whose audit log cannot be written still refuses the record
	// (the refusal cannot wait for the log) and counts the lost entry,
	// which alerts: courtmesh_audit_write_failures_total.
	deaf := s.as("京")
	deaf.Store().SetAuditFault(func(e storage.AuditEntry) error { return errors.New("disk full") })
	defer deaf.Store().SetAuditFault(nil)
	lost := auditFailures(t, deaf, "record.rejected")
	for _, n := range s.tm.nodes {
		want[n] = audits(t, n, "record.rejected", string(id), court.ErrConflict.Error()) + 1
	}
	publishFromEach(t, s.tm.nodes, func(i int) []byte {
		return recv.seal(t, seq+20+uint64(i), id, &pb.Record{Body: &pb.Record_Acceptance{Acceptance: &pb.Acceptance{NewCaseNumber: nodetest.CaseNo(time.Now(), "京0108", court.TypeEnforcement, 1430+i)}}})
	})
	nodetest.PollUntil(t, 20*time.Second, "the refusals counted where the audit log fails, audited elsewhere", func() bool {
		for _, n := range s.tm.nodes {
			if n != deaf && audits(t, n, "record.rejected", string(id), court.ErrConflict.Error()) < want[n] {
				return false
			}
		}
		return auditFailures(t, deaf, "record.rejected") > lost
	})
	if got := viewOf(t, deaf, id); got.state != cmproto.StateAccepted || got.newCase != first {
		t.Errorf("the node with the failing audit log took a refused record: %+v", got)
	}
}

// auditFailures reads courtmesh_audit_write_failures_total{event} from
// n's metrics.
func auditFailures(t *testing.T, n *node.Node, event string) float64 {
	t.Helper()
	prefix := `courtmesh_audit_write_failures_total{action="done",event="` + event + `"} `
	for _, line := range strings.Split(string(scrape(t, n)), "\n") {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s%s: %v", prefix, v, err)
			}
			return f
		}
	}
	return 0
}

// A court that signs a different record at a position of its log it
// already used is caught: refused, with a record.equivocation audit entry.
func TestEquivocationRefusedAndAudited(t *testing.T) {
	s := newScenario(t)
	id := s.decided()
	j01 := meshSigner(t, s.tm.Mesh, "京01")
	seq, genuine := logEntry(t, s.as("京"), j01, id, cmproto.KindDecision)
	forked := j01.seal(t, seq, id, &pb.Record{Body: &pb.Record_Rejection{Rejection: &pb.Rejection{Reason: "本院决定不予交叉执行"}}})
	position := fmt.Sprintf("position %d of its log", seq)

	for _, n := range s.tm.nodes {
		before := viewOf(t, n, id)
		// Control: the genuine record at that position is a duplicate.
		if err := node.IngestForTest(n, genuine); !errors.Is(err, cmproto.ErrDuplicate) {
			t.Errorf("%s: control: genuine record again: %v, want ErrDuplicate", n.Status().CourtCode, err)
		}
		if got := audits(t, n, "record.equivocation", position); got != 0 {
			t.Fatalf("%s: %d equivocation entries before any equivocation", n.Status().CourtCode, got)
		}
		if err := node.IngestForTest(n, forked); !errors.Is(err, storage.ErrEquivocation) {
			t.Errorf("%s: forked record: %v, want ErrEquivocation", n.Status().CourtCode, err)
		}
		if got := audits(t, n, "record.equivocation", position, "京01"); got != 1 {
			t.Errorf("%s: %d record.equivocation entries, want 1", n.Status().CourtCode, got)
		}
		got := viewOf(t, n, id)
		if got.state != cmproto.StateDecided || got.records != before.records {
			t.Errorf("%s: after the equivocation: %+v", n.Status().CourtCode, got)
		}
		if _, raw := logEntry(t, n, j01, id, cmproto.KindDecision); string(raw) != string(genuine) {
			t.Errorf("%s: the log no longer holds the genuine decision", n.Status().CourtCode)
		}
	}

	// More forks, over gossip: every node catches them too.
	publishFromEach(t, s.tm.nodes, func(i int) []byte {
		return j01.seal(t, seq, id, &pb.Record{Body: &pb.Record_Rejection{Rejection: &pb.Rejection{Reason: fmt.Sprintf("相互矛盾的记录 %d", i)}}})
	})
	nodetest.PollUntil(t, 20*time.Second, "the gossiped forks caught on every node", func() bool {
		for _, n := range s.tm.nodes {
			if audits(t, n, "record.equivocation", position, "京01") < 2 {
				return false
			}
		}
		return true
	})
	for _, n := range s.tm.nodes {
		if got := viewOf(t, n, id); got.state != cmproto.StateDecided {
			t.Errorf("%s: state %s after the gossiped fork", n.Status().CourtCode, got.state)
		}
	}
}

// Once a court is revoked, a record it signed is refused by every node,
// and the refusal of what arrives over the network is audited.
func TestRevokedCourtRecordRefused(t *testing.T) {
	s := newScenario(t)
	id := s.decided()
	const victim court.CourtCode = "京0108"
	vi := -1
	for i, c := range s.tm.Courts {
		if c.Code == victim {
			vi = i
		}
	}
	recv := meshSigner(t, s.tm.Mesh, victim)
	oldTrust := s.as("京").Trust()
	seq := nextSeq(t, s.tm.nodes, recv)
	raw := recv.seal(t, seq, id, &pb.Record{Body: &pb.Record_Acceptance{Acceptance: &pb.Acceptance{NewCaseNumber: nodetest.CaseNo(time.Now(), "京0108", court.TypeEnforcement, 1501)}}})
	// Control: before the revocation the very same record is good.
	if _, err := cmproto.DecodeRecord(raw, oldTrust, time.Now()); err != nil {
		t.Fatalf("control: before the revocation: %v", err)
	}

	b, err := s.tm.Revoke(vi, "key compromised (test)", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := s.tm.nodes[0].InstallBundleRaw(context.Background(), b.Raw, b.Head); err != nil || !ok {
		t.Fatalf("install on the operator node: %v %v", ok, err)
	}
	var others []*node.Node
	for i, n := range s.tm.nodes {
		if i != vi {
			others = append(others, n)
		}
	}
	nodetest.PollUntil(t, 20*time.Second, "the revoking bundle on every node", func() bool {
		for _, n := range others {
			if n.Status().Bundle.Sequence != b.Sequence {
				return false
			}
		}
		return true
	})

	for _, n := range others {
		if err := node.IngestForTest(n, raw); !errors.Is(err, crypto.ErrRevoked) {
			t.Errorf("%s: record of a revoked court: %v, want ErrRevoked", n.Status().CourtCode, err)
		}
		if got := viewOf(t, n, id); got.state != cmproto.StateDecided {
			t.Errorf("%s: state %s after the revoked court's acceptance", n.Status().CourtCode, got.state)
		}
		if h, err := n.Store().HasRecord(court.PeerID(recv.peer().String()), seq, raw); err != nil || h {
			t.Errorf("%s: the revoked court's record is in its log (%v, %v)", n.Status().CourtCode, h, err)
		}
	}

	// Relayed over gossip by the courts still in the mesh: refused and
	// audited by every node.
	for _, n := range others {
		if got := audits(t, n, "record.rejected", crypto.ErrRevoked.Error()); got != 0 {
			t.Fatalf("%s: %d refusals of revoked records audited before any was sent", n.Status().CourtCode, got)
		}
	}
	publishFromEach(t, others, func(i int) []byte {
		return recv.seal(t, seq+uint64(i), id, &pb.Record{Body: &pb.Record_Acceptance{Acceptance: &pb.Acceptance{NewCaseNumber: nodetest.CaseNo(time.Now(), "京0108", court.TypeEnforcement, 1510+i)}}})
	})
	nodetest.PollUntil(t, 20*time.Second, "the refusal audited on every node", func() bool {
		for _, n := range others {
			if audits(t, n, "record.rejected", crypto.ErrRevoked.Error()) == 0 {
				return false
			}
		}
		return true
	})
	for _, n := range others {
		if got := viewOf(t, n, id); got.state != cmproto.StateDecided {
			t.Errorf("%s: state %s after the relayed records", n.Status().CourtCode, got.state)
		}
		if h, err := n.Store().LogHead(court.PeerID(recv.peer().String())); err != nil || h >= seq {
			t.Errorf("%s: holds the revoked court's log up to %d (%v)", n.Status().CourtCode, h, err)
		}
	}
}

// A step that arrives before its predecessor is held, and applied when
// the predecessor arrives; a held step the predecessor contradicts is
// dropped and audited.
func TestOutOfOrderRecordHeld(t *testing.T) {
	m, err := devmesh.Build(t.TempDir(), scenarioCourts(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// A fresh node of the high court, connected to no one: it learns only
	// what is ingested here, in the order given.
	n := startNode(t, node.Options{Dir: m.Dirs[1], Logger: testLogger(t)})
	origin, decider := meshSigner(t, m, "京0105"), meshSigner(t, m, "京01")
	recv, other := meshSigner(t, m, "京0108"), meshSigner(t, m, "京0102")
	seq := map[court.CourtCode]uint64{}
	sign := func(s signer, id court.TransferID, body *pb.Record) []byte {
		seq[s.code]++
		return s.seal(t, seq[s.code], id, body)
	}
	filed := court.DateOf(time.Now().AddDate(-1, 0, 0)).String()
	offer := func(id court.TransferID, n int) []byte {
		return sign(origin, id, &pb.Record{Body: &pb.Record_Offer{Offer: &pb.TransferOffer{
			CaseNumber: fmt.Sprintf("（2025）京0105执%d号", n), OriginCourt: "京0105", SuperiorCourt: "京01",
			Grounds: []pb.Ground{pb.Ground_GROUND_LONG_UNEXECUTED}, AmountOutstandingFen: 80_000_00, FiledOn: filed,
		}}})
	}
	decision := func(id court.TransferID) []byte {
		return sign(decider, id, &pb.Record{Body: &pb.Record_Decision{Decision: &pb.TransferDecision{
			Mode: pb.Mode_MODE_DESIGNATED, ReceiverCourt: "京0108", DecisionNumber: "（2026）京01执监31号"}}})
	}
	at := time.Now() // the year of the acceptances' numbers
	acceptance := func(s signer, id court.TransferID) []byte {
		return sign(s, id, &pb.Record{Body: &pb.Record_Acceptance{Acceptance: &pb.Acceptance{NewCaseNumber: nodetest.CaseNo(at, s.code, court.TypeEnforcement, 31)}}})
	}
	held := func(id court.TransferID) int {
		hs, err := n.Store().HeldRecords(string(id))
		if err != nil {
			t.Fatal(err)
		}
		return len(hs)
	}
	state := func(id court.TransferID) cmproto.State {
		tr, err := n.Workflow().Transfer(id)
		if err != nil {
			return ""
		}
		return tr.State
	}

	t.Run("acceptance before the decision", func(t *testing.T) {
		id := court.NewTransferID()
		// Sign in the order of the story, deliver out of it.
		o, d, a := offer(id, 101), decision(id), acceptance(recv, id)
		if err := node.IngestForTest(n, o); err != nil {
			t.Fatal(err)
		}
		if err := node.IngestForTest(n, a); !errors.Is(err, cmproto.ErrHeld) {
			t.Fatalf("acceptance before the decision: %v, want ErrHeld", err)
		}
		if st, h := state(id), held(id); st != cmproto.StateOffered || h != 1 {
			t.Fatalf("with the acceptance held: state %s, %d held, want offered and 1", st, h)
		}
		if err := node.IngestForTest(n, d); err != nil {
			t.Fatalf("decision: %v", err)
		}
		if st, h := state(id), held(id); st != cmproto.StateAccepted || h != 0 {
			t.Fatalf("after the decision: state %s, %d held, want accepted and 0", st, h)
		}
		tr, _ := n.Workflow().Transfer(id)
		if tr.NewCaseNumber != nodetest.CaseNo(at, "京0108", court.TypeEnforcement, 31) || len(tr.Records) != 3 {
			t.Errorf("accepted transfer: %+v", tr)
		}
		// Delivered again, the released record is a duplicate.
		if err := node.IngestForTest(n, a); !errors.Is(err, cmproto.ErrDuplicate) {
			t.Errorf("the released acceptance again: %v, want ErrDuplicate", err)
		}
	})

	t.Run("the whole story in reverse", func(t *testing.T) {
		id := court.NewTransferID()
		o, d, a := offer(id, 102), decision(id), acceptance(recv, id)
		for _, raw := range [][]byte{a, d} {
			if err := node.IngestForTest(n, raw); !errors.Is(err, cmproto.ErrHeld) {
				t.Fatalf("before the offer: %v, want ErrHeld", err)
			}
		}
		if st, h := state(id), held(id); st != "" || h != 2 {
			t.Fatalf("before the offer: state %q, %d held; want none and 2", st, h)
		}
		if err := node.IngestForTest(n, o); err != nil {
			t.Fatal(err)
		}
		if st, h := state(id), held(id); st != cmproto.StateAccepted || h != 0 {
			t.Fatalf("after the offer: state %s, %d held, want accepted and 0", st, h)
		}
	})

	t.Run("a held acceptance the decision contradicts", func(t *testing.T) {
		id := court.NewTransferID()
		o, d, a := offer(id, 103), decision(id), acceptance(other, id)
		if err := node.IngestForTest(n, o); err != nil {
			t.Fatal(err)
		}
		if err := node.IngestForTest(n, a); !errors.Is(err, cmproto.ErrHeld) {
			t.Fatalf("acceptance by 京0102 before the decision: %v, want ErrHeld", err)
		}
		rejected := audits(t, n, "record.rejected", string(id))
		if err := node.IngestForTest(n, d); err != nil {
			t.Fatal(err)
		}
		if st, h := state(id), held(id); st != cmproto.StateDecided || h != 0 {
			t.Fatalf("after the decision for 京0108: state %s, %d held; want decided and 0", st, h)
		}
		if got := audits(t, n, "record.rejected", string(id)); got != rejected+1 {
			t.Errorf("%d rejections audited for %s, want %d", got, id, rejected+1)
		}
	})
}

// TestAcceptanceNumber: the receiver's new case number goes out in its
// normal form (whatever brackets the clerk typed), must not be a case
// this court already holds, and is kept for the case to come: an import
// under it is refused until the transfer is done with it.
func TestAcceptanceNumber(t *testing.T) {
	s := newScenario(t)
	ctx := context.Background()
	id := s.decided()
	recv := s.as("京0108")
	cs, err := gen.Generate(filepath.Join(t.TempDir(), "own"), gen.Options{Cases: 2, Seed: 9, Court: "京0108"})
	if err != nil {
		t.Fatal(err)
	}
	local := cases.New(cases.Deps{Store: recv.Store(), Court: "京0108"})
	if _, err := local.Import(ctx, cs[0].Dir, 0); err != nil {
		t.Fatal(err)
	}
	ascii := func(n court.CaseNumber) string {
		return strings.NewReplacer("（", "(", "）", ")").Replace(n.String())
	}
	if _, err := recv.Workflow().Accept(ctx, id, api.AcceptRequest{NewCaseNumber: ascii(cs[0].Number)}); !errors.Is(err, court.ErrConflict) {
		t.Fatalf("acceptance under the number of a case held here: %v; want a conflict", err)
	}
	tr, err := recv.Workflow().Accept(ctx, id, api.AcceptRequest{NewCaseNumber: ascii(cs[1].Number)})
	if err != nil {
		t.Fatal(err)
	}
	if tr.NewCaseNumber != cs[1].Number.String() {
		t.Fatalf("the acceptance carries %q; want the normal form %q", tr.NewCaseNumber, cs[1].Number)
	}
	s.expectEverywhere(id, cmproto.StateAccepted)
	if _, err := local.Import(ctx, cs[1].Dir, 0); !errors.Is(err, court.ErrConflict) || !strings.Contains(err.Error(), string(id)) {
		t.Fatalf("an import under the number kept for transfer %s: %v; want a conflict naming it", id, err)
	}
}
