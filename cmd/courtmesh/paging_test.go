package main

import (
	"net/url"
	"testing"
)

// TestPageQuery: the query of a page holds the filters that are set, the
// cursor and the limit, and nothing for what is empty.
func TestPageQuery(t *testing.T) {
	for _, c := range []struct {
		q      url.Values
		cursor string
		limit  int
		want   string
	}{
		{url.Values{"state": {""}, "overdue": {""}}, "", 0, ""},
		{url.Values{"status": {"active"}}, "", 0, "?status=active"},
		{url.Values{"state": {"offered"}, "overdue": {"1"}, "court": {"京0105"}}, "AbC", 100,
			"?" + url.Values{"state": {"offered"}, "overdue": {"1"}, "court": {"京0105"}, "cursor": {"AbC"}, "limit": {"100"}}.Encode()},
		{nil, "AbC", 2, "?cursor=AbC&limit=2"},
	} {
		if got := pageQuery(c.q, c.cursor, c.limit); got != c.want {
			t.Errorf("pageQuery(%v, %q, %d) = %q, want %q", c.q, c.cursor, c.limit, got, c.want)
		}
	}
}
