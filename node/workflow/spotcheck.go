package workflow

import (
	"bytes"
	"context"
	"slices"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/records"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
	"courtmesh.dev/courtmesh/storage"
)

// maxPopulation bounds a spot check's population (the transfers of a
// jurisdiction offered in its window), which a draw reads whole.
const maxPopulation = 100_000

// population returns the IDs of the transfers concerning a court under
// scope offered in [from, to), read from the per-court indexes newest
// offer first, stopping at the window's start.
func (w *Service) population(ctx context.Context, scope court.CourtCode, from, to time.Time) ([]court.TransferID, error) {
	courts, _ := jurisdiction(w.trust.Trust(), scope)
	var out []court.TransferID
	q := storage.CourtsQuery{Courts: courts, Limit: storage.MaxTransferPage}
	for {
		page, err := w.db.ListCourtsTransfers(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, rec := range page.Records {
			t, err := records.Decode(rec)
			if err != nil {
				return nil, err
			}
			switch {
			case !t.OfferedAt.Before(to):
			case t.OfferedAt.Before(from):
				return out, nil // newest first: the rest is older still
			default:
				out = append(out, t.ID)
				if len(out) > maxPopulation {
					return nil, court.Errorf(court.ErrInvalid, "more than %d transfers in that window: draw from a shorter one", maxPopulation)
				}
			}
		}
		if page.Next == "" {
			return out, nil
		}
		q.Cursor = page.Next
	}
}

// SpotCheck draws a sample of the transfers of this court's jurisdiction
// (or of a court under it) offered in a window, seeded by this node's own
// record log head: nobody chooses the sample, and any node recomputes it
// (VerifySpotCheck). Nothing is signed until the reviews.
func (w *Service) SpotCheck(ctx context.Context, req api.SpotCheckRequest) (api.SpotCheck, error) {
	if w.logs == nil {
		return api.SpotCheck{}, court.Errorf(court.ErrUnavailable, "spot checks need the record logs")
	}
	if req.Scope == "" {
		req.Scope = w.court
	}
	if !under(w.trust.Trust(), req.Scope, w.court) {
		return api.SpotCheck{}, court.Errorf(court.ErrPermission, "%s is not under %s: a court spot-checks its own jurisdiction", req.Scope, w.court)
	}
	from, err := court.ParseDate(req.From)
	if err != nil {
		return api.SpotCheck{}, court.Errorf(court.ErrInvalid, "from: %v", err)
	}
	to, err := court.ParseDate(req.To)
	if err != nil || !from.Before(to) {
		return api.SpotCheck{}, court.Errorf(court.ErrInvalid, "to %q: a date after from", req.To)
	}
	pop, err := w.population(ctx, req.Scope, from.Start(), to.Start())
	if err != nil {
		return api.SpotCheck{}, err
	}
	if req.Sample < 1 || req.Sample > len(pop) {
		return api.SpotCheck{}, court.Errorf(court.ErrInvalid, "sample %d of a population of %d transfers", req.Sample, len(pop))
	}
	head, err := w.logs.Head()
	if err != nil {
		return api.SpotCheck{}, err
	}
	if head.Seq == 0 {
		return api.SpotCheck{}, court.Errorf(court.ErrConflict, "this node has signed no record yet: its log head cannot seed a draw")
	}
	ph := cmproto.PopulationHash(pop)
	d := cmproto.Draw{Scope: req.Scope, OfferedFrom: from.Start().UTC(), OfferedTo: to.Start().UTC(), SeedSeq: head.Seq, SeedHead: head.Head[:],
		Population: uint32(len(pop)), PopulationHash: ph[:], Sample: uint32(req.Sample)}
	return api.SpotCheck{ID: cmproto.SpotCheckID(d.Proto()), Draw: d, Sample: cmproto.DrawSample(head.Seq, head.Head[:], pop, req.Sample)}, nil
}

// Review signs this court's review of a transfer. With a draw, the
// transfer must be in the draw's sample as this node recomputes it.
func (w *Service) Review(ctx context.Context, id court.TransferID, req api.ReviewRequest) (*cmproto.Transfer, error) {
	switch req.Finding {
	case "in_order", "no_fault", "negligence", "interference", "other":
	default:
		return nil, court.Errorf(court.ErrInvalid, "finding %q: want in_order, no_fault, negligence, interference or other", req.Finding)
	}
	if err := w.checkFreeText(id, "note", req.Note); err != nil {
		return nil, err
	}
	if req.CheckBack {
		if req.Draw != nil {
			return nil, court.Errorf(court.ErrInvalid, "a review is a spot check (draw) or a check back on the origin (check_back), not both")
		}
		if !slices.Contains(cmproto.CheckBackFindings, req.Finding) {
			return nil, court.Errorf(court.ErrInvalid, "a check back on the origin finds no_fault, negligence or interference, not %q", req.Finding)
		}
		t, err := w.records.Load(id)
		if err != nil {
			return nil, err
		}
		if t == nil {
			return nil, court.Errorf(court.ErrNotFound, "transfer %s: not known to this node", id)
		}
		if !court.IsSuperior(w.trust.Trust(), w.court, t.Origin) {
			return nil, court.Errorf(court.ErrPermission, "%s is not a superior court of %s, the origin of transfer %s: only its superior checks back on it", w.court, t.Origin, id)
		}
	}
	var draw *pb.SpotCheckDraw
	if req.Draw != nil {
		draw = req.Draw.Proto()
		if _, err := w.checkDraw(ctx, id, req.Draw); err != nil {
			return nil, err
		}
	}
	return w.records.Issue(ctx, id, &pb.Record{Body: &pb.Record_Review{Review: &pb.Review{Finding: req.Finding, Note: req.Note, Draw: draw, CheckBack: req.CheckBack}}})
}

// checkDraw recomputes a draw here: the population of its window from
// this node's store (its size and hash as the draw names them), the seed
// as the drawer's record log holds it here, and the sample, which must
// hold transfer id.
func (w *Service) checkDraw(ctx context.Context, id court.TransferID, d *cmproto.Draw) ([]court.TransferID, error) {
	pop, err := w.population(ctx, d.Scope, d.OfferedFrom, d.OfferedTo)
	if err != nil {
		return nil, err
	}
	ph := cmproto.PopulationHash(pop)
	if len(pop) != int(d.Population) || !bytes.Equal(ph[:], d.PopulationHash) {
		return nil, court.Errorf(court.ErrConflict, "spot check of %s: this node holds %d transfers offered in its window (hash %x…), the draw names %d (%x…): the nodes disagree on the population",
			d.Scope, len(pop), ph[:6], d.Population, d.PopulationHash[:min(6, len(d.PopulationHash))])
	}
	sample := cmproto.DrawSample(d.SeedSeq, d.SeedHead, pop, int(d.Sample))
	if !slices.Contains(sample, id) {
		return sample, court.Errorf(court.ErrInvalid, "transfer %s is not in the spot check's sample %v", id, sample)
	}
	return sample, nil
}

// VerifySpotCheck recomputes the draw of a review on this node: the
// drawer's seed is the head of its record log as stored here, the
// population is this node's, and the transfer is in the sample.
func (w *Service) VerifySpotCheck(ctx context.Context, id court.TransferID, review string) (api.SpotCheckVerification, error) {
	t, err := w.records.Load(id)
	if err != nil {
		return api.SpotCheckVerification{}, err
	}
	if t == nil {
		return api.SpotCheckVerification{}, court.Errorf(court.ErrNotFound, "transfer %s: not known to this node", id)
	}
	i := slices.IndexFunc(t.Reviews, func(r cmproto.Review) bool { return r.Hash == review })
	if i < 0 || t.Reviews[i].Draw == nil {
		return api.SpotCheckVerification{}, court.Errorf(court.ErrNotFound, "transfer %s has no spot check review %.12s…", id, review)
	}
	rv := t.Reviews[i]
	if w.logs == nil {
		return api.SpotCheckVerification{}, court.Errorf(court.ErrUnavailable, "spot checks need the record logs")
	}
	// The seed: the drawer's log, as held here, at the position named.
	seeded := false
	for _, c := range w.trust.Trust().Bundle().Certs {
		if c.Code != rv.Issuer || c.PeerID == "" || !c.HasRole(crypto.RoleCourt) {
			continue
		}
		pos, err := w.logs.LogPosition(c.PeerID, rv.Draw.SeedSeq)
		if err == nil && bytes.Equal(pos.Head[:], rv.Draw.SeedHead) {
			seeded = true
		}
	}
	if !seeded {
		return api.SpotCheckVerification{}, court.Errorf(court.ErrConflict, "review %.12s…: the seed is not the head of %s's record log at position %d as this node holds it", review, rv.Issuer, rv.Draw.SeedSeq)
	}
	sample, err := w.checkDraw(ctx, id, rv.Draw)
	if err != nil {
		return api.SpotCheckVerification{}, err
	}
	return api.SpotCheckVerification{Review: review, SpotCheck: rv.SpotCheck, Population: int(rv.Draw.Population), Sample: sample, Verified: true}, nil
}

var _ api.ReviewService = (*Service)(nil)
