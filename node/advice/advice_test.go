package advice_test

import (
	"slices"
	"testing"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/advice"
)

// factorCase is a case of 苏0105 (Nanjing, 320105) whose debtor lives in
// 320106, decided by the high court 苏, among equal candidates but for
// what a subtest changes.
func factorCase(candidates ...court.CourtCode) advice.Input {
	in := advice.Input{
		Case: advice.Case{Transfer: "00112233445566778899aabbccddeeff", Origin: "苏0105", Decider: "苏",
			OriginRegion: "320105", DebtorRegion: "320106"},
		Weights: advice.Default(),
	}
	for _, c := range candidates {
		r, _ := c.Region()
		in.Candidates = append(in.Candidates, advice.Candidate{Court: c, Region: r,
			Track: advice.Track{Designated: 10, Accepted: 10, AcceptedInTime: 8, Concluded: 6, Concluded6m: 3, RecoveredFen: 30_000_00, ClaimedFen: 100_000_00}})
	}
	return in
}

func entry(t *testing.T, r advice.Recommendation, c court.CourtCode) advice.Entry {
	t.Helper()
	for _, e := range r.Ranking {
		if e.Court == c {
			return e
		}
	}
	t.Fatalf("%s not in the ranking %+v", c, r.Ranking)
	return advice.Entry{}
}

// above fails unless a ranks above b.
func above(t *testing.T, r advice.Recommendation, a, b court.CourtCode) {
	t.Helper()
	ea, eb := entry(t, r, a), entry(t, r, b)
	if ea.Rank >= eb.Rank {
		t.Errorf("%s (rank %d, score %v, %+v) not above %s (rank %d, score %v, %+v)", a, ea.Rank, ea.Score, ea.Points, b, eb.Rank, eb.Score, eb.Points)
	}
}

func setCandidate(in *advice.Input, c court.CourtCode, f func(*advice.Candidate)) {
	for i := range in.Candidates {
		if in.Candidates[i].Court == c {
			f(&in.Candidates[i])
		}
	}
}

func TestRecommendationFactors(t *testing.T) {
	t.Run("assets in a district lift its court", func(t *testing.T) {
		in := factorCase("苏0211", "苏0212", "苏0311")
		in.Case.Holdings = []advice.Holding{
			{Region: "320311", Class: "deposit", Count: 2, Band: court.BandUnder1M},
			{Region: "320211", Class: "real_estate", Count: 1, Band: court.BandUnder10M},
		}
		r := advice.Rank(in)
		above(t, r, "苏0211", "苏0212") // the real estate in its district, against in its city
		above(t, r, "苏0212", "苏0311") // half of a large share, against a small one
		if e := entry(t, r, "苏0211"); e.Factors.AssetShareDistrict != 0.909091 || e.Points.Assets != 3.636364 {
			t.Errorf("苏0211: %+v", e)
		}
	})
	t.Run("the origin and the debtor's district are excluded", func(t *testing.T) {
		in := factorCase("苏0105", "苏0106", "苏0211")
		in.Case.Holdings = []advice.Holding{{Region: "320106", Class: "real_estate", Count: 1, Band: court.BandOver10M}}
		r := advice.Rank(in)
		if e := entry(t, r, "苏0105"); e.Eligible || e.ExcludedCode != advice.ExcludedOrigin || e.Excluded != "the origin court" {
			t.Errorf("origin: %+v", e)
		}
		if e := entry(t, r, "苏0106"); e.Eligible || e.ExcludedCode != advice.ExcludedDebtorDistrict || e.Excluded != "in the debtor's district" || e.Rank != 3 && e.Rank != 2 {
			t.Errorf("debtor's district, though all the assets are there: %+v", e)
		}
		if b, ok := r.Best(); !ok || b.Court != "苏0211" {
			t.Errorf("best %+v", b)
		}
		in.Weights.ExcludeLocal = false
		if e := entry(t, advice.Rank(in), "苏0106"); !e.Eligible {
			t.Errorf("with exclude_local off, the debtor's district is still excluded: %+v", e)
		}
	})
	t.Run("a court near the origin or the debtor is penalised", func(t *testing.T) {
		r := advice.Rank(factorCase("苏0102", "苏0202"))
		above(t, r, "苏0202", "苏0102")
		if e := entry(t, r, "苏0102"); e.Points.Near != -2 || e.Factors.DistanceOrigin != 1 || e.Factors.DistanceDebtor != 1 {
			t.Errorf("near: %+v", e)
		}
	})
	t.Run("an overloaded court drops", func(t *testing.T) {
		in := factorCase("苏0211", "苏0212")
		setCandidate(&in, "苏0211", func(c *advice.Candidate) { c.Load = advice.Load{Open: 40, Overdue: 3} })
		above(t, advice.Rank(in), "苏0212", "苏0211")
	})
	t.Run("a court with lapses drops", func(t *testing.T) {
		in := factorCase("苏0211", "苏0212")
		setCandidate(&in, "苏0211", func(c *advice.Candidate) { c.Track.Lapsed = 1 })
		above(t, advice.Rank(in), "苏0212", "苏0211")
	})
	t.Run("a better track record lifts", func(t *testing.T) {
		in := factorCase("苏0211", "苏0212")
		setCandidate(&in, "苏0212", func(c *advice.Candidate) { c.Track.RecoveredFen, c.Track.Concluded6m = 80_000_00, 6 })
		above(t, advice.Rank(in), "苏0212", "苏0211")
	})
	t.Run("a court without history is neutral", func(t *testing.T) {
		in := factorCase("苏0211")
		in.Candidates[0].Track = advice.Track{}
		if e := advice.Rank(in).Ranking[0]; e.Points.Track != 0 || e.Factors.RecoveryRate != advice.PriorRecovery {
			t.Errorf("no history: %+v", e)
		}
	})
	t.Run("configured exclusion", func(t *testing.T) {
		in := factorCase("苏0211", "苏0212")
		in.Weights.Exclude = []court.CourtCode{"苏0212"}
		if e := entry(t, advice.Rank(in), "苏0212"); e.Eligible || e.Rank != 2 || e.ExcludedCode != advice.ExcludedConfigured {
			t.Errorf("configured exclusion: %+v", e)
		}
	})
	t.Run("a configured region counts like a derived one", func(t *testing.T) {
		// Specialised courts' codes name no region: without
		// configuration they get no asset share and no local tie.
		in := factorCase("苏0211", "苏71", "苏72", "苏7101")
		in.Case.Holdings = []advice.Holding{
			{Region: "320106", Class: "real_estate", Count: 1, Band: court.BandUnder10M},
			{Region: "320102", Class: "deposit", Count: 1, Band: court.BandUnder10M},
		}
		r := advice.Rank(in)
		for _, c := range []court.CourtCode{"苏71", "苏72", "苏7101"} {
			if e := entry(t, r, c); !e.Eligible || e.Factors.AssetShareDistrict != 0 || e.Points.Near != 0 || e.Factors.DistanceDebtor != 3 {
				t.Errorf("%s unconfigured: %+v", c, e)
			}
		}
		// Configured: 苏71 sits in the debtor's district, 苏72 in the
		// origin's city, and 苏7101 is the origin, in the origin's district.
		in.Weights.CourtRegions = map[court.CourtCode]court.RegionCode{"苏71": "320106", "苏72": "320102", "苏7101": "320105"}
		in.Case.Origin, in.Case.OriginRegion = "苏7101", ""
		r = advice.Rank(in)
		if e := entry(t, r, "苏71"); e.Eligible || e.ExcludedCode != advice.ExcludedDebtorDistrict || e.Factors.AssetShareDistrict != 0.5 || e.Factors.AssetShareCity != 0.5 {
			t.Errorf("苏71 in the debtor's district: %+v", e)
		}
		if e := entry(t, r, "苏72"); !e.Eligible || e.Factors.AssetShareDistrict != 0.5 || e.Points.Near != -2 || e.Factors.DistanceOrigin != 1 || e.Factors.DistanceDebtor != 1 {
			t.Errorf("苏72 in the origin's and the debtor's city: %+v", e)
		}
		if e := entry(t, r, "苏0211"); e.Factors.DistanceOrigin != 2 || e.Points.Near != 0 {
			t.Errorf("苏0211 from an origin with a configured region: %+v", e)
		}
		in.Case.Origin, in.Case.OriginRegion = "苏0105", "320105"
		if e := entry(t, advice.Rank(in), "苏7101"); e.Eligible || e.ExcludedCode != advice.ExcludedOriginDistrict {
			t.Errorf("苏7101 in the origin's district: %+v", e)
		}
		if got, ok := in.Weights.RegionOf("苏71"); !ok || got != "320106" {
			t.Errorf("RegionOf(苏71) = %q, %v", got, ok)
		}
		if got, ok := in.Weights.RegionOf("苏0211"); !ok || got != "320211" {
			t.Errorf("RegionOf(苏0211) = %q, %v", got, ok)
		}
	})
	t.Run("every exclusion has its text", func(t *testing.T) {
		for _, x := range advice.Exclusions {
			if x.Text() == "" {
				t.Errorf("%q has no text", x)
			}
		}
	})
	t.Run("deterministic, and the hash names the inputs", func(t *testing.T) {
		in := factorCase("苏0211", "苏0212", "苏0311", "苏0105")
		in.Case.Holdings = []advice.Holding{{Region: "320311", Class: "deposit", Count: 2, Band: court.BandUnder1M}, {Region: "320211", Class: "vehicle", Count: 1}}
		a := advice.Rank(in)
		shuffled := in
		shuffled.Candidates = slices.Clone(in.Candidates)
		slices.Reverse(shuffled.Candidates)
		shuffled.Case.Holdings = slices.Clone(in.Case.Holdings)
		slices.Reverse(shuffled.Case.Holdings)
		b := advice.Rank(shuffled)
		if a.InputsHash != b.InputsHash || !slices.EqualFunc(a.Ranking, b.Ranking, func(x, y advice.Entry) bool { return x == y }) {
			t.Errorf("order of the inputs changes the recommendation: %s / %s", a.InputsHash, b.InputsHash)
		}
		if len(a.HashBytes()) != 32 {
			t.Errorf("hash %q", a.InputsHash)
		}
		in.Candidates[0].Load.Open++
		if advice.Rank(in).InputsHash == a.InputsHash {
			t.Error("a changed load keeps the hash")
		}
		in.Candidates[0].Load.Open--
		in.Weights.CourtRegions = map[court.CourtCode]court.RegionCode{"苏0211": "320212"}
		if advice.Rank(in).InputsHash == a.InputsHash {
			t.Error("a configured region keeps the hash")
		}
		if got := a.RankOf("苏0105"); got != 4 {
			t.Errorf("the origin's rank %d, want last (4)", got)
		}
	})
}
