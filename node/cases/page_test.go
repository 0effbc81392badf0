package cases_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"testing"

	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/nodetest"
	"courtmesh.dev/courtmesh/storage/gen"
)

// TestCasesPaged pages GET /v1/cases over five cases, two a page: three
// pages, every case once, in case number order; a cursor that does not
// continue the listing (garbage, or one of the listing of a status) is
// refused as invalid, and a limit out of range as a bad request.
func TestCasesPaged(t *testing.T) {
	ctx := context.Background()
	cn := startCaseNode(t)
	generated, err := gen.Generate(filepath.Join(t.TempDir(), "cases"), gen.Options{Cases: 5, Seed: 7, RefDate: caseRef})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, c := range generated {
		if err := cn.cl.Do(ctx, "POST", "/v1/cases/import", api.ImportRequest{Path: c.Dir}, nil); err != nil {
			t.Fatalf("import %s: %v", c.Dir, err)
		}
		want = append(want, c.Number.String())
	}
	slices.Sort(want)
	pageOf := func(q url.Values) ([]api.CaseSummary, string, error) {
		var page []api.CaseSummary
		next, err := cn.cl.Page(ctx, "/v1/cases?"+q.Encode(), &page)
		return page, next, err
	}
	got, pages := nodetest.ReadPages(t, 2, 5, func(cursor string) ([]string, string, error) {
		page, next, err := pageOf(url.Values{"limit": {"2"}, "cursor": {cursor}})
		var keys []string
		for _, c := range page {
			keys = append(keys, c.Case)
		}
		return keys, next, err
	})
	if pages != 3 || !slices.Equal(got, want) {
		t.Fatalf("%d pages of %v, want 3 pages of %v", pages, got, want)
	}

	_, activeNext, err := pageOf(url.Values{"status": {"active"}, "limit": {"1"}})
	if err != nil || activeNext == "" {
		t.Fatalf("a page of one active case: next %q, %v", activeNext, err)
	}
	for _, bad := range []string{"nonsense", activeNext} {
		_, _, err := pageOf(url.Values{"cursor": {bad}})
		var ae *api.Error
		if !errors.As(err, &ae) || ae.Code != api.CodeInvalid || ae.Status != http.StatusUnprocessableEntity {
			t.Errorf("cursor %q: %v, want invalid (422)", bad, err)
		}
	}
	for _, l := range []string{"0", "1001", "x"} {
		_, _, err := pageOf(url.Values{"limit": {l}})
		var ae *api.Error
		if !errors.As(err, &ae) || ae.Code != api.CodeInvalid || ae.Status != http.StatusBadRequest {
			t.Errorf("limit %s: %v, want a bad request", l, err)
		}
	}
	// No limit: the default page holds them all, and no next.
	page, next, err := pageOf(url.Values{})
	if err != nil || len(page) != len(want) || next != "" {
		t.Fatalf("default page: %d cases, next %q, %v", len(page), next, err)
	}
}
