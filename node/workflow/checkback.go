package workflow

import (
	"context"
	"fmt"
	"strings"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/dashboard"
	cmproto "courtmesh.dev/courtmesh/protocol"
)

// CheckBacks lists every transfer whose origin is under scope (this
// court by default) that CheckBackPage finds, following its pages (for
// the dashboard's count and the alerts).
func (w *Service) CheckBacks(ctx context.Context, scope court.CourtCode) (api.CheckBacks, error) {
	q := api.CheckBackQuery{Scope: scope, Limit: api.MaxPage}
	var out api.CheckBacks
	for {
		page, err := w.CheckBackPage(ctx, q)
		if err != nil {
			return out, err
		}
		items := append(out.Items, page.Items...)
		out = page
		out.Items = items
		if page.Next == "" {
			return out, nil
		}
		q.Cursor = page.Next
	}
}

// checkBackScan bounds the candidates a page of check-backs examines per
// item asked for (the candidates of origins outside the scope, or
// reviewed, are skipped): a page may hold fewer items, with a cursor.
const checkBackScan = 20

// CheckBackPage returns a page of the transfers whose origin is under
// q.Scope (this court by default; the scope's own cases are not its to
// check back on) that this node's rule flags for a check back on the
// origin (倒查) and that no superior has reviewed for it yet, by origin
// and then ID. It reads a page of the candidates from the statistics
// index (dashboard.CheckBackPrefix) from q.Cursor on, never every
// transfer; a cursor that does not continue the listing is invalid.
func (w *Service) CheckBackPage(ctx context.Context, q api.CheckBackQuery) (api.CheckBacks, error) {
	t := w.trust.Trust()
	scope := q.Scope
	if scope == "" {
		scope = w.court
	}
	limit := q.Limit
	switch {
	case limit == 0:
		limit = api.DefaultPage
	case limit < 0 || limit > api.MaxPage:
		return api.CheckBacks{}, court.Errorf(court.ErrInvalid, "page size %d: want 1 to %d", limit, api.MaxPage)
	}
	self, err := w.self()
	if err != nil {
		return api.CheckBacks{}, err
	}
	if !self.HasRole(crypto.RoleOperator) && !under(t, scope, w.court) {
		return api.CheckBacks{}, court.Errorf(court.ErrPermission, "%s is not under %s: a court checks back on the courts under it only (operators see every one)", scope, w.court)
	}
	out := api.CheckBacks{Scope: string(scope), Rule: w.checkBack, Items: []api.CheckBackItem{}}
	prefix := dashboard.CheckBackPrefix("")
	next, err := w.db.ScanTransferStats(ctx, "", prefix, q.Cursor, limit*checkBackScan+1000, func(name string, v int64) (bool, error) {
		o, id, ok := strings.Cut(strings.TrimPrefix(name, prefix), "/")
		origin := court.CourtCode(o)
		if !ok || v <= 0 || origin == scope || !under(t, origin, scope) {
			return false, nil
		}
		tr, err := w.records.Load(court.TransferID(id))
		if err != nil || tr == nil {
			return false, err
		}
		cb := cmproto.CheckBackOf(tr, w.checkBack)
		if len(cb.Reasons) == 0 || cb.Reviewed != nil {
			return false, nil
		}
		out.Items = append(out.Items, api.CheckBackItem{Transfer: tr.ID, CaseNumber: tr.CaseNumber, NewCaseNumber: tr.NewCaseNumber,
			Origin: tr.Origin, Receiver: tr.Receiver, State: string(tr.State), CheckBack: cb, OriginCheck: tr.OriginCheck})
		return len(out.Items) == limit, nil
	})
	out.Next = next
	return out, err
}

// CheckBackAlerts raises, at this court, an alert for each transfer of a
// court under it flagged for a check back on the origin and not yet
// reviewed (the health room's MoreAlerts).
func (w *Service) CheckBackAlerts(ctx context.Context, _ court.Date) ([]api.Alert, error) {
	cbs, err := w.CheckBacks(ctx, w.court)
	if err != nil {
		return nil, err
	}
	var out []api.Alert
	for _, it := range cbs.Items {
		out = append(out, api.Alert{Kind: "check_back", Severity: "warning", Court: string(w.court), Transfer: string(it.Transfer),
			Message: fmt.Sprintf("移送 %s（原执行法院 %s）符合倒查条件（%s），请审查 / transfer %s: flagged for a check back on the origin %s (%s); review it (a review with check_back)",
				it.Transfer, it.Origin, strings.Join(it.CheckBack.Reasons, ", "), it.Transfer, it.Origin, strings.Join(it.CheckBack.Reasons, ", "))})
	}
	return out, nil
}

var _ api.CheckBackService = (*Service)(nil)
