package health

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/dashboard"
	"courtmesh.dev/courtmesh/storage"
)

// supervisionCollector exports, at scrape time, the standard indicators
// per court (this node's own court; every court on an operator node) and
// per mode, the overdue directives, and what the mesh view flags. The
// labels are bounded: a court code (the certified courts), a role
// (receiver, origin), a mode, an indicator name (a fixed list), a flag
// (a fixed list); never a case or a transfer. It reads the mesh scope's
// sums once (dashboard.Contribution), never a transfer. History is
// Prometheus's (dist/prometheus).
type supervisionCollector struct{ s *Service }

var (
	descIndicator = prometheus.NewDesc("courtmesh_indicator", "Standard indicator of cross-execution for a court as receiver or as origin (docs/indicators.md): rates as ratios, amounts in fen, durations in days.",
		[]string{"court", "role", "indicator"}, nil)
	descIndicatorMode = prometheus.NewDesc("courtmesh_indicator_mode", "Standard indicator of cross-execution for every transfer of a mode (designated 指令执行, elevated 提级执行, supervised 督促执行, cooperative 协同执行, concentrated 集中执行; docs/indicators.md).",
		[]string{"mode", "indicator"}, nil)
	descDirectivesOverdue = prometheus.NewDesc("courtmesh_directives_overdue", "Directives (督办) past due without a report: to this court (direction=to), issued by it (direction=by).",
		[]string{"direction"}, nil)
	descMeshFlagged = prometheus.NewDesc("courtmesh_mesh_nodes_flagged", "Nodes this node's mesh view flags, by flag (silent, clock_skew, audit_forked, audit_rewound, revoked).",
		[]string{"flag"}, nil)
	descClockOffset = prometheus.NewDesc("courtmesh_clock_offset_seconds", "Median of how far this node's clock is ahead (positive) of its peers' heartbeats.", nil, nil)
)

// modeLabels are the mode label's values: ASCII names of the modes (a
// label value holding 执 would read like a case number to log filters).
var modeLabels = map[string]string{"指令执行": "designated", "提级执行": "elevated", "督促执行": "supervised", "协同执行": "cooperative", "集中执行": "concentrated"}

// meshFlags are the flags the mesh view raises, each exported even at 0.
var meshFlags = []string{"silent", "clock_skew", "audit_forked", "audit_rewound", "revoked"}

// indicatorValues flattens indicators into (name, value) pairs.
func indicatorValues(i dashboard.Indicators) map[string]float64 {
	return map[string]float64{
		"filed": float64(i.Filed), "closed": float64(i.Closed), "claimed_fen": float64(i.ClaimedFen),
		"recovered_fen": float64(i.RecoveredFen), "origin_recovered_fen": float64(i.OriginFen),
		"fully_enforced_rate": i.FullyEnforced.Value, "actual_conclusion_rate": i.ActuallyDone.Value,
		"termination_rate": i.Terminated.Value, "recovery_rate": i.Recovery.Value,
		"closed_within_6_months": i.Within6Months.Value, "mean_days_to_conclusion": i.DaysToClose.Value,
		"mean_days_decision_to_acceptance": i.DaysToAccept.Value, "progressed_or_resolved": i.Progressed.Value,
		"recovered_against_origin": i.AgainstOrigin.Value, "resumption_rate": i.Resumption.Value,
	}
}

func (c *supervisionCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descIndicator, descIndicatorMode, descDirectivesOverdue, descMeshFlagged, descClockOffset} {
		ch <- d
	}
}

func (c *supervisionCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	now := s.now()
	self, err := s.self()
	if err != nil {
		return
	}
	sums, err := s.supervisionSums(self.Code)
	if err != nil {
		s.log.Warn("metrics: could not read the statistics", "reason", err)
		return
	}
	// The courts and modes the sums name (bounded by the certified courts
	// and the modes).
	courts := map[court.CourtCode]bool{self.Code: true}
	modes := map[string]bool{}
	for k := range sums {
		rest, ok := strings.CutPrefix(k, "ind/")
		if !ok {
			continue
		}
		kind, rest, _ := strings.Cut(rest, "/")
		name, _, _ := strings.Cut(rest, "/")
		switch kind {
		case "r", "o":
			if s.operator {
				courts[court.CourtCode(name)] = true
			}
		case "m":
			modes[name] = true
		}
	}
	for c := range courts {
		for _, role := range []string{"receiver", "origin"} {
			p, err := dashboard.Slice{Role: role, Court: c}.Prefix()
			if err != nil {
				continue
			}
			vs := indicatorValues(dashboard.ComputeIndicators(sums, p))
			if role == "receiver" {
				vs["measures_lapsed"] = float64(dashboard.MeasuresLapsed(sums, c))
			}
			for name, v := range vs {
				ch <- prometheus.MustNewConstMetric(descIndicator, prometheus.GaugeValue, v, string(c), role, name)
			}
		}
	}
	for m := range modes {
		p, err := dashboard.Slice{Mode: m}.Prefix()
		if err != nil {
			continue
		}
		label, ok := modeLabels[m]
		if !ok {
			continue // a mode this build does not name: no label value made from data
		}
		for name, v := range indicatorValues(dashboard.ComputeIndicators(sums, p)) {
			ch <- prometheus.MustNewConstMetric(descIndicatorMode, prometheus.GaugeValue, v, label, name)
		}
	}
	to, by := dashboard.OverdueDirectives(sums, self.Code, court.DateOf(now))
	ch <- prometheus.MustNewConstMetric(descDirectivesOverdue, prometheus.GaugeValue, float64(to), "to")
	ch <- prometheus.MustNewConstMetric(descDirectivesOverdue, prometheus.GaugeValue, float64(by), "by")
	flagged := map[string]int{}
	for _, h := range s.Mesh() {
		for _, f := range h.Flags {
			flagged[f]++
		}
	}
	for _, f := range meshFlags {
		ch <- prometheus.MustNewConstMetric(descMeshFlagged, prometheus.GaugeValue, float64(flagged[f]), f)
	}
	if ck := s.Clock(); ck.State != "unknown" {
		ch <- prometheus.MustNewConstMetric(descClockOffset, prometheus.GaugeValue, float64(ck.OffsetMs)/1000)
	}
}

// supervisionSums reads the statistic sums the gauges need: on an
// operator node those of every court of the mesh (one series per court),
// never the trends' months; elsewhere only the names about this court and
// the per-mode ones, so that a court's scrape does not read every court's
// indicators.
func (s *Service) supervisionSums(self court.CourtCode) (map[string]int64, error) {
	if s.operator {
		rs := []storage.StatsRange{{Prefix: "ind/r/"}, {Prefix: "ind/o/"}, {Prefix: "ind/m/"}, {Prefix: "rcv/"}}
		for _, p := range dashboard.DirectivePrefixes(self) {
			rs = append(rs, storage.StatsRange{Prefix: p})
		}
		return s.d.Store.TransferStatsRanges("", rs...)
	}
	prefixes := append([]string{"ind/r/" + string(self) + "/", "ind/o/" + string(self) + "/", "ind/m/", "rcv/" + string(self) + "/"},
		dashboard.DirectivePrefixes(self)...)
	sums := map[string]int64{}
	for _, p := range prefixes {
		m, err := s.d.Store.TransferStatsPrefix("", p)
		if err != nil {
			return nil, err
		}
		for k, v := range m {
			sums[k] = v
		}
	}
	return sums, nil
}
