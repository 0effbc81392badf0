package workflow

import (
	"errors"
	"fmt"

	"courtmesh.dev/courtmesh/court"
	cmproto "courtmesh.dev/courtmesh/protocol"
)

// checkFreeText refuses, before anything is signed, free text of transfer
// id that every court would receive and that holds personal data: what
// every node's validation refuses (cmproto.CheckFreeText) and, as only
// this court can tell, the names of the parties of its own case (the
// offered case, or the case filed here at acceptance) and the addresses
// and plates of its assets (court.Places). The error names the field,
// never the data.
func (w *Service) checkFreeText(id court.TransferID, field, s string) error {
	if s == "" {
		return nil
	}
	if err := cmproto.CheckFreeText(field, s); err != nil {
		return fmt.Errorf("transfer %s: %w; nothing was published", id, err)
	}
	t, err := w.records.Load(id)
	if err != nil || t == nil {
		return nil // the issue itself reports an unknown transfer
	}
	var names, places []string
	for _, no := range []string{t.CaseNumber, t.NewCaseNumber} {
		cn, err := court.ParseCaseNumber(no)
		if no == "" || err != nil {
			continue
		}
		_, v, err := w.db.Case(cn)
		if errors.Is(err, court.ErrNotFound) {
			continue // another court's case: its names are not known here
		}
		if err != nil {
			return fmt.Errorf("transfer %s: the %s cannot be checked against the parties of case %s: %w", id, field, cn, err)
		}
		for _, p := range v.Parties {
			names = append(names, p.Name)
		}
		for _, a := range v.Assets {
			places = append(places, court.Places(a.Description, a.Class)...)
		}
	}
	if err := cmproto.CheckFreeTextNames(field, s, names); err != nil {
		return fmt.Errorf("transfer %s: %w; nothing was published", id, err)
	}
	if err := cmproto.CheckFreeTextPlaces(field, s, places); err != nil {
		return fmt.Errorf("transfer %s: %w; nothing was published", id, err)
	}
	return nil
}
