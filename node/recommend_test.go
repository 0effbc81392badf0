package node_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/advice"
	"courtmesh.dev/courtmesh/node/api"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/storage/gen"
	"courtmesh.dev/courtmesh/storage/importer"
)

// TestRecommendAndDecide: the offer carries the case's region summary;
// the superior's node ranks its courts from it and from the signed
// records; the decision notes the chosen court's rank and the inputs
// hash, and is refused as stale when the inputs changed since.
func TestRecommendAndDecide(t *testing.T) {
	s := newScenario(t)
	ctx := context.Background()

	// A case of 京0105 whose debtor lives in its district and whose real
	// estate lies in 京0108's.
	cs, err := gen.Generate(filepath.Join(t.TempDir(), "cases"), gen.Options{Cases: 4, Seed: 7, Court: "京0105"})
	if err != nil {
		t.Fatal(err)
	}
	var number court.CaseNumber
	for _, c := range cs {
		p := filepath.Join(c.Dir, "case.json")
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var f importer.CaseFile
		if err := json.Unmarshal(b, &f); err != nil {
			t.Fatal(err)
		}
		for i := range f.Parties {
			if f.Parties[i].Role == string(court.RoleRespondent) {
				f.Parties[i].Region = "110105"
			}
		}
		for i := range f.Assets {
			f.Assets[i].Region = "110108"
		}
		if b, err = json.Marshal(f); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := importer.Import(ctx, s.as("京0105").Store(), c.Dir, importer.Options{}); err != nil {
			t.Fatal(err)
		}
		if len(f.Assets) > 0 {
			number = c.Number
		}
	}
	var tr *cmproto.Transfer
	for _, c := range cs {
		if got, err := s.as("京0105").Workflow().Offer(ctx, api.OfferRequest{CaseNumber: c.Number.String(), Superior: "京01", Grounds: []string{"interference"}}); err == nil && c.Number == number {
			tr = got
		}
	}
	if tr == nil {
		t.Fatalf("case %s could not be offered", number)
	}
	if tr.DebtorRegion != "110105" || len(tr.RegionAssets) == 0 || tr.RegionAssets[0].Region != "110108" {
		t.Fatalf("the offer's summary: %+v / %q", tr.RegionAssets, tr.DebtorRegion)
	}
	s.expectEverywhere(tr.ID, cmproto.StateOffered)

	if _, err := s.as("京0108").Workflow().Recommend(ctx, tr.ID); !errors.Is(err, court.ErrPermission) {
		t.Errorf("a court not asked to decide gets a recommendation: %v", err)
	}
	rec, err := s.as("京01").Workflow().Recommend(ctx, tr.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Ranking) != 2 || rec.Ranking[0].Court != "京0108" || rec.Ranking[0].Factors.AssetShareDistrict != 1 || !rec.Ranking[0].Eligible ||
		rec.Ranking[1].Court != "京0105" || rec.Ranking[1].Eligible || rec.Ranking[1].Excluded != "the origin court" || rec.Ranking[1].ExcludedCode != advice.ExcludedOrigin {
		t.Fatalf("ranking %+v", rec.Ranking)
	}
	again, err := s.as("京01").Workflow().Recommend(ctx, tr.ID)
	if err != nil || again.InputsHash != rec.InputsHash {
		t.Errorf("the same inputs give another hash: %s / %s (%v)", again.InputsHash, rec.InputsHash, err)
	}

	// A decision on a recommendation whose inputs have changed is stale.
	_, err = s.as("京01").Workflow().Decide(ctx, tr.ID, api.DecideRequest{Mode: "designated", Receiver: "京0108", DecisionNumber: "（2026）京01执监9号",
		RecommendationHash: hex.EncodeToString(make([]byte, 32))})
	if !errors.Is(err, court.ErrStale) {
		t.Fatalf("decision on an outdated recommendation: %v, want ErrStale", err)
	}
	must(t)(s.as("京01").Workflow().Decide(ctx, tr.ID, api.DecideRequest{Mode: "designated", Receiver: "京0108", DecisionNumber: "（2026）京01执监9号", RecommendationHash: rec.InputsHash}))
	s.expectEverywhere(tr.ID, cmproto.StateDecided)
	for _, n := range s.tm.nodes {
		got, err := n.Workflow().Transfer(tr.ID)
		if err != nil || got.RecommendedRank != 1 || got.RecommendationHash != rec.InputsHash {
			t.Errorf("%s holds rank %d hash %q, want 1 and %s (%v)", n.Status().CourtCode, got.RecommendedRank, got.RecommendationHash, rec.InputsHash, err)
		}
	}
}
