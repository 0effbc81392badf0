package workflow

import (
	"testing"

	"courtmesh.dev/courtmesh/court"
)

func TestRegionSummary(t *testing.T) {
	assets := []court.Asset{
		{ID: "a1", Class: court.AssetClass("deposit"), Region: "110105", ValueFen: 5_000_00},
		{ID: "a2", Class: court.AssetClass("deposit"), Region: "110105", ValueFen: 200_000_00},
		{ID: "a3", Class: court.AssetClass("real_estate"), Region: "110108", ValueFen: 3_000_000_00},
		{ID: "a4", Class: court.AssetClass("vehicle")}, // no region: left out
	}
	parties := []court.Party{
		{ID: "p1", Role: court.RoleApplicant, Region: "310101"},
		{ID: "p2", Role: court.RoleRespondent},
		{ID: "p3", Role: court.RoleRespondent, Region: "110105"},
	}
	got, debtor := regionSummary(assets, parties)
	if debtor != "110105" {
		t.Errorf("debtor region %q, want the first respondent's known one 110105", debtor)
	}
	if len(got) != 2 || got[0].Region != "110105" || got[0].AssetClass != "deposit" || got[0].Count != 2 || got[0].ValueBand != uint32(court.BandUnder1M) ||
		got[1].Region != "110108" || got[1].Count != 1 || got[1].ValueBand != uint32(court.BandUnder10M) {
		t.Errorf("summary %v", got)
	}
}
