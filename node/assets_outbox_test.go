package node_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/nodetest"
)

// outboxCase is a transferred case whose origin stopped between applying
// a renewal to its own copy and issuing its record.
type outboxCase struct {
	am      *assetMesh
	id      court.TransferID
	newNo   court.CaseNumber
	ms      [2]court.Measure
	renewal court.Measure // as applied to the origin's copy
}

func newOutboxCase(t *testing.T) outboxCase {
	am := newAssetMesh(t)
	ctx := context.Background()
	id, cn, newNo, ms := am.received(t)
	crash := errors.New("the node stops here")
	am.as("京0105").Assets().SetBeforeIssue(func() error { return crash })
	_, err := am.as("京0105").Assets().UpdateAssets(ctx, id, api.AssetChange{Kind: "renewal", Measure: ms[0].ID})
	am.as("京0105").Assets().SetBeforeIssue(nil)
	if !errors.Is(err, crash) {
		t.Fatalf("the update with a stop before its record: %v", err)
	}
	renewal, ok := successor(am.as("京0105"), cn, ms[0].ID)
	if !ok {
		t.Fatal("the origin's copy lacks the renewal it applied before stopping")
	}
	if tr, _ := am.as("京0105").Workflow().Transfer(id); tr.AssetUpdates != 0 {
		t.Fatalf("a record was issued before the stop: %d", tr.AssetUpdates)
	}
	return outboxCase{am: am, id: id, newNo: newNo, ms: ms, renewal: renewal}
}

// TestAssetUpdateOutboxAfterACrash: the origin's node stops between
// applying a renewal to its own copy and issuing the record. At its next
// start it sends the record from its outbox, so the receiver gets the
// renewal and the two copies agree; a second start sends nothing again.
func TestAssetUpdateOutboxAfterACrash(t *testing.T) {
	oc := newOutboxCase(t)
	am, id := oc.am, oc.id
	am.stops["京0105"]()
	origin := am.restart("京0105")
	nodetest.PollUntil(t, 30*time.Second, "the renewal at the receiver, sent from the outbox", func() bool {
		m, ok := successor(am.as("京0108"), oc.newNo, oc.ms[0].ID)
		return ok && m.ID == oc.renewal.ID && m.Expiry == oc.renewal.Expiry
	})
	if tr, _ := origin.Workflow().Transfer(id); tr.AssetUpdates != 1 {
		t.Errorf("asset updates on the transfer after the restart: %d, want 1", tr.AssetUpdates)
	}
	if left, err := origin.Store().OutboxAssetUpdates(); err != nil || len(left) != 0 {
		t.Errorf("outbox after the restart: %v %v; want empty", left, err)
	}
	// A second restart sends nothing again: once its asset watch has
	// made its first pass (outbox, recovery, waiting updates), the
	// transfer still has one update.
	am.stops["京0105"]()
	origin = am.restart("京0105")
	select {
	case <-origin.Assets().Settled():
	case <-time.After(30 * time.Second):
		t.Fatal("the asset watch made no first pass in 30s")
	}
	if tr, _ := origin.Workflow().Transfer(id); tr.AssetUpdates != 1 {
		t.Errorf("asset updates after a second restart: %d, want 1", tr.AssetUpdates)
	}
}

// TestAssetUpdateOutboxBeforeTheNextUpdate: as above, but the court makes
// its next update before any restart: the waiting one goes out first and
// the next takes the number after it (neither overwrites the other).
func TestAssetUpdateOutboxBeforeTheNextUpdate(t *testing.T) {
	oc := newOutboxCase(t)
	am, id := oc.am, oc.id
	tr := must(t)(am.as("京0105").Assets().UpdateAssets(context.Background(), id, api.AssetChange{Kind: "renewal", Measure: oc.ms[1].ID}))
	if tr.AssetUpdates != 2 {
		t.Fatalf("asset updates after the next one: %d, want 2", tr.AssetUpdates)
	}
	nodetest.PollUntil(t, 30*time.Second, "both renewals at the receiver", func() bool {
		a, ok1 := successor(am.as("京0108"), oc.newNo, oc.ms[0].ID)
		_, ok2 := successor(am.as("京0108"), oc.newNo, oc.ms[1].ID)
		return ok1 && ok2 && a.ID == oc.renewal.ID
	})
	if left, err := am.as("京0105").Store().OutboxAssetUpdates(); err != nil || len(left) != 0 {
		t.Errorf("outbox: %v %v; want empty", left, err)
	}
}
