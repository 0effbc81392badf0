package workflow

import (
	"context"
	"fmt"
	"slices"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/advice"
	"courtmesh.dev/courtmesh/node/dashboard"
	cmproto "courtmesh.dev/courtmesh/protocol"
)

// Recommend ranks the courts this court, the transfer's superior, may
// designate (node/advice). The candidates are the courts with a
// certificate in force under this court; their load and track record
// come from the store's counters and per-court sums of the signed
// records (storage.TransferStats, CountCourtOverdue): the cost grows
// with the candidates, never with the history. Only the superior asked
// to decide may ask (ErrPermission otherwise).
func (w *Service) Recommend(ctx context.Context, id court.TransferID) (advice.Recommendation, error) {
	self, err := w.self()
	if err != nil {
		return advice.Recommendation{}, err
	}
	t, err := w.records.Load(id)
	if err != nil {
		return advice.Recommendation{}, err
	}
	if t == nil {
		return advice.Recommendation{}, court.Errorf(court.ErrNotFound, "transfer %s: not known to this node", id)
	}
	if t.Superior != self.Code {
		return advice.Recommendation{}, court.Errorf(court.ErrPermission, "transfer %s is offered to %s, not to %s: only the superior asked to decide gets a recommendation", id, t.Superior, self.Code)
	}
	in, err := w.adviceInput(ctx, t, self.Code)
	if err != nil {
		return advice.Recommendation{}, err
	}
	return advice.Rank(in), nil
}

// adviceInput assembles what the recommendation for t weighs.
func (w *Service) adviceInput(ctx context.Context, t *cmproto.Transfer, decider court.CourtCode) (advice.Input, error) {
	now := w.now()
	tr := w.trust.Trust()
	originRegion, _ := w.advice.RegionOf(t.Origin)
	in := advice.Input{
		Case:    advice.Case{Transfer: t.ID, Origin: t.Origin, Decider: decider, OriginRegion: originRegion, DebtorRegion: t.DebtorRegion},
		Weights: w.advice,
	}
	for _, h := range t.RegionAssets {
		in.Case.Holdings = append(in.Case.Holdings, advice.Holding{Region: h.Region, Class: h.Class, Count: h.Count, Band: h.Band})
	}
	var codes []court.CourtCode
	for _, p := range tr.Peers(now) {
		c, err := tr.ByPeer(p, now)
		if err != nil || !court.IsSuperior(tr, decider, c.Code) {
			continue
		}
		codes = append(codes, c.Code)
	}
	slices.Sort(codes)
	codes = slices.Compact(codes)
	today := court.DateOf(now)
	for _, c := range codes {
		if err := ctx.Err(); err != nil {
			return in, err
		}
		stats, err := w.db.TransferStatsPrefix(c, dashboard.ReceiverPrefix(c))
		if err != nil {
			return in, fmt.Errorf("recommendation: the statistics of %s: %w", c, err)
		}
		overdue, err := w.db.CountCourtOverdue(ctx, c, today)
		if err != nil {
			return in, fmt.Errorf("recommendation: the overdue transfers of %s: %w", c, err)
		}
		ci := dashboard.ReceiverIndicators(stats, c, now)
		region, _ := w.advice.RegionOf(c)
		in.Candidates = append(in.Candidates, advice.Candidate{
			Court: c, Region: region,
			Load: advice.Load{Open: ci.Open, Overdue: overdue},
			Track: advice.Track{Designated: ci.Designated, Accepted: ci.Accepted, AcceptedInTime: ci.AcceptedInTime, Concluded: ci.Concluded,
				Concluded6m: ci.Concluded6m, RecoveredFen: ci.RecoveredFen, ClaimedFen: ci.ClaimedFen, Lapsed: ci.MeasuresLapsed},
		})
	}
	return in, nil
}
