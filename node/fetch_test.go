package node_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/nodetest"
	cmproto "courtmesh.dev/courtmesh/protocol"
)

// handedOver plays a transfer from 京0105 to 京0108 up to the handover
// and returns its id and the origin's case number.
func (s *scenario) handedOver(t *testing.T, cn court.CaseNumber) court.TransferID {
	s.accepted++
	t.Helper()
	ctx := context.Background()
	tr := must(t)(s.as("京0105").Workflow().Offer(ctx, api.OfferRequest{CaseNumber: cn.String(), Superior: "京01", Grounds: []string{"long_unexecuted"}}))
	s.expectEverywhere(tr.ID, cmproto.StateOffered)
	must(t)(s.as("京01").Workflow().Decide(ctx, tr.ID, api.DecideRequest{Mode: "designated", Receiver: "京0108", DecisionNumber: "（2026）京01执监11号"}))
	s.expectEverywhere(tr.ID, cmproto.StateDecided)
	must(t)(s.as("京0108").Workflow().Accept(ctx, tr.ID, api.AcceptRequest{NewCaseNumber: nodetest.CaseNo(time.Now(), "京0108", court.TypeEnforcement, 500+s.accepted)}))
	s.expectEverywhere(tr.ID, cmproto.StateAccepted)
	must(t)(s.as("京0105").Workflow().Handover(ctx, tr.ID, api.HandoverRequest{OverrideReason: "测试：续行已办理"}))
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

	seq := auditHead(t, s.as("京0105"))
	p, err := s.as("京0108").Fetcher().Fetch(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("fetched %d chunks, %d bytes from %v", p.Fetched, p.Bytes, p.Sources)
	// One manifest, asked with the first chunks, and every chunk served
	// once: none of the first asked again, none lost.
	manifests, served := 0, 0
	for _, e := range auditAfter(t, s.as("京0105"), seq) {
		if e.Court != "京0108" || e.Transfer != string(id) || e.Outcome != "ok" {
			continue
		}
		switch e.Event {
		case "dossier.manifest":
			manifests++
		case "dossier.chunks":
			served += servedChunks(t, e)
		}
	}
	if n := len(dossierChunks(t, s.as("京0105"), cn)); manifests != 1 || served != n {
		t.Errorf("the origin served %d manifests and %d chunks, want 1 and each of the %d chunks once", manifests, served, n)
	}
	s.expectEverywhere(id, cmproto.StateReceived)

	tr, _ := s.as("京0108").Workflow().Transfer(id)
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
		if m.Status == court.MeasureActive && m.Court != "京0108" {
			t.Errorf("measure %s still held by %s", m.ID, m.Court)
		}
		if m.Rank != om[i].Rank || m.Expiry != om[i].Expiry {
			t.Errorf("measure %s lost its priority or term", m.ID)
		}
	}
	nodetest.PollUntil(t, 10*time.Second, "the origin closes its case by 销案", func() bool {
		head, _, err := s.as("京0105").Store().Case(cn)
		return err == nil && head.Status == court.StatusTransferred
	})
}

// TestFetchStoppedBetweenFilingAndReceipt: a fetch that filed the case and
// stopped before its receipt (a crash, a restart) is finished by the next
// run without fetching a chunk again; a run after the receipt only
// verifies. Before, the next run fetched the whole dossier again and then
// failed for ever on the case already filed, and no receipt went out.
func TestFetchStoppedBetweenFilingAndReceipt(t *testing.T) {
	s := newScenario(t)
	safe, _ := s.cases("京0105", 4)
	id := s.handedOver(t, safe[0])
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	recv := s.as("京0108")

	recv.Fetcher().SetAfterFiling(func() error { return errors.New("stopped after the filing") })
	_, err := recv.Fetcher().Fetch(ctx, id)
	recv.Fetcher().SetAfterFiling(nil)
	if err == nil || !strings.Contains(err.Error(), "stopped after the filing") {
		t.Fatalf("first run: %v, want the stop", err)
	}
	if tr, _ := recv.Workflow().Transfer(id); tr.State != cmproto.StateHandedOver {
		t.Fatalf("after the stop the transfer is %s, want handed_over (no receipt yet)", tr.State)
	}
	p, err := recv.Fetcher().Fetch(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if p.Fetched != 0 || p.Bytes != 0 || p.NewCase == "" || p.Verified != p.Chunks || p.Chunks == 0 {
		t.Fatalf("second run: %+v; want nothing fetched and every chunk verified", p)
	}
	s.expectEverywhere(id, cmproto.StateReceived)
	p, err = recv.Fetcher().Fetch(ctx, id)
	if err != nil || p.Fetched != 0 {
		t.Fatalf("a run after the receipt: %+v, %v", p, err)
	}
}

// TestFetchFromTheFiledCopy: once the receiver filed the case, its copy
// serves the dossier to another court holding a grant (here the decider,
// with the origin unreachable).
func TestFetchFromTheFiledCopy(t *testing.T) {
	s := newScenario(t)
	safe, _ := s.cases("京0105", 4)
	id := s.handedOver(t, safe[0])
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := s.as("京0108").Fetcher().Fetch(ctx, id); err != nil {
		t.Fatal(err)
	}
	s.expectEverywhere(id, cmproto.StateReceived)
	origin, decider := s.as("京0105"), s.as("京01")
	cutOff([]*node.Node{origin}, []*node.Node{decider}, true)
	p, err := decider.Fetcher().Fetch(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if p.Fetched == 0 || p.Sources["京0108"] != p.Fetched {
		t.Fatalf("decider fetched %d chunks from %v; want all from 京0108", p.Fetched, p.Sources)
	}
}

// TestFetchKeepsThirdCourtsSeizures: a case whose asset carries a
// waiting line across three courts (another court's seizure first, the
// origin waiting first, a third court second) is filed at the receiver
// with the origin's measures now its own and the other courts' seizures
// still theirs; a waiting seizure has no term while it waits.
func TestFetchKeepsThirdCourtsSeizures(t *testing.T) {
	s := newScenario(t)
	safe, expiring := s.cases("京0105", 6)
	var cn court.CaseNumber
	var before []court.Measure
	for _, c := range append(safe, expiring...) {
		ms, err := s.as("京0105").Store().Measures(c)
		if err != nil {
			t.Fatal(err)
		}
		if slices.ContainsFunc(ms, func(m court.Measure) bool { return m.Status == court.MeasureActive && m.Court != "京0105" }) {
			cn, before = c, ms
			break
		}
	}
	if cn.IsZero() {
		t.Fatal("the generator made no case with another court's seizure")
	}
	id := s.handedOver(t, cn)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := s.as("京0108").Fetcher().Fetch(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	newNo, err := court.ParseCaseNumber(p.NewCase)
	if err != nil {
		t.Fatal(err)
	}
	after, err := s.as("京0108").Store().Measures(newNo)
	if err != nil {
		t.Fatal(err)
	}
	held := map[string]court.CourtCode{}
	for _, m := range after {
		held[m.ID] = m.Court
	}
	for _, m := range before {
		if m.Status != court.MeasureActive {
			continue
		}
		want := m.Court
		if m.Court == "京0105" {
			want = "京0108"
		}
		if held[m.ID] != want {
			t.Errorf("measure %s (%s, rank %d) held by %s at the origin is held by %s at the receiver; want %s", m.ID, m.Kind, m.Rank, m.Court, held[m.ID], want)
		}
		if m.Kind == court.MeasureWaiting && !m.Expiry.IsZero() {
			t.Errorf("waiting seizure %s has a term (%s) before it took effect", m.ID, m.Expiry)
		}
	}
}
