// Package records carries the transfer records: every step of a transfer
// (offer, decision, acceptance, handover, receipt, progress, closure,
// asset update, grant revocation ...) is a signed envelope issued by one
// court, kept in that court's sequence-numbered log on every node, and
// applied through the pure state machine of package protocol.
//
// A record arrives by gossip (validated inline: a bad signature, an
// unknown or revoked signer or a malformed payload is rejected and
// audited; a duplicate or stale one ignored) or by log sync (on connect,
// on a peer's log-head announcement that shows a gap, and every sync
// interval with one random peer). It is logged exactly as received, then
// applied to its transfer, or held until its predecessor arrives, or kept
// as evidence and refused. Issue signs this court's own records as the
// next entry of its log, applies them locally and publishes them.
//
// A revoked key's log (revoked.go) is taken only up to the last trusted
// head its revocation pins, as one range checked against that head, and
// never past it; a record refused because its signer is revoked is
// remembered, so that sync does not pull and audit it again, and the
// refusal names the signer, not the peer that relayed it. Head is this
// node's own log head (length and chain hash), which its heartbeats carry.
//
// Transfers are stored with indexes and counters (by state, court,
// deadline, case number) in the same transaction as the record, so that
// Each and ByCase read pages from the indexes, never every transfer. The
// records of a sync response (batch.go, IngestRange) are checked one by
// one as gossip's are, their signatures on every core, and kept and
// applied a run at a time in one transaction; a record from gossip is a
// run of one.
package records
