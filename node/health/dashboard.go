package health

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/dashboard"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/storage"
)

// Dashboard computes the supervision dashboard: on a node with the
// operator role, the whole mesh; elsewhere, what concerns this court. It
// reads the store's counters (states, deadlines) and sums (the
// statistics of dashboard.Contribution, kept at write time), the
// heartbeats (Mesh) and the alerts; no transfer. Metadata only. Its cost
// does not grow with the number of transfers held.
func (s *Service) Dashboard(ctx context.Context) (dashboard.Dashboard, error) {
	self, err := s.self()
	if err != nil {
		return dashboard.Dashboard{}, fmt.Errorf("dashboard: this node is not certified: %w", err)
	}
	now := s.now()
	in, err := s.dashboardTransfers(ctx, self.Code, self.HasRole(crypto.RoleOperator), now)
	if err != nil {
		return dashboard.Dashboard{}, fmt.Errorf("dashboard: list transfers: %w", err)
	}
	t := s.d.Trust.Trust()
	in.Now, in.Self, in.SelfName, in.GuardDays = now, self.Code, self.Name, s.d.GuardDays
	var parties map[string][]court.CourtCode
	in.Mesh = s.Mesh()
	in.Alerts, parties = s.allAlerts(ctx)
	in.Concerns = map[court.TransferID]bool{}
	for id, cs := range parties {
		if slices.Contains(cs, self.Code) {
			in.Concerns[court.TransferID(id)] = true
		}
	}
	in.Name = func(c court.CourtCode) string {
		if cert, err := t.Court(c, now); err == nil {
			return cert.Name
		}
		name, _ := court.KnownCourtName(c)
		return name
	}
	in.Supervision = s.supervision(ctx, self.Code)
	return dashboard.Compute(in), nil
}

// supervision reads what the dashboard shows of this court's
// jurisdiction: the rows of GET /v1/jurisdiction (counters only: one
// transfer of the page is read) with each court's indicators as receiver
// (one prefix of that court's sums; none for the provinces of the
// Supreme People's Court's view), the complaints it supervises and the
// check-backs flagged. A part that cannot be read is logged and left
// out: the rest of the dashboard stands.
func (s *Service) supervision(ctx context.Context, self court.CourtCode) *dashboard.Supervision {
	sv := &dashboard.Supervision{}
	if s.d.Jurisdiction != nil {
		j, err := s.d.Jurisdiction(ctx, api.JurisdictionQuery{Limit: 1})
		if err != nil {
			s.log.Warn("dashboard: the jurisdiction could not be read", "reason", err)
		}
		for _, r := range j.Rows {
			row := dashboard.JurisdictionRow{JurisdictionRow: r}
			if self != court.Supreme {
				c := court.CourtCode(r.Court)
				p, perr := dashboard.Slice{Role: "receiver", Court: c}.Prefix()
				if perr == nil {
					sums, err := s.d.Store.TransferStatsPrefix(c, p)
					if err != nil {
						s.log.Warn("dashboard: a court's indicators could not be read", "court", c, "reason", err)
					} else {
						x := dashboard.ComputeIndicators(sums, p)
						row.Indicators = &x
					}
				}
			}
			sv.Jurisdiction = append(sv.Jurisdiction, row)
		}
	}
	if s.d.ComplaintCounts != nil {
		cs, err := s.d.ComplaintCounts(ctx)
		if err != nil {
			s.log.Warn("dashboard: the complaints could not be counted", "reason", err)
		}
		sv.Complaints = cs
	}
	if s.d.CheckBacks != nil {
		cb, err := s.d.CheckBacks(ctx, "")
		if err != nil {
			s.log.Warn("dashboard: the check-backs could not be listed", "reason", err)
		}
		sv.CheckBacks = len(cb.Items)
	}
	return sv
}

// dashboardTransfers fills the transfer part of the dashboard's input for
// the scope (every transfer on an operator node, else those concerning
// self): the state and deadline counters and the statistics' sums.
func (s *Service) dashboardTransfers(ctx context.Context, self court.CourtCode, operator bool, now time.Time) (dashboard.Input, error) {
	in := dashboard.Input{Operator: operator, Counts: map[cmproto.State]int{}}
	scope := self
	if operator {
		scope = ""
	}
	var counts map[string]uint64
	var err error
	today := court.DateOf(now)
	if operator {
		counts, err = s.d.Store.TransferCounts()
		if err == nil {
			in.Overdue, err = s.d.Store.CountOverdue(ctx, today)
		}
	} else {
		counts, err = s.d.Store.CourtTransferCounts(self)
		if err == nil {
			in.Overdue, err = s.d.Store.CountCourtOverdue(ctx, self, today)
		}
	}
	if err != nil {
		return in, err
	}
	for st, c := range counts {
		in.Counts[cmproto.State(st)] = int(c)
	}
	// Only the sums the model shows: not the supervision's per-court
	// indicators, nor the months of history before the trends' window,
	// nor the trends of another superior than the one shown (an
	// operator's: the one asked for, else the busiest).
	in.Stats, err = s.d.Store.TransferStatsRanges(scope, ranges(dashboard.ModelSums(now))...)
	if err != nil {
		return in, err
	}
	in.TrendsOf = self
	if operator {
		in.TrendsOf = cmp.Or(api.TrendsOf(ctx), dashboard.Busiest(in.Stats), self)
	}
	more, err := s.d.Store.TransferStatsRanges(scope, ranges(dashboard.TrendSums(now, in.TrendsOf))...)
	if err != nil {
		return in, err
	}
	maps.Copy(in.Stats, more)
	more, err = s.d.Store.TransferStatsRanges(scope, ranges(dashboard.LoadSums(now, dashboard.Designated(in.Stats, in.TrendsOf)))...)
	maps.Copy(in.Stats, more)
	return in, err
}

func ranges(rs []dashboard.SumRange) []storage.StatsRange {
	out := make([]storage.StatsRange, len(rs))
	for i, r := range rs {
		out[i] = storage.StatsRange{Prefix: r.Prefix, From: r.From}
	}
	return out
}
