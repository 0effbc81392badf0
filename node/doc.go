// Package node is a court's courtmesh daemon. A Node composes, each as a
// service with its own Serve(ctx) run by Node.Serve:
//
//   - the libp2p host (TCP, TLS or Noise, yamux; no relay, AutoNAT or hole
//     punching) behind admission control: a connection gater that admits
//     only peers the trust bundle in force certifies, a resource manager
//     that refuses every stream of an unadmitted peer, and stream handlers
//     that check again (host.go);
//   - the trust service: the bundle in force, its gossip announcements,
//     pulls and neighbour pokes, and the cut-off of revoked peers
//     (trust.go);
//   - the transfer service: signed transfer records applied through the
//     pure state machine of package protocol, kept in per-issuer
//     sequence-numbered logs, spread by gossip and made lossless by log
//     sync on connect and every sync interval (transfer.go, and the
//     workflow actions in transfer_actions.go);
//   - the fetch service: serving handed-over dossiers to authorised courts
//     (every request checked and audited) and fetching them, verified
//     chunk by chunk, resumable, from several sources (fetch.go);
//   - asset updates after handover (assets.go);
//   - the health room (package node/health): heartbeats, the mesh view,
//     alerts, the state gauges of /metrics and the dashboard's input,
//     built from health.Deps; its routes are node/api's;
//   - the local API (package node/api) on 127.0.0.1 and a Unix socket,
//     the only way into a running node's store.
//
// Nothing here logs or exports personal data: logs and metrics name
// peers, courts, transfers and case numbers only.
package node
