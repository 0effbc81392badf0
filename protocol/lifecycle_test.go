package protocol_test

import (
	"errors"
	"testing"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
)

// TestHandoverBalance: the handover states the claim and what the origin
// recovered; the state machine checks them against the offer and derives
// the receiver's claim, the balance.
func TestHandoverBalance(t *testing.T) {
	t.Parallel()
	// The offer: 1,500,000.00 outstanding, 20,000.00 recovered.
	const claim = 1_500_000_00 + 20_000_00
	with := func(claimFen, recovered int64) *pb.Record {
		b := handoverBody("京0108", "京01")
		b.GetHandover().ClaimFen, b.GetHandover().RecoveredFen = claimFen, recovered
		return b
	}
	for _, c := range []struct {
		name             string
		claim, recovered int64
		want             error
		balance          int64
	}{
		{"older build: the offer's outstanding", 0, 0, nil, 1_500_000_00},
		{"recovered as offered", claim, 20_000_00, nil, 1_500_000_00},
		{"more recovered since", claim, 520_000_00, nil, 1_000_000_00},
		{"another claim than the offer's", claim + 1, 20_000_00, court.ErrInvalid, 0},
		{"less recovered than offered", claim, 10_000_00, court.ErrInvalid, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newStory(t)
			acc := s.in(protocol.StateAccepted)
			next, err := protocol.Apply(acc, s.rec("京0105", step(5), with(c.claim, c.recovered)), s.f.trust, s.rules)
			if c.want != nil {
				if !errors.Is(err, c.want) {
					t.Fatalf("err = %v, want %v", err, c.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if next.BalanceFen != c.balance || next.ClaimFen != c.claim {
				t.Fatalf("balance %d, claim %d; want %d, %d", next.BalanceFen, next.ClaimFen, c.balance, c.claim)
			}
		})
	}
}
