package health

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node/dashboard"
	"courtmesh.dev/courtmesh/node/records"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/storage"
)

// RecentTransfers is how many of the newest transfers in scope the
// dashboard's indicators are computed from (modes, average times, the
// per-court table). Some 300,000 transfers a year nationally is a few
// hundred a day: the window is about a week of the whole mesh on an
// operator node, and years of one court's transfers elsewhere. History
// beyond it belongs in Prometheus (DESIGN.md, Operators). The pipeline's
// state counts and its overdue count are not windowed: they come from
// the store's counters.
const RecentTransfers = 2000

// MaxInFlight caps the transfers between handover and receipt read on
// top of the window, for the lapse indicator (a lapse can only happen
// while the dossier is in flight, however old the offer).
const MaxInFlight = 1000

// Dashboard computes the supervision dashboard: on a node with the
// operator role, the whole mesh; elsewhere, what concerns this court. It
// reads the transfer counters and bounded pages of the transfer indexes
// (the newest RecentTransfers, every overdue one up to MaxOverdueWindow,
// those handed over and not yet received up to MaxInFlight), the
// heartbeats (Mesh) and the alerts (AllAlerts). Metadata only. Its cost
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
	in.Mesh, in.Alerts = s.Mesh(), s.AllAlerts(ctx)
	in.Name = func(c court.CourtCode) string {
		if cert, err := t.Court(c, now); err == nil {
			return cert.Name
		}
		name, _ := court.KnownCourtName(c)
		return name
	}
	return dashboard.Compute(in), nil
}

// dashboardTransfers fills the transfer part of the dashboard's input for
// the scope (every transfer on an operator node, else those concerning
// self): the counters, and the transfers the indicators read.
func (s *Service) dashboardTransfers(ctx context.Context, self court.CourtCode, operator bool, now time.Time) (dashboard.Input, error) {
	in := dashboard.Input{Operator: operator, Counts: map[cmproto.State]int{}}
	scope := self
	var counts map[string]uint64
	var err error
	if operator {
		scope = ""
		counts, err = s.d.Store.TransferCounts()
	} else {
		counts, err = s.d.Store.CourtTransferCounts(self)
	}
	if err != nil {
		return in, err
	}
	for st, c := range counts {
		in.Counts[cmproto.State(st)] = int(c)
	}
	overdue, more, err := s.overdue(ctx, now, scope, MaxOverdueWindow)
	if err != nil {
		return in, err
	}
	// The count is exact: from the deadline counters for the whole mesh;
	// for one court, by listing (exact up to MaxOverdueWindow, a lower
	// bound past it: there are no per-court deadline counters).
	in.Overdue = len(overdue)
	if more && operator {
		if in.Overdue, err = s.d.Store.CountOverdue(ctx, court.DateOf(now)); err != nil {
			return in, err
		}
	}
	recent, _, err := s.list(ctx, storage.TransferQuery{Court: scope}, RecentTransfers)
	if err != nil {
		return in, err
	}
	inFlight, _, err := s.list(ctx, storage.TransferQuery{Court: scope, State: string(cmproto.StateHandedOver)}, MaxInFlight)
	if err != nil {
		return in, err
	}
	seen := make(map[court.TransferID]bool, len(recent)+len(overdue)+len(inFlight))
	for _, ts := range [][]*cmproto.Transfer{recent, overdue, inFlight} {
		for _, t := range ts {
			if !seen[t.ID] {
				seen[t.ID] = true
				in.Transfers = append(in.Transfers, t)
			}
		}
	}
	newestFirst(in.Transfers)
	return in, nil
}

// list reads at most limit transfers q selects, in index order, paging;
// more reports that there are others.
func (s *Service) list(ctx context.Context, q storage.TransferQuery, limit int) (ts []*cmproto.Transfer, more bool, err error) {
	for {
		q.Limit = min(limit-len(ts)+1, storage.MaxTransferPage)
		page, err := s.d.Store.ListTransfers(ctx, q)
		if err != nil {
			return nil, false, err
		}
		for _, r := range page.Records {
			if len(ts) == limit {
				return ts, true, nil
			}
			t, err := records.Decode(r)
			if err != nil {
				return nil, false, err
			}
			ts = append(ts, t)
		}
		if page.Next == "" {
			return ts, false, nil
		}
		q.Cursor = page.Next
	}
}

// newestFirst orders transfers newest offer first, as listings do.
func newestFirst(ts []*cmproto.Transfer) {
	slices.SortStableFunc(ts, func(a, b *cmproto.Transfer) int {
		return cmp.Or(b.OfferedAt.Compare(a.OfferedAt), strings.Compare(string(a.ID), string(b.ID)))
	})
}
