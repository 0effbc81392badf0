package workflow

import (
	"context"
	"slices"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/records"
	"courtmesh.dev/courtmesh/storage"
)

// under reports whether c is scope or a court below it in h (at most
// four levels: SPC, high, intermediate, basic).
func under(h court.Hierarchy, c, scope court.CourtCode) bool {
	for i := 0; i < 5 && c != ""; i++ {
		if c == scope {
			return true
		}
		p, ok := h.Parent(c)
		if !ok {
			return false
		}
		c = p
	}
	return false
}

// Jurisdiction returns the courts under q.Scope (this court by default)
// from the trust bundle's hierarchy, a row of counts for each (for the
// SPC, for each province), and a page of the transfers concerning any of
// them. Every count is read from the store's counters; the page merges
// the per-court indexes (storage.ListCourtsTransfers), or reads the index
// of every transfer for the whole country.
func (w *Service) Jurisdiction(ctx context.Context, q api.JurisdictionQuery) (api.Jurisdiction, error) {
	t := w.trust.Trust()
	now := w.now()
	if q.Scope == "" {
		q.Scope = w.court
	}
	self, err := w.self()
	if err != nil {
		return api.Jurisdiction{}, err
	}
	if !self.HasRole(crypto.RoleOperator) && !under(t, q.Scope, w.court) {
		return api.Jurisdiction{}, court.Errorf(court.ErrPermission, "%s is not under %s: a court sees its own jurisdiction only (operators see every one)", q.Scope, w.court)
	}
	if q.Court != "" && !under(t, q.Court, q.Scope) {
		return api.Jurisdiction{}, court.Errorf(court.ErrInvalid, "court %s is not under %s", q.Court, q.Scope)
	}
	courts, names := jurisdiction(t, q.Scope)
	out := api.Jurisdiction{Scope: string(q.Scope), Rows: []api.JurisdictionRow{}, Transfers: []api.Transfer{}}
	today := court.DateOf(now)
	rows := map[court.CourtCode]*api.JurisdictionRow{}
	var order []court.CourtCode
	for _, c := range courts {
		key, name := c, names[c]
		if q.Scope == court.Supreme && c != court.Supreme {
			if key = c.Province(); key == "" {
				key = c
			}
			name = names[key]
		}
		r := rows[key]
		if r == nil {
			r = &api.JurisdictionRow{Court: string(key), Name: name, States: map[string]uint64{}}
			rows[key] = r
			order = append(order, key)
		}
		r.Courts++
		counts, err := w.db.CourtTransferCounts(c)
		if err != nil {
			return api.Jurisdiction{}, err
		}
		for st, n := range counts {
			r.States[st] += n
		}
		od, err := w.db.CountCourtOverdue(ctx, c, today)
		if err != nil {
			return api.Jurisdiction{}, err
		}
		r.Overdue += od
	}
	// The scope first, then by code.
	slices.SortFunc(order, func(a, b court.CourtCode) int {
		switch {
		case a == q.Scope:
			return -1
		case b == q.Scope:
			return 1
		case a < b:
			return -1
		case a > b:
			return 1
		}
		return 0
	})
	for _, k := range order {
		out.Rows = append(out.Rows, *rows[k])
	}

	// One page of the transfers.
	var page storage.TransferPage
	switch {
	case q.Scope == court.Supreme && q.Court == "":
		sq := storage.TransferQuery{State: q.State, Cursor: q.Cursor, Limit: q.Limit}
		if q.Overdue {
			sq.OverdueAt = today
		}
		page, err = w.db.ListTransfers(ctx, sq)
	default:
		cs := courts
		if q.Court != "" {
			cs = []court.CourtCode{q.Court}
		}
		page, err = w.db.ListCourtsTransfers(ctx, storage.CourtsQuery{Courts: cs, State: q.State, Cursor: q.Cursor, Limit: q.Limit})
	}
	if err != nil {
		return api.Jurisdiction{}, err
	}
	for _, rec := range page.Records {
		tr, err := records.Decode(rec)
		if err != nil {
			return api.Jurisdiction{}, err
		}
		v := api.NewTransfer(tr, now)
		if (q.Mode != "" && tr.Mode != q.Mode) || (q.Overdue && !v.Overdue) {
			continue
		}
		out.Transfers = append(out.Transfers, v)
	}
	out.Next = page.Next
	return out, nil
}

// jurisdiction returns scope and the courts under it, sorted, from every
// court certificate of the bundle, and their certified names.
func jurisdiction(t *crypto.Trust, scope court.CourtCode) ([]court.CourtCode, map[court.CourtCode]string) {
	names := map[court.CourtCode]string{}
	for _, c := range t.Bundle().Certs {
		if c.HasRole(crypto.RoleCourt) && under(t, c.Code, scope) {
			names[c.Code] = c.Name
		}
	}
	if _, ok := names[scope]; !ok {
		names[scope] = ""
	}
	courts := slices.Sorted(func(yield func(court.CourtCode) bool) {
		for c := range names {
			if !yield(c) {
				return
			}
		}
	})
	return courts, names
}
