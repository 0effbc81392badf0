package health

import (
	"strconv"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/dashboard"
	"github.com/prometheus/client_golang/prometheus"
)

// stateCollector reports gauges computed from the node's state at scrape
// time. A scrape reads counters and indexes only (transfer counts by
// state, the per-day deadline counters, the measure expiry index, the
// audit head, the record log heads): its cost does not grow with the
// transfers held.
type stateCollector struct{ s *Service }

var (
	descPeers          = prometheus.NewDesc("courtmesh_peers", "Connected, admitted peers.", nil, nil)
	descTransfers      = prometheus.NewDesc("courtmesh_transfers", "Transfers known to this node, by state.", []string{"state"}, nil)
	descOverdue        = prometheus.NewDesc("courtmesh_transfers_overdue", "Decided transfers whose receiver let the acceptance deadline pass.", nil, nil)
	descMeasures       = prometheus.NewDesc("courtmesh_measures_expiring", "Active measures in this court's store expiring within the given number of days.", []string{"within_days"}, nil)
	descBundleSeq      = prometheus.NewDesc("courtmesh_trust_bundle_sequence", "Sequence number of the trust bundle in force.", nil, nil)
	descBundleExpiry   = prometheus.NewDesc("courtmesh_trust_bundle_expiry_timestamp_seconds", "When the trust bundle in force expires (Unix time).", nil, nil)
	descBundleAge      = prometheus.NewDesc("courtmesh_trust_bundle_age_seconds", "Time since the trust bundle in force was issued.", nil, nil)
	descAuditEntries   = prometheus.NewDesc("courtmesh_audit_log_entries", "Entries in the hash-chained audit log.", nil, nil)
	descCertExpiry     = prometheus.NewDesc("courtmesh_certificate_expiry_timestamp_seconds", "When this node's certificate expires (Unix time).", nil, nil)
	descRecordLogHeads = prometheus.NewDesc("courtmesh_record_logs", "Issuers whose record logs this node holds.", nil, nil)
)

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPeers, descTransfers, descOverdue, descMeasures, descBundleSeq, descBundleExpiry, descBundleAge, descAuditEntries, descCertExpiry, descRecordLogHeads} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	now := s.now()
	ctx := s.d.Life
	ch <- prometheus.MustNewConstMetric(descPeers, prometheus.GaugeValue, float64(len(s.d.Host.Network().Peers())))
	b := s.d.Trust.Trust().Bundle()
	ch <- prometheus.MustNewConstMetric(descBundleSeq, prometheus.GaugeValue, float64(b.Sequence))
	ch <- prometheus.MustNewConstMetric(descBundleExpiry, prometheus.GaugeValue, float64(b.ExpiresAt.Unix()))
	ch <- prometheus.MustNewConstMetric(descBundleAge, prometheus.GaugeValue, now.Sub(b.IssuedAt).Seconds())
	if self, err := s.self(); err == nil {
		ch <- prometheus.MustNewConstMetric(descCertExpiry, prometheus.GaugeValue, float64(self.NotAfter.Unix()))
	}
	today := court.DateOf(now)
	counts, err := s.d.Store.TransferCounts()
	if err == nil {
		var overdue int
		if overdue, err = s.d.Store.CountOverdue(ctx, today); err == nil {
			for _, st := range dashboard.States {
				ch <- prometheus.MustNewConstMetric(descTransfers, prometheus.GaugeValue, float64(counts[string(st)]), string(st))
			}
			ch <- prometheus.MustNewConstMetric(descOverdue, prometheus.GaugeValue, float64(overdue))
		}
	}
	if err != nil {
		s.log.Warn("metrics: could not count transfers", "reason", err)
	}
	for _, days := range []int{7, 30, 90} {
		if ms, err := s.d.Store.ExpiringMeasures(ctx, today, days); err == nil {
			ch <- prometheus.MustNewConstMetric(descMeasures, prometheus.GaugeValue, float64(len(ms)), strconv.Itoa(days))
		}
	}
	if seq, _, err := s.d.Store.AuditHead(); err == nil {
		ch <- prometheus.MustNewConstMetric(descAuditEntries, prometheus.GaugeValue, float64(seq))
	}
	if heads, err := s.d.Store.LogHeads(); err == nil {
		ch <- prometheus.MustNewConstMetric(descRecordLogHeads, prometheus.GaugeValue, float64(len(heads)))
	}
}
