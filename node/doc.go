// Package node is a court's courtmesh daemon. It only composes: Options,
// New, Serve, Close, Status (and accessors to the rooms for the demo and
// the tests). Each service lives in a room of its own under node/, built
// from a small Deps struct of what it needs (store, host, trust view,
// clock, logger, metrics, audit, the records service as an interface
// declared by the room), never from a *Node:
//
//   - node/config, node/datadir: the configuration file and the data
//     directory (keys, identity, root, bundle, token);
//   - node/mesh: the libp2p host behind admission control (connection
//     gater, resource manager, guarded stream handlers), gossipsub and the
//     bootstrap dialer;
//   - node/trust: the trust bundle in force, spread and pulled, enforced
//     on every connection and stream;
//   - node/records: the signed transfer records (ingest, apply, hold, the
//     per-issuer logs and their sync), issued for the workflow;
//   - node/workflow: this court's transfer steps (offer ... handover,
//     grant revocation);
//   - node/assets: asset updates after the handover and the measure watch;
//   - node/fetch: dossiers served to authorised courts and fetched from
//     them, chunk by chunk, resumable;
//   - node/health: heartbeats, the mesh view, alerts, the dashboard model
//     and the state gauges of /metrics;
//   - node/cases: the court's own cases (import, list, show, verify,
//     export, backup), also used offline by the CLI;
//   - node/audit: the audit log's policy (Before refuses an action whose
//     entry cannot be written, After counts and logs a failure), exports
//     and offline verification;
//   - node/metrics: the Prometheus registry and counters;
//   - node/api: every route of the local API (HTTP+JSON on 127.0.0.1 and
//     a Unix socket), the one error mapper, and the small interfaces it
//     consumes (TransferService, FetchService, AssetService, CaseService,
//     AuditService, HealthService), which the rooms implement.
//
// New builds the rooms in dependency order; Serve runs every long-lived
// one (trust, bootstrap, records, metrics listener, assets, health, API)
// and returns when ctx ends, after each has stopped; Close releases what
// New took (background jobs, gossipsub, host, store) and is safe for a
// node never served. No room imports this package (deps_test.go).
//
// Nothing here logs or exports personal data: logs and metrics name
// peers, courts, transfers and case numbers only.
package node
