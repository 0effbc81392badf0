package dashboard

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/api"
	cmproto "courtmesh.dev/courtmesh/protocol"
)

// Version is the version of the Dashboard JSON format.
const Version = 1

// The scopes of a dashboard.
const (
	ScopeMesh  = "mesh"  // an operator node: every transfer and court
	ScopeCourt = "court" // any other node: what concerns this court
)

// Dashboard is everything the dashboard shows, as GET /v1/dashboard
// returns it.
type Dashboard struct {
	Version     int       `json:"version"`
	GeneratedAt time.Time `json:"generated_at"`
	// AsOf is the civil date in China the indicators were computed for.
	AsOf      string `json:"as_of"`
	Court     string `json:"court"`
	CourtName string `json:"court_name"`
	Scope     string `json:"scope"`
	// GuardDays is the handover guard (handover_guard_days) the lapse
	// indicator assumes.
	GuardDays int         `json:"guard_days"`
	Pipeline  Pipeline    `json:"pipeline"`
	Modes     []ModeCount `json:"modes"`
	// Closures counts the transferred cases the receivers closed, by
	// closure kind (ClosureKinds; 终本 for the 终本率).
	Closures []ModeCount       `json:"closures"`
	Courts   []CourtIndicators `json:"courts"`
	Mesh     Mesh              `json:"mesh"`
	Alerts   []api.Alert       `json:"alerts"`
	// AlertCounts counts the alerts by severity (warning, critical).
	AlertCounts map[string]int `json:"alert_counts"`
	// Trends are, of one superior court (this court's own; on an
	// operator's dashboard TrendsOf), its transfers by mode and outcome
	// month by month, the recovery of the courts it designated and their
	// load over time.
	Trends []Trend `json:"trends"`
	// TrendsOf is the superior whose trends an operator's dashboard
	// shows (?superior=), and Superiors those it may choose from: every
	// superior that decided a transfer in scope. Absent elsewhere.
	TrendsOf  string   `json:"trends_of,omitempty"`
	Superiors []string `json:"superiors,omitempty"`
	// IndicatorTrend is the main standard indicators of the cases filed
	// in each of the last TrendMonths months, oldest first, from the
	// scope's sums (the same as GET /v1/indicators?month=).
	IndicatorTrend []MonthIndicators `json:"indicator_trend"`
	// Jurisdiction is, on a superior court's node, the courts under it
	// (GET /v1/jurisdiction's rows) with each court's indicators as
	// receiver; empty on a court with none under it.
	Jurisdiction []JurisdictionRow `json:"jurisdiction,omitempty"`
	// Complaints counts, per court complained of, the parties'
	// complaints this court supervises (GET /v1/complaints/indicators).
	Complaints []api.ComplaintIndicator `json:"complaints,omitempty"`
	// CheckBacks counts the transfers of courts under this one flagged
	// for a check back on the origin (倒查) and not yet reviewed (GET
	// /v1/check-backs).
	CheckBacks int `json:"check_backs"`
}

// Pipeline is the transfer pipeline, over every transfer in scope.
type Pipeline struct {
	Total  int          `json:"total"`
	States []StateCount `json:"states"` // every state, in workflow order
	// Overdue counts decided transfers whose receiver let the acceptance
	// deadline pass.
	Overdue int `json:"overdue"`
	// AvgDaysDecisionToAcceptance is the mean time, in days (one decimal),
	// from the superior's decision to the receiver's acceptance, over the
	// AcceptanceSamples transfers accepted; 0 when there is none.
	AvgDaysDecisionToAcceptance float64 `json:"avg_days_decision_to_acceptance"`
	AcceptanceSamples           int     `json:"acceptance_samples"`
	// AvgDaysDecisionToReceipt is the mean time from the decision to the
	// receiver's confirmed receipt of the dossier, over ReceiptSamples.
	AvgDaysDecisionToReceipt float64 `json:"avg_days_decision_to_receipt"`
	ReceiptSamples           int     `json:"receipt_samples"`
}

// StateCount is the number of transfers in one state.
type StateCount struct {
	State string `json:"state"`
	Count int    `json:"count"`
}

// ModeCount is the number of decided transfers of one mode (指令执行 or
// 提级执行) in scope.
type ModeCount struct {
	Mode  string `json:"mode"`
	Count int    `json:"count"`
}

// CourtIndicators are the indicators of one receiving court for the cases
// transferred to it, among the transfers in scope.
type CourtIndicators struct {
	Court string `json:"court"`
	Name  string `json:"name"`
	// Designated counts the transfers decided with this court as receiver.
	Designated int `json:"designated"`
	// Accepted counts those it accepted; AcceptedInTime those accepted on
	// or before the AcceptBy date (civil date in China).
	Accepted       int `json:"accepted"`
	AcceptedInTime int `json:"accepted_in_time"`
	// Received counts the dossiers whose receipt it confirmed.
	Received int `json:"received"`
	// Concluded counts the transferred cases it closed.
	Concluded int `json:"concluded"`
	// RecoveredFen is what was recovered in the accepted cases since the
	// handover, from their funds ledgers (money received by either court,
	// forwards not counted twice; see Recovered); OriginFen what the
	// origin courts had recovered in the same cases before the transfer.
	RecoveredFen int64 `json:"recovered_fen"`
	OriginFen    int64 `json:"origin_recovered_fen"`
	// ClaimedFen is the sum of the claims this court filed the received
	// cases with: each the balance still unrecovered at the handover,
	// counted as a first enforcement (法明传〔2018〕335号; the origin's
	// case, closed by 销案, is not counted).
	ClaimedFen int64 `json:"claimed_fen"`
	// MeasuresLapsed counts the transfers to this court during whose
	// handover a measure may have lapsed (see LapsedDuringHandover).
	// Target: 0.
	MeasuresLapsed int `json:"measures_lapsed"`
	// SanctionsLapsed counts the credit sanctions of cases transferred to
	// this court that it did not re-issue by their deadline (the debtor
	// was free of them after the origin's 销案). Target: 0.
	SanctionsLapsed int `json:"sanctions_lapsed"`
	// Open counts the accepted cases it has not yet closed: its load of
	// transferred cases.
	Open int `json:"open"`
	// Concluded6m counts those of Concluded closed within 6 months of the
	// acceptance (the statutory period for a case with assets).
	Concluded6m int `json:"concluded_6m"`
}

// Mesh is the mesh as heartbeats show it.
type Mesh struct {
	Online    int               `json:"online"`
	Total     int               `json:"total"`
	Provinces []ProvinceCount   `json:"provinces"`
	Courts    []api.CourtHealth `json:"courts"`
}

// ProvinceCount is the number of nodes of one province, and how many are
// online. Province is the high court's code (京), or 最高法.
type ProvinceCount struct {
	Province string `json:"province"`
	Online   int    `json:"online"`
	Total    int    `json:"total"`
}

// Input is what Compute needs; the health room assembles it from the
// store's counters and sums and a bounded page of its indexes, so that
// its size does not grow with the transfers held.
type Input struct {
	Now       time.Time
	Self      court.CourtCode
	SelfName  string
	Operator  bool // the node holds the operator role: scope mesh
	GuardDays int  // handover_guard_days
	// Counts is the number of transfers in scope in each state (all of
	// them, from the store's counters), and Overdue how many of them are
	// overdue: the pipeline's counts. With Counts nil, both are counted
	// from Transfers, which must then hold every transfer in scope.
	Counts  map[cmproto.State]int
	Overdue int
	// Stats is the sum of Contribution over every transfer in scope (the
	// store keeps these sums at write time): the modes, average times and
	// the per-court table come from it. With Stats nil it is summed from
	// Transfers, which must then hold every transfer in scope.
	Stats map[string]int64
	// Transfers are needed only when Counts or Stats is nil: then every
	// transfer in scope. Those outside the scope are ignored.
	Transfers []*cmproto.Transfer
	// Concerns names transfers known to concern this court (as origin,
	// superior, decider or receiver) beyond Transfers: an alert about a
	// transfer is shown on a court's dashboard if it concerns the court.
	Concerns map[court.TransferID]bool
	Mesh     []api.CourtHealth
	Alerts   []api.Alert
	// Name returns a court's name ("" if unknown).
	Name func(court.CourtCode) string
	// Supervision is this court's view of its jurisdiction, if any.
	Supervision *Supervision
	// TrendsOf is, on an operator's dashboard, the superior whose
	// trends to show; "" shows those of every superior in Stats. A
	// court's own dashboard shows its own.
	TrendsOf court.CourtCode
}

// States lists the transfer states in workflow order.
var States = []cmproto.State{
	cmproto.StateOffered, cmproto.StateDecided, cmproto.StateAccepted, cmproto.StateHandedOver, cmproto.StateReturned,
	cmproto.StateRefused, cmproto.StateReceived, cmproto.StateClosed, cmproto.StateRejected, cmproto.StateWithdrawn,
	// the modes where the case stays with the origin
	cmproto.StateSupervised, cmproto.StateAssistRequested, cmproto.StateAssisting,
}

// ClosureKinds lists the kinds a receiver closes a case by.
var ClosureKinds = []string{"执行完毕", "终本", "终结", "不予执行", "驳回"}

// Modes lists the transfer modes: those that move the case (指令执行,
// 提级执行, 集中执行) and those that keep it with the origin (督促执行,
// 协同执行).
var Modes = cmproto.Modes

// Compute builds the dashboard from in. It does not modify in.
func Compute(in Input) Dashboard {
	scope := ScopeCourt
	if in.Operator {
		scope = ScopeMesh
	}
	name := in.Name
	if name == nil {
		name = func(court.CourtCode) string { return "" }
	}
	d := Dashboard{
		Version: Version, GeneratedAt: in.Now.UTC(), AsOf: court.DateOf(in.Now).String(),
		Court: string(in.Self), CourtName: in.SelfName, Scope: scope, GuardDays: in.GuardDays,
		Modes: []ModeCount{}, Closures: []ModeCount{}, Courts: []CourtIndicators{}, Alerts: []api.Alert{},
		AlertCounts: map[string]int{"warning": 0, "critical": 0},
	}
	mine := map[court.TransferID]bool{}
	for id, ok := range in.Concerns {
		mine[id] = ok
	}
	var ts []*cmproto.Transfer
	for _, t := range in.Transfers {
		if in.Operator || involves(t, in.Self) {
			ts = append(ts, t)
			mine[t.ID] = true
		}
	}
	stats := in.Stats
	if stats == nil {
		stats = map[string]int64{}
		for _, t := range ts {
			for k, v := range Contribution(t, in.GuardDays) {
				stats[k] += v
			}
		}
	}
	d.Pipeline = pipeline(ts, stats, in.Now)
	if in.Counts != nil {
		d.Pipeline.Total, d.Pipeline.Overdue = 0, in.Overdue
		for i, sc := range d.Pipeline.States {
			c := in.Counts[cmproto.State(sc.State)]
			d.Pipeline.States[i].Count = c
		}
		for _, c := range in.Counts {
			d.Pipeline.Total += c
		}
	}
	for _, k := range ClosureKinds {
		d.Closures = append(d.Closures, ModeCount{Mode: k, Count: int(stats[statClosure+k])})
	}
	for _, m := range Modes {
		d.Modes = append(d.Modes, ModeCount{Mode: m, Count: int(stats[statMode+m])})
	}
	d.Courts = courts(stats, in.Now, name)
	sel, all := in.Self, in.Operator
	if in.Operator {
		d.Superiors = Superiors(stats)
		if in.TrendsOf != "" {
			sel, all, d.TrendsOf = in.TrendsOf, false, string(in.TrendsOf)
		}
	}
	d.Trends = trends(stats, in.Now, sel, all)
	d.IndicatorTrend = indicatorTrend(stats, in.Now)
	if sv := in.Supervision; sv != nil {
		if len(sv.Jurisdiction) > 1 {
			d.Jurisdiction = sv.Jurisdiction
		}
		d.Complaints, d.CheckBacks = sv.Complaints, sv.CheckBacks
	}
	d.Mesh = mesh(in.Mesh)
	for _, a := range in.Alerts {
		if in.Operator || a.Court == "" || a.Court == string(in.Self) || mine[court.TransferID(a.Transfer)] {
			d.Alerts = append(d.Alerts, a)
			d.AlertCounts[a.Severity]++
		}
	}
	SortAlerts(d.Alerts)
	return d
}

// involves reports whether court c takes part in t.
func involves(t *cmproto.Transfer, c court.CourtCode) bool {
	return c == t.Origin || c == t.Superior || c == t.Decider || c == t.Receiver
}

func pipeline(ts []*cmproto.Transfer, stats map[string]int64, now time.Time) Pipeline {
	p := Pipeline{Total: len(ts), States: []StateCount{}}
	counts := map[cmproto.State]int{}
	for _, t := range ts {
		counts[t.State]++
		if t.Overdue(now) {
			p.Overdue++
		}
	}
	for _, s := range States {
		p.States = append(p.States, StateCount{State: string(s), Count: counts[s]})
	}
	p.AcceptanceSamples, p.ReceiptSamples = int(stats[statAccN]), int(stats[statRcptN])
	if p.AcceptanceSamples > 0 {
		p.AvgDaysDecisionToAcceptance = round1(float64(stats[statAccSec]) / secondsPerDay / float64(p.AcceptanceSamples))
	}
	if p.ReceiptSamples > 0 {
		p.AvgDaysDecisionToReceipt = round1(float64(stats[statRcptSec]) / secondsPerDay / float64(p.ReceiptSamples))
	}
	return p
}

func round1(x float64) float64 { return math.Round(x*10) / 10 }

// courts builds the per-court table from the statistics, as of now.
func courts(stats map[string]int64, now time.Time, name func(court.CourtCode) string) []CourtIndicators {
	today := court.DateOf(now)
	by := map[court.CourtCode]*CourtIndicators{}
	row := func(c court.CourtCode) *CourtIndicators {
		ci := by[c]
		if ci == nil {
			ci = &CourtIndicators{Court: string(c), Name: name(c)}
			by[c] = ci
		}
		return ci
	}
	for k, v := range stats {
		rest, ok := strings.CutPrefix(k, statRcv)
		if !ok {
			continue
		}
		c, field, ok := strings.Cut(rest, "/")
		if !ok || c == "" {
			continue
		}
		ci := row(court.CourtCode(c))
		switch field {
		case rcvDesignated:
			ci.Designated = int(v)
		case rcvAccepted:
			ci.Accepted = int(v)
		case rcvInTime:
			ci.AcceptedInTime = int(v)
		case rcvReceived:
			ci.Received = int(v)
		case rcvConcluded:
			ci.Concluded = int(v)
		case rcvRecovered:
			ci.RecoveredFen = v
		case rcvOrigin:
			ci.OriginFen = v
		case rcvClaimed:
			ci.ClaimedFen = v
		case rcvLapsed:
			ci.MeasuresLapsed += int(v)
		case rcvSanctLapsed:
			ci.SanctionsLapsed += int(v)
		case rcvOpen:
			ci.Open = int(v)
		case rcvConc6m:
			ci.Concluded6m = int(v)
		default:
			if day, ok := strings.CutPrefix(field, rcvSanctFrom); ok {
				if d, err := court.ParseDate(day); err == nil && !d.After(today) {
					ci.SanctionsLapsed += int(v)
				}
				continue
			}
			if day, ok := strings.CutPrefix(field, rcvLapseFrom); ok {
				if d, err := court.ParseDate(day); err == nil && !d.After(today) {
					ci.MeasuresLapsed += int(v)
				}
			}
		}
	}
	out := make([]CourtIndicators, 0, len(by))
	for _, ci := range by {
		out = append(out, *ci)
	}
	slices.SortFunc(out, func(a, b CourtIndicators) int { return strings.Compare(a.Court, b.Court) })
	return out
}

// ConcludedWithin6Months reports whether t was closed within 6 months of
// its acceptance (civil dates in China).
func ConcludedWithin6Months(t *cmproto.Transfer) bool {
	if t.AcceptedAt.IsZero() || t.ClosedAt.IsZero() {
		return false
	}
	return !court.DateOf(t.ClosedAt).After(court.DateOf(t.AcceptedAt).AddDate(0, 6, 0))
}

// ReceiverPrefix is the prefix of the sums ReceiverIndicators reads.
func ReceiverPrefix(c court.CourtCode) string { return statRcv + string(c) + "/" }

// ReceiverIndicators returns the indicators of court c as a receiver
// from stats, the sums of Contribution over the transfers concerning it
// (storage.TransferStats(c), or only its ReceiverPrefix), as of now.
func ReceiverIndicators(stats map[string]int64, c court.CourtCode, now time.Time) CourtIndicators {
	p := ReceiverPrefix(c)
	mine := map[string]int64{}
	for k, v := range stats {
		if strings.HasPrefix(k, p) {
			mine[k] = v
		}
	}
	for _, ci := range courts(mine, now, func(court.CourtCode) string { return "" }) {
		return ci
	}
	return CourtIndicators{Court: string(c)}
}

// AcceptedInTime reports whether t was accepted on or before its AcceptBy
// date (civil dates in China). A transfer with no AcceptBy date was
// accepted in time if it was accepted at all.
func AcceptedInTime(t *cmproto.Transfer) bool {
	if t.AcceptedAt.IsZero() {
		return false
	}
	by, err := court.ParseDate(t.AcceptBy)
	if err != nil {
		return true
	}
	return !court.DateOf(t.AcceptedAt).After(by)
}

// LapseFrom is the first day (civil date in China) on which
// LapsedDuringHandover(t, now, guardDays) holds for a now on that day,
// while t's dossier is in flight (handed over, receipt not confirmed):
// guardDays+2 days after the handover, or the day after the earliest
// expiry the offer announced if the handover overrode the guard and that
// expiry is on or after the handover day. Zero if t was not handed over.
func LapseFrom(t *cmproto.Transfer, guardDays int) court.Date {
	if t.HandedOverAt.IsZero() {
		return court.Date{}
	}
	h := court.DateOf(t.HandedOverAt)
	from := h.AddDate(0, 0, guardDays+2)
	if len(t.Overridden) > 0 {
		if e, err := court.ParseDate(t.EarliestExpiry); err == nil && !e.Before(h) {
			if next := e.AddDate(0, 0, 1); next.Before(from) {
				from = next
			}
		}
	}
	return from
}

// LapsedDuringHandover reports whether a measure of transfer t may have
// lapsed while the case was between the courts: after the origin handed
// the dossier over and before the receiver confirmed its receipt (and so
// could renew the measure). It is decided from the transfer records
// alone, as every node holds them, with civil dates in China:
//
//   - the window runs from the handover day H to the receipt day R, or
//     to today while the receipt is still outstanding;
//   - the handover overrode the expiry guard (the manifest lists
//     overridden measures: measures that expired within guardDays and
//     were not renewed first) and the earliest measure expiry the offer
//     announced, E, fell in the window: H <= E < R. The offer's E is the
//     only expiry date the records carry; it is a lower bound for the
//     overridden measures' expiries, so the indicator errs towards
//     flagging;
//   - or the window is longer than guardDays+1 days: a measure that was
//     not overridden expired at least guardDays+1 days after the handover,
//     so it can have lapsed only in so long a window.
//
// A measure that expired before the handover lapsed at the origin and is
// not counted here. The target is 0.
func LapsedDuringHandover(t *cmproto.Transfer, now time.Time, guardDays int) bool {
	if t.HandedOverAt.IsZero() {
		return false
	}
	h := court.DateOf(t.HandedOverAt)
	r := court.DateOf(now)
	if !t.ReceivedAt.IsZero() {
		r = court.DateOf(t.ReceivedAt)
	}
	if len(t.Overridden) > 0 {
		if e, err := court.ParseDate(t.EarliestExpiry); err == nil && !e.Before(h) && e.Before(r) {
			return true
		}
	}
	return h.DaysUntil(r) > guardDays+1
}

func mesh(chs []api.CourtHealth) Mesh {
	m := Mesh{Provinces: []ProvinceCount{}, Courts: []api.CourtHealth{}}
	by := map[string]*ProvinceCount{}
	for _, ch := range chs {
		m.Courts = append(m.Courts, ch)
		m.Total++
		pc := by[ch.Province]
		if pc == nil {
			pc = &ProvinceCount{Province: ch.Province}
			by[ch.Province] = pc
		}
		pc.Total++
		if ch.Online {
			m.Online++
			pc.Online++
		}
	}
	for _, pc := range by {
		m.Provinces = append(m.Provinces, *pc)
	}
	slices.SortFunc(m.Provinces, func(a, b ProvinceCount) int {
		// 最高法 first, then the provinces by code.
		return cmp.Or(cmp.Compare(rankProvince(a.Province), rankProvince(b.Province)), strings.Compare(a.Province, b.Province))
	})
	slices.SortStableFunc(m.Courts, func(a, b api.CourtHealth) int {
		return cmp.Or(cmp.Compare(rankProvince(a.Province), rankProvince(b.Province)),
			strings.Compare(a.Province, b.Province), strings.Compare(a.Court, b.Court))
	})
	return m
}

func rankProvince(p string) int {
	if p == string(court.Supreme) {
		return 0
	}
	return 1
}

// SortAlerts orders alerts critical first, then oldest first, then by
// kind, court and transfer.
func SortAlerts(as []api.Alert) {
	sev := func(s string) int {
		if s == "critical" {
			return 0
		}
		return 1
	}
	slices.SortStableFunc(as, func(a, b api.Alert) int {
		return cmp.Or(cmp.Compare(sev(a.Severity), sev(b.Severity)), a.Since.Compare(b.Since),
			strings.Compare(a.Kind, b.Kind), strings.Compare(a.Court, b.Court), strings.Compare(a.Transfer, b.Transfer))
	})
}

// AlertKey identifies an alert for deduplication: the same problem keeps
// its key while it lasts; a new severity or message is a new alert.
func AlertKey(a api.Alert) string {
	var since string
	if !a.Since.IsZero() {
		since = strconv.FormatInt(a.Since.Unix(), 10)
	}
	return strings.Join([]string{a.Kind, a.Severity, a.Court, a.Transfer, since, a.Message}, "|")
}
