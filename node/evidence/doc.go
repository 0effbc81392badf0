// Package evidence writes and checks a transfer's evidence file
// (docs/evidence.md): one JSON file holding every signed record of the
// transfer, the certificates of their signers, the trust bundles the node
// installed (datadir keeps them all under bundles/), and the node's audit
// entries from the first naming the transfer to the head, with that head
// signed by the node and the newest heartbeat it published on the mesh.
//
// Export builds the file from a node's store and data directory, for the
// running node (Service, behind GET /v1/transfers/{id}/evidence) and for
// the command line on a stopped node; it is audited (evidence.exported,
// door Before) before the file is written. Read and Verify check a file
// offline with the national root alone and name the first part that
// fails (*PartError, kind court.ErrCorrupt).
package evidence
