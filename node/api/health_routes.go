package api

import (
	"context"
	"fmt"
	"net/http"

	"courtmesh.dev/courtmesh/court"
)

// The health routes: the mesh as heartbeats show it, the alerts, the
// supervision dashboard (JSON and page) and the Prometheus metrics.
//
//	GET /v1/mesh       -> []CourtHealth
//	GET /v1/alerts     -> []Alert (node-level alerts)
//	GET /v1/dashboard  -> the dashboard model (dashboard.Dashboard); 503 when it cannot be computed
//	GET /dashboard     -> the dashboard page (HTML); ?token= logs a browser in (see ServeHTTP)
//	GET /v1/metrics    -> the Prometheus exposition

// HealthService is what the health routes consume; node/health
// implements it. D is the dashboard model's type (dashboard.Dashboard:
// node/dashboard imports this package, so this one cannot name it). Its
// methods are safe for concurrent use. Dashboard returns an error when
// the model cannot be computed (this node not certified, the store
// unreadable); the route answers 503.
type HealthService[D any] interface {
	// Mesh is every node this node follows, with its problems.
	Mesh() []CourtHealth
	// Alerts are the node-level alerts (GET /v1/alerts).
	Alerts(ctx context.Context) []Alert
	// Dashboard computes the dashboard model.
	Dashboard(ctx context.Context) (D, error)
}

// RegisterHealth adds the health routes to s: h answers the mesh, alerts
// and dashboard JSON, page serves GET /dashboard, metrics GET
// /v1/metrics.
func RegisterHealth[D any](s *Server, h HealthService[D], page, metrics http.Handler) {
	s.Handle("GET /v1/mesh", func(w http.ResponseWriter, r *http.Request) { WriteJSON(w, http.StatusOK, h.Mesh()) })
	s.Handle("GET /v1/alerts", func(w http.ResponseWriter, r *http.Request) { WriteJSON(w, http.StatusOK, h.Alerts(r.Context())) })
	s.Handle("GET /dashboard", page.ServeHTTP)
	s.Handle("GET /v1/dashboard", func(w http.ResponseWriter, r *http.Request) {
		ctx, err := ParseTrendsOf(r)
		if err != nil {
			WriteError(w, Errorf(http.StatusBadRequest, CodeInvalid, "%v", err))
			return
		}
		d, err := h.Dashboard(ctx)
		if err != nil {
			WriteError(w, Errorf(http.StatusServiceUnavailable, CodeUnavailable, "%v; try again shortly", err))
			return
		}
		WriteJSON(w, http.StatusOK, d)
	})
	s.Handle("GET /v1/metrics", metrics.ServeHTTP)
}

type trendsOfKey struct{}

// WithTrendsOf returns ctx asking, of an operator's dashboard, the trends
// of superior (the page's and the API's ?superior=).
func WithTrendsOf(ctx context.Context, superior court.CourtCode) context.Context {
	return context.WithValue(ctx, trendsOfKey{}, superior)
}

// TrendsOf is the superior ctx asks the trends of ("" if none).
func TrendsOf(ctx context.Context) court.CourtCode {
	c, _ := ctx.Value(trendsOfKey{}).(court.CourtCode)
	return c
}

// ParseTrendsOf reads ?superior= of a dashboard request into ctx: a court
// code, or nothing.
func ParseTrendsOf(r *http.Request) (context.Context, error) {
	q := r.URL.Query().Get("superior")
	if q == "" {
		return r.Context(), nil
	}
	c, err := court.ParseCourtCode(q)
	if err != nil {
		return nil, fmt.Errorf("superior=%q: %w", q, err)
	}
	return WithTrendsOf(r.Context(), c), nil
}
