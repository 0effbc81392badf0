package node_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/api"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/storage"
)

// handedOver plays a transfer from 京0105 to 京0108 up to the handover
// and returns its id and the origin's case number.
func (s *scenario) handedOver(t *testing.T, cn court.CaseNumber) cmproto.TransferID {
	s.accepted++
	t.Helper()
	ctx := context.Background()
	tr := must(t)(s.as("京0105").Offer(ctx, api.OfferRequest{CaseNumber: cn.String(), Superior: "京01", Grounds: []string{"long_unexecuted"}}))
	s.expectEverywhere(tr.ID, cmproto.StateOffered)
	must(t)(s.as("京01").Decide(ctx, tr.ID, api.DecideRequest{Mode: "designated", Receiver: "京0108", DecisionNumber: "（2026）京01执监11号"}))
	s.expectEverywhere(tr.ID, cmproto.StateDecided)
	must(t)(s.as("京0108").Accept(ctx, tr.ID, api.AcceptRequest{NewCaseNumber: fmt.Sprintf("（2026）京0108执%d号", 500+s.accepted)}))
	s.expectEverywhere(tr.ID, cmproto.StateAccepted)
	must(t)(s.as("京0105").Handover(ctx, tr.ID, api.HandoverRequest{OverrideReason: "测试：续行已办理"}))
	s.expectEverywhere(tr.ID, cmproto.StateHandedOver)
	return tr.ID
}

func TestFetchFilesTheCaseAndReceipts(t *testing.T) {
	s := newScenario(t)
	safe, expiring := s.cases("京0105", 4)
	cn := append(safe, expiring...)[0]
	id := s.handedOver(t, cn)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	p, err := s.as("京0108").Fetch(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("fetched %d chunks, %d bytes from %v", p.Fetched, p.Bytes, p.Sources)
	s.expectEverywhere(id, cmproto.StateReceived)

	tr, _ := s.as("京0108").Transfer(id)
	newNo, err := court.ParseCaseNumber(tr.NewCaseNumber)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := s.as("京0108").Store().VerifyCase(ctx, newNo)
	if err != nil {
		t.Fatalf("the filed case does not verify: %v", err)
	}
	orig, err := s.as("京0105").Store().VerifyCase(ctx, cn)
	if err != nil {
		t.Fatal(err)
	}
	if rep != orig {
		t.Errorf("received %+v, origin holds %+v", rep, orig)
	}
	ms, err := s.as("京0108").Store().Measures(newNo)
	if err != nil {
		t.Fatal(err)
	}
	om, _ := s.as("京0105").Store().Measures(cn)
	for i, m := range ms {
		if m.Status == storage.MeasureActive && m.Court != "京0108" {
			t.Errorf("measure %s still held by %s", m.ID, m.Court)
		}
		if m.Rank != om[i].Rank || m.Expiry != om[i].Expiry {
			t.Errorf("measure %s lost its priority or term", m.ID)
		}
	}
	waitFor(t, 10*time.Second, "the origin closes its case by 销案", func() bool {
		head, _, err := s.as("京0105").Store().Case(cn)
		return err == nil && head.Status == storage.StatusTransferred
	})
	entries, _ := s.as("京0105").Store().AuditEntries(1, 0)
	served := 0
	for _, e := range entries {
		if e.Event == "dossier.chunks" && e.Outcome == "ok" && e.Court == "京0108" {
			served++
		}
	}
	if served == 0 {
		t.Error("the origin audited no served request")
	}
}
