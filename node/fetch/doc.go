// Package fetch serves handed-over dossiers to the courts authorised to
// receive them, and fetches them.
//

// The fetch protocol (protocol.ProtoFetch): the receiver (or the decider) asks any node holding
// a handed-over dossier for its manifest, then for its sealed chunks by
// ID. Every request on a stream is authorised against the transfer's
// state (the data key was wrapped for the asker at handover, the origin
// has not revoked the grant) and audited, served or refused.
//
// Fetching: the receiver asks the origin, then every other court holding
// a grant, for the manifest (checked against the handover record), then
// for the chunks, pipelined over one or more streams per source within a
// byte window; each chunk is checked against the manifest before it is
// committed, so a crash or a cancel loses nothing verified and a new fetch
// resumes from it. The case is filed whole, checked without reading the
// chunks back (storage.DB.CheckFiledCase: they were checked on arrival),
// and the receipt published.
//
// Audit policy: a chunk or manifest is served only once its audit entry
// is written (refused otherwise). Refusals, bad chunks and manifests and
// the filing are audited after the fact; a failed write is logged at
// error level and counted (courtmesh_audit_write_failures_total).
//
// The service owns its jobs: each runs on the service's context, and
// Close cancels them and waits. A finished job is dropped; its final
// progress is kept (the latest 256) for Status.
package fetch
