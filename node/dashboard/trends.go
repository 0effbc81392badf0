package dashboard

import (
	"slices"
	"strings"
	"time"

	"courtmesh.dev/courtmesh/court"
	cmproto "courtmesh.dev/courtmesh/protocol"
)

// TrendMonths is how many months, up to the current one, the trends show.
const TrendMonths = 12

// The trend statistics (Contribution): per superior court asked to
// decide, statTrend + superior + "/" + month (YYYY-MM, civil month in
// China) + "/" + one of the trend* names + a mode, outcome or court, with
// trendAll in place of the month for the sums over the whole history,
// and statSuperior + superior counting its decisions (the list of
// superiors an operator may look at); per receiver, statLoadMonth +
// court + "/" + month + "/" + loadFrom or loadTo, with statLoadOpen +
// court + "/open" the cases it holds open now, from which the load at the
// end of any month is a difference of sums over the months after it.
// A dashboard reads one superior's trends, and of them and of the load
// only the window's months (ModelSums, LoadSums): its cost follows the
// courts it shows, never the months of history nor every superior of the
// mesh. Nothing here is a time series kept beside the records: every
// number is a sum of what the transfers' signed records say, kept by the
// store at write time like the others.
const (
	statTrend       = "trend/"
	trendAll        = "all"         // in place of a month: over the whole history
	trendMode       = "mode/"       // + mode: decided that month
	trendDesignated = "designated/" // + receiver: designated (month "all")
	trendOutcome    = "outcome/"    // + concluded | terminated | settled | ended | rejected | withdrawn: ended that month (ClosedAs)
	trendRecovered  = "recovered/"  // + receiver: recovered in the closed cases (month "all"; fen)
	trendClaimed    = "claimed/"    // + receiver: outstanding at offer in the closed cases (month "all"; fen)
	statSuperior    = "sup/"        // + superior: its decisions
	statLoadMonth   = "loadm/"      // + receiver + "/" + month + "/" + loadFrom or loadTo
	loadFrom        = "from"        // accepted that month
	loadTo          = "to"          // ended that month, having been accepted
	statLoadOpen    = "loadn/"      // + receiver + loadOpen: accepted and not ended (open now)
	loadOpen        = "/open"
)

// SumRange names the sums Compute reads whose names begin with Prefix
// and sort at or after Prefix+From (storage.StatsRange).
type SumRange struct{ Prefix, From string }

// ModelSums are the sums Compute reads for a dashboard as of now, but
// for the trends (TrendSums) and the load (LoadSums): the scope's totals
// and per-court rows, the list of superiors and the indicators of the
// window's months.
func ModelSums(now time.Time) []SumRange {
	first := trendMonths(now)[0]
	return []SumRange{
		{Prefix: statMode}, {Prefix: statClosure}, {Prefix: statAccN}, {Prefix: statAccSec},
		{Prefix: statRcptN}, {Prefix: statRcptSec}, {Prefix: statRcv}, {Prefix: statSuperior},
		{Prefix: indPrefix + "t/", From: first},
	}
}

// TrendSums are the sums of superior's trends as of now: the window's
// months and its sums over the whole history. The load of the courts it
// designated follows (LoadSums, once these are read: Designated names
// them).
func TrendSums(now time.Time, superior court.CourtCode) []SumRange {
	return []SumRange{{Prefix: statTrend + string(superior) + "/", From: trendMonths(now)[0]}} // the months, then "all/"
}

// Busiest is the superior with the most decisions in stats (the first by
// code among equals; "" if none): the trends an operator's dashboard
// shows unless asked for another's.
func Busiest(stats map[string]int64) court.CourtCode {
	var best string
	var n int64
	for k, v := range stats {
		if c, ok := strings.CutPrefix(k, statSuperior); ok && (v > n || v == n && c < best) {
			best, n = c, v
		}
	}
	return court.CourtCode(best)
}

// Designated lists the courts superior designated, from sums that hold
// its trend sums (ModelSums).
func Designated(stats map[string]int64, superior court.CourtCode) []court.CourtCode {
	p := statTrend + string(superior) + "/" + trendAll + "/" + trendDesignated
	var out []court.CourtCode
	for k := range stats {
		if c, ok := strings.CutPrefix(k, p); ok {
			out = append(out, court.CourtCode(c))
		}
	}
	slices.Sort(out)
	return out
}

// LoadSums are the sums the load of courts over the trends' window as of
// now is computed from.
func LoadSums(now time.Time, courts []court.CourtCode) []SumRange {
	first := trendMonths(now)[0]
	out := make([]SumRange, 0, 2*len(courts))
	for _, c := range courts {
		out = append(out, SumRange{Prefix: statLoadMonth + string(c) + "/", From: first}, SumRange{Prefix: statLoadOpen + string(c) + loadOpen})
	}
	return out
}

// Superiors lists the superior courts whose decisions the sums count
// (ModelSums reads them on an operator's dashboard: the trends it may
// show).
func Superiors(stats map[string]int64) []string {
	var out []string
	for k := range stats {
		if c, ok := strings.CutPrefix(k, statSuperior); ok {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out
}

// trendMonths are the TrendMonths months up to now's, oldest first.
func trendMonths(now time.Time) []string {
	today := court.DateOf(now)
	first := court.Date{Year: today.Year, Month: today.Month, Day: 1}
	months := make([]string, 0, TrendMonths)
	for i := TrendMonths - 1; i >= 0; i-- {
		months = append(months, first.AddDate(0, -i, 0).String()[:7])
	}
	return months
}

// Outcomes lists the ways a transfer ends, as the trends count them.
var Outcomes = []string{"concluded", "terminated", "settled", "ended", "rejected", "withdrawn"}

// Trend is what one superior court's decisions came to, month by month.
type Trend struct {
	Superior string       `json:"superior"`
	Months   []TrendMonth `json:"months"` // the last TrendMonths months, oldest first
	// Recovery is, per court the superior designated, what was recovered
	// in the cases it closed (all of them, not only those months) against
	// what was outstanding when they were offered.
	Recovery []CourtRecovery `json:"recovery"`
	// Load is, per court the superior designated, the transferred cases
	// it held open at the end of each month (aligned with Months), among
	// the transfers in the dashboard's scope.
	Load []CourtLoad `json:"load"`
}

// TrendMonth is one month of a Trend.
type TrendMonth struct {
	Month    string         `json:"month"`    // YYYY-MM
	Modes    map[string]int `json:"modes"`    // decided that month, by mode (指令执行, 提级执行)
	Outcomes map[string]int `json:"outcomes"` // ended that month, by outcome (Outcomes)
}

// CourtRecovery is a receiving court's recovery in a Trend.
type CourtRecovery struct {
	Court        string  `json:"court"`
	RecoveredFen int64   `json:"recovered_fen"`
	ClaimedFen   int64   `json:"claimed_fen"`
	Rate         float64 `json:"rate"` // recovered / claimed, 0 when nothing was claimed; three decimals
}

// CourtLoad is a receiving court's open transferred cases at the end of
// each month.
type CourtLoad struct {
	Court string `json:"court"`
	Open  []int  `json:"open"`
}

// month is the civil month in China of t: YYYY-MM.
func month(t time.Time) string { return court.DateOf(t).String()[:7] }

// endedAt is when t ended (closed, rejected or withdrawn), zero if it
// has not: the closure's time, or that of the last record of its kind.
func endedAt(t *cmproto.Transfer) (time.Time, string) {
	switch t.State {
	case cmproto.StateClosed:
		return t.ClosedAt, ClosedAs(t)
	case cmproto.StateRejected, cmproto.StateWithdrawn:
		kind := cmproto.KindRejection
		if t.State == cmproto.StateWithdrawn {
			kind = cmproto.KindWithdrawal
		}
		var at time.Time
		for _, r := range t.Records {
			if r.Kind == kind && r.IssuedAt.After(at) {
				at = r.IssuedAt
			}
		}
		return at, string(t.State)
	}
	return time.Time{}, ""
}

// trendContribution adds t's trend statistics to s.
func trendContribution(t *cmproto.Transfer, s map[string]int64) {
	end, outcome := endedAt(t)
	if t.Superior != "" {
		p := statTrend + string(t.Superior) + "/"
		if t.Mode != "" && !t.DecidedAt.IsZero() {
			s[statSuperior+string(t.Superior)]++
			s[p+month(t.DecidedAt)+"/"+trendMode+t.Mode]++
			if t.Receiver != "" {
				s[p+trendAll+"/"+trendDesignated+string(t.Receiver)]++
			}
		}
		if !end.IsZero() && outcome != "" {
			s[p+month(end)+"/"+trendOutcome+outcome]++
			if t.State == cmproto.StateClosed && t.Receiver != "" {
				s[p+trendAll+"/"+trendRecovered+string(t.Receiver)] += max(0, t.AmountRecovered)
				s[p+trendAll+"/"+trendClaimed+string(t.Receiver)] += max(0, t.AmountOutstanding)
			}
		}
	}
	if t.Receiver != "" && !t.AcceptedAt.IsZero() {
		p := statLoadMonth + string(t.Receiver) + "/"
		s[p+month(t.AcceptedAt)+"/"+loadFrom]++
		if !end.IsZero() {
			s[p+month(end)+"/"+loadTo]++
		} else {
			s[statLoadOpen+string(t.Receiver)+loadOpen]++
		}
	}
}

// trends builds the trends of every superior in stats (only self's,
// unless all), over the TrendMonths months up to now's.
func trends(stats map[string]int64, now time.Time, self court.CourtCode, all bool) []Trend {
	months := trendMonths(now)
	first, last := months[0], months[len(months)-1]
	type acc struct {
		t         *Trend
		byMonth   map[string]*TrendMonth
		recovered map[string]*CourtRecovery
		courts    map[string]bool
	}
	bySup := map[string]*acc{}
	get := func(sup string) *acc {
		a := bySup[sup]
		if a == nil {
			a = &acc{t: &Trend{Superior: sup}, byMonth: map[string]*TrendMonth{}, recovered: map[string]*CourtRecovery{}, courts: map[string]bool{}}
			for _, m := range months {
				tm := &TrendMonth{Month: m, Modes: map[string]int{}, Outcomes: map[string]int{}}
				for _, md := range Modes {
					tm.Modes[md] = 0
				}
				for _, o := range Outcomes {
					tm.Outcomes[o] = 0
				}
				a.byMonth[m] = tm
			}
			bySup[sup] = a
		}
		return a
	}
	// Load: per receiver, what it holds open now and, per month from the
	// window's first on (later months included, should a record be dated
	// ahead), what it took and what ended.
	open := map[string]int64{}
	delta := map[string]map[string]int64{} // receiver -> month -> taken - ended
	for k, v := range stats {
		if rest, ok := strings.CutPrefix(k, statTrend); ok {
			parts := strings.SplitN(rest, "/", 4) // superior, month, kind, what
			if len(parts) != 4 || (!all && parts[0] != string(self)) {
				continue
			}
			sup, m, kind, what := parts[0], parts[1], parts[2]+"/", parts[3]
			a := get(sup)
			if kind == trendDesignated {
				a.courts[what] = true
			}
			if m == trendAll {
				switch kind {
				case trendRecovered, trendClaimed:
					r := a.recovered[what]
					if r == nil {
						r = &CourtRecovery{Court: what}
						a.recovered[what] = r
					}
					if kind == trendRecovered {
						r.RecoveredFen += v
					} else {
						r.ClaimedFen += v
					}
				}
				continue
			}
			if m < first || m > last {
				continue
			}
			switch kind {
			case trendMode:
				a.byMonth[m].Modes[what] += int(v)
			case trendOutcome:
				a.byMonth[m].Outcomes[what] += int(v)
			}
			continue
		}
		if rest, ok := strings.CutPrefix(k, statLoadOpen); ok {
			if c, ok := strings.CutSuffix(rest, loadOpen); ok {
				open[c] += v
			}
			continue
		}
		if rest, ok := strings.CutPrefix(k, statLoadMonth); ok {
			parts := strings.SplitN(rest, "/", 3) // receiver, month, from|to
			if len(parts) != 3 || parts[1] < first {
				continue
			}
			c, m := parts[0], parts[1]
			if delta[c] == nil {
				delta[c] = map[string]int64{}
			}
			switch parts[2] {
			case loadFrom:
				delta[c][m] += v
			case loadTo:
				delta[c][m] -= v
			}
		}
	}
	out := []Trend{}
	sups := make([]string, 0, len(bySup))
	for s := range bySup {
		sups = append(sups, s)
	}
	slices.Sort(sups)
	for _, s := range sups {
		a := bySup[s]
		for _, m := range months {
			a.t.Months = append(a.t.Months, *a.byMonth[m])
		}
		for _, r := range a.recovered {
			if r.ClaimedFen > 0 {
				r.Rate = round3(float64(r.RecoveredFen) / float64(r.ClaimedFen))
			}
			a.t.Recovery = append(a.t.Recovery, *r)
		}
		slices.SortFunc(a.t.Recovery, func(x, y CourtRecovery) int { return strings.Compare(x.Court, y.Court) })
		courts := make([]string, 0, len(a.courts))
		for c := range a.courts {
			courts = append(courts, c)
		}
		slices.Sort(courts)
		for _, c := range courts {
			l := CourtLoad{Court: c}
			for _, m := range months {
				// Open at the end of m: open now, less what came in
				// (net) in the months after m.
				n := open[c]
				for dm, v := range delta[c] {
					if dm > m {
						n -= v
					}
				}
				l.Open = append(l.Open, int(max(0, n)))
			}
			a.t.Load = append(a.t.Load, l)
		}
		if a.t.Recovery == nil {
			a.t.Recovery = []CourtRecovery{}
		}
		if a.t.Load == nil {
			a.t.Load = []CourtLoad{}
		}
		out = append(out, *a.t)
	}
	return out
}

func round3(x float64) float64 { return float64(int64(x*1000+0.5)) / 1000 }
