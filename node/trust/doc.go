// Package trust is the trust bundle in force on a node: loaded from the
// data directory at start (the pinned national root and the newest valid
// bundle), admitting peers from it (it implements mesh.Admission), kept
// current over the trust topic (announcements, validated inline) and the
// bundle stream protocol (pulls from the peers known to hold a bundle,
// bounded uploads, resumed downloads: sources.go; pokes of new
// connections and of neighbours after an install), persisted crash-safely,
// and enforced: a revocation closes the revoked peer's connections at once.
//
// The service owns its goroutines: Serve runs the pull worker, the
// announcer and the periodic expiry checks until its context ends; Close
// stops the pokes it started and waits for them.
package trust
