package cases

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/storage"
)

// checkTransferred refuses a new version of a case that a transfer has
// taken out of this court's hands, or whose asset updates flow between
// two courts:
//
//   - at the origin, a case handed over (the transfer handed over,
//     received or closed): the receiver enforces it now. A new version
//     here would reach neither the dossier it fetched (fixed by the
//     handover's Merkle root) nor its copy of the assets, would drop the
//     asset updates already made, and would set the status back from
//     transferred (销案) to the file's;
//   - at the receiver, its filed copy while the transfer is received (not
//     yet closed), if the import would change the assets or measures:
//     those change only through asset updates (Node.UpdateAssets), which
//     reach the origin too. Documents and other fields may change.
//
// A re-import that changes nothing goes ahead (PutCase writes nothing).
// Account numbers are compared by their masked form (the sealed ones are
// randomised).
func (c *Service) checkTransferred(ctx context.Context, in storage.NewCase) error {
	n := in.Version.Number
	head, cur, err := c.db.Case(n)
	if errors.Is(err, court.ErrNotFound) {
		// A new case: its number must not be the one a transfer gives
		// the case it is bringing here.
		_, _, reserved, err := InFlight(ctx, c.db, n)
		if err != nil || reserved == nil {
			return err
		}
		return court.Errorf(court.ErrConflict, "case number %s is the number this court gave, accepting transfer %s (%s), to the case it brings from %s; "+
			"that case is filed by `courtmesh dossier fetch %s`. Import this case under another number; nothing was imported",
			n, reserved.ID, reserved.State, reserved.Origin, reserved.ID)
	}
	if err != nil {
		return err
	}
	hashes := make([]crypto.DocumentID, len(in.Sources))
	for i, src := range in.Sources {
		hashes[i] = src.Hash
	}
	if head.ContentHash == storage.ContentHash(in.CaseJSON, hashes) {
		return nil
	}
	out, in2, _, err := InFlight(ctx, c.db, n)
	if err != nil {
		return err
	}
	if out != nil {
		return court.Errorf(court.ErrConflict, "case %s was handed over to %s in transfer %s (%s): %s enforces it now, and a new version here would reach "+
			"neither the dossier it fetched nor its copy of the assets. Change the assets and measures with `courtmesh assets update %s`; nothing was imported",
			n, out.Receiver, out.ID, out.State, out.Receiver, out.ID)
	}
	if head.Status == court.StatusTransferred { // its transfer is closed
		return court.Errorf(court.ErrConflict, "case %s was transferred to another court (销案): the court that received it enforces it now, "+
			"and a new version here would reach neither its dossier nor its copy of the assets; nothing was imported", n)
	}
	if in2 == nil {
		return nil
	}
	changed := assetChanges(cur.Assets, cur.Measures, in.Version.Assets, in.Version.Measures)
	if len(changed) == 0 {
		return nil
	}
	if len(changed) > 5 {
		changed = append(changed[:5], fmt.Sprintf("and %d more", len(changed)-5))
	}
	return court.Errorf(court.ErrConflict, "case %s came from %s in transfer %s (%s): until the transfer is closed its assets and measures change only "+
		"through asset updates, which also reach %s, and this import would change them (%s). Record the changes with "+
		"`courtmesh assets update %s`, or import a case.json whose assets and measures match this court's copy (`courtmesh assets show %s`); nothing was imported",
		n, in2.Origin, in2.ID, in2.State, in2.Origin, strings.Join(changed, ", "), in2.ID, in2.ID)
}

// InFlight finds, from the transfer index by case number
// (storage.DB.TransfersByCase), the transfers in flight that concern case
// number n in this court's store: out handed it over from this court
// (handed over or received; once received, the case is also marked
// transferred); in brought it here and is not closed (handed over or
// received: the receiver may have filed it before its receipt); reserved
// gave n to a case still to come (accepted, or handed over and not yet
// filed). Only the few transfers naming n are read, so the cost does not
// grow with the court's history. Case numbers carry their court, so n is
// the origin's number of one and the receiver's of the others; the index
// holds them in their normal form. Where several transfers match (which
// the workflow does not allow), the last in (state: accepted, handed
// over, received; then newest offer first) order wins, as the check has
// always read them.
func InFlight(ctx context.Context, db *storage.DB, n court.CaseNumber) (out, in, reserved *storage.TransferRecord, err error) {
	recs, err := db.TransfersByCase(ctx, n)
	if err != nil {
		return nil, nil, nil, err
	}
	rank := map[string]int{string(cmproto.StateAccepted): 1, string(cmproto.StateHandedOver): 2, string(cmproto.StateReceived): 3}
	recs = slices.DeleteFunc(recs, func(r storage.TransferRecord) bool { return rank[r.State] == 0 })
	slices.SortStableFunc(recs, func(a, b storage.TransferRecord) int {
		if c := rank[a.State] - rank[b.State]; c != 0 {
			return c
		}
		return b.Offered.Compare(a.Offered)
	})
	for i := range recs {
		t := &recs[i]
		switch {
		case t.State != string(cmproto.StateAccepted) && t.CaseNumber == n:
			out = t
		case t.NewCaseNumber == n:
			if t.State != string(cmproto.StateAccepted) {
				in = t
			}
			reserved = t
		}
	}
	return out, in, reserved, nil
}

// assetChanges names the assets and measures that differ between the
// current copy (a) and an import (b): added, removed or changed.
func assetChanges(aAssets []court.Asset, aMeasures []court.Measure, bAssets []court.Asset, bMeasures []court.Measure) []string {
	bare := func(as []court.Asset) map[string]court.Asset {
		m := make(map[string]court.Asset, len(as))
		for _, a := range as {
			a.AccountSealed = nil
			m[a.ID] = a
		}
		return m
	}
	byID := func(ms []court.Measure) map[string]court.Measure {
		m := make(map[string]court.Measure, len(ms))
		for _, x := range ms {
			m[x.ID] = x
		}
		return m
	}
	var out []string
	diff := func(what string, inA, inB []string, same func(id string) bool) {
		for _, id := range inA {
			if !slices.Contains(inB, id) {
				out = append(out, fmt.Sprintf("%s %s missing", what, id))
			} else if !same(id) {
				out = append(out, fmt.Sprintf("%s %s changed", what, id))
			}
		}
		for _, id := range inB {
			if !slices.Contains(inA, id) {
				out = append(out, fmt.Sprintf("%s %s added", what, id))
			}
		}
	}
	aa, ba, am, bm := bare(aAssets), bare(bAssets), byID(aMeasures), byID(bMeasures)
	diff("asset", slices.Sorted(maps.Keys(aa)), slices.Sorted(maps.Keys(ba)), func(id string) bool { return reflect.DeepEqual(aa[id], ba[id]) })
	diff("measure", slices.Sorted(maps.Keys(am)), slices.Sorted(maps.Keys(bm)), func(id string) bool { return am[id] == bm[id] })
	return out
}
