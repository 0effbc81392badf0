package api

import (
	"context"
	"net/http"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/protocol"
)

// The check-back route: the transfers a superior court is flagged to
// check back on their origin (倒查) for, under this node's rule (config
// check_back_*), not yet reviewed; a review with check_back set (POST
// /v1/transfers/{id}/reviews) answers a flag.
//
//	GET /v1/check-backs?scope=&limit=&cursor= -> CheckBacks (a page; next, also in X-Next-Cursor)

// CheckBackItem is one flagged transfer with the indicators about its
// origin.
type CheckBackItem struct {
	Transfer      court.TransferID `json:"transfer"`
	CaseNumber    string           `json:"case_number"`
	NewCaseNumber string           `json:"new_case_number,omitempty"`
	Origin        court.CourtCode  `json:"origin"`
	Receiver      court.CourtCode  `json:"receiver"`
	State         string           `json:"state"`
	// CheckBack holds the indicators (days held, measures lapsed before
	// the offer, assets found early, days to conclusion) and the grounds.
	CheckBack protocol.CheckBack `json:"check_back"`
	// OriginCheck is the receiver's signed report the indicators read, if
	// any.
	OriginCheck *protocol.OriginCheck `json:"origin_check,omitempty"`
}

// CheckBacks lists the flagged transfers of origins under Scope.
type CheckBacks struct {
	Scope string                 `json:"scope"`
	Rule  protocol.CheckBackRule `json:"rule"`
	Items []CheckBackItem        `json:"items"`
	// Next is the cursor of the next page ("" at the end).
	Next string `json:"next,omitempty"`
}

// CheckBackQuery selects a page of GET /v1/check-backs.
type CheckBackQuery struct {
	Scope  court.CourtCode // origins under this court ("": this court)
	Cursor string          // from the previous page's next
	Limit  int             // per page: 0 means DefaultPage, at most MaxPage
}

// CheckBackService answers the listing (the workflow room).
type CheckBackService interface {
	// CheckBackPage returns a page of the flagged transfers, in the order
	// of their origins and IDs, reading one page of the candidates.
	CheckBackPage(ctx context.Context, q CheckBackQuery) (CheckBacks, error)
}

// RegisterCheckBacks registers the check-back route.
func RegisterCheckBacks(s *Server, x CheckBackService) {
	s.Handle("GET /v1/check-backs", func(w http.ResponseWriter, r *http.Request) {
		if !CheckQuery(w, r, "scope", "cursor", "limit") {
			return
		}
		cursor, limit, ok := PageParams(w, r, "transfers")
		if !ok {
			return
		}
		scope := court.CourtCode(r.URL.Query().Get("scope"))
		if scope != "" {
			if err := scope.Validate(); err != nil {
				WriteError(w, Errorf(http.StatusBadRequest, CodeInvalid, "%v", err))
				return
			}
		}
		out, err := x.CheckBackPage(r.Context(), CheckBackQuery{Scope: scope, Cursor: cursor, Limit: limit})
		writePage(w, out, out.Next, err)
	})
}
