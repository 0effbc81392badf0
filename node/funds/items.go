package funds

import (
	"context"
	"fmt"
	"slices"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/api"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
	"courtmesh.dev/courtmesh/storage"
)

// ItemsOf lists the standard dossier items the documents of a case
// carry, in dossier order (protocol.DossierItemsOf).
func ItemsOf(docs []storage.Document) []string {
	kinds := make([]string, len(docs))
	for i, d := range docs {
		kinds[i] = d.Kind
	}
	return cmproto.DossierItemsOf(kinds)
}

// NameDossierItems issues, as the origin after its handover, the
// standard dossier items its case's documents carry (once per transfer),
// so that the receiver sees at once what is missing.
func (s *Service) NameDossierItems(ctx context.Context, id court.TransferID) (api.DossierItems, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, role, _, err := s.load(id)
	if err != nil {
		return api.DossierItems{}, err
	}
	if role != "origin" {
		return api.DossierItems{}, fmt.Errorf("only the origin %s names the dossier items of transfer %s: %w", t.Origin, id, court.ErrPermission)
	}
	if t.DossierItemsSet {
		return itemsOf(t), nil
	}
	if err := s.acting(t, role); err != nil {
		return api.DossierItems{}, err
	}
	cn, err := court.ParseCaseNumber(t.CaseNumber)
	if err != nil {
		return api.DossierItems{}, err
	}
	_, v, err := s.d.Store.Case(cn)
	if err != nil {
		return api.DossierItems{}, err
	}
	next, err := s.d.Transfers.Issue(ctx, id, &pb.Record{Body: &pb.Record_DossierItems{DossierItems: &pb.DossierItems{Items: ItemsOf(v.Documents)}}})
	if err != nil {
		return api.DossierItems{}, err
	}
	s.d.Log.Info("dossier items named", "transfer", id, "items", len(next.DossierItems))
	return itemsOf(next), nil
}

// DossierItems is what the handover named and what is missing.
func (s *Service) DossierItems(id court.TransferID) (api.DossierItems, error) {
	t, _, _, err := s.load(id)
	if err != nil {
		return api.DossierItems{}, err
	}
	return itemsOf(t), nil
}

func itemsOf(t *cmproto.Transfer) api.DossierItems {
	d := api.DossierItems{Transfer: string(t.ID), Named: t.DossierItemsSet, Carried: []api.DossierItem{}, Missing: []api.DossierItem{}}
	for _, it := range cmproto.DossierItemNames {
		x := api.DossierItem{Item: it, Label: cmproto.DossierItemLabels[it], Required: slices.Contains(cmproto.DossierItemsRequired, it)}
		switch {
		case slices.Contains(t.DossierItems, it):
			d.Carried = append(d.Carried, x)
		case t.DossierItemsSet:
			d.Missing = append(d.Missing, x)
		}
	}
	return d
}
