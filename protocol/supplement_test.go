package protocol

import (
	"strings"
	"testing"

	pb "courtmesh.dev/courtmesh/protocol/pb"
)

// A clerk may name what is missing as the dossier-items view shows it
// (search_results, measure_rulings) or as the return's kinds: both are
// read as the return's kinds; anything else is refused naming both lists.
func TestReturnKinds(t *testing.T) {
	got, err := ReturnKinds([]string{"report_order", "search_results", "search_result", "measure_rulings"})
	if err != nil || strings.Join(got, ",") != "report_order,search_result,ruling,assist_notice" {
		t.Errorf("got %v, %v", got, err)
	}
	for _, n := range DossierItemNames {
		ks, err := ReturnKinds([]string{n})
		if err != nil || len(ks) == 0 {
			t.Errorf("dossier item %s: %v, %v", n, ks, err)
		}
		if err := checkReturn(&pb.HandoverReturn{Missing: ks}); err != nil {
			t.Errorf("dossier item %s as %v: the return refuses it: %v", n, ks, err)
		}
	}
	if _, err := ReturnKinds([]string{"searchresults"}); err == nil || !strings.Contains(err.Error(), "search_results") {
		t.Errorf("an unknown name: %v", err)
	}
}
