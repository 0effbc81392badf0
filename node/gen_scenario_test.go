package node_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/api"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/storage"
	"courtmesh.dev/courtmesh/storage/gen"
	"courtmesh.dev/courtmesh/storage/importer"
)

// TestGenReturnedIncompleteScenario drives the synthetic scenario "a
// handover returned incomplete" (courtmesh gen, case 17) across real
// nodes: 京0105 imports the generated case as gen wrote it, its dossier
// lacking the papers gen names; 京01 designates 京0108; 京0105 hands
// over; 京0108 sees the missing items in the signed handover and returns
// it naming the kinds gen left out; 京0105 imports the same case with the
// papers found (gen's supplement folder) and supplements; 京0108 files
// the complete case, and every node agrees on every field.
func TestGenReturnedIncompleteScenario(t *testing.T) {
	s := newScenario(t)
	ctx := context.Background()

	// The generated data: case 17 is the scenario.
	cs, err := gen.Generate(filepath.Join(t.TempDir(), "cases"), gen.Options{Cases: 17, Seed: 16, Court: "京0105"})
	if err != nil {
		t.Fatal(err)
	}
	c := cs[16]
	if c.Scenario != gen.ScenarioReturned || len(c.Missing) == 0 || c.Supplement == "" {
		t.Fatalf("case 17 is scenario %q, missing %v, supplement %q", c.Scenario, c.Missing, c.Supplement)
	}
	for _, k := range c.Missing {
		if !slices.Contains(cmproto.DossierItems, k) {
			t.Fatalf("gen names %s missing, which a return cannot name (%v)", k, cmproto.DossierItems)
		}
	}
	// The standard dossier items the missing papers are, all required of
	// a handed-over case.
	wantMissing := cmproto.DossierItemsOf(c.Missing)
	for _, it := range wantMissing {
		if !slices.Contains(cmproto.DossierItemsRequired, it) {
			t.Fatalf("gen leaves out %s, not a required dossier item", it)
		}
	}

	// As 京0105, import the case as gen wrote it.
	origin := s.as("京0105")
	res, err := importer.Import(ctx, origin.Store(), c.Dir, importer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Documents != c.Documents {
		t.Fatalf("imported %d documents, gen wrote %d", res.Documents, c.Documents)
	}

	// As 京0105, offer; as 京01, designate 京0108; as 京0108, accept; as
	// 京0105, hand over (nothing expires within 30 days: no override).
	tr := must(t)(origin.Workflow().Offer(ctx, api.OfferRequest{CaseNumber: c.Number.String(), Superior: "京01", Grounds: []string{"long_unexecuted"}}))
	id := tr.ID
	s.expectEverywhere(id, cmproto.StateOffered)
	must(t)(s.as("京01").Workflow().Decide(ctx, id, api.DecideRequest{Mode: "designated", Receiver: "京0108", DecisionNumber: "（2026）京01执监71号"}))
	s.expectEverywhere(id, cmproto.StateDecided)
	year := itoa(court.DateOf(time.Now()).Year)
	newNo := "（" + year + "）京0108执71号"
	must(t)(s.as("京0108").Workflow().Accept(ctx, id, api.AcceptRequest{NewCaseNumber: newNo}))
	s.expectEverywhere(id, cmproto.StateAccepted)
	v1 := must(t)(origin.Workflow().Handover(ctx, id, api.HandoverRequest{}))
	s.expectEverywhere(id, cmproto.StateHandedOver)

	// As 京0108, read what the signed handover carries: the items of the
	// papers gen left out are missing, on every node alike.
	items, err := s.as("京0108").Funds().DossierItems(id)
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, it := range items.Missing {
		if it.Required {
			seen = append(seen, it.Item)
		}
	}
	if !items.Named || !slices.Equal(seen, wantMissing) {
		t.Fatalf("京0108 sees required items %v missing (named %v), gen left out %v (items %v)", seen, items.Named, c.Missing, wantMissing)
	}
	if got := s.agreeEverywhere(id); !slices.Equal(got.MissingDossierItems(), wantMissing) {
		t.Fatalf("every node holds %v missing, want %v", got.MissingDossierItems(), wantMissing)
	}

	// As 京0108, return the handover naming the kinds missing.
	must(t)(s.as("京0108").Workflow().Return(ctx, id, api.ReturnRequest{Missing: c.Missing, Note: "缺报告财产令及网络查控结果"}))
	s.expectEverywhere(id, cmproto.StateReturned)
	got := s.agreeEverywhere(id)
	if !slices.Equal(got.Missing, c.Missing) || got.SupplementBy == "" {
		t.Fatalf("returned: missing %v, supplement by %q", got.Missing, got.SupplementBy)
	}

	// As 京0105, import the case with the papers found and supplement.
	res, err = importer.Import(ctx, origin.Store(), c.Supplement, importer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Version != 2 || res.Documents != c.Documents+len(c.Missing) {
		t.Fatalf("the supplement imported as version %d with %d documents", res.Version, res.Documents)
	}
	v2 := must(t)(origin.Workflow().Supplement(ctx, id, api.HandoverRequest{}))
	if v2.HandoverVersion != 2 || v2.ChunkCount <= v1.ChunkCount {
		t.Fatalf("supplement: version %d, %d chunks (before %d)", v2.HandoverVersion, v2.ChunkCount, v1.ChunkCount)
	}
	s.expectEverywhere(id, cmproto.StateHandedOver)
	if got := s.agreeEverywhere(id); len(got.MissingDossierItems()) != 0 {
		t.Fatalf("after the supplement every node holds %v missing", got.MissingDossierItems())
	}

	// As 京0108, fetch: the case is filed complete under its new number.
	fp, err := s.as("京0108").Fetcher().Fetch(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	s.expectEverywhere(id, cmproto.StateReceived)
	n, err := court.ParseCaseNumber(fp.NewCase)
	if err != nil {
		t.Fatal(err)
	}
	_, filed, err := s.as("京0108").Store().Case(n)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range c.Missing {
		if !slices.ContainsFunc(filed.Documents, func(d storage.Document) bool { return d.Kind == k }) {
			t.Errorf("the case filed as %s lacks the supplemented %s", n, k)
		}
	}
	got = s.agreeEverywhere(id)
	if got.NewCaseNumber != newNo || got.HandoverVersion != 2 {
		t.Fatalf("every node holds new case %s, handover version %d", got.NewCaseNumber, got.HandoverVersion)
	}
	t.Logf("case %s (gen case 17) returned for %v, supplemented (version 2: %d chunks, version 1: %d), filed as %s", c.Number, c.Missing, v2.ChunkCount, v1.ChunkCount, n)
}
