// Package mesh is a node's place in the libp2p network: the host (TCP,
// TLS or Noise, yamux; no relay, AutoNAT or hole punching), admission
// control at every layer (the connection Gater on dial and on the secured
// connection, a resource manager that refuses every stream of a peer not
// admitted at that moment, and a GuardedHost whose stream handlers check
// again), gossipsub with courtmesh's settings, and the Bootstrap service
// that keeps the configured peers connected.
//
// Admission is consumed here and implemented by the trust room from the
// bundle in force; mesh knows nothing of certificates.
package mesh
