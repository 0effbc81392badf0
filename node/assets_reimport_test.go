package node_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/cases"
	"courtmesh.dev/courtmesh/node/nodetest"
	"courtmesh.dev/courtmesh/storage/gen"
)

// TestReimportOfATransferredCase: a re-import cannot undo a handover. At
// the origin a handed-over case takes no new version; at the receiver, the
// filed copy takes one that keeps its assets and measures, and refuses one
// that would drop an asset update the origin sent.
func TestReimportOfATransferredCase(t *testing.T) {
	am := newAssetMesh(t)
	ctx := context.Background()
	id, cn, newNo, ms := am.received(t)
	origin, recv := am.as("京0105"), am.as("京0108")

	// The origin's case folder, generated again as scenario.cases made it.
	cs, err := gen.Generate(filepath.Join(t.TempDir(), "again"), gen.Options{Cases: 6, Seed: 7, Court: "京0105"})
	if err != nil {
		t.Fatal(err)
	}
	var folder string
	for _, c := range cs {
		if c.Number == cn {
			folder = c.Dir
		}
	}
	if folder == "" {
		t.Fatalf("case %s not generated again", cn)
	}
	atOrigin := cases.New(cases.Deps{Store: origin.Store(), Court: "京0105"})
	if res, err := atOrigin.Import(ctx, folder, 0); err != nil || !res.Unchanged {
		t.Fatalf("the same folder again at the origin: %+v, %v; want unchanged", res, err)
	}
	touch := func(dir string) { // a new version, the same data
		f, err := os.OpenFile(filepath.Join(dir, "case.json"), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString("\n")
		f.Close()
	}
	touch(folder)
	head, _, err := origin.Store().Case(cn)
	if err != nil {
		t.Fatal(err)
	}
	_, err = atOrigin.Import(ctx, folder, 0)
	if !errors.Is(err, court.ErrConflict) || !strings.Contains(err.Error(), "handed over to 京0108") {
		t.Fatalf("a changed re-import at the origin after the handover: %v; want a conflict naming the receiver", err)
	}
	// The same through the origin's API: 409, the error's code "conflict".
	body, _ := json.Marshal(api.ImportRequest{Path: folder})
	oc := am.conn(t, "京0105")
	if code, b := oc.send(t, "POST", "/v1/cases/import", "Bearer "+oc.token, body); code != 409 || !strings.Contains(string(b), `"conflict"`) {
		t.Fatalf("the changed re-import through the origin's API: %d %s; want 409 conflict", code, b)
	}
	if after, _, _ := origin.Store().Case(cn); after.Version != head.Version || after.Status != court.StatusTransferred {
		t.Fatalf("origin's case after the refused import: version %d status %s; want %d transferred", after.Version, after.Status, head.Version)
	}
	// The receiver does not take the origin's case folder as a case of
	// its own: a transferred case arrives by fetch.
	rc := am.conn(t, "京0108")
	if code, b := rc.send(t, "POST", "/v1/cases/import", "Bearer "+rc.token, body); code != 422 || !strings.Contains(string(b), "a case of 京0105") {
		t.Fatalf("the origin's case folder imported at the receiver: %d %s; want 422 naming 京0105", code, b)
	}
	if _, _, err := recv.Store().Case(cn); !errors.Is(err, court.ErrNotFound) {
		t.Fatalf("the receiver's store holds the origin's case number after a refused import: %v", err)
	}

	// At the receiver: its filed copy, exported, renumbered as the
	// receiver's own system would file it, its measures as held here.
	atRecv := cases.New(cases.Deps{Store: recv.Store(), Court: "京0108", AnyExportFolder: true})
	out := filepath.Join(t.TempDir(), "filed")
	if _, err := atRecv.Export(ctx, newNo, out, "重新导入测试"); err != nil {
		t.Fatal(err)
	}
	_, filed, err := recv.Store().Case(newNo)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	b, err := os.ReadFile(filepath.Join(out, "case.json"))
	if err == nil {
		err = json.Unmarshal(b, &doc)
	}
	if err != nil {
		t.Fatal(err)
	}
	doc["case_number"], doc["court"] = newNo.String(), "京0108"
	doc["measures"] = filed.Measures
	if b, err = json.MarshalIndent(doc, "", "  "); err == nil {
		err = os.WriteFile(filepath.Join(out, "case.json"), b, 0o600)
	}
	if err != nil {
		t.Fatal(err)
	}
	res, err := atRecv.Import(ctx, out, 0)
	if err != nil || res.Unchanged || res.Version != filed.Version+1 {
		t.Fatalf("the receiver's own version of its filed copy, assets and measures kept: %+v, %v; want version %d", res, err, filed.Version+1)
	}

	// The origin renews (续行) a measure; the receiver's copy follows.
	renewed := ms[0]
	must(t)(origin.Assets().UpdateAssets(ctx, id, api.AssetChange{Kind: "renewal", Measure: renewed.ID}))
	var renewal court.Measure
	nodetest.PollUntil(t, 20*time.Second, "the renewal at the receiver", func() bool {
		var ok bool
		renewal, ok = successor(recv, newNo, renewed.ID)
		return ok
	})
	// The same folder again, now without the renewal: refused, and the
	// receiver keeps it.
	touch(out)
	_, err = atRecv.Import(ctx, out, 0)
	if !errors.Is(err, court.ErrConflict) || !strings.Contains(err.Error(), "measure "+renewal.ID+" missing") ||
		!strings.Contains(err.Error(), "measure "+renewed.ID+" changed") {
		t.Fatalf("a re-import at the receiver that drops the origin's renewal: %v; want a conflict naming %s and %s", err, renewal.ID, renewed.ID)
	}
	if m, ok := successor(recv, newNo, renewed.ID); !ok || m != renewal {
		t.Fatalf("the receiver's renewal after the refused import: %+v %v; want %+v", m, ok, renewal)
	}
	// The origin's copy still has its own update, too: nothing there took
	// a new version.
	if m, ok := successor(origin, cn, renewed.ID); !ok || m.ID != renewal.ID {
		t.Fatalf("the origin's renewal: %+v %v", m, ok)
	}
}

// TestAssetUpdatesFromBothCourtsAtOnce: while the two courts cannot reach
// each other, each records a change that creates a measure (the receiver
// renews one, the origin finds an asset and freezes it), leaving the ids
// to the node. Once they meet again each has applied the other's change
// in full: the ids the nodes chose cannot clash, so nothing is dropped as
// a conflict.
func TestAssetUpdatesFromBothCourtsAtOnce(t *testing.T) {
	am := newAssetMesh(t)
	ctx := context.Background()
	id, cn, newNo, ms := am.received(t)
	origin, recv := am.as("京0105"), am.as("京0108")
	cutOff([]*node.Node{origin}, []*node.Node{recv}, true)
	must(t)(recv.Assets().UpdateAssets(ctx, id, api.AssetChange{Kind: "renewal", Measure: ms[0].ID}))
	must(t)(origin.Assets().UpdateAssets(ctx, id, api.AssetChange{Kind: "search_result", MeasureKind: "freeze",
		Asset: &api.NewAsset{Class: "deposit", Description: "某银行账户", Owner: "p2", Source: "national_search", ValueFen: 50000}}))
	cutOff([]*node.Node{origin}, []*node.Node{recv}, false)
	connectAll(t, am.tm.nodes)
	has := func(n *node.Node, c court.CaseNumber, measure, asset string) bool {
		_, v, err := n.Store().Case(c)
		if err != nil {
			return false
		}
		okM := slices.ContainsFunc(v.Measures, func(m court.Measure) bool { return m.ID == measure })
		okA := asset == "" || slices.ContainsFunc(v.Assets, func(a court.Asset) bool { return a.ID == asset })
		return okM && okA
	}
	nodetest.PollUntil(t, 30*time.Second, "both changes at both courts", func() bool {
		return has(origin, cn, "m-r1", "") && has(origin, cn, "m-o1", "a-o1") && has(recv, newNo, "m-r1", "") && has(recv, newNo, "m-o1", "a-o1")
	})
	for _, n := range []*node.Node{origin, recv} {
		if c := assetAudits(t, n, "asset_update.conflict", id); c != 0 {
			t.Errorf("%d asset updates in conflict", c)
		}
	}
}
