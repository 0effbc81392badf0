package protocol

import (
	"fmt"
	"slices"
	"strings"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/protocol/pb"
)

// DossierItems are the kinds of dossier item (执行案卷) a return may name
// as missing: the enforceable title (执行依据), the application
// (申请执行书), the enforcement notice (执行通知书), the order to report
// assets (报告财产令), the asset investigation results, the seizure,
// freeze and detention rulings, the notices to assisting bodies, the
// valuation and auction papers, a settlement, the consumption
// restriction, the dishonest-debtor listing, the 终本 papers, other.
var DossierItems = []string{"title", "application", "notice", "report_order", "search_result", "ruling",
	"assist_notice", "valuation", "settlement", "consumption_restriction", "dishonest_listing", "terminal", "other"}

// returnKindsOfItem maps a standard dossier item (DossierItemNames, as
// the dossier-items view and the handover name them) to the item kinds a
// return names (DossierItems).
var returnKindsOfItem = map[string][]string{
	"search_results": {"search_result"}, "measure_rulings": {"ruling", "assist_notice"},
	"valuation_auction": {"valuation"}, "sanction_decisions": {"consumption_restriction", "dishonest_listing"},
	"termination_ruling": {"terminal"},
}

// ReturnKinds reads what a clerk names missing, in either vocabulary (the
// return's item kinds, DossierItems, or the standard dossier items the
// dossier-items view shows, DossierItemNames), as the return's kinds, in
// the order named and each once; an unknown name is an error naming both
// lists.
func ReturnKinds(names []string) ([]string, error) {
	var out []string
	for _, n := range names {
		ks, ok := returnKindsOfItem[n]
		if !ok {
			if !slices.Contains(DossierItems, n) {
				return nil, invalid("missing item %q: want one of %s (or a dossier item: %s)", n, strings.Join(DossierItems, ", "), strings.Join(DossierItemNames, ", "))
			}
			ks = []string{n}
		}
		for _, k := range ks {
			if !slices.Contains(out, k) {
				out = append(out, k)
			}
		}
	}
	return out, nil
}

func checkReturn(r *pb.HandoverReturn) error {
	if len(r.GetMissing()) == 0 {
		return invalid("a return names what is missing: at least one of %s", strings.Join(DossierItems, ", "))
	}
	for i, m := range r.GetMissing() {
		if !slices.Contains(DossierItems, m) {
			return invalid("missing item %q: want one of %s", m, strings.Join(DossierItems, ", "))
		}
		if slices.Contains(r.GetMissing()[:i], m) {
			return invalid("missing item %s named twice", m)
		}
	}
	return checkFree("note", r.GetNote(), 500, false)
}

// applyManifest applies the handover manifest m of r (a handover or a
// supplement) to n, the next state of t.
func applyManifest(n, t *Transfer, r *Record, m *pb.HandoverManifest) error {
	if !slices.ContainsFunc(m.GetKeys(), func(k *pb.WrappedKey) bool { return court.CourtCode(k.GetCourt()) == t.Receiver }) {
		return fmt.Errorf("%s %s wraps no key for the receiver %s: %w", r.Kind, r.Transfer, t.Receiver, court.ErrInvalid)
	}
	n.State, n.HandedOverAt = StateHandedOver, r.IssuedAt
	day := court.DateOf(r.IssuedAt)
	n.FileBy = day.AddDate(0, 0, t.periods().FilingDays).String()
	n.ReturnBy = day.AddDate(0, 0, t.periods().ReturnDays).String()
	n.MerkleRoot, n.ChunkCount, n.SealedBytes = m.GetMerkleRoot(), m.GetChunkCount(), m.GetSealedBytes()
	n.OverrideReason, n.Overridden = m.GetOverrideReason(), m.GetOverriddenMeasures()
	n.GrantUntil = m.GetGrantUntil()
	n.SealedCaseHash = m.GetSealedCaseHash()
	if items := m.GetDossierItems(); len(items) > 0 {
		// The items this version of the handover carries (a supplement
		// names them again).
		n.DossierItems, n.DossierItemsSet = slices.Clone(items), true
	}
	// The receiver's claim is the balance (法明传〔2018〕335号): the
	// claim the offer announced less what the origin recovered by the
	// handover, which can only have grown since the offer.
	n.BalanceFen = t.AmountOutstanding
	if claim := m.GetClaimFen(); claim != 0 {
		if offered := t.AmountOutstanding + t.AmountOrigin; t.StartedBy == "" && claim != offered {
			return fmt.Errorf("%s %s states a claim of %d fen, but the offer announced %d (outstanding %d + recovered %d): %w",
				r.Kind, r.Transfer, claim, offered, t.AmountOutstanding, t.AmountOrigin, court.ErrInvalid)
		}
		if rec := m.GetRecoveredFen(); rec < max(t.AmountOrigin, t.HandoverRecovered) {
			return fmt.Errorf("%s %s states %d fen recovered by the origin, less than the %d announced before: %w",
				r.Kind, r.Transfer, rec, max(t.AmountOrigin, t.HandoverRecovered), court.ErrInvalid)
		}
		n.ClaimFen, n.HandoverRecovered, n.BalanceFen = claim, m.GetRecoveredFen(), claim-m.GetRecoveredFen()
	}
	n.Readers, n.WrappedKeys = nil, nil
	for _, k := range m.GetKeys() {
		n.Readers = append(n.Readers, court.CourtCode(k.GetCourt()))
		n.WrappedKeys = append(n.WrappedKeys, WrappedKey{Court: court.CourtCode(k.GetCourt()), Serial: k.GetCertificateSerial(), Wrapped: k.GetWrapped()})
	}
	return nil
}
