package node

import (
	"courtmesh.dev/courtmesh/court"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"github.com/prometheus/client_golang/prometheus"
)

// stateCollector reports gauges computed from the node's state at scrape
// time.
type stateCollector struct{ n *Node }

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
	n := c.n
	now := n.now()
	ch <- prometheus.MustNewConstMetric(descPeers, prometheus.GaugeValue, float64(len(n.h.Network().Peers())))
	b := n.trust.Trust().Bundle()
	ch <- prometheus.MustNewConstMetric(descBundleSeq, prometheus.GaugeValue, float64(b.Sequence))
	ch <- prometheus.MustNewConstMetric(descBundleExpiry, prometheus.GaugeValue, float64(b.ExpiresAt.Unix()))
	ch <- prometheus.MustNewConstMetric(descBundleAge, prometheus.GaugeValue, now.Sub(b.IssuedAt).Seconds())
	if self, err := n.self(); err == nil {
		ch <- prometheus.MustNewConstMetric(descCertExpiry, prometheus.GaugeValue, float64(self.NotAfter.Unix()))
	}
	if ts, err := n.xfer.List(""); err == nil {
		counts := map[cmproto.State]int{}
		overdue := 0
		for _, t := range ts {
			counts[t.State]++
			if t.Overdue(now) {
				overdue++
			}
		}
		for _, s := range []cmproto.State{cmproto.StateOffered, cmproto.StateDecided, cmproto.StateAccepted, cmproto.StateHandedOver, cmproto.StateReceived, cmproto.StateClosed, cmproto.StateRejected, cmproto.StateWithdrawn} {
			ch <- prometheus.MustNewConstMetric(descTransfers, prometheus.GaugeValue, float64(counts[s]), string(s))
		}
		ch <- prometheus.MustNewConstMetric(descOverdue, prometheus.GaugeValue, float64(overdue))
	}
	today := court.DateOf(now)
	for _, days := range []int{7, 30, 90} {
		if ms, err := n.db.ExpiringMeasures(n.ctx, today, days); err == nil {
			ch <- prometheus.MustNewConstMetric(descMeasures, prometheus.GaugeValue, float64(len(ms)), itoa(days))
		}
	}
	if seq, _, err := n.db.AuditHead(); err == nil {
		ch <- prometheus.MustNewConstMetric(descAuditEntries, prometheus.GaugeValue, float64(seq))
	}
	if heads, err := n.db.LogHeads(); err == nil {
		ch <- prometheus.MustNewConstMetric(descRecordLogHeads, prometheus.GaugeValue, float64(len(heads)))
	}
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}
