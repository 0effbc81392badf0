package api

import (
	"context"
	"encoding/hex"
	"net/http"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/protocol"
)

// The review routes: spot checks (抽查) of a jurisdiction and reviews of
// transfers.
//
//	POST /v1/spot-checks                              SpotCheckRequest -> SpotCheck (the draw; nothing is signed yet)
//	POST /v1/transfers/{id}/reviews                   ReviewRequest -> Transfer (a signed review)
//	GET  /v1/transfers/{id}/reviews/{review}/verify   -> SpotCheckVerification (recomputes a spot check's draw here)

// SpotCheckRequest draws a sample of the transfers concerning a court
// under Scope offered in [From, To) (dates, China time; To excluded).
type SpotCheckRequest struct {
	Scope  court.CourtCode `json:"scope"` // "" is this court
	From   string          `json:"from"`  // YYYY-MM-DD
	To     string          `json:"to"`    // YYYY-MM-DD, excluded
	Sample int             `json:"sample"`
}

// SpotCheck is a draw: its ID, how it was drawn, and the transfers drawn.
type SpotCheck struct {
	ID     string             `json:"id"`
	Draw   protocol.Draw      `json:"draw"`
	Sample []court.TransferID `json:"sample"`
}

// ReviewRequest reviews a transfer; Draw is the spot check it was drawn
// in, if any (as POST /v1/spot-checks answered it).
type ReviewRequest struct {
	Finding string         `json:"finding"` // in_order, no_fault, negligence, interference, other
	Note    string         `json:"note,omitempty"`
	Draw    *protocol.Draw `json:"draw,omitempty"`
	// CheckBack marks a check back on the origin (倒查), by a superior
	// court of the origin: finding no_fault, negligence or interference.
	CheckBack bool `json:"check_back,omitempty"`
}

// SpotCheckVerification is what a node found recomputing a review's draw.
type SpotCheckVerification struct {
	Review     string             `json:"review"`
	SpotCheck  string             `json:"spot_check"`
	Population int                `json:"population"`
	Sample     []court.TransferID `json:"sample"`
	Verified   bool               `json:"verified"`
}

// ReviewService is the workflow room's reviews.
type ReviewService interface {
	SpotCheck(ctx context.Context, req SpotCheckRequest) (SpotCheck, error)
	Review(ctx context.Context, id court.TransferID, req ReviewRequest) (*protocol.Transfer, error)
	VerifySpotCheck(ctx context.Context, id court.TransferID, review string) (SpotCheckVerification, error)
}

// RegisterReviews registers the review routes.
func RegisterReviews(s *Server, x ReviewService, now func() time.Time) {
	s.Handle("POST /v1/spot-checks", func(w http.ResponseWriter, r *http.Request) {
		var req SpotCheckRequest
		if !DecodeBody(w, r, &req) {
			return
		}
		out, err := x.SpotCheck(r.Context(), req)
		if err != nil {
			WriteError(w, err)
			return
		}
		WriteJSON(w, http.StatusOK, out)
	})
	s.Handle("POST /v1/transfers/{id}/reviews", func(w http.ResponseWriter, r *http.Request) {
		id, ok := TransferIDParam(w, r)
		if !ok {
			return
		}
		var req ReviewRequest
		if !DecodeBody(w, r, &req) {
			return
		}
		t, err := x.Review(r.Context(), id, req)
		if err != nil {
			WriteError(w, err)
			return
		}
		WriteJSON(w, http.StatusOK, NewTransfer(t, now()))
	})
	s.Handle("GET /v1/transfers/{id}/reviews/{review}/verify", func(w http.ResponseWriter, r *http.Request) {
		if !CheckQuery(w, r) {
			return
		}
		id, ok := TransferIDParam(w, r)
		if !ok {
			return
		}
		rv := r.PathValue("review")
		if h, err := hex.DecodeString(rv); err != nil || len(h) != 32 {
			WriteError(w, Errorf(http.StatusBadRequest, CodeInvalid, "review %.20q: the review record's hash, 64 hex digits", rv))
			return
		}
		out, err := x.VerifySpotCheck(r.Context(), id, rv)
		if err != nil {
			WriteError(w, err)
			return
		}
		WriteJSON(w, http.StatusOK, out)
	})
}
