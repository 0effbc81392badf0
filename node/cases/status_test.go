package cases_test

import (
	"context"
	"path/filepath"
	"testing"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/storage/gen"
)

// TestShowFollowsStatus: a case's status changed in place (the receiver's
// closure sets it concluded or terminated, the origin's 销案 transferred)
// is what GET /v1/cases/{n} (`case show`) shows, as the listing does, not
// the status the case was imported with.
func TestShowFollowsStatus(t *testing.T) {
	ctx := context.Background()
	cn := startCaseNode(t)
	generated, err := gen.Generate(filepath.Join(t.TempDir(), "cases"), gen.Options{Cases: 1, Seed: 7, RefDate: caseRef})
	if err != nil {
		t.Fatal(err)
	}
	c := generated[0]
	if err := cn.cl.Do(ctx, "POST", "/v1/cases/import", api.ImportRequest{Path: c.Dir}, nil); err != nil {
		t.Fatal(err)
	}
	for _, st := range []court.CaseStatus{court.StatusConcluded, court.StatusTerminated, court.StatusTransferred} {
		if err := cn.db.SetCaseStatus(c.Number, st); err != nil {
			t.Fatal(err)
		}
		var d api.CaseDetail
		if err := cn.cl.Do(ctx, "GET", casePath(c.Number.String())+"?purpose=test", nil, &d); err != nil {
			t.Fatal(err)
		}
		var list []api.CaseSummary
		if _, err := cn.cl.Page(ctx, "/v1/cases?status="+string(st), &list); err != nil {
			t.Fatal(err)
		}
		if d.Status != string(st) || len(list) != 1 || list[0].Status != string(st) {
			t.Errorf("status set to %s: show says %q, the listing of %s holds %v", st, d.Status, st, list)
		}
	}
}
