package node

import (
	"context"
	"sync"

	"errors"
	"net/http"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/storage"
)

// metrics are the node's Prometheus metrics, on a registry of its own (a
// process may run several nodes: the demo, the tests). No label ever
// carries a case number, a party or a transfer id: labels name topics,
// record kinds, states and reasons only.
type metrics struct {
	reg             *prometheus.Registry
	connsAdmitted   prometheus.Counter
	connsRefused    prometheus.Counter
	gossip          *prometheus.CounterVec // topic, result
	gossipRejected  *prometheus.CounterVec // topic, reason
	records         *prometheus.CounterVec // kind, outcome
	fetchBytes      prometheus.Counter
	fetchVerified   prometheus.Counter
	fetchRejected   prometheus.Counter
	servedBytes     prometheus.Counter
	servedRequests  *prometheus.CounterVec // outcome
	bundleInstalled prometheus.Counter
	// gate stops validators before the store closes.
	gate closeGate
}

// closeGate lets work in while open and, once shut, waits for the work
// inside to leave.
type closeGate struct {
	mu     sync.RWMutex
	closed bool
}

func (g *closeGate) enter() bool {
	g.mu.RLock()
	if g.closed {
		g.mu.RUnlock()
		return false
	}
	return true
}

func (g *closeGate) leave() { g.mu.RUnlock() }

// shut waits for the work inside and lets no more in.
func (g *closeGate) shut() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

func newMetrics(n *Node) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	f := func(c prometheus.Collector) { m.reg.MustRegister(c) }
	m.connsAdmitted = prometheus.NewCounter(prometheus.CounterOpts{Name: "courtmesh_connections_admitted_total", Help: "Secured connections admitted by the connection gater."})
	m.connsRefused = prometheus.NewCounter(prometheus.CounterOpts{Name: "courtmesh_connections_refused_total", Help: "Connections and dials refused by the connection gater (peer not certified, revoked or expired)."})
	m.gossip = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "courtmesh_gossip_messages_total", Help: "Gossip messages validated, by topic and result (accepted, rejected, ignored)."}, []string{"topic", "result"})
	m.gossipRejected = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "courtmesh_gossip_rejected_total", Help: "Gossip messages and records rejected, by topic and reason."}, []string{"topic", "reason"})
	m.records = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "courtmesh_records_total", Help: "Transfer records processed, by kind and outcome (applied, held, duplicate, refused, issued)."}, []string{"kind", "outcome"})
	m.fetchBytes = prometheus.NewCounter(prometheus.CounterOpts{Name: "courtmesh_fetch_bytes_total", Help: "Sealed dossier bytes fetched and verified."})
	m.fetchVerified = prometheus.NewCounter(prometheus.CounterOpts{Name: "courtmesh_fetch_chunks_verified_total", Help: "Dossier chunks fetched that matched the manifest."})
	m.fetchRejected = prometheus.NewCounter(prometheus.CounterOpts{Name: "courtmesh_fetch_chunks_rejected_total", Help: "Dossier chunks fetched that did not match the manifest (refetched elsewhere)."})
	m.servedBytes = prometheus.NewCounter(prometheus.CounterOpts{Name: "courtmesh_fetch_served_bytes_total", Help: "Sealed dossier bytes served to authorised courts."})
	m.servedRequests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "courtmesh_fetch_requests_total", Help: "Fetch requests answered, by outcome (served, refused)."}, []string{"outcome"})
	m.bundleInstalled = prometheus.NewCounter(prometheus.CounterOpts{Name: "courtmesh_trust_bundles_installed_total", Help: "Newer trust bundles put in force."})
	for _, c := range []prometheus.Collector{m.connsAdmitted, m.connsRefused, m.gossip, m.gossipRejected, m.records, m.fetchBytes, m.fetchVerified, m.fetchRejected, m.servedBytes, m.servedRequests, m.bundleInstalled} {
		f(c)
	}
	f(&stateCollector{n: n})
	return m
}

// rejectReason names the reason of a refusal from a small fixed set.
func rejectReason(err error) string {
	switch {
	case err == nil:
		return "none"
	case errors.Is(err, crypto.ErrBadSignature):
		return "bad_signature"
	case errors.Is(err, crypto.ErrRevoked):
		return "revoked_signer"
	case errors.Is(err, crypto.ErrUnknownSigner):
		return "unknown_signer"
	case errors.Is(err, crypto.ErrExpired), errors.Is(err, crypto.ErrNotYetValid):
		return "signer_not_valid"
	case errors.Is(err, crypto.ErrNotAuthorised):
		return "not_authorised"
	case errors.Is(err, storage.ErrEquivocation):
		return "equivocation"
	case errors.Is(err, cmproto.ErrConflict):
		return "conflict"
	case errors.Is(err, crypto.ErrMalformed):
		return "malformed"
	case errors.Is(err, cmproto.ErrInvalid):
		return "invalid"
	}
	return "other"
}

// metered wraps a topic validator to count its results.
func (m *metrics) metered(topic string, v func(context.Context, peer.ID, *pubsub.Message) pubsub.ValidationResult) func(context.Context, peer.ID, *pubsub.Message) pubsub.ValidationResult {
	return func(ctx context.Context, from peer.ID, msg *pubsub.Message) pubsub.ValidationResult {
		// Validators touch the store: none may run once the node closes it.
		if !m.gate.enter() {
			return pubsub.ValidationIgnore
		}
		r := v(ctx, from, msg)
		m.gate.leave()
		res := "accepted"
		switch r {
		case pubsub.ValidationReject:
			res = "rejected"
		case pubsub.ValidationIgnore:
			res = "ignored"
		}
		m.gossip.WithLabelValues(topic, res).Inc()
		return r
	}
}

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
	if ts, err := n.xfer.list(""); err == nil {
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

// metricsHandler serves the registry in the Prometheus text format.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Timeout: 10 * time.Second})
}
