package workflow

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/dashboard"
	cmproto "courtmesh.dev/courtmesh/protocol"
)

// CheckBacks lists the transfers whose origin is under scope (this court
// by default; the scope's own cases are not its to check back on) that
// this node's rule flags for a check back on the origin (倒查) and that
// no superior has reviewed for it yet. It reads the candidates the
// statistics index (dashboard.CheckBackPrefix), never every transfer.
func (w *Service) CheckBacks(ctx context.Context, scope court.CourtCode) (api.CheckBacks, error) {
	t := w.trust.Trust()
	if scope == "" {
		scope = w.court
	}
	self, err := w.self()
	if err != nil {
		return api.CheckBacks{}, err
	}
	if !self.HasRole(crypto.RoleOperator) && !under(t, scope, w.court) {
		return api.CheckBacks{}, court.Errorf(court.ErrPermission, "%s is not under %s: a court checks back on the courts under it only (operators see every one)", scope, w.court)
	}
	out := api.CheckBacks{Scope: string(scope), Rule: w.checkBack, Items: []api.CheckBackItem{}}
	sums, err := w.db.TransferStatsPrefix("", dashboard.CheckBackPrefix(""))
	if err != nil {
		return out, err
	}
	byOrigin := dashboard.CheckBackCandidates(sums)
	origins := make([]court.CourtCode, 0, len(byOrigin))
	for o := range byOrigin {
		if o != scope && under(t, o, scope) {
			origins = append(origins, o)
		}
	}
	slices.Sort(origins)
	for _, o := range origins {
		for _, id := range byOrigin[o] {
			if err := ctx.Err(); err != nil {
				return out, err
			}
			tr, err := w.records.Load(id)
			if err != nil {
				return out, err
			}
			if tr == nil {
				continue
			}
			cb := cmproto.CheckBackOf(tr, w.checkBack)
			if len(cb.Reasons) == 0 || cb.Reviewed != nil {
				continue
			}
			out.Items = append(out.Items, api.CheckBackItem{Transfer: tr.ID, CaseNumber: tr.CaseNumber, NewCaseNumber: tr.NewCaseNumber,
				Origin: tr.Origin, Receiver: tr.Receiver, State: string(tr.State), CheckBack: cb, OriginCheck: tr.OriginCheck})
		}
	}
	return out, nil
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
