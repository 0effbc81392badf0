// Package storage is a court's own store: enforcement cases, their
// dossiers (documents split into sealed chunks), assets and measures, in
// Badger v4 with encryption at rest.
//
// # Files
//
// A node's data directory holds enc.key (the court's HPKE key, from
// crypto), store.key (a random 32-byte Badger encryption key, mode 0600,
// created on first open) and store/ (Badger). store.key must be backed up
// with the other keys: without it the store does not open. It protects the
// files against casual copying only; disk-level protection of the data
// directory (full-disk encryption, access control) is the court's.
//
// # Records and keys
//
// Keys are prefixed by kind:
//
//	meta/schema                         schema version (see migrations)
//	meta/pending/<id>                   an import in progress
//	c/<case number>                     CaseRecord: head, wrapped data key
//	v/<case number>/<%08d version>      CaseVersion: the whole dossier at one import
//	k/<32-byte chunk id>                a sealed chunk, content-addressed
//	a/<case number>/<asset id>          Asset of the current version
//	m/<case number>/<measure id>        Measure of the current version
//	ix/mexp/<yyyymmdd>/<case>/<measure> active measures with a term, by expiry
//	ix/cstat/<status>/<case>            cases by status
//
// Documents live inside their CaseVersion (no separate d/ records): a
// version is read whole and its document list is small. Records are JSON
// with a "v" field (RecordVersion): they are local, never signed or sent,
// so JSON's readability wins over protobuf's compactness; what leaves the
// node is converted at the edge into protocol types. The schema version
// at meta/schema is checked at open; migrations (schema.go) run in order,
// each in the transaction that bumps the version.
//
// # Sealing
//
// Each case has one random data key (crypto.DataKey), wrapped with HPKE
// for the court's own encryption key and kept in the CaseRecord; new
// versions reuse it. Documents are cut into chunks of Options.ChunkSize
// (1 MiB default) and sealed by crypto.DocumentSealer, the chunk index
// bound into nonce and associated data; a chunk's key is its SHA-256 over
// the sealed bytes, so identical chunks (an unchanged document in a new
// version) are stored once. Sealing runs on a pool of GOMAXPROCS workers
// while the import reads, hashes and writes the chunks in order on its own
// goroutine; a chunk's seal depends only on the data key, the document
// hash and its index, so the stored bytes are those of sealing one chunk
// after another. Identity and account numbers are sealed with
// DataKey.SealField; only masked forms (110***********1234) are in clear.
// The original case.json, which holds them in clear, is stored as a sealed
// internal document so that export writes it back byte for byte.
//
// # Atomic imports
//
// A 200 MB dossier does not fit one Badger transaction, and raising the
// limits to make it fit would hold the whole dossier in memory. PutCase
// therefore commits in two phases:
//
//  1. a pending marker is written; the sealed chunks are written in
//     batches of about 16 MiB under their content addresses, then synced.
//     Until step 2, nothing refers to them: they are garbage.
//  2. one small transaction writes every record of the case (head,
//     version, assets, measures, both indexes), deletes the previous
//     version's asset, measure and index entries, and deletes the marker;
//     then the store is synced again.
//
// A crash before step 2 commits leaves the case absent (or at its previous
// version) plus unreferenced chunks and the marker; Open sees the marker
// and runs CollectGarbage, which deletes every chunk no version refers to.
// A crash after the commit leaves the case complete, since its chunks were
// synced first. Collection takes an exclusive lock that imports hold
// shared, so it never removes the chunks of an import in flight.
//
// # Errors
//
// Errors wrap ErrNotFound, ErrInvalid, ErrConflict, ErrCorrupt or
// ErrUnavailable, and name the case and what to do.
package storage
