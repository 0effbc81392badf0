package node_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/nodetest"
)

// TestAssetUpdateKeptAfterAFailedKeep: the receiver's store fails to keep
// a received asset update once (a test fault in the keep). The update is
// not left for the node's next start: its asset watch reads the record
// log again at once, keeps the update and applies it.
func TestAssetUpdateKeptAfterAFailedKeep(t *testing.T) {
	am := newAssetMesh(t)
	id, _, newNo, ms := am.received(t)
	var keeps atomic.Int32
	am.as("京0108").Assets().SetKeepFault(func() error {
		if keeps.Add(1) == 1 {
			return errors.New("input/output error (test fault)")
		}
		return nil
	})
	if _, err := am.as("京0105").Assets().UpdateAssets(context.Background(), id, api.AssetChange{Kind: "renewal", Measure: ms[0].ID}); err != nil {
		t.Fatal(err)
	}
	nodetest.PollUntil(t, 30*time.Second, "the renewal at the receiver, after its first keep failed", func() bool {
		_, ok := successor(am.as("京0108"), newNo, ms[0].ID)
		return ok
	})
	if n := keeps.Load(); n < 2 {
		t.Fatalf("the receiver tried to keep the update %d times; want the failed keep and one after it", n)
	}
}
