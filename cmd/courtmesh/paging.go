package main

import (
	"net/url"
	"strconv"

	"courtmesh.dev/courtmesh/node/api"
)

// The paged listings of the command line (case list, user list): with
// --limit N one page of N and the cursor of the next (on stderr); without
// it, every page, read a page at a time as the node serves them.

// checkPageFlag checks a --limit: 0 (every page) or 1 to api.MaxPage.
func checkPageFlag(limit int) error {
	if limit < 0 || limit > api.MaxPage {
		return errorf("--limit %d: want 1 to %d a page, or 0 for the whole list", limit, api.MaxPage)
	}
	return nil
}

// allPages returns the page at cursor of limit items with the next
// page's cursor, or, with limit 0, every item from cursor on (following
// the cursors, api.MaxPage a page) and "".
func allPages[T any](cursor string, limit int, page func(cursor string, limit int) ([]T, string, error)) ([]T, string, error) {
	if limit > 0 {
		return page(cursor, limit)
	}
	out := []T{}
	for {
		items, next, err := page(cursor, api.MaxPage)
		if err != nil {
			return nil, "", err
		}
		out = append(out, items...)
		if next == "" {
			return out, "", nil
		}
		cursor = next
	}
}

// pageQuery is the query string ("" or "?...") of a page: q's non-empty
// values, the cursor and the limit (if not 0).
func pageQuery(q url.Values, cursor string, limit int) string {
	v := url.Values{}
	for k, vs := range q {
		if len(vs) == 1 && vs[0] != "" {
			v.Set(k, vs[0])
		}
	}
	if cursor != "" {
		v.Set("cursor", cursor)
	}
	if limit != 0 {
		v.Set("limit", strconv.Itoa(limit))
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}
