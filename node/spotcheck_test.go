package node_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/nodetest"
	cmproto "courtmesh.dev/courtmesh/protocol"
)

// TestSpotCheckIsVerifiable: 京01 draws two of the five transfers of its
// jurisdiction offered today, seeded by its own record log head, reviews
// them (a review of a transfer not drawn is refused), and another court's
// node recomputes the draw from its own copy of the transfers and of
// 京01's log: the same sample, the reviewed transfer in it.
func TestSpotCheckIsVerifiable(t *testing.T) {
	s := newScenario(t)
	ctx := context.Background()
	safe, _ := s.cases("京0105", 10)
	if len(safe) < 5 {
		t.Fatalf("only %d cases without a near-expiry measure", len(safe))
	}
	var ids []court.TransferID
	for _, n := range safe[:5] {
		tr := must(t)(s.as("京0105").Workflow().Offer(ctx, api.OfferRequest{CaseNumber: n.String(), Superior: "京01", Grounds: []string{"long_unexecuted"}}))
		ids = append(ids, tr.ID)
	}
	for _, id := range ids {
		s.expectEverywhere(id, cmproto.StateOffered)
	}
	// 京01 has signed a record: its log head can seed a draw.
	must(t)(s.as("京01").Workflow().Decide(ctx, ids[0], api.DecideRequest{Mode: "designated", Receiver: "京0108", DecisionNumber: "（2026）京01执监11号"}))
	s.expectEverywhere(ids[0], cmproto.StateDecided)

	today := court.DateOf(time.Now())
	if _, err := s.as("京0105").Workflow().SpotCheck(ctx, api.SpotCheckRequest{Scope: "京01", From: today.String(), To: today.AddDate(0, 0, 1).String(), Sample: 2}); !errors.Is(err, court.ErrPermission) {
		t.Fatalf("京0105 spot-checked 京01's jurisdiction: %v, want a permission error", err)
	}
	sc, err := s.as("京01").Workflow().SpotCheck(ctx, api.SpotCheckRequest{From: today.AddDate(0, 0, -1).String(), To: today.AddDate(0, 0, 1).String(), Sample: 2})
	if err != nil {
		t.Fatal(err)
	}
	if sc.Draw.Population != 5 || len(sc.Sample) != 2 || sc.Draw.Scope != "京01" || sc.Draw.SeedSeq == 0 {
		t.Fatalf("draw %+v", sc)
	}
	// The draw is the seed's: recomputed from the same inputs, the same
	// sample.
	if again := cmproto.DrawSample(sc.Draw.SeedSeq, sc.Draw.SeedHead, ids, 2); !slices.Equal(again, sc.Sample) {
		t.Fatalf("the sample %v is not the seed's %v", sc.Sample, again)
	}
	var notDrawn court.TransferID
	for _, id := range ids {
		if !slices.Contains(sc.Sample, id) {
			notDrawn = id
		}
	}
	if _, err := s.as("京01").Workflow().Review(ctx, notDrawn, api.ReviewRequest{Finding: "in_order", Draw: &sc.Draw}); !errors.Is(err, court.ErrInvalid) {
		t.Fatalf("a review of a transfer not drawn: %v, want invalid", err)
	}
	reviews := map[court.TransferID]string{}
	for i, id := range sc.Sample {
		finding := []string{"in_order", "negligence"}[i]
		tr := must(t)(s.as("京01").Workflow().Review(ctx, id, api.ReviewRequest{Finding: finding, Note: "抽查：卷宗移送完整性", Draw: &sc.Draw}))
		if len(tr.Reviews) != 1 || tr.Reviews[0].SpotCheck != sc.ID {
			t.Fatalf("review on %s: %+v", id, tr.Reviews)
		}
		reviews[id] = tr.Reviews[0].Hash
	}

	// As 京 (another node), recompute each review's draw.
	other := s.as("京")
	for id, h := range reviews {
		nodetest.PollUntil(t, 20*time.Second, "the review on 京's node", func() bool {
			v, err := other.Workflow().Transfer(id)
			return err == nil && len(v.Reviews) == 1
		})
		v, err := other.Workflow().VerifySpotCheck(ctx, id, h)
		if err != nil {
			t.Fatalf("京 could not verify the spot check on %s: %v", id, err)
		}
		if !v.Verified || v.SpotCheck != sc.ID || !slices.Equal(v.Sample, sc.Sample) || v.Population != 5 {
			t.Fatalf("京 recomputed %+v, the draw was %+v", v, sc)
		}
	}
}
