package protocol

import (
	"slices"
	"strings"

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
