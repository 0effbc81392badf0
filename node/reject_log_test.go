package node_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node"
	"courtmesh.dev/courtmesh/node/nodetest"
	"courtmesh.dev/courtmesh/protocol/pb"
)

// syncBuffer is a log sink safe for the node's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A refused record that names its transfer is logged with that transfer
// (it was logged as transfer="" when it arrived by gossip or sync), and
// its reason says "invalid" once.
func TestRejectedRecordLogNamesTransfer(t *testing.T) {
	var logs syncBuffer
	tm := startCourts(t, scenarioCourts()[:3], func(i int, o *node.Options) {
		if i == 1 {
			o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		}
	})
	origin := meshSigner(t, tm.Mesh, court.Supreme)
	id := court.NewTransferID()
	// Authentic, but its body breaks a rule: a case number that does not parse.
	raw := origin.seal(t, nextSeq(t, tm.nodes, origin), id, &pb.Record{Body: &pb.Record_Offer{Offer: &pb.TransferOffer{CaseNumber: "bogus", OriginCourt: string(court.Supreme), SuperiorCourt: "京"}}})
	nodetest.PollUntil(t, 20*time.Second, "the transfers topic mesh", func() bool { return node.TransferTopicPeersForTest(tm.nodes[0]) > 0 })
	if err := node.PublishForTest(context.Background(), tm.nodes[0], raw); err != nil {
		t.Fatal(err)
	}
	nodetest.PollUntil(t, 20*time.Second, "the refusal logged", func() bool {
		return strings.Contains(logs.String(), "transfer record rejected")
	})
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "transfer record rejected") && !strings.Contains(line, "transfer="+string(id)) {
			t.Errorf("the refusal does not name transfer %s: %s", id, line)
		}
		if strings.Contains(line, "transfer record rejected") && strings.Contains(line, "invalid: case number: invalid") {
			t.Errorf("the refusal says its kind twice: %s", line)
		}
	}
}
