// Package assets carries a transferred case's assets and measures after
// the handover.
//
// The origin and the receiver each keep their own copy of a transferred
// case (the origin under its case number, the receiver under its new
// one). A court that changes the case's assets or measures applies the
// change to its copy (storage.ApplyAssetDelta), seals the delta with the
// dossier's data key under a label binding the transfer, the issuing
// court and the update's number, and issues it as an AssetUpdate record.
// Records travel in the issuer's log, so an update made while the other
// court is down reaches it when it reconnects.
//
// The other court keeps each update it receives (storage.PutAssetUpdate)
// and applies them in number order per issuer, from the asset watch
// (Service.Serve): the receiver only once it has filed the case. An
// update that does not open, or does not decode, is audited and skipped
// without changing the case, so that later updates are not held up
// forever by one that can never apply.
//
// The watch also warns, once a day per measure, about the measures of
// transferred cases nearing expiry (within the handover guard period).
//
// Audit policy: an update issued, applied or refused for a conflict, and
// a failed revert, are audited after the fact; a failed audit write is
// logged at error level and counted (courtmesh_audit_write_failures_total)
// because the event cannot be undone. An update skipped as unreadable or
// invalid is skipped only once its audit entry is written; otherwise it
// waits and is tried again.
package assets
