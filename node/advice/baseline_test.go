package advice_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/advice"
	"courtmesh.dev/courtmesh/node/dashboard"
	cmproto "courtmesh.dev/courtmesh/protocol"
)

// The synthetic province of TestRecommendationBeatsBaselines: the high
// court 苏 decides among 36 basic courts, six districts (02-07) in each
// of six cities (01-06). Region codes follow the court codes (苏0305 ->
// 320305).
//
// The outcome model, which the recommender does not see: every court c
// has a hidden capacity q(c), uniform in [0.10, 0.50). A case handled by
// receiver r recovers the share
//
//	recovery = q(r) + 0.35*prox - 0.30*ties - 0.15*open(r)/(open(r)+10) + noise
//
// clipped to [0, 1], where prox is the share of the case's asset value in
// r's district plus half the share elsewhere in r's city (asset
// proximity), ties is 1 if r sits in the origin's or the debtor's
// district, 0.5 if in the same city as either (local interference: the
// opposite of independence), open(r) is r's current load, and noise is
// normal with deviation 0.10. In the history, a case is concluded within
// 6 months with probability 0.3+q(r), accepted in time with probability
// 0.6+q(r), and a measure lapses during its handover with probability
// (0.5-q(r))/5. The recommender sees only what the mesh would show it:
// the offer's region summary, the courts' regions, their load, and their
// track record summed from the historical transfers by the dashboard's
// statistics (dashboard.Contribution, as the store keeps them).
type province struct {
	courts []court.CourtCode
	region map[court.CourtCode]court.RegionCode
	q      map[court.CourtCode]float64
	open   map[court.CourtCode]int
}

func newProvince(rng *rand.Rand) *province {
	p := &province{region: map[court.CourtCode]court.RegionCode{}, q: map[court.CourtCode]float64{}, open: map[court.CourtCode]int{}}
	for city := 1; city <= 6; city++ {
		for d := 2; d <= 7; d++ {
			c := court.CourtCode(fmt.Sprintf("苏%02d%02d", city, d))
			r, ok := c.Region()
			if !ok {
				panic(c)
			}
			p.courts = append(p.courts, c)
			p.region[c] = r
			p.q[c] = 0.10 + 0.40*rng.Float64()
			p.open[c] = rng.IntN(40)
		}
	}
	return p
}

// simCase is a synthetic case: its origin, the debtor's district, and
// its assets' value by district.
type simCase struct {
	origin   court.CourtCode
	debtor   court.RegionCode
	holdings []advice.Holding
}

func (p *province) newCase(rng *rand.Rand) simCase {
	origin := p.courts[rng.IntN(len(p.courts))]
	debtor := p.region[origin]
	if rng.IntN(10) >= 7 { // elsewhere in the origin's city
		debtor = debtor[:4] + court.RegionCode(fmt.Sprintf("%02d", 2+rng.IntN(6)))
	}
	sc := simCase{origin: origin, debtor: debtor}
	seen := map[court.RegionCode]bool{}
	for range 1 + rng.IntN(4) {
		r := debtor
		if rng.IntN(2) == 0 { // an asset elsewhere in the province
			r = p.region[p.courts[rng.IntN(len(p.courts))]]
		}
		if seen[r] {
			continue
		}
		seen[r] = true
		sc.holdings = append(sc.holdings, advice.Holding{Region: r, Class: "real_estate", Count: 1, Band: court.ValueBand(1 + rng.IntN(4))})
	}
	return sc
}

// eligible lists the courts a designation may name under the rule the
// recommender applies too: not the origin, not in the origin's or the
// debtor's district.
func (p *province) eligible(sc simCase) []court.CourtCode {
	var out []court.CourtCode
	for _, c := range p.courts {
		if c != sc.origin && p.region[c] != p.region[sc.origin] && p.region[c] != sc.debtor {
			out = append(out, c)
		}
	}
	return out
}

// recovery is the hidden model's expected recovery (without noise).
func (p *province) recovery(sc simCase, r court.CourtCode) float64 {
	var total, near float64
	for _, h := range sc.holdings {
		v := h.Band.Weight()
		total += v
		switch court.Distance(h.Region, p.region[r]) {
		case 0:
			near += v
		case 1:
			near += v / 2
		}
	}
	prox := near / total
	ties := 0.0
	do, dd := court.Distance(p.region[r], p.region[sc.origin]), court.Distance(p.region[r], sc.debtor)
	switch {
	case do == 0 || dd == 0:
		ties = 1
	case do == 1 || dd == 1:
		ties = 0.5
	}
	o := float64(p.open[r])
	return p.q[r] + 0.35*prox - 0.30*ties - 0.15*o/(o+10)
}

func clip(x float64) float64 { return math.Min(1, math.Max(0, x)) }

func TestRecommendationBeatsBaselines(t *testing.T) {
	rng := rand.New(rand.NewPCG(20, 2026))
	p := newProvince(rng)
	if len(p.courts) < 30 {
		t.Fatalf("%d courts", len(p.courts))
	}

	// History: 2,000 transfers, each designated to a random eligible
	// court (as a superior without advice might), their outcomes drawn
	// from the model; the statistics summed as the store sums them.
	const history = 2000
	stats := map[string]int64{}
	start := time.Date(2024, 1, 1, 2, 0, 0, 0, time.UTC)
	for i := range history {
		sc := p.newCase(rng)
		el := p.eligible(sc)
		r := el[rng.IntN(len(el))]
		q := p.q[r]
		decided := start.Add(time.Duration(i) * 6 * time.Hour)
		claim := int64(1_000_000_00)
		tr := &cmproto.Transfer{
			ID: court.NewTransferID(), Origin: sc.origin, Superior: "苏", Decider: "苏", Receiver: r, Mode: "指令执行",
			AmountOutstanding: claim, DecidedAt: decided, AcceptBy: court.DateOf(decided).AddDate(0, 0, 7).String(),
		}
		accept := decided.Add(24 * time.Hour)
		if rng.Float64() >= 0.6+q {
			accept = decided.Add(10 * 24 * time.Hour) // late
		}
		tr.AcceptedAt, tr.HandedOverAt = accept, accept.Add(24*time.Hour)
		tr.ReceivedAt = tr.HandedOverAt.Add(3 * 24 * time.Hour)
		if rng.Float64() < (0.5-q)/5 { // an overridden measure expired between handover and receipt
			tr.EarliestExpiry = court.DateOf(tr.HandedOverAt).AddDate(0, 0, 1).String()
			tr.OverrideReason, tr.Overridden = "override", []string{"m1"}
		}
		tr.AmountRecovered = int64(clip(p.recovery(sc, r)+rng.NormFloat64()*0.10) * float64(claim))
		tr.State = cmproto.StateClosed
		if rng.Float64() < 0.3+q {
			tr.ClosedAt = accept.Add(90 * 24 * time.Hour)
		} else {
			tr.ClosedAt = accept.Add(300 * 24 * time.Hour)
		}
		for k, v := range dashboard.Contribution(tr, 30) {
			stats[k] += v
		}
	}
	now := start.Add(history * 6 * time.Hour)
	candidates := make([]advice.Candidate, 0, len(p.courts))
	for _, c := range p.courts {
		ci := dashboard.ReceiverIndicators(stats, c, now)
		candidates = append(candidates, advice.Candidate{Court: c, Region: p.region[c],
			Load: advice.Load{Open: p.open[c] + ci.Open},
			Track: advice.Track{Designated: ci.Designated, Accepted: ci.Accepted, AcceptedInTime: ci.AcceptedInTime, Concluded: ci.Concluded,
				Concluded6m: ci.Concluded6m, RecoveredFen: ci.RecoveredFen, ClaimedFen: ci.ClaimedFen, Lapsed: ci.MeasuresLapsed}})
	}
	if lapsed := slices.ContainsFunc(candidates, func(c advice.Candidate) bool { return c.Track.Lapsed > 0 }); !lapsed {
		t.Fatal("the history lapsed no measure: the lapse factor is untested")
	}

	// New cases: the recommended court, a random eligible court and the
	// eligible court nearest the origin (the first in code order among
	// the nearest), each scored by the hidden model with the same noise.
	const cases = 500
	var rec, rnd, nearest float64
	for range cases {
		sc := p.newCase(rng)
		in := advice.Input{
			Case: advice.Case{Transfer: court.NewTransferID(), Origin: sc.origin, Decider: "苏", OriginRegion: p.region[sc.origin],
				DebtorRegion: sc.debtor, Holdings: sc.holdings},
			Candidates: candidates, Weights: advice.Default(),
		}
		best, ok := advice.Rank(in).Best()
		if !ok {
			t.Fatalf("no eligible court for %+v", sc)
		}
		el := p.eligible(sc)
		if !slices.Contains(el, best.Court) {
			t.Fatalf("recommended %s, not eligible for %+v", best.Court, sc)
		}
		near := slices.MinFunc(el, func(a, b court.CourtCode) int {
			return court.Distance(p.region[a], p.region[sc.origin]) - court.Distance(p.region[b], p.region[sc.origin])
		})
		noise := rng.NormFloat64() * 0.10
		rec += clip(p.recovery(sc, best.Court) + noise)
		rnd += clip(p.recovery(sc, el[rng.IntN(len(el))]) + noise)
		nearest += clip(p.recovery(sc, near) + noise)
	}
	rec, rnd, nearest = rec/cases, rnd/cases, nearest/cases
	fmt.Printf("recommend: recommended %.3f random %.3f nearest %.3f\n", rec, rnd, nearest)
	if rec <= rnd || rec <= nearest {
		t.Errorf("the recommendation (%.3f) is not the best of the three (random %.3f, nearest %.3f)", rec, rnd, nearest)
	}
}
