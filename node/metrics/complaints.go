package metrics

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"courtmesh.dev/courtmesh/court"
)

// ComplaintCount counts the parties' complaints (投诉) about one court
// that this court supervises.
type ComplaintCount struct {
	Court    court.CourtCode
	Total    int
	Answered int
	InTime   int // answered by the answer-by day
	Overdue  int // unanswered past the answer-by day
}

// ComplaintStatuses are the status label's values, each exported for
// every court counted, zeros included.
var ComplaintStatuses = []string{"total", "answered", "answered_in_time", "overdue"}

var descComplaints = prometheus.NewDesc("courtmesh_complaints",
	"Parties' complaints (投诉) this court supervises, by court complained of and status (total, answered, answered_in_time, overdue).",
	[]string{"court", "status"}, nil)

// complaintCollector exports the complaint counts at scrape time. Its
// labels are bounded: a certified court code (the signed complaint
// records name it; anything else is dropped) and the fixed statuses;
// never a complaint, a case or a party.
type complaintCollector struct {
	read func(context.Context) ([]ComplaintCount, error)
	log  *slog.Logger
}

// NewComplaintCollector returns the collector of courtmesh_complaints,
// reading the counts with read at each scrape (the party room's
// complaint indicators).
func NewComplaintCollector(read func(context.Context) ([]ComplaintCount, error), log *slog.Logger) prometheus.Collector {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &complaintCollector{read: read, log: log}
}

func (c *complaintCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descComplaints }

func (c *complaintCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, err := c.read(ctx)
	if err != nil {
		c.log.Warn("metrics: could not count the complaints", "reason", err)
		return
	}
	for _, n := range counts {
		if n.Court.Validate() != nil {
			continue
		}
		for i, v := range []int{n.Total, n.Answered, n.InTime, n.Overdue} {
			ch <- prometheus.MustNewConstMetric(descComplaints, prometheus.GaugeValue, float64(v), string(n.Court), ComplaintStatuses[i])
		}
	}
}
