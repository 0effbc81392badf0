// Package metrics holds a node's Prometheus registry and the counters the
// rooms share (connections admitted and refused, gossip results and
// refusals by reason, records by kind and outcome, fetch bytes and chunks,
// requests served, bundles installed), and the gate that stops gossip
// validators before the store closes. Labels never name a case, a party
// or a transfer. Gauges computed at scrape time live in node/health.
package metrics
