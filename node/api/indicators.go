package api

import (
	"context"
	"net/http"

	"courtmesh.dev/courtmesh/court"
)

// The indicators route: the standard indicators of cross-execution
// (docs/indicators.md) for one slice, with each numerator and
// denominator; the transfers a court's figures count are those GET
// /v1/jurisdiction?court=C lists (as receiver or origin).
//
//	GET /v1/indicators?court=&role=&mode=&month= -> the indicators (JSON)

// IndicatorsQuery names a slice: a court (as receiver, or as origin with
// role=origin), a mode, a month (yyyy-mm, of the receiver's filing), or
// none for every transfer.
type IndicatorsQuery struct {
	Court court.CourtCode
	Role  string
	Mode  string
	Month string
}

// IndicatorsService computes them (the health room, from the store's sums).
type IndicatorsService interface {
	Indicators(ctx context.Context, q IndicatorsQuery) (any, error)
}

// RegisterIndicators registers the indicators route.
func RegisterIndicators(s *Server, x IndicatorsService) {
	s.Handle("GET /v1/indicators", func(w http.ResponseWriter, r *http.Request) {
		if !CheckQuery(w, r, "court", "role", "mode", "month") {
			return
		}
		v := r.URL.Query()
		q := IndicatorsQuery{Court: court.CourtCode(v.Get("court")), Role: v.Get("role"), Mode: v.Get("mode"), Month: v.Get("month")}
		if q.Court != "" {
			if err := q.Court.Validate(); err != nil {
				WriteError(w, Errorf(http.StatusBadRequest, CodeInvalid, "%v", err))
				return
			}
		}
		out, err := x.Indicators(r.Context(), q)
		if err != nil {
			WriteError(w, err)
			return
		}
		WriteJSON(w, http.StatusOK, out)
	})
}
