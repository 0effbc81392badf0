// Package workflow is this court's side of a transfer: offer one of its
// cases, decide as the superior court (指令执行 or 提级执行), accept
// under a new case number, hand the dossier over (refused while an active
// measure expires within the guard period, unless a judge gives an
// override reason, audited before it takes effect), report progress,
// close, reject, withdraw, revoke a reader's grant. Each action checks
// what only this court can check, then issues the signed record through
// the records service, whose state machine decides whether the step is in
// order. The listing is paged from the store's indexes.
package workflow
