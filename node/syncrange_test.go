package node_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node"
	"courtmesh.dev/courtmesh/node/devmesh"
	"courtmesh.dev/courtmesh/node/nodetest"
	"courtmesh.dev/courtmesh/protocol/pb"
)

// TestSyncRangeIngestSameAsOneAtATime: a sync response's records, kept
// and applied a run at a time in one store transaction
// (node.IngestRangeForTest), end exactly as the same records ingested one
// at a time: each record's error, every transfer's state and stored
// record, the held records, the log heads, the equivocation audits. The
// records cover every outcome: applied, held then released (by a record
// of the same run and by a later one), duplicate, equivocation, authentic
// but invalid, refused by the state machine, bad signature; and a range
// long enough to be decoded on several goroutines.
func TestSyncRangeIngestSameAsOneAtATime(t *testing.T) {
	m, err := devmesh.Build(t.TempDir(), scenarioCourts(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// Two fresh copies of the high court's node, connected to no one.
	one := startNode(t, node.Options{Dir: copyDataDir(t, m.Dirs[1]), Logger: testLogger(t)})
	rng := startNode(t, node.Options{Dir: copyDataDir(t, m.Dirs[1]), Logger: testLogger(t)})

	origin, decider := meshSigner(t, m, "京0105"), meshSigner(t, m, "京01")
	recv, other := meshSigner(t, m, "京0108"), meshSigner(t, m, "京0102")
	seq := map[court.CourtCode]uint64{}
	sign := func(s signer, id court.TransferID, body *pb.Record) []byte {
		seq[s.code]++
		return s.seal(t, seq[s.code], id, body)
	}
	filed := court.DateOf(time.Now().AddDate(-1, 0, 0)).String()
	offerBody := func(n int, amount int64) *pb.Record {
		return &pb.Record{Body: &pb.Record_Offer{Offer: &pb.TransferOffer{
			CaseNumber: fmt.Sprintf("（2025）京0105执%d号", n), OriginCourt: "京0105", SuperiorCourt: "京01",
			Grounds: []pb.Ground{pb.Ground_GROUND_LONG_UNEXECUTED}, AmountOutstandingFen: amount, FiledOn: filed,
		}}}
	}
	decision := func(id court.TransferID) []byte {
		return sign(decider, id, &pb.Record{Body: &pb.Record_Decision{Decision: &pb.TransferDecision{
			Mode: pb.Mode_MODE_DESIGNATED, ReceiverCourt: "京0108", DecisionNumber: "（2026）京01执监31号"}}})
	}
	at := time.Now() // the year of the acceptances' numbers
	acceptance := func(s signer, id court.TransferID, n int) []byte {
		return sign(s, id, &pb.Record{Body: &pb.Record_Acceptance{Acceptance: &pb.Acceptance{NewCaseNumber: nodetest.CaseNo(at, s.code, court.TypeEnforcement, n)}}})
	}

	t1, t2, t3, t4 := court.NewTransferID(), court.NewTransferID(), court.NewTransferID(), court.NewTransferID()
	o1 := sign(origin, t1, offerBody(201, 80_000_00))
	a2 := acceptance(recv, t2, 32) // before its transfer's offer and decision: held
	d1 := decision(t1)
	o2 := sign(origin, t2, offerBody(202, 80_000_00)) // ends a run: a record is held for t2
	d2 := decision(t2)                                // releases a2
	a1 := acceptance(recv, t1, 31)
	equiv := origin.seal(t, 1, t3, offerBody(203, 80_000_00)) // origin's position 1 holds o1
	invalid := sign(origin, t3, offerBody(204, -1))           // authentic, a negative amount
	late := acceptance(other, t1, 33)                         // t1 is accepted already: refused
	d4 := decision(t4)                                        // before t4's offer: held
	o4 := sign(origin, t4, offerBody(205, 80_000_00))         // releases d4 in the next run
	forged := append([]byte(nil), sign(origin, t3, offerBody(206, 80_000_00))...)
	forged[len(forged)-1] ^= 1 // the signature's last byte
	recs := [][]byte{o1, a2, d1, o2, d2, a1, o1, equiv, invalid, late, d4, o4, forged}

	var want []error
	for _, raw := range recs {
		want = append(want, node.IngestForTest(one, raw))
	}
	got := node.IngestRangeForTest(rng, recs)
	if len(got) != len(recs) {
		t.Fatalf("%d errors for %d records", len(got), len(recs))
	}
	for i := range recs {
		if fmt.Sprint(got[i]) != fmt.Sprint(want[i]) {
			t.Errorf("record %d: range %v, one at a time %v", i, got[i], want[i])
		}
	}
	// The outcomes are the ones the story expects (so that the two paths
	// do not merely agree on something else).
	for i, ok := range []bool{true, false, true, true, true, true, false, false, false, false, false, true, false} {
		if (want[i] == nil) != ok {
			t.Errorf("record %d: %v", i, want[i])
		}
	}

	for _, id := range []court.TransferID{t1, t2, t3, t4} {
		a, aerr := one.Workflow().Transfer(id)
		b, berr := rng.Workflow().Transfer(id)
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if fmt.Sprint(aerr) != fmt.Sprint(berr) || string(ja) != string(jb) {
			t.Errorf("transfer %s: range %s (%v), one at a time %s (%v)", id, jb, berr, ja, aerr)
		}
		ra, aerr := one.Store().GetTransfer(string(id))
		rb, berr := rng.Store().GetTransfer(string(id))
		if fmt.Sprint(aerr) != fmt.Sprint(berr) || !reflect.DeepEqual(ra, rb) {
			t.Errorf("stored transfer %s: range %+v (%v), one at a time %+v (%v)", id, rb, berr, ra, aerr)
		}
		ha, _ := one.Store().HeldRecords(string(id))
		hb, _ := rng.Store().HeldRecords(string(id))
		if !reflect.DeepEqual(ha, hb) {
			t.Errorf("held for %s: range %d, one at a time %d", id, len(hb), len(ha))
		}
	}
	if tr, err := rng.Workflow().Transfer(t2); err != nil || tr.NewCaseNumber != nodetest.CaseNo(at, "京0108", court.TypeEnforcement, 32) {
		t.Errorf("t2 after its held acceptance was released: %+v, %v", tr, err)
	}
	// A range long enough to be decoded on several goroutines.
	var offers [][]byte
	for k := range 48 {
		offers = append(offers, sign(origin, court.NewTransferID(), offerBody(300+k, 80_000_00)))
	}
	for _, raw := range offers {
		if err := node.IngestForTest(one, raw); err != nil {
			t.Fatal(err)
		}
	}
	for i, err := range node.IngestRangeForTest(rng, offers) {
		if err != nil {
			t.Errorf("offer %d of the long range: %v", i, err)
		}
	}
	ca, _ := one.Store().TransferCounts()
	cb, _ := rng.Store().TransferCounts()
	if !reflect.DeepEqual(ca, cb) {
		t.Errorf("transfer counts: range %v, one at a time %v", cb, ca)
	}

	ha, err := one.Store().LogHeads()
	if err != nil {
		t.Fatal(err)
	}
	hb, err := rng.Store().LogHeads()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ha, hb) {
		t.Errorf("log heads: range %v, one at a time %v", hb, ha)
	}
	if a, b := audits(t, one, "record.equivocation"), audits(t, rng, "record.equivocation"); a != 1 || b != 1 {
		t.Errorf("equivocations audited: range %d, one at a time %d; want 1", b, a)
	}
}
