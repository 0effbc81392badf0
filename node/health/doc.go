// Package health is the node's room for what operators watch: signed
// heartbeats, the mesh view built from them, alerts, the state gauges of
// /metrics and the input of the supervision dashboard.
//
// # Heartbeats
//
// Every node publishes a signed heartbeat (version, peers, bundle
// sequence, audit log head with checkpoints, transfer counts by state,
// its signed peer record) on its province's topic every
// heartbeat_interval. A node follows its own province's topic; an
// operator node follows every province's and 最高法's, so that 3,500
// nodes do not all relay each other's heartbeats. The inline validator
// rejects a malformed, forged, revoked or expired heartbeat and one
// signed by a court of another province, and ignores one not newer than
// the last from its node.
//
// The service keeps the newest heartbeat of each node it hears and
// witnesses its audit log: a log that goes backwards is flagged
// audit_rewound, another hash at a position shown before audit_forked.
// Memory is one small record per node heard, bounded per node
// (maxWitnessed hashes).
//
// # Clocks
//
// A heartbeat dated ahead or behind is not dropped: its node is alive.
// Its date is compared with this node's clock when it arrives (the
// offset); beyond clock_skew_tolerance (default 2 minutes) the node is
// flagged clock_skew and an alert names its court and the offset
// (critical once its records are refused: more than
// protocol.MaxClockSkew ahead, or an hour behind). The date serves that
// comparison only: silence is judged by when heartbeats arrive, and a
// node whose clock was set right is heard again at once although its
// dates went back. Clock turns the offsets of the online peers around:
// when more than half of them disagree with this node the same way,
// this node's own clock is ahead or behind (by their median), which
// GET /v1/status, the alerts and `courtmesh doctor` report.
//
// # Mesh and alerts
//
// Mesh joins the certificates of the provinces followed with the
// heartbeats heard: online (a heartbeat within three intervals), silent,
// revoked, bundle_behind, clock_skew and the audit flags. Alerts turns those flags,
// a trust bundle near expiry and overdue acceptances into alerts;
// AllAlerts adds the measures of transferred cases that expire within
// handover_guard_days (from the assets room) and sorts them, critical
// first. Serve posts new alerts to the webhook, if one is configured.
//
// # Costs do not grow with history
//
// Nothing here reads every transfer. A heartbeat and a scrape read the
// store's counters (TransferCounts, CountOverdue: kept in the same
// transaction as the transfers); overdue alerts page the deadline index
// (at most MaxOverdueAlerts, then one alert counting the rest); the
// dashboard takes the counters for its pipeline and, for its other
// indicators, the sums of the transfers' statistics the store keeps per
// scope in the same transaction (dashboard.Contribution), plus the
// transfers handed over and not yet received (up to MaxInFlight), whose
// lapse indicator depends on today.
//
// # Lifecycle
//
// New joins the topics and registers the validators and the gauges; it
// starts nothing. Serve runs the heartbeat loop (with one goroutine per
// subscription, draining it) and the webhook loop, and returns when all
// of them have stopped. The service is built from Deps, never from the
// node: host, pubsub, a trust view, the node key, the store, the measure
// alerts, metrics, a clock, a logger and configuration values. The routes
// are node/api's (api.RegisterHealth); Service implements
// api.HealthService.
package health
