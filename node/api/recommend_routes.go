package api

import (
	"context"
	"net/http"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/advice"
)

// RecommendService is what the recommendation route consumes
// (node/workflow implements it). Errors are of court's kinds.
type RecommendService interface {
	// Recommend ranks the courts the caller's court may designate for
	// the transfer, with each candidate's factors and points.
	Recommend(ctx context.Context, id court.TransferID) (advice.Recommendation, error)
}

// RegisterRecommend adds GET /v1/transfers/{id}/recommendation.
func RegisterRecommend(s *Server, x RecommendService) {
	s.Handle("GET /v1/transfers/{id}/recommendation", func(w http.ResponseWriter, r *http.Request) {
		id, ok := TransferIDParam(w, r)
		if !ok {
			return
		}
		rec, err := x.Recommend(r.Context(), id)
		if err != nil {
			WriteError(w, err)
			return
		}
		WriteJSON(w, http.StatusOK, rec)
	})
}
