// Package api is the node's local control channel: HTTP+JSON on a
// loopback TCP address and on a Unix socket in the data directory, behind
// a bearer token kept 0600 beside it. The CLI and the court's
// case-management system both use it; nothing else writes to a running
// node's store.
//
// Every route is registered here (Register* take the room that serves
// them through a small interface declared in this package: the rooms
// implement TransferService, FetchService, AssetService, CaseService,
// AuditService, HealthService). Errors go through one mapper, FromError:
// court's error kinds to stable codes and statuses (invalid 422, not
// found 404, permission 403, revoked 403, conflict and stale 409,
// unavailable 503, corrupt 500), a court.CodedError's own code, request
// shape problems 400 and oversized bodies 413. Bodies are JSON objects
// {"error": {"code", "message"}} with a message a clerk can act on;
// Client turns them back into errors of the same kinds.
//
// Lists that grow with history are paged: a limit, an opaque cursor, and
// the next page's cursor in the X-Next-Cursor header.
package api
