package metrics

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
	"courtmesh.dev/courtmesh/storage"
)

// Metrics are the node's Prometheus metrics, on a registry of its own (a
// process may run several nodes: the demo, the tests). No label ever
// carries a case number, a party or a transfer id: labels name topics,
// record kinds, states and reasons only.
type Metrics struct {
	Reg             *prometheus.Registry
	ConnsAdmitted   prometheus.Counter
	ConnsRefused    prometheus.Counter
	Gossip          *prometheus.CounterVec // topic, result
	GossipRejected  *prometheus.CounterVec // topic, reason
	Records         *prometheus.CounterVec // kind, outcome
	FetchBytes      prometheus.Counter
	FetchVerified   prometheus.Counter
	FetchRejected   prometheus.Counter
	ServedBytes     prometheus.Counter
	ServedRequests  *prometheus.CounterVec // outcome
	BundleInstalled prometheus.Counter
	// DiskFull counts writes refused because they would eat into the
	// reserve kept free on the data directory's disk, by write (import,
	// fetch).
	DiskFull *prometheus.CounterVec
	// Gate stops validators before the store closes.
	Gate Gate
}

// Gate lets work in while open and, once shut, waits for the work
// inside to leave.
type Gate struct {
	mu     sync.RWMutex
	closed bool
}

func (g *Gate) Enter() bool {
	g.mu.RLock()
	if g.closed {
		g.mu.RUnlock()
		return false
	}
	return true
}

func (g *Gate) Leave() { g.mu.RUnlock() }

// Shut waits for the work inside and lets no more in.
func (g *Gate) Shut() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

// New returns the node metrics on a fresh registry; extra collectors
// (the node's state gauges) are registered on Reg by their owners.
func New() *Metrics {
	m := &Metrics{Reg: prometheus.NewRegistry()}
	f := func(c prometheus.Collector) { m.Reg.MustRegister(c) }
	m.ConnsAdmitted = prometheus.NewCounter(prometheus.CounterOpts{Name: "courtmesh_connections_admitted_total", Help: "Secured connections admitted by the connection gater."})
	m.ConnsRefused = prometheus.NewCounter(prometheus.CounterOpts{Name: "courtmesh_connections_refused_total", Help: "Connections and dials refused by the connection gater (peer not certified, revoked or expired)."})
	m.Gossip = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "courtmesh_gossip_messages_total", Help: "Gossip messages validated, by topic and result (accepted, rejected, ignored)."}, []string{"topic", "result"})
	m.GossipRejected = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "courtmesh_gossip_rejected_total", Help: "Gossip messages and records rejected, by topic and reason."}, []string{"topic", "reason"})
	m.Records = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "courtmesh_records_total", Help: "Transfer records processed, by kind and outcome (applied, held, duplicate, refused, issued)."}, []string{"kind", "outcome"})
	m.FetchBytes = prometheus.NewCounter(prometheus.CounterOpts{Name: "courtmesh_fetch_bytes_total", Help: "Sealed dossier bytes fetched and verified."})
	m.FetchVerified = prometheus.NewCounter(prometheus.CounterOpts{Name: "courtmesh_fetch_chunks_verified_total", Help: "Dossier chunks fetched that matched the manifest."})
	m.FetchRejected = prometheus.NewCounter(prometheus.CounterOpts{Name: "courtmesh_fetch_chunks_rejected_total", Help: "Dossier chunks fetched that did not match the manifest (refetched elsewhere)."})
	m.ServedBytes = prometheus.NewCounter(prometheus.CounterOpts{Name: "courtmesh_fetch_served_bytes_total", Help: "Sealed dossier bytes served to authorised courts."})
	m.ServedRequests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "courtmesh_fetch_requests_total", Help: "Fetch requests answered, by outcome (served, refused)."}, []string{"outcome"})
	m.BundleInstalled = prometheus.NewCounter(prometheus.CounterOpts{Name: "courtmesh_trust_bundles_installed_total", Help: "Newer trust bundles put in force."})
	m.DiskFull = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "courtmesh_disk_full_refusals_total", Help: "Imports and fetch writes refused because the data directory's disk would fall below its reserve (disk_reserve), by write (import, fetch)."}, []string{"write"})
	for _, c := range []prometheus.Collector{m.ConnsAdmitted, m.ConnsRefused, m.Gossip, m.GossipRejected, m.Records, m.FetchBytes, m.FetchVerified, m.FetchRejected, m.ServedBytes, m.ServedRequests, m.BundleInstalled, m.DiskFull} {
		f(c)
	}
	for _, w := range []string{"import", "fetch"} {
		m.DiskFull.WithLabelValues(w) // shown at zero from the start
	}
	return m
}

// RejectReason names the reason of a refusal from a small fixed set.
func RejectReason(err error) string {
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
	case errors.Is(err, court.ErrConflict):
		return "conflict"
	case errors.Is(err, crypto.ErrMalformed):
		return "malformed"
	case errors.Is(err, court.ErrInvalid):
		return "invalid"
	}
	return "other"
}

// Metered wraps a topic validator to count its results.
func (m *Metrics) Metered(topic string, v func(context.Context, peer.ID, *pubsub.Message) pubsub.ValidationResult) func(context.Context, peer.ID, *pubsub.Message) pubsub.ValidationResult {
	return func(ctx context.Context, from peer.ID, msg *pubsub.Message) pubsub.ValidationResult {
		// Validators touch the store: none may run once the node closes it.
		if !m.Gate.Enter() {
			return pubsub.ValidationIgnore
		}
		r := v(ctx, from, msg)
		m.Gate.Leave()
		res := "accepted"
		switch r {
		case pubsub.ValidationReject:
			res = "rejected"
		case pubsub.ValidationIgnore:
			res = "ignored"
		}
		m.Gossip.WithLabelValues(topic, res).Inc()
		return r
	}
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Reg, promhttp.HandlerOpts{Timeout: 10 * time.Second})
}
