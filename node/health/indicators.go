package health

import (
	"context"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/dashboard"
)

// Indicators returns the standard indicators of one slice
// (dashboard.Indicators), read from the sums the store keeps: a court's
// own scope for that court, the mesh's for a mode, a month or all.
func (s *Service) Indicators(_ context.Context, q api.IndicatorsQuery) (any, error) {
	p, err := dashboard.Slice{Role: q.Role, Court: q.Court, Mode: q.Mode, Month: q.Month}.Prefix()
	if err != nil {
		return nil, err
	}
	var scope court.CourtCode
	if q.Court != "" {
		scope = q.Court
	}
	sums, err := s.d.Store.TransferStatsPrefix(scope, p) // the slice's sums only
	if err != nil {
		return nil, err
	}
	return dashboard.ComputeIndicators(sums, p), nil
}

var _ api.IndicatorsService = (*Service)(nil)
