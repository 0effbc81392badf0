package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/dashboard"
	"courtmesh.dev/courtmesh/node/nodetest"
	cmproto "courtmesh.dev/courtmesh/protocol"
)

// agreeEverywhere waits until every node holds the same transfer, field
// for field (the state derived from the records, as stored), and
// returns it.
func (s *scenario) agreeEverywhere(id court.TransferID) *cmproto.Transfer {
	s.t.Helper()
	var w []byte
	nodetest.PollUntil(s.t, 20*time.Second, "every node agreeing on every field of "+string(id), func() bool {
		w = nil
		for _, n := range s.tm.nodes {
			g, err := n.Store().Transfer(string(id))
			if err != nil {
				return false
			}
			if w == nil {
				w = g
			} else if !bytes.Equal(g, w) {
				return false
			}
		}
		return true
	})
	var t cmproto.Transfer
	if err := json.Unmarshal(w, &t); err != nil {
		s.t.Fatal(err)
	}
	return &t
}

// refused fails the test unless err is of kind and its message names
// every word given; it logs the refusal, which is what the clerk reads.
func refused(t *testing.T, what string, err error, kind error, words ...string) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("%s: err = %v, want %v", what, err, kind)
	}
	for _, w := range words {
		if !strings.Contains(err.Error(), w) {
			t.Fatalf("%s: %q does not say %q", what, err, w)
		}
	}
	t.Logf("%s refused: %v", what, err)
}

// TestBalanceIsTheNewClaim: the receiving court files its new 执 case
// with the amount still unrecovered, as the signed handover states it,
// and counts it as a first enforcement of that balance.
func TestBalanceIsTheNewClaim(t *testing.T) {
	s := newScenario(t)
	ctx := context.Background()
	safe, _ := s.cases("京0105", 6)
	if len(safe) < 2 {
		t.Fatal("the generator made too few cases without a near-expiry measure")
	}
	cn := safe[0]
	_, v, err := s.as("京0105").Store().Case(cn)
	if err != nil {
		t.Fatal(err)
	}
	claim := v.ClaimFen
	atOffer, atHandover := claim/10, claim/4

	// As 京0105, offer the case, having recovered a tenth of the claim.
	tr := must(t)(s.as("京0105").Workflow().Offer(ctx, api.OfferRequest{CaseNumber: cn.String(), Superior: "京01", Grounds: []string{"long_unexecuted"}, AmountRecoveredFen: &atOffer}))
	id := tr.ID
	if tr.AmountOutstanding != claim-atOffer {
		t.Fatalf("offer announces %d outstanding, want %d", tr.AmountOutstanding, claim-atOffer)
	}
	s.expectEverywhere(id, cmproto.StateOffered)
	// As 京01, designate 京0108.
	must(t)(s.as("京01").Workflow().Decide(ctx, id, api.DecideRequest{Mode: "designated", Receiver: "京0108", DecisionNumber: "（2026）京01执监31号"}))
	s.expectEverywhere(id, cmproto.StateDecided)

	// As 京0108, accept: the new number must be a first enforcement (执)
	// of this court of this year or the last.
	year := court.DateOf(time.Now()).Year
	_, err = s.as("京0108").Workflow().Accept(ctx, id, api.AcceptRequest{NewCaseNumber: "（" + itoa(year) + "）京0108执恢31号"})
	refused(t, "acceptance under an 执恢 number", err, court.ErrInvalid, "first enforcement")
	_, err = s.as("京0108").Workflow().Accept(ctx, id, api.AcceptRequest{NewCaseNumber: "（" + itoa(year-3) + "）京0108执31号"})
	refused(t, "acceptance under a number of three years ago", err, court.ErrInvalid, itoa(year-3))
	newNo := "（" + itoa(year) + "）京0108执31号"
	must(t)(s.as("京0108").Workflow().Accept(ctx, id, api.AcceptRequest{NewCaseNumber: newNo}))
	s.expectEverywhere(id, cmproto.StateAccepted)

	// As 京0105, hand over: what was recovered cannot shrink, nor cover
	// the whole claim.
	less, all := atOffer-1, claim
	_, err = s.as("京0105").Workflow().Handover(ctx, id, api.HandoverRequest{AmountRecoveredFen: &less})
	refused(t, "handover stating less recovered than the offer", err, court.ErrInvalid, "cannot shrink")
	_, err = s.as("京0105").Workflow().Handover(ctx, id, api.HandoverRequest{AmountRecoveredFen: &all})
	refused(t, "handover stating the whole claim recovered", err, court.ErrInvalid, "nothing is left")
	// It recovered a quarter by now: the balance is three quarters.
	tr = must(t)(s.as("京0105").Workflow().Handover(ctx, id, api.HandoverRequest{AmountRecoveredFen: &atHandover}))
	if tr.ClaimFen != claim || tr.HandoverRecovered != atHandover || tr.BalanceFen != claim-atHandover {
		t.Fatalf("handover states claim %d, recovered %d, balance %d; want %d, %d, %d", tr.ClaimFen, tr.HandoverRecovered, tr.BalanceFen, claim, atHandover, claim-atHandover)
	}
	s.expectEverywhere(id, cmproto.StateHandedOver)

	// As 京0108, fetch: the case is filed with the balance as its claim.
	p, err := s.as("京0108").Fetcher().Fetch(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	n, err := court.ParseCaseNumber(p.NewCase)
	if err != nil {
		t.Fatal(err)
	}
	_, filed, err := s.as("京0108").Store().Case(n)
	if err != nil {
		t.Fatal(err)
	}
	if filed.ClaimFen != claim-atHandover || filed.OriginClaimFen != claim || filed.Number.Type != court.TypeEnforcement {
		t.Fatalf("filed %s claiming %d (origin's claim %d), want %d of %d", filed.Number, filed.ClaimFen, filed.OriginClaimFen, claim-atHandover, claim)
	}
	s.expectEverywhere(id, cmproto.StateReceived)

	// Every node agrees on every field, the balance among them; the
	// statistics count the receiver's case as a first enforcement of the
	// balance (the origin's, closed by 销案, not at all).
	got := s.agreeEverywhere(id)
	if got.BalanceFen != claim-atHandover || got.ClaimFen != claim || got.NewCaseNumber != newNo {
		t.Fatalf("agreed transfer: balance %d, claim %d, new case %s", got.BalanceFen, got.ClaimFen, got.NewCaseNumber)
	}
	st := dashboard.Contribution(got, 30)
	if st["rcv/京0108/claimed"] != claim-atHandover || st["rcv/京0108/origin"] != atHandover {
		t.Fatalf("statistics %v: want the balance %d claimed at 京0108 and %d recovered by the origin", st, claim-atHandover, atHandover)
	}
	for k := range st {
		if strings.HasPrefix(k, "rcv/京0105/") {
			t.Fatalf("the origin's case is counted: %s", k)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
