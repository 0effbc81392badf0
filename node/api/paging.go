package api

import (
	"net/http"
	"strconv"
)

// Limits of a page of a listing (GET /v1/transfers, /v1/complaints,
// /v1/cases, /v1/users, /v1/check-backs): the limit query parameter,
// DefaultPage when absent.
const (
	DefaultPage = 100
	MaxPage     = 1000
)

// PageParams reads the cursor and limit query parameters of a paged
// listing of what ("cases", "accounts", ...): the cursor is opaque (the
// store refuses one that does not continue the listing, as invalid), the
// limit 1 to MaxPage, DefaultPage when absent. It reports whether they
// are acceptable; if not, the answer is written. Call CheckQuery first.
func PageParams(w http.ResponseWriter, r *http.Request, what string) (cursor string, limit int, ok bool) {
	q := r.URL.Query()
	limit = DefaultPage
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > MaxPage {
			WriteError(w, Errorf(http.StatusBadRequest, CodeInvalid, "limit %q: want 1 to %d %s a page", l, MaxPage, what))
			return "", 0, false
		}
		limit = n
	}
	return q.Get("cursor"), limit, true
}

// writePage writes a page of a listing whose body stays what it was
// before paging (a JSON array, or an object with a next field): the
// cursor of the next page, if any, in the NextCursorHeader.
func writePage(w http.ResponseWriter, v any, next string, err error) {
	if err != nil {
		WriteError(w, err)
		return
	}
	if next != "" {
		w.Header().Set(NextCursorHeader, next)
	}
	WriteJSON(w, http.StatusOK, v)
}
