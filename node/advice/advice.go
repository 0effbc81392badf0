package advice

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"

	"courtmesh.dev/courtmesh/court"
)

// Version is the version of the Recommendation format and of the
// scoring rule: a change to either changes it, and so every inputs hash.
const Version = 1

// Weights are the configurable weights of the factors, and the rules of
// exclusion. Default returns the documented defaults.
type Weights struct {
	// Assets multiplies the asset share (district share + half the city
	// share, 0..1). Default 4.
	Assets float64 `json:"assets"`
	// Near is subtracted for a candidate in the same city as the origin,
	// and again for one in the same city as the debtor's domicile.
	// Default 1.
	Near float64 `json:"near"`
	// ExcludeLocal excludes, for 指令执行, a candidate in the origin's or
	// the debtor's own district. Default true.
	ExcludeLocal bool `json:"exclude_local"`
	// Load multiplies open/(open+LoadHalf), open being the cases the
	// candidate received and has not concluded. Default 2.
	Load float64 `json:"load"`
	// Overdue multiplies overdue/(overdue+LoadHalf). Default 1.
	Overdue float64 `json:"overdue"`
	// LoadHalf is the load at which the load factors reach half their
	// weight. Default 10.
	LoadHalf float64 `json:"load_half"`
	// Track multiplies the sum of the smoothed track-record rates' gains
	// over their priors (accepted in time, concluded within 6 months,
	// recovery). Default 4.
	Track float64 `json:"track"`
	// PriorCases is how many cases of neutral record a court's own are
	// smoothed with. Default 5.
	PriorCases float64 `json:"prior_cases"`
	// Lapse multiplies lapsed/(lapsed+1), lapsed being the measures lapsed
	// during handovers to the candidate. Default 2.
	Lapse float64 `json:"lapse"`
	// Exclude lists courts never to recommend (e.g. one under
	// investigation). Default none.
	Exclude []court.CourtCode `json:"exclude,omitempty"`
	// CourtRegions gives the region a court serves where its code does
	// not say it (specialised courts, codes 71-99; 军; 兵) or says it
	// wrongly: Rank takes a court listed here to be in that region, as
	// candidate and as origin, instead of the region derived from its
	// code (court.CourtCode.Region). Default none.
	CourtRegions map[court.CourtCode]court.RegionCode `json:"court_regions,omitempty"`
}

// RegionOf returns the region of court c: the configured one
// (CourtRegions), else the one its code names, else ("", false).
func (w Weights) RegionOf(c court.CourtCode) (court.RegionCode, bool) {
	if r, ok := w.CourtRegions[c]; ok && r != "" {
		return r, true
	}
	return c.Region()
}

// Default returns the default weights.
func Default() Weights {
	return Weights{Assets: 4, Near: 1, ExcludeLocal: true, Load: 2, Overdue: 1, LoadHalf: 10, Track: 4, PriorCases: 5, Lapse: 2}
}

// The neutral priors of the track-record rates: what a court with no
// history is assumed to achieve.
const (
	PriorInTime      = 0.8
	PriorConcluded6m = 0.5
	PriorRecovery    = 0.3
)

// Holding is one entry of the offer's region summary.
type Holding struct {
	Region court.RegionCode `json:"region"`
	Class  court.AssetClass `json:"asset_class"`
	Count  uint32           `json:"count"`
	Band   court.ValueBand  `json:"value_band"`
}

// Case is what the recommendation knows of the case: the offer's
// region summary and the courts concerned. No personal data.
type Case struct {
	Transfer court.TransferID `json:"transfer"`
	Origin   court.CourtCode  `json:"origin"`
	Decider  court.CourtCode  `json:"decider"`
	// OriginRegion is the origin court's region ("" if unknown).
	OriginRegion court.RegionCode `json:"origin_region"`
	// DebtorRegion is the debtor's domicile region ("" if unknown).
	DebtorRegion court.RegionCode `json:"debtor_region"`
	Holdings     []Holding        `json:"holdings"`
}

// Load is a candidate's current load, from the store's counters.
type Load struct {
	// Open counts the transferred cases it accepted and has not
	// concluded.
	Open int `json:"open"`
	// Overdue counts the transfers concerning it that are overdue.
	Overdue int `json:"overdue"`
}

// Track is a candidate's record as a receiver, from the signed records
// (the store's per-court sums).
type Track struct {
	Designated     int   `json:"designated"`
	Accepted       int   `json:"accepted"`
	AcceptedInTime int   `json:"accepted_in_time"`
	Concluded      int   `json:"concluded"`
	Concluded6m    int   `json:"concluded_6m"` // within 6 months of acceptance
	RecoveredFen   int64 `json:"recovered_fen"`
	ClaimedFen     int64 `json:"claimed_fen"` // outstanding at transfer, of the accepted cases
	Lapsed         int   `json:"lapsed"`
}

// Candidate is a court the decider may designate.
type Candidate struct {
	Court  court.CourtCode  `json:"court"`
	Region court.RegionCode `json:"region"` // "" if unknown
	Load   Load             `json:"load"`
	Track  Track            `json:"track"`
}

// Input is everything Rank weighs.
type Input struct {
	Case       Case        `json:"case"`
	Candidates []Candidate `json:"candidates"`
	Weights    Weights     `json:"weights"`
}

// Factors are a candidate's factors as plain numbers.
type Factors struct {
	AssetShareDistrict float64 `json:"asset_share_district"` // of the case's asset value, 0..1
	AssetShareCity     float64 `json:"asset_share_city"`     // elsewhere in its city, 0..1
	DistanceOrigin     int     `json:"distance_origin"`      // 0 same district, 1 same city, 2 same province, 3 further or unknown
	DistanceDebtor     int     `json:"distance_debtor"`
	Open               int     `json:"open"`
	Overdue            int     `json:"overdue"`
	InTimeRate         float64 `json:"in_time_rate"`      // smoothed
	Concluded6mRate    float64 `json:"concluded_6m_rate"` // smoothed
	RecoveryRate       float64 `json:"recovery_rate"`     // smoothed
	Lapsed             int     `json:"lapsed"`
	Cases              int     `json:"cases"` // designated to it so far: the weight of its own record
}

// Points are what each factor adds to the score (negative: takes away).
type Points struct {
	Assets float64 `json:"assets"`
	Near   float64 `json:"near"`
	Load   float64 `json:"load"`
	Track  float64 `json:"track"`
	Lapse  float64 `json:"lapse"`
}

// Sum is the score.
func (p Points) Sum() float64 { return round(p.Assets + p.Near + p.Load + p.Track + p.Lapse) }

// Entry is one candidate in the ranking.
type Entry struct {
	Rank     int             `json:"rank"` // from 1
	Court    court.CourtCode `json:"court"`
	Score    float64         `json:"score"`
	Eligible bool            `json:"eligible"`
	// Excluded says why a candidate is not eligible, in English
	// (ExcludedCode's Text).
	Excluded string `json:"excluded,omitempty"`
	// ExcludedCode is the same reason as a stable code, for programs
	// and for translations ("" when eligible).
	ExcludedCode Exclusion `json:"excluded_code,omitempty"`
	Factors      Factors   `json:"factors"`
	Points       Points    `json:"points"`
}

// Exclusion is why a candidate is not eligible, as a stable code: the
// API and the CLI's JSON carry it, and the dashboard and the CLI
// translate it.
type Exclusion string

// The reasons of exclusion, in the order Rank tests them.
const (
	// ExcludedOrigin: the origin court itself.
	ExcludedOrigin Exclusion = "origin"
	// ExcludedDecider: the deciding court (taking the case itself is
	// 提级执行, not 指令执行).
	ExcludedDecider Exclusion = "decider"
	// ExcludedConfigured: listed in Weights.Exclude.
	ExcludedConfigured Exclusion = "configured"
	// ExcludedOriginDistrict: in the origin's district
	// (Weights.ExcludeLocal).
	ExcludedOriginDistrict Exclusion = "origin_district"
	// ExcludedDebtorDistrict: in the debtor's district
	// (Weights.ExcludeLocal).
	ExcludedDebtorDistrict Exclusion = "debtor_district"
)

// Exclusions lists every reason, for tests and translations.
var Exclusions = []Exclusion{ExcludedOrigin, ExcludedDecider, ExcludedConfigured, ExcludedOriginDistrict, ExcludedDebtorDistrict}

// Text returns the reason in English ("" for an unknown code).
func (x Exclusion) Text() string {
	switch x {
	case ExcludedOrigin:
		return "the origin court"
	case ExcludedDecider:
		return "the deciding court (that is 提级执行, not 指令执行)"
	case ExcludedConfigured:
		return "excluded in the configuration"
	case ExcludedOriginDistrict:
		return "in the origin's district"
	case ExcludedDebtorDistrict:
		return "in the debtor's district"
	}
	return ""
}

// Recommendation is the ranking of the candidates for one case.
type Recommendation struct {
	Version  int              `json:"version"`
	Transfer court.TransferID `json:"transfer"`
	Decider  court.CourtCode  `json:"decider"`
	// InputsHash is the SHA-256 (hex) of the Input's canonical encoding:
	// equal hashes, equal rankings.
	InputsHash string  `json:"inputs_hash"`
	Weights    Weights `json:"weights"`
	Ranking    []Entry `json:"ranking"`
}

// RankOf returns the rank of court c (0 if it is not listed).
func (r Recommendation) RankOf(c court.CourtCode) int {
	for _, e := range r.Ranking {
		if e.Court == c {
			return e.Rank
		}
	}
	return 0
}

// HashBytes returns InputsHash as 32 bytes.
func (r Recommendation) HashBytes() []byte {
	b, _ := hex.DecodeString(r.InputsHash)
	return b
}

// round keeps six decimals, so that scores compare and print the same on
// every platform (an architecture may fuse multiply-adds).
func round(x float64) float64 {
	r := math.Round(x*1e6) / 1e6
	if r == 0 {
		return 0 // not -0
	}
	return r
}

// canonical returns in with its slices in a fixed order.
func canonical(in Input) Input {
	in.Candidates = slices.Clone(in.Candidates)
	slices.SortFunc(in.Candidates, func(a, b Candidate) int { return cmp.Compare(a.Court, b.Court) })
	in.Case.Holdings = slices.Clone(in.Case.Holdings)
	slices.SortFunc(in.Case.Holdings, func(a, b Holding) int {
		return cmp.Or(cmp.Compare(a.Region, b.Region), cmp.Compare(a.Class, b.Class), cmp.Compare(a.Count, b.Count), cmp.Compare(a.Band, b.Band))
	})
	in.Weights.Exclude = slices.Clone(in.Weights.Exclude)
	slices.Sort(in.Weights.Exclude)
	in.Weights.Exclude = slices.Compact(in.Weights.Exclude)
	return in
}

// Hash returns the hex SHA-256 of in's canonical encoding, prefixed by
// the version.
func Hash(in Input) string {
	b, err := json.Marshal(canonical(in))
	if err != nil {
		panic(fmt.Sprintf("advice: an Input does not encode: %v", err)) // plain data: cannot happen
	}
	h := sha256.New()
	fmt.Fprintf(h, "courtmesh recommendation v%d\n", Version)
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// holdingValue is the value, in yuan, a holding stands for: its band's
// weight, or, without an estimate, that of the lowest band per asset.
func holdingValue(h Holding) float64 {
	if h.Band.Valid() {
		return h.Band.Weight()
	}
	return float64(h.Count) * court.BandUnder100K.Weight()
}

// smooth is (x + prior*k) / (n + k).
func smooth(x, n, prior, k float64) float64 {
	if n+k <= 0 {
		return prior
	}
	return (x + prior*k) / (n + k)
}

// Rank ranks in's candidates. It is deterministic: the same Input gives
// the same Recommendation.
func Rank(in Input) Recommendation {
	in = canonical(in)
	w := in.Weights
	if r, ok := w.CourtRegions[in.Case.Origin]; ok && r != "" {
		in.Case.OriginRegion = r
	}
	for i, c := range in.Candidates {
		if r, ok := w.CourtRegions[c.Court]; ok && r != "" {
			in.Candidates[i].Region = r
		}
	}
	rec := Recommendation{Version: Version, Transfer: in.Case.Transfer, Decider: in.Case.Decider, InputsHash: Hash(in), Weights: w, Ranking: []Entry{}}
	var total float64
	for _, h := range in.Case.Holdings {
		total += holdingValue(h)
	}
	half := w.LoadHalf
	if half <= 0 {
		half = 1
	}
	for _, c := range in.Candidates {
		e := Entry{Court: c.Court, Eligible: true}
		f := &e.Factors
		if total > 0 && c.Region != "" {
			var d, city float64
			for _, h := range in.Case.Holdings {
				switch {
				case h.Region == c.Region:
					d += holdingValue(h)
				case court.Distance(h.Region, c.Region) == 1:
					city += holdingValue(h)
				}
			}
			f.AssetShareDistrict, f.AssetShareCity = round(d/total), round(city/total)
		}
		f.DistanceOrigin, f.DistanceDebtor = 3, 3
		if c.Region != "" {
			if in.Case.OriginRegion != "" {
				f.DistanceOrigin = court.Distance(c.Region, in.Case.OriginRegion)
			}
			if in.Case.DebtorRegion != "" {
				f.DistanceDebtor = court.Distance(c.Region, in.Case.DebtorRegion)
			}
		}
		f.Open, f.Overdue, f.Lapsed, f.Cases = c.Load.Open, c.Load.Overdue, c.Track.Lapsed, c.Track.Designated
		t := c.Track
		f.InTimeRate = round(smooth(float64(t.AcceptedInTime), float64(t.Accepted), PriorInTime, w.PriorCases))
		f.Concluded6mRate = round(smooth(float64(t.Concluded6m), float64(t.Concluded), PriorConcluded6m, w.PriorCases))
		claimed := float64(max(0, t.ClaimedFen)) / 100
		perCase := 0.0
		if t.Accepted > 0 {
			perCase = claimed / float64(t.Accepted)
		}
		// Recovery smoothed in cases: the prior stands for PriorCases
		// cases of this court's mean claim.
		f.RecoveryRate = round(smooth(float64(max(0, t.RecoveredFen))/100, claimed, PriorRecovery, w.PriorCases*perCase))

		p := &e.Points
		p.Assets = round(w.Assets * (f.AssetShareDistrict + f.AssetShareCity/2))
		if f.DistanceOrigin <= 1 {
			p.Near -= w.Near
		}
		if f.DistanceDebtor <= 1 {
			p.Near -= w.Near
		}
		p.Near = round(p.Near)
		p.Load = round(-w.Load*float64(f.Open)/(float64(f.Open)+half) - w.Overdue*float64(f.Overdue)/(float64(f.Overdue)+half))
		p.Track = round(w.Track * ((f.InTimeRate - PriorInTime) + (f.Concluded6mRate - PriorConcluded6m) + (f.RecoveryRate - PriorRecovery)))
		p.Lapse = round(-w.Lapse * float64(f.Lapsed) / (float64(f.Lapsed) + 1))
		e.Score = p.Sum()

		switch {
		case c.Court == in.Case.Origin:
			e.ExcludedCode = ExcludedOrigin
		case c.Court == in.Case.Decider:
			e.ExcludedCode = ExcludedDecider
		case slices.Contains(w.Exclude, c.Court):
			e.ExcludedCode = ExcludedConfigured
		case w.ExcludeLocal && c.Region != "" && f.DistanceOrigin == 0:
			e.ExcludedCode = ExcludedOriginDistrict
		case w.ExcludeLocal && c.Region != "" && f.DistanceDebtor == 0:
			e.ExcludedCode = ExcludedDebtorDistrict
		}
		e.Excluded = e.ExcludedCode.Text()
		e.Eligible = e.ExcludedCode == ""
		rec.Ranking = append(rec.Ranking, e)
	}
	slices.SortStableFunc(rec.Ranking, func(a, b Entry) int {
		if a.Eligible != b.Eligible {
			if a.Eligible {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(b.Score, a.Score), cmp.Compare(a.Court, b.Court))
	})
	for i := range rec.Ranking {
		rec.Ranking[i].Rank = i + 1
	}
	return rec
}

// Best returns the first eligible entry, and false if none is.
func (r Recommendation) Best() (Entry, bool) {
	if len(r.Ranking) > 0 && r.Ranking[0].Eligible {
		return r.Ranking[0], true
	}
	return Entry{}, false
}
