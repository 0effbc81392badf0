package assets

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/api"
	cmproto "courtmesh.dev/courtmesh/protocol"
)

// transferCopy returns a transfer, this court's role in it and its case
// number for it; the case must be in the store.
func (a *Service) transferCopy(id court.TransferID) (*cmproto.Transfer, string, court.CaseNumber, error) {
	t, err := a.transfers.Load(id)
	if err != nil {
		return nil, "", court.CaseNumber{}, err
	}
	if t == nil {
		return nil, "", court.CaseNumber{}, fmt.Errorf("transfer %s: %w", id, court.ErrNotFound)
	}
	self, err := a.self()
	if err != nil {
		return nil, "", court.CaseNumber{}, err
	}
	role := roleOf(t, self.Code)
	if role == "" {
		return nil, "", court.CaseNumber{}, fmt.Errorf("%s holds no copy of the case of transfer %s (origin %s, receiver %s): %w", self.Code, id, t.Origin, t.Receiver, court.ErrNotFound)
	}
	cn, err := localCase(t, role)
	if err != nil {
		return nil, "", court.CaseNumber{}, err
	}
	return t, role, cn, nil
}

// TransferAssets returns the assets and measures of a transferred case as
// this court holds them, masked, with days to expiry counted from asOf:
// active measures with a term first, soonest expiry first.
func (a *Service) TransferAssets(id court.TransferID, asOf court.Date) (api.TransferAssets, error) {
	t, role, cn, err := a.transferCopy(id)
	if err != nil {
		return api.TransferAssets{}, err
	}
	_, v, err := a.db.Case(cn)
	if errors.Is(err, court.ErrNotFound) && role == "receiver" {
		return api.TransferAssets{}, fmt.Errorf("transfer %s: case %s is not filed here yet; fetch the dossier first (courtmesh dossier fetch %s): %w", id, cn, id, court.ErrNotFound)
	}
	if err != nil {
		return api.TransferAssets{}, err
	}
	out := api.TransferAssets{Transfer: string(id), Role: role, Case: cn.String(), AsOf: asOf.String(), Assets: []api.AssetInfo{}, Measures: []api.MeasureInfo{}}
	for _, a := range v.Assets {
		// Never AccountSealed: only the masked form leaves the store; the
		// description is masked as `case show` masks it (names, plates,
		// long numbers, addresses below the district): the unmasked view
		// is `case show --reveal`, audited.
		out.Assets = append(out.Assets, api.AssetInfo{ID: a.ID, Class: string(a.Class), ClassLabel: a.Class.Label(), Description: court.MaskText(a.Description, v.Parties, a.Class.Whereabouts()),
			Owner: a.Owner, Source: a.Source, AccountMasked: a.AccountMasked, ValueFen: a.ValueFen})
	}
	for _, m := range v.Measures {
		mi := api.MeasureInfo{ID: m.ID, Kind: string(m.Kind), KindLabel: m.Kind.Label(), Asset: m.Asset, Effective: m.Effective.String(),
			Expiry: m.Expiry.OrEmpty(), Status: string(m.Status), Court: string(m.Court), Rank: m.Rank, Renews: m.Renews, Releases: m.Releases, Document: m.Document}
		if m.Status == court.MeasureActive && !m.Expiry.IsZero() {
			left := asOf.DaysUntil(m.Expiry)
			mi.DaysLeft = &left
		}
		out.Measures = append(out.Measures, mi)
	}
	sort.SliceStable(out.Measures, func(i, j int) bool {
		a, b := out.Measures[i].DaysLeft, out.Measures[j].DaysLeft
		switch {
		case a != nil && b != nil:
			return *a < *b
		case a != nil || b != nil:
			return a != nil
		}
		return false
	})
	if e := court.EarliestExpiry(v.Measures); !e.IsZero() {
		out.Earliest = e.String()
	}
	self, _ := a.self()
	for _, r := range t.Records {
		if r.Kind == cmproto.KindAssetUpdate && self != nil && r.Issuer == self.Code {
			out.Issued++
		}
	}
	if out.Applied, err = a.db.AppliedAssetUpdates(string(id), counterpart(t, role)); err != nil {
		return out, err
	}
	pend, err := a.db.PendingAssetUpdates(string(id))
	if err != nil {
		return out, err
	}
	out.Pending = len(pend)
	return out, nil
}

// MeasureAlerts lists the active measures of transferred cases (handed
// over or received, this court being the origin or the receiver and
// holding its copy) that expire within days of asOf, soonest first.
func (a *Service) MeasureAlerts(ctx context.Context, asOf court.Date, within int) (api.MeasureAlerts, error) {
	out := api.MeasureAlerts{AsOf: asOf.String(), Within: within, Until: asOf.AddDate(0, 0, within).String(), Measures: []api.MeasureAlert{}}
	if within < 0 || within > api.MaxWithin {
		return out, fmt.Errorf("%w: within %d: want 0 to %d days", court.ErrInvalid, within, api.MaxWithin)
	}
	self, err := a.self()
	if err != nil {
		return out, err
	}
	// From the expiry index: the active measures of this court's store
	// that expire within the window (their number follows the cases being
	// enforced, not the store's history), each kept if its case is this
	// court's copy of a transfer handed over or received.
	ms, err := a.db.ExpiringMeasures(ctx, asOf, within)
	if err != nil {
		return out, err
	}
	type copyOf struct {
		t    *cmproto.Transfer
		role string
	}
	copies := map[court.CaseNumber][]copyOf{}
	for _, m := range ms {
		cs, seen := copies[m.Case]
		if !seen {
			ts, err := a.transfers.ByCase(ctx, m.Case)
			if err != nil {
				return out, err
			}
			for _, t := range ts {
				if t.State != cmproto.StateHandedOver && t.State != cmproto.StateReceived {
					continue
				}
				role := roleOf(t, self.Code)
				if cn, err := localCase(t, role); role != "" && err == nil && cn == m.Case {
					cs = append(cs, copyOf{t: t, role: role})
				}
			}
			copies[m.Case] = cs
		}
		for _, c := range cs {
			out.Measures = append(out.Measures, api.MeasureAlert{Transfer: string(c.t.ID), Role: c.role, Case: m.Case.String(), Measure: m.Measure.ID,
				Kind: string(m.Measure.Kind), KindLabel: m.Measure.Kind.Label(), Asset: m.Measure.Asset, AssetClass: string(m.AssetClass),
				AssetClassLabel: m.AssetClass.Label(), Expiry: m.Measure.Expiry.String(), DaysLeft: m.DaysLeft, Court: string(m.Measure.Court)})
		}
	}
	sort.SliceStable(out.Measures, func(i, j int) bool {
		a, b := out.Measures[i], out.Measures[j]
		if a.DaysLeft != b.DaysLeft {
			return a.DaysLeft < b.DaysLeft
		}
		if a.Transfer != b.Transfer {
			return a.Transfer < b.Transfer
		}
		return a.Measure < b.Measure
	})
	return out, nil
}
