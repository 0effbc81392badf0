package nodetest

import "testing"

// ReadPages reads a paged listing from its start, as a client follows its
// cursors: page(cursor) returns the keys of one page (whatever identifies
// an item to the test) and the cursor of the next page, "" at the end. It
// fails t on an error, on a page longer than limit, or past maxPages
// pages (a cursor that does not move on), and returns every key in the
// order read and the number of pages.
func ReadPages(t testing.TB, limit, maxPages int, page func(cursor string) (keys []string, next string, err error)) ([]string, int) {
	t.Helper()
	var all []string
	cursor := ""
	for pages := 1; ; pages++ {
		keys, next, err := page(cursor)
		if err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		if len(keys) > limit {
			t.Fatalf("page %d holds %d items, limit %d", pages, len(keys), limit)
		}
		all = append(all, keys...)
		if next == "" {
			return all, pages
		}
		if pages == maxPages {
			t.Fatalf("still a next page after %d pages: %v so far", pages, all)
		}
		cursor = next
	}
}
