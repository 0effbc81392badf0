package node

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/config"
	"courtmesh.dev/courtmesh/node/dashboard"
)

// Dashboard computes the supervision dashboard: on a node with the
// operator role, the whole mesh; elsewhere, what concerns this court. It
// reads the transfer store (every node holds every transfer record), the
// heartbeats (Mesh) and the alerts (AllAlerts). Metadata only.
func (n *Node) Dashboard(ctx context.Context) (dashboard.Dashboard, error) {
	self, err := n.self()
	if err != nil {
		return dashboard.Dashboard{}, fmt.Errorf("dashboard: this node is not certified: %w", err)
	}
	ts, err := n.xfer.List("")
	if err != nil {
		return dashboard.Dashboard{}, fmt.Errorf("dashboard: list transfers: %w", err)
	}
	now := n.now()
	t := n.trust.Trust()
	return dashboard.Compute(dashboard.Input{
		Now: now, Self: self.Code, SelfName: self.Name, Operator: self.HasRole(crypto.RoleOperator),
		GuardDays: n.cfg.HandoverGuardDays, Transfers: ts, Mesh: n.Mesh(), Alerts: n.AllAlerts(ctx),
		Name: func(c court.CourtCode) string {
			if cert, err := t.Court(c, now); err == nil {
				return cert.Name
			}
			name, _ := court.KnownCourtName(c)
			return name
		},
	}), nil
}

// AllAlerts is every alert this node raises: the node-level ones (Alerts:
// silent, revoked and audit-inconsistent nodes, the trust bundle near
// expiry, overdue acceptances) and the measures of transferred cases in
// this court's store that expire within the handover guard
// (measureAlerts). Sorted critical first.
func (n *Node) AllAlerts(ctx context.Context) []api.Alert {
	out := append([]api.Alert{}, n.Alerts()...)
	ms, err := n.measureAlerts(ctx)
	if err != nil {
		n.log.Warn("alerts: could not read the measures of transferred cases", "reason", err)
	}
	out = append(out, ms...)
	dashboard.SortAlerts(out)
	return out
}

// measureAlerts raises one alert per active measure of a transferred case
// held in this court's store (as origin or receiver, from the handover on)
// that expires within handover_guard_days: critical within 7 days or once
// past, a warning before. Since is the day the measure entered that
// window, so that the alert keeps one identity while it lasts.
func (n *Node) measureAlerts(ctx context.Context) ([]api.Alert, error) {
	guard := n.cfg.HandoverGuardDays
	today := court.DateOf(n.now())
	res, err := n.assets.MeasureAlerts(ctx, today, guard)
	if err != nil {
		return nil, err
	}
	self, err := n.self()
	if err != nil {
		return nil, err
	}
	out := make([]api.Alert, 0, len(res.Measures))
	for _, m := range res.Measures {
		sev := "warning"
		if m.DaysLeft <= 7 {
			sev = "critical"
		}
		a := api.Alert{Kind: "measure_expiring", Severity: sev, Court: string(self.Code), Transfer: m.Transfer,
			Message: fmt.Sprintf("移送 %s：案件 %s 的%s措施 %s（%s）于 %s 到期，请及时续行 / transfer %s: %s measure %s (%s asset) of case %s expires %s; renew it (续行) in time",
				m.Transfer, m.Case, m.KindLabel, m.Measure, m.AssetClassLabel, m.Expiry, m.Transfer, m.Kind, m.Measure, m.AssetClass, m.Case, m.Expiry)}
		if e, err := court.ParseDate(m.Expiry); err == nil {
			a.Since = e.AddDate(0, 0, -guard).Start().UTC()
		}
		out = append(out, a)
	}
	return out, nil
}

// registerDashboardAPI adds GET /dashboard (HTML) and GET /v1/dashboard
// (JSON). Browsers reach the page through /dashboard?token=..., which the
// API server turns into a session cookie (see api.Server).
func (n *Node) registerDashboardAPI() {
	n.api.Handle("GET /dashboard", dashboard.NewHandler(n.Dashboard, n.log).ServeHTTP)
	n.api.Handle("GET /v1/dashboard", func(w http.ResponseWriter, r *http.Request) {
		d, err := n.Dashboard(r.Context())
		if err != nil {
			api.WriteError(w, api.Errorf(http.StatusServiceUnavailable, api.CodeUnavailable, "%v; try again shortly", err))
			return
		}
		api.WriteJSON(w, http.StatusOK, d)
	})
}

// serveAlerts posts new alerts to the configured webhook (webhook_url),
// evaluating them every sync_interval, until ctx ends. Without a webhook
// it returns at once.
func (n *Node) serveAlerts(ctx context.Context) error {
	if n.cfg.WebhookURL == "" {
		return nil
	}
	self, err := n.self()
	if err != nil {
		return err
	}
	wh, err := dashboard.NewWebhook(n.cfg.WebhookURL, dashboard.WebhookOptions{Court: string(self.Code), Logger: n.log.With("service", "webhook"), Now: n.now})
	if err != nil {
		return fmt.Errorf("%w: %v", config.ErrConfig, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		wh.Serve(ctx)
	}()
	defer func() { <-done }()
	every := n.cfg.SyncInterval.Duration
	if every <= 0 {
		every = 30 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		wh.Notify(n.AllAlerts(ctx))
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
