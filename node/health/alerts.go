package health

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/config"
	"courtmesh.dev/courtmesh/node/dashboard"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/storage"
)

// Alerts lists the node-level problems operators and the court must act
// on: silent, revoked and audit-inconsistent nodes, nodes whose clocks
// are off (clock_skew, one per court), this node's own clock if its
// peers disagree with it, this node's data disk below its reserve
// (disk_full), a trust bundle that
// expires within seven days, and acceptances overdue (at most
// MaxOverdueAlerts of them, then one alert counting the rest). Messages
// are in Chinese and English and carry no personal data.
func (s *Service) Alerts(ctx context.Context) []api.Alert {
	out, _ := s.alerts(ctx)
	return out
}

// alerts is Alerts, and for the alerts about a transfer the courts that
// transfer concerns (origin, decider, receiver), by transfer ID.
func (s *Service) alerts(ctx context.Context) ([]api.Alert, map[string][]court.CourtCode) {
	now := s.now()
	out := []api.Alert{}
	for _, ch := range s.Mesh() {
		for _, f := range ch.Flags {
			switch f {
			case "silent":
				msg := fmt.Sprintf("%s 节点无心跳，请联系该院信息技术部门 / node of %s is silent: no heartbeat", ch.Court, ch.Court)
				if !ch.LastHeartbeat.IsZero() {
					msg = fmt.Sprintf("%s 节点自 %s 起无心跳，请联系该院信息技术部门 / node of %s silent since %s", ch.Court, ch.LastHeartbeat.Format(time.RFC3339), ch.Court, ch.LastHeartbeat.Format(time.RFC3339))
				}
				out = append(out, api.Alert{Kind: "node_silent", Severity: "warning", Court: ch.Court, Message: msg, Since: ch.LastHeartbeat})
			case "revoked":
				out = append(out, api.Alert{Kind: "node_revoked", Severity: "critical", Court: ch.Court,
					Message: fmt.Sprintf("%s 节点证书已吊销 / certificate of the node of %s is revoked", ch.Court, ch.Court)})
			case "clock_skew":
				p, _ := peer.Decode(ch.PeerID)
				offset, since := s.skewProblem(p)
				// A node ahead beyond the records' tolerance has its records
				// refused by everyone; so does an hour either way, soon.
				sev := "warning"
				if offset > cmproto.MaxClockSkew || offset < -time.Hour {
					sev = "critical"
				}
				out = append(out, api.Alert{Kind: "clock_skew", Severity: sev, Court: ch.Court, Since: since.UTC(),
					Message: fmt.Sprintf("%s 节点时钟%s（按其心跳），请该院校准系统时间（NTP/chrony） / clock of the node of %s is %s of this node's (by its heartbeats): its records dated ahead are refused; have that court fix its time sync (NTP/chrony)",
						ch.Court, fmtOffsetZh(offset), ch.Court, fmtOffset(offset))})
			case "audit_forked", "audit_rewound":
				p, _ := peer.Decode(ch.PeerID)
				_, detail, since := s.auditProblem(p)
				out = append(out, api.Alert{Kind: "audit_inconsistent", Severity: "critical", Court: ch.Court, Since: since,
					Message: fmt.Sprintf("%s 审计日志不一致（%s），请核查该节点 / %s; run `courtmesh audit verify` on that node", ch.Court, f, detail)})
			}
		}
	}
	if c := s.Clock(); c.State == "ahead" || c.State == "behind" {
		if self, err := s.self(); err == nil {
			off := time.Duration(c.OffsetMs) * time.Millisecond
			out = append(out, api.Alert{Kind: "clock_skew", Severity: "critical", Court: string(self.Code),
				Message: fmt.Sprintf("本节点时钟%s（%d 个节点心跳的中位数），请校准系统时间（NTP/chrony） / this node's clock is %s of its %d peers' (median of their heartbeats): its records are refused; fix the time sync (chronyc tracking, timedatectl)",
					fmtOffsetZh(off), c.Peers, fmtOffset(off), c.Peers)})
		}
	}
	if sp := s.d.Store.Space(); sp.Low {
		code := ""
		if self, err := s.self(); err == nil {
			code = string(self.Code)
		}
		out = append(out, api.Alert{Kind: "disk_full", Severity: "critical", Court: code, Since: sp.LastRefused.UTC(),
			Message: fmt.Sprintf("本节点数据盘空间不足（可用 %s，保留 %s），导入和调取暂停（已拒绝 %d 次），请清理磁盘或扩容；节点照常服务 / this node's data disk is low: %s free, %s kept in reserve (disk_reserve); imports and fetches are refused (%d so far) until space is freed; the node keeps serving",
				storage.HumanBytes(sp.Free), storage.HumanBytes(sp.Reserve), sp.Refused, storage.HumanBytes(sp.Free), storage.HumanBytes(sp.Reserve), sp.Refused)})
	}
	b := s.d.Trust.Trust().Bundle()
	switch st := b.Status(now); st {
	case crypto.BundleExpiring, crypto.BundleGraced, crypto.BundleDead:
		sev := "warning"
		if st != crypto.BundleExpiring {
			sev = "critical"
		}
		out = append(out, api.Alert{Kind: "bundle_expiring", Severity: sev, Since: b.ExpiresAt.Add(-crypto.BundleWarnBefore).UTC(),
			Message: fmt.Sprintf("信任包 %d 于 %s 到期，请向国家运维申请新信任包 / trust bundle %d expires %s: ask the national operator for a new one",
				b.Sequence, b.ExpiresAt.UTC().Format(time.DateOnly), b.Sequence, b.ExpiresAt.UTC().Format(time.RFC3339))})
	}
	out = append(out, s.directiveAlerts(now)...)
	overdue, parties := s.overdueAlerts(ctx, now)
	return append(out, overdue...), parties
}

// MaxOverdueAlerts caps the acceptance_overdue alerts raised one by one:
// overdue transfers are few (a decided transfer is overdue only until its
// receiver accepts: 18 of 3,000 in the scale fixture), but a stalled mesh
// must not make every alert tick and GET /v1/alerts grow without bound.
// Past the cap one more alert counts the rest, the longest overdue being
// listed; GET /v1/transfers?overdue=1 pages them all.
const MaxOverdueAlerts = 50

// overduePage is the page size of the overdue listing.
const overduePage = 250

// overdueAlerts raises one alert per transfer whose court that must act
// let the deadline the transfer waits on pass (overdueAlert), from the store's deadline index (at most
// MaxOverdueAlerts records read), newest offer first as before.
func (s *Service) overdueAlerts(ctx context.Context, now time.Time) ([]api.Alert, map[string][]court.CourtCode) {
	rs, more, err := s.overdueRecords(ctx, now, MaxOverdueAlerts)
	if err != nil {
		s.log.Warn("alerts: could not list overdue transfers", "reason", err)
		return nil, nil
	}
	out := make([]api.Alert, 0, len(rs)+1)
	parties := make(map[string][]court.CourtCode, len(rs))
	for _, r := range rs {
		parties[r.ID] = []court.CourtCode{r.Origin, r.Decider, r.Receiver}
		out = append(out, overdueAlert(r))
	}
	if more {
		total, err := s.d.Store.CountOverdue(ctx, court.DateOf(now))
		if err != nil {
			s.log.Warn("alerts: could not count overdue transfers", "reason", err)
		}
		rest := max(total-len(rs), 1)
		out = append(out, api.Alert{Kind: "acceptance_overdue", Severity: "warning",
			Message: fmt.Sprintf("另有 %d 件移送逾期，请用 GET /v1/transfers?overdue=1 查看 / %d more transfers are overdue; list them with GET /v1/transfers?overdue=1", rest, rest)})
	}
	return out, parties
}

// overdueAlert is the alert of one overdue transfer, addressed to the
// court that must act (its superior, the decider, is among the parties).
func overdueAlert(r storage.DueEntry) api.Alert {
	by := r.Deadline.String()
	a := api.Alert{Severity: "warning", Transfer: r.ID, Since: r.Deadline.AddDate(0, 0, 1).Start().UTC()}
	switch cmproto.State(r.State) {
	case cmproto.StateOffered:
		a.Kind, a.Court = "decision_overdue", string(r.Decider)
		a.Message = fmt.Sprintf("%s 未在 %s 前答复申请执行人变更执行法院的申请（移送 %s） / %s has not answered the applicant's request of transfer %s, due %s", r.Decider, by, r.ID, r.Decider, r.ID, by)
	case cmproto.StateDecided:
		a.Kind, a.Court = "acceptance_overdue", string(r.Receiver)
		a.Message = fmt.Sprintf("%s 未在 %s 前接受移送 %s / %s has not accepted transfer %s, due %s", r.Receiver, by, r.ID, r.Receiver, r.ID, by)
	case cmproto.StateAccepted:
		a.Kind, a.Court = "handover_overdue", string(r.Origin)
		a.Message = fmt.Sprintf("%s 未在 %s 前移交移送 %s 的卷宗 / %s has not handed over the dossier of transfer %s, due %s", r.Origin, by, r.ID, r.Origin, r.ID, by)
	case cmproto.StateHandedOver:
		a.Kind, a.Court = "filing_overdue", string(r.Receiver)
		a.Message = fmt.Sprintf("%s 未在 %s 前确认接收并立案（移送 %s） / %s has not confirmed receipt and filed transfer %s, due %s", r.Receiver, by, r.ID, r.Receiver, r.ID, by)
	case cmproto.StateReturned:
		a.Kind, a.Court = "supplement_overdue", string(r.Origin)
		a.Message = fmt.Sprintf("%s 未在 %s 前补正受理法院退回的移交材料（移送 %s） / %s has not supplemented the handover of transfer %s that the receiver returned as incomplete, due %s", r.Origin, by, r.ID, r.Origin, r.ID, by)
	case cmproto.StateSupervised:
		a.Kind, a.Court = "supervision_overdue", string(r.Origin)
		a.Message = fmt.Sprintf("%s 未在 %s 前按督促执行要求执行并报告（移送 %s），上级法院可指令或提级执行 / %s has not enforced and reported by %s under the superior's supervision (transfer %s); the superior may move the case", r.Origin, by, r.ID, r.Origin, by, r.ID)
	case cmproto.StateRefused:
		a.Kind, a.Court = "refusal_ruling_overdue", string(r.Decider)
		a.Message = fmt.Sprintf("%s 未在 %s 前就受理法院拒收作出决定（移送 %s） / %s has not ruled on the receiver's refusal of transfer %s, due %s", r.Decider, by, r.ID, r.Decider, r.ID, by)
	case cmproto.StateAssistRequested, cmproto.StateAssisting:
		a.Kind, a.Court = "assistance_overdue", string(r.Receiver)
		a.Message = fmt.Sprintf("%s 未在 %s 前答复或完成协同执行（%s） / %s has not answered or completed the assistance asked in %s, due %s", r.Receiver, by, r.ID, r.Receiver, r.ID, by)
	default: // received: the property investigation or the conclusion
		a.Kind, a.Court = "enforcement_overdue", string(r.Receiver)
		a.Message = fmt.Sprintf("%s 未在 %s 前完成财产调查或结案（移送 %s），申请执行人可再次申请 / %s let the property investigation or conclusion deadline of transfer %s pass (%s); the applicant may ask again", r.Receiver, by, r.ID, r.Receiver, r.ID, by)
	}
	return a
}

// overdueRecords lists, for the alerts, the transfers whose receiver let
// the acceptance deadline pass: at most limit of them from the deadline
// index's entries, which hold what an alert needs (receiver, deadline,
// offer time), so that no record is read; newest offer first.
func (s *Service) overdueRecords(ctx context.Context, now time.Time, limit int) ([]storage.DueEntry, bool, error) {
	today := court.DateOf(now)
	es, more, err := s.d.Store.OverdueEntries(ctx, today, limit)
	if err != nil {
		return nil, false, err
	}
	// The index's rule, checked on the entry itself: the deadline the
	// transfer waits on passed (protocol.Transfer.Overdue).
	es = slices.DeleteFunc(es, func(e storage.DueEntry) bool {
		return e.Deadline.IsZero() || !today.After(e.Deadline)
	})
	slices.SortStableFunc(es, func(a, b storage.DueEntry) int {
		return cmp.Or(b.Offered.Compare(a.Offered), strings.Compare(a.ID, b.ID))
	})
	return es, more, nil
}

// AllAlerts is every alert this node raises: the node-level ones (Alerts:
// silent, revoked and audit-inconsistent nodes, the trust bundle near
// expiry, overdue acceptances) and the measures of transferred cases in
// this court's store that expire within the handover guard
// (measureAlerts). Sorted critical first.
func (s *Service) AllAlerts(ctx context.Context) []api.Alert {
	out, _ := s.allAlerts(ctx)
	return out
}

// allAlerts is AllAlerts, with the courts concerned by the transfers of
// the overdue alerts (see alerts).
func (s *Service) allAlerts(ctx context.Context) ([]api.Alert, map[string][]court.CourtCode) {
	node, parties := s.alerts(ctx)
	out := append([]api.Alert{}, node...)
	ms, err := s.measureAlerts(ctx)
	if err != nil {
		s.log.Warn("alerts: could not read the measures of transferred cases", "reason", err)
	}
	out = append(out, ms...)
	if s.d.MoreAlerts != nil {
		more, err := s.d.MoreAlerts(ctx, court.DateOf(s.now()))
		if err != nil {
			s.log.Warn("alerts: could not read the funds, sanctions and notices of transfers", "reason", err)
		}
		out = append(out, more...)
	}
	if s.d.Complaints != nil {
		cs, err := s.d.Complaints.OverdueComplaints(ctx, MaxOverdueAlerts)
		if err != nil {
			s.log.Warn("alerts: could not list overdue complaints", "reason", err)
		}
		for _, c := range cs {
			out = append(out, api.Alert{Kind: "complaint_overdue", Severity: "warning", Court: string(c.Supervisor),
				Since: complaintSince(c.AnswerBy),
				Message: fmt.Sprintf("当事人投诉 %s（案件 %s，被投诉法院 %s）应于 %s 前答复，已逾期 / party complaint %s (case %s, about %s) was due for an answer by %s",
					c.Ref, c.Case, c.Complained, c.AnswerBy, c.Ref, c.Case, c.Complained, c.AnswerBy)})
		}
	}
	dashboard.SortAlerts(out)
	return out, parties
}

func complaintSince(answerBy string) time.Time {
	d, err := court.ParseDate(answerBy)
	if err != nil {
		return time.Time{}
	}
	return d.AddDate(0, 0, 1).Start().UTC()
}

// measureAlerts raises one alert per active measure of a transferred case
// held in this court's store (as origin or receiver, from the handover on)
// that expires within handover_guard_days: critical within 7 days or once
// past, a warning before. Since is the day the measure entered that
// window, so that the alert keeps one identity while it lasts.
func (s *Service) measureAlerts(ctx context.Context) ([]api.Alert, error) {
	guard := s.d.GuardDays
	today := court.DateOf(s.now())
	res, err := s.d.Measure.MeasureAlerts(ctx, today, guard)
	if err != nil {
		return nil, err
	}
	self, err := s.self()
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

// serveAlerts posts new alerts to the configured webhook (webhook_url),
// evaluating them every AlertEvery, until ctx ends. Without a webhook it
// returns at once. The webhook's sender is owned here: serveAlerts
// returns after it stopped.
func (s *Service) serveAlerts(ctx context.Context) error {
	if s.d.WebhookURL == "" {
		return nil
	}
	self, err := s.self()
	if err != nil {
		return err
	}
	wh, err := dashboard.NewWebhook(s.d.WebhookURL, dashboard.WebhookOptions{Court: string(self.Code), Logger: s.log.With("service", "webhook"), Now: s.now})
	if err != nil {
		return fmt.Errorf("%w: %v", config.ErrConfig, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		wh.Serve(ctx)
	}()
	defer func() { <-done }()
	every := s.d.AlertEvery
	if every <= 0 {
		every = 30 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		wh.Notify(s.AllAlerts(ctx))
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
