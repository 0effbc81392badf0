package api

import (
	"context"
	"net/http"
	"strconv"

	"courtmesh.dev/courtmesh/court"
)

// The jurisdiction route: a superior court's view of the transfers,
// deadlines and overdue steps of every court under it (from the trust
// bundle's hierarchy), not only those it takes part in.
//
//	GET /v1/jurisdiction?scope=&court=&mode=&state=&overdue=&limit=&cursor= -> Jurisdiction

// JurisdictionQuery selects the view. Zero fields do not filter.
type JurisdictionQuery struct {
	// Scope is the superior whose jurisdiction is shown; "" is this
	// node's court. A node may show its own court's jurisdiction or that
	// of a court under it; an operator node any.
	Scope   court.CourtCode
	Court   court.CourtCode // only transfers concerning this court (under Scope)
	Mode    string          // only this mode (指令执行, 提级执行, ...)
	State   string          // only this state
	Overdue bool            // only overdue transfers
	Cursor  string          // from the previous page's next
	Limit   int             // per page: 0 means 100, at most 1000
}

// Jurisdiction is a superior court's view of its jurisdiction.
type Jurisdiction struct {
	Scope string `json:"scope"`
	// Rows are the courts under Scope, Scope first, each with the
	// transfers concerning it by state and how many are overdue; for the
	// Supreme People's Court, one row per province (the sums over its
	// courts: a transfer between two courts of a province counts for
	// each).
	Rows []JurisdictionRow `json:"rows"`
	// Transfers is one page of the transfers concerning any court under
	// Scope, newest offer first, filtered.
	Transfers []Transfer `json:"transfers"`
	// Next continues the listing with the same query ("" at the end).
	Next string `json:"next,omitempty"`
}

// JurisdictionRow is one court (or province) of a jurisdiction.
type JurisdictionRow struct {
	Court   string            `json:"court"`
	Name    string            `json:"name,omitempty"`
	Courts  int               `json:"courts"` // courts the row sums (1 for a court)
	States  map[string]uint64 `json:"states"`
	Overdue int               `json:"overdue"`
}

// JurisdictionService answers the view (the workflow room).
type JurisdictionService interface {
	Jurisdiction(ctx context.Context, q JurisdictionQuery) (Jurisdiction, error)
}

// RegisterJurisdiction registers the jurisdiction route.
func RegisterJurisdiction(s *Server, j JurisdictionService) {
	s.Handle("GET /v1/jurisdiction", func(w http.ResponseWriter, r *http.Request) {
		if !CheckQuery(w, r, "scope", "court", "mode", "state", "overdue", "limit", "cursor") {
			return
		}
		v := r.URL.Query()
		q := JurisdictionQuery{Scope: court.CourtCode(v.Get("scope")), Court: court.CourtCode(v.Get("court")), Mode: v.Get("mode"),
			State: v.Get("state"), Cursor: v.Get("cursor")}
		for _, c := range []court.CourtCode{q.Scope, q.Court} {
			if c != "" {
				if err := c.Validate(); err != nil {
					WriteError(w, Errorf(http.StatusBadRequest, CodeInvalid, "%v", err))
					return
				}
			}
		}
		switch v.Get("overdue") {
		case "", "0":
		case "1":
			q.Overdue = true
		default:
			WriteError(w, Errorf(http.StatusBadRequest, CodeInvalid, "overdue=%q: want 1 or 0", v.Get("overdue")))
			return
		}
		if l := v.Get("limit"); l != "" {
			n, err := strconv.Atoi(l)
			if err != nil || n < 1 || n > 1000 {
				WriteError(w, Errorf(http.StatusBadRequest, CodeInvalid, "limit=%q: want 1 to 1000", l))
				return
			}
			q.Limit = n
		}
		out, err := j.Jurisdiction(r.Context(), q)
		if err != nil {
			WriteError(w, FromError(err))
			return
		}
		WriteJSON(w, http.StatusOK, out)
	})
}
