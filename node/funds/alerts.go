package funds

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node/api"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/storage"
)

// FundsAlerts raises, for this court's transfers with money, sanctions
// or notices pending (read from the store's index of Tag):
//
//   - funds_held_at_origin: the origin holds money past the forward
//     deadline after its 销案 (critical);
//   - ledger_unbalanced: any other problem Check finds (warning);
//   - sanction_pending: a sanction not yet both re-issued by the receiver
//     and lifted by the origin (warning; critical once the re-issue is
//     late: the debtor is free of it);
//   - notice_unacknowledged: a notice to an assisting body not
//     acknowledged while its measure expires within the handover guard
//     (critical within 7 days).
//
// Messages are in Chinese and English and carry no personal data.
//
// A court node reads its own transfers; an operator node (scope mesh)
// every tagged one, at most MaxAlertScan of them per call (in the
// index's order), so that an evaluation stays bounded.
func (s *Service) FundsAlerts(ctx context.Context, asOf court.Date) ([]api.Alert, error) {
	self, err := s.self()
	if err != nil {
		return nil, err
	}
	q := storage.TransferQuery{Court: self.Code, Tag: Tag}
	if self.HasRole(crypto.RoleOperator) {
		q.Court = ""
	}
	out := []api.Alert{}
	scanned := 0
	err = s.d.Transfers.Each(ctx, q, func(t *cmproto.Transfer) error {
		if scanned++; scanned > MaxAlertScan {
			return errScanned
		}
		out = append(out, Alerts(t, asOf, s.d.ForwardDays, s.d.GuardDays)...)
		return nil
	})
	if errors.Is(err, errScanned) {
		s.d.Log.Warn("funds alerts: more transfers with money, sanctions or notices pending than one evaluation reads; the oldest are not evaluated", "limit", MaxAlertScan)
		err = nil
	}
	return out, err
}

// Tag marks, in the store's transfer index, the transfers with money,
// sanctions or notices still to settle (Tags): FundsAlerts reads only
// those, not every transfer between handover and closure.
const Tag = "funds"

// Tags returns the store tags of t: Tag while anything of its ledger,
// sanctions or notices can still raise an alert (whatever the day:
// money held or a forward not answered, a ledger that does not
// balance, a sanction not both re-issued and lifted, a notice not
// acknowledged), none once everything is settled.
func Tags(t *cmproto.Transfer) []string {
	if t.Ledger != nil {
		l := t.Ledger
		if l.OriginHeldFen > 0 || !Check(t, court.Date{Year: 9999, Month: 12, Day: 31}, 0).Balanced {
			return []string{Tag}
		}
	}
	for _, x := range t.Sanctions {
		if !x.Done() {
			return []string{Tag}
		}
	}
	for _, n := range t.Notices {
		if n.Status != "acknowledged" && n.MeasureExpiry != "" {
			return []string{Tag}
		}
	}
	return nil
}

// MaxAlertScan bounds the transfers one FundsAlerts call reads.
const MaxAlertScan = 5000

var errScanned = errors.New("scan limit reached")

// Alerts are FundsAlerts' alerts about one transfer as of a day.
func Alerts(t *cmproto.Transfer, asOf court.Date, forwardDays, guardDays int) []api.Alert {
	var out []api.Alert
	rec := Check(t, asOf, forwardDays)
	if l := t.Ledger; l != nil && l.OriginHeldFen > 0 && rec.ForwardBy != "" {
		if by, err := court.ParseDate(rec.ForwardBy); err == nil && asOf.After(by) {
			out = append(out, api.Alert{Kind: "funds_held_at_origin", Severity: "critical", Court: string(t.Origin), Transfer: string(t.ID),
				Since: by.AddDate(0, 0, 1).Start().UTC(),
				Message: fmt.Sprintf("移送 %s：原执行法院 %s 销案后持有执行款 %s 元超过期限 %s，请转交受理法院或发放申请执行人 / transfer %s: the origin %s holds %s yuan past the forward deadline %s; forward it to the receiver or pay it out",
					t.ID, t.Origin, yuan(l.OriginHeldFen), by, t.ID, t.Origin, yuan(l.OriginHeldFen), by)})
		}
	}
	other := 0
	for _, p := range rec.Problems {
		if !containsHeld(p) {
			other++
		}
	}
	if other > 0 {
		out = append(out, api.Alert{Kind: "ledger_unbalanced", Severity: "warning", Court: string(t.Receiver), Transfer: string(t.ID),
			Message: fmt.Sprintf("移送 %s：执行款台账不平（%d 项），请核对（courtmesh funds reconcile %s） / transfer %s: the funds ledger does not balance (%d problems); reconcile it",
				t.ID, other, t.ID, t.ID, other)})
	}
	for _, x := range t.Sanctions {
		if x.Done() {
			continue
		}
		a := api.Alert{Kind: "sanction_pending", Severity: "warning", Transfer: string(t.ID)}
		if h := t.HandedOverAt; !h.IsZero() {
			a.Since = court.DateOf(h).Start().UTC()
		}
		by, _ := court.ParseDate(x.ReissueBy)
		switch {
		case x.ReissuedOn == "":
			a.Court = string(t.Receiver)
			if !by.IsZero() && asOf.After(by) {
				a.Severity = "critical"
			}
			a.Message = fmt.Sprintf("移送 %s：信用惩戒 %s（%s）待受理法院 %s 以新案号重新作出（期限 %s），原执行法院随后解除 / transfer %s: sanction %s (%s) must be re-issued by the receiver %s under its new case number by %s, then lifted by the origin",
				t.ID, x.ID, SanctionLabels[x.Kind], t.Receiver, x.ReissueBy, t.ID, x.ID, x.Kind, t.Receiver, x.ReissueBy)
		default:
			a.Court = string(t.Origin)
			a.Message = fmt.Sprintf("移送 %s：信用惩戒 %s（%s）已由受理法院重新作出，待原执行法院 %s 解除原案下的惩戒 / transfer %s: sanction %s (%s) was re-issued by the receiver; the origin %s must lift its own",
				t.ID, x.ID, SanctionLabels[x.Kind], t.Origin, t.ID, x.ID, x.Kind, t.Origin)
		}
		out = append(out, a)
	}
	for _, n := range t.Notices {
		if n.Status == "acknowledged" || n.MeasureExpiry == "" {
			continue
		}
		e, err := court.ParseDate(n.MeasureExpiry)
		if err != nil || asOf.DaysUntil(e) > guardDays {
			continue
		}
		sev := "warning"
		if asOf.DaysUntil(e) <= 7 {
			sev = "critical"
		}
		out = append(out, api.Alert{Kind: "notice_unacknowledged", Severity: sev, Court: string(t.Receiver), Transfer: string(t.ID),
			Since: e.AddDate(0, 0, -guardDays).Start().UTC(),
			Message: fmt.Sprintf("移送 %s：措施 %s 的协助执行通知书（%s）尚未回执，措施于 %s 到期 / transfer %s: the notice to the %s for measure %s is not acknowledged; the measure expires %s",
				t.ID, n.Measure, BodyLabels[n.BodyKind], n.MeasureExpiry, t.ID, n.BodyKind, n.Measure, n.MeasureExpiry)})
	}
	return out
}

func containsHeld(p string) bool { return strings.Contains(p, "past the forward deadline") }
