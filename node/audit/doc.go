// Package audit is the audit log as the node and the command line use it:
// exporting it, checking it, and the policy for writing to it.
//
// # The log
//
// The log itself lives in the store (storage.DB.Audit, AuditEntries,
// AuditHead): an append-only sequence of storage.AuditEntry, each linked
// to the previous one by its hash, with a head record naming the last
// entry. Each node publishes its head in its heartbeat, so that peers
// witness it. This package reads it through the small Reader interface
// and writes through Writer; *storage.DB implements both.
//
//   - WriteExport streams a contiguous range of the log (by time) as JSON
//     lines, one entry a line, and says what it wrote (api.AuditExport:
//     first, last, count, and the hash the first entry links to).
//   - Checker checks a stream of entries link by link: a whole log from
//     entry 1 (VerifyStored, which also checks the head record) or an
//     export that starts mid-chain (ReadExport), against a known previous
//     hash and against heads witnessed elsewhere.
//   - ParseTime parses an export bound (RFC 3339, or a date in China
//     time).
//
// The local API serves the export (GET /v1/audit, registered by
// api.RegisterAudit over the Service); `courtmesh audit export` and
// `courtmesh audit verify` use this package directly when the node is
// stopped, and the API when it runs.
//
// # Policy: no audit write is ignored
//
// The log is legal evidence, so an entry that cannot be written is never
// dropped silently. Every write goes through one of two doors of the
// Service:
//
//   - Before, when the entry can be written before the action it records
//     takes effect: if the write fails, the action is refused (nothing is
//     done) and the error, which says so, goes back to the caller.
//   - After, when the action has already taken effect and cannot be
//     undone: the failure is counted
//     (courtmesh_audit_write_failures_total{event,action="done"}, for an
//     alert), logged at error level, and returned so that the caller
//     withholds whatever is still its to withhold. Before counts its
//     failures too, with action="refused".
//
// The events of this room and of the case room:
//
//	event           where                         door    on failure
//	audit.exported  GET /v1/audit (node running)  After   the export has streamed; the failure is
//	                                                      counted and logged, and the connection is
//	                                                      broken before the response ends, so the
//	                                                      client (and the CLI, which then deletes its
//	                                                      file) does not take the export as whole
//	audit.exported  courtmesh audit export        Before  written before the export file is flushed;
//	                (node stopped)                        the export is refused and its file removed
//
// The case room (node/cases) writes three, each naming the caller
// (api.ActorFrom: "api-token" through the local API, "offline cli (uid
// N)" on a stopped node), the case and, where given, the purpose:
//
//	case.shown      show (parties' names)   Before  nothing is shown
//	case.exported   export                  Before  nothing is written; a failed export
//	                                                follows with outcome failed (After)
//	case.imported   import                  After   the case is stored; counted and logged
//
// The other rooms' events (record.rejected, record.equivocation,
// handover.override, grant.revoked, dossier.*, asset_update.*) belong to
// their rooms, which choose their door with the same rule: Before where
// the entry can precede the effect (a handover override, a grant
// revocation, a dossier served), After where it records what already
// happened (a record rejected or received, an equivocation seen).
package audit
