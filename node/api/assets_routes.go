package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/protocol"
)

// AssetService is what the asset routes consume (node/assets implements
// it). Errors are of court's kinds.
type AssetService interface {
	// UpdateAssets records a change to a transferred case's assets or
	// measures and sends it to the other court.
	UpdateAssets(ctx context.Context, id court.TransferID, change AssetChange) (*protocol.Transfer, error)
	// TransferAssets is the case's assets and measures as this court
	// holds them, masked, days counted from asOf.
	TransferAssets(id court.TransferID, asOf court.Date) (TransferAssets, error)
	// MeasureAlerts lists measures of transferred cases expiring within
	// days of asOf.
	MeasureAlerts(ctx context.Context, asOf court.Date, within int) (MeasureAlerts, error)
	// GuardDays is the handover guard period, the default window.
	GuardDays() int
}

// RegisterAssets adds the routes of asset updates and measure alerts;
// now is the clock ("today" by default).
func RegisterAssets(s *Server, a AssetService, now func() time.Time) {
	today := func() court.Date { return court.DateOf(now()) }
	s.Handle("POST /v1/transfers/{id}/assets", func(w http.ResponseWriter, r *http.Request) {
		tid, ok := TransferIDParam(w, r)
		if !ok {
			return
		}
		var req AssetChange
		if !DecodeBody(w, r, &req) {
			return
		}
		t, err := a.UpdateAssets(r.Context(), tid, req)
		if err != nil {
			WriteError(w, err)
			return
		}
		WriteJSON(w, http.StatusOK, NewTransfer(t, now()))
	})
	assets := func(measuresOnly bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			tid, ok := TransferIDParam(w, r)
			if !ok || !CheckQuery(w, r, "as_of") {
				return
			}
			asOf, ok := DateParam(w, r, "as_of", today())
			if !ok {
				return
			}
			res, err := a.TransferAssets(tid, asOf)
			if err != nil {
				WriteError(w, err)
				return
			}
			if measuresOnly {
				res.Assets = []AssetInfo{}
			}
			WriteJSON(w, http.StatusOK, res)
		}
	}
	s.Handle("GET /v1/transfers/{id}/assets", assets(false))
	s.Handle("GET /v1/transfers/{id}/measures", assets(true))
	s.Handle("GET /v1/alerts/measures", func(w http.ResponseWriter, r *http.Request) {
		if !CheckQuery(w, r, "within", "as_of") {
			return
		}
		asOf, ok := DateParam(w, r, "as_of", today())
		if !ok {
			return
		}
		within := a.GuardDays()
		if s := r.URL.Query().Get("within"); s != "" {
			v, err := strconv.Atoi(s)
			if err != nil {
				WriteError(w, Errorf(http.StatusBadRequest, CodeInvalid, "query parameter within=%q: want a whole number of days (0 to %d)", s, MaxWithin))
				return
			}
			within = v
		}
		res, err := a.MeasureAlerts(r.Context(), asOf, within)
		if err != nil {
			WriteError(w, err)
			return
		}
		WriteJSON(w, http.StatusOK, res)
	})
}
