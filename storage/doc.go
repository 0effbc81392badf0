// Package storage is a court's own store: enforcement cases, their
// dossiers (documents split into sealed chunks), assets and measures: the
// records in Badger v4 with encryption at rest, the sealed chunks in a
// chunk store of their own.
//
// storage keeps persistence only. The case model (court.Party,
// court.Asset, court.Measure and their statuses), the rules for changing
// it (court.PlanAssetChange: renewals, releases, lapses, the waiting
// line) and identity check digits and masking are package court's; this
// package stores them (CaseVersion, CaseRecord) and applies a planned
// court.AssetDelta in place (ApplyAssetDelta), keeping the records and
// indexes in step in one transaction.
//
// # Files
//
// A node's data directory holds enc.key (the court's HPKE key, from
// crypto), store.key (a random 32-byte Badger encryption key, mode 0600,
// created on first open) and store/ (Badger, and the chunk store in
// store/chunks). store.key must be backed up with the other keys: without
// it the store does not open. It protects the files against casual
// copying only; disk-level protection of the data directory (full-disk
// encryption, access control) is the court's.
//
// The chunk store holds sealed chunks, named by the SHA-256 of their
// sealed bytes, in two forms (FileChunks):
//
//	chunks/ab/<64 hex digits>     a chunk an import wrote: one file each,
//	                              under a directory per first byte
//	chunks/packs/NNNNNNNN.pack    chunks a fetch staged, back to back
//	chunks/packs/NNNNNNNN.idx     48-byte entries (id, offset, size with a
//	                              tombstone bit, CRC), appended per commit
//	chunks/tmp/                   writes not yet committed (dropped at open)
//
// A pack rotates at DefaultPackBytes (256 MiB). A group commit is one
// fsync of the pack and one of its index; an index entry is written only
// after the bytes it names are durable, and a torn tail (its CRC fails)
// is cut at open, as are pack bytes no entry names. Deleting a chunk
// appends a tombstone; a pack whose chunks are all deleted is removed.
// Every committed pack chunk is indexed in memory (about 80 bytes each).
// The pack and index formats carry no version of their own (frozen
// samples in testdata/samples/packs pin them); a later format would take
// a new directory name.
//
// A store is opened by one process at a time (Badger's directory lock);
// a second opener gets ErrInUse.
//
// # Records and keys
//
// Keys are prefixed by kind:
//
//	meta/schema                         schema version (see migrations)
//	meta/pending/<id>                   an import in progress
//	c/<case number>                     CaseRecord: head, wrapped data key
//	v/<case number>/<%08d version>      CaseVersion: the whole dossier at one import
//	fm/<transfer>, fc/<transfer>        a fetch in progress: manifest, chunk IDs
//	fb/<transfer>/<index>               a verified chunk of that fetch
//	a/<case number>/<asset id>          Asset of the current version
//	m/<case number>/<measure id>        Measure of the current version
//	ix/mexp/<yyyymmdd>/<case>/<measure> active measures with a term, by expiry
//	ix/cstat/<status>/<case>            cases by status
//	rl/<issuer>/<seq 8 bytes>           a signed record in its issuer's log
//	rh/<issuer>                         the issuer's log is complete up to here
//	xh/<transfer>/<record hash>         a record waiting for its predecessor
//	x/<transfer>                        TransferRecord (see below)
//	ix/xall/<order>/<transfer>          every transfer, newest offer first
//	ix/xst/<state>/<order>/<transfer>   by state
//	ix/xct/<court>/<order>/<transfer>   by court (origin, decider, receiver)
//	ix/xcs/<court>/<state>/<order>/<transfer>  by court and state
//	ix/xdue/<yyyymmdd>/<transfer>       by deadline (not terminal, with one)
//	ix/xcase/<case number>/<transfer>   by case number (origin's, receiver's)
//	ix/xn/<state>                       counter: transfers in state
//	ix/xcn/<court>/<state>              counter: transfers of court in state
//	ix/xdn/<yyyymmdd>                   counter: deadline entries that day
//	meta/ckpt/<pass>/<issuer>           Checkpoint: a pass handled the log up to here
//	meta/heartbeat/published            the newest heartbeat this node published (signed)
//
// Documents live inside their CaseVersion (no separate d/ records): a
// version is read whole and its document list is small. Records are JSON
// with a "v" field (RecordVersion): they are local, never signed or sent,
// so JSON's readability wins over protobuf's compactness; what leaves the
// node is converted at the edge into protocol types. The schema version
// at meta/schema is checked at open; migrations (schema.go) run in order,
// each in the transaction that bumps the version.
//
// # Transfers
//
// A transfer's state is a TransferRecord at x/<id>: version 2 is a line
// of compact JSON with the fields storage indexes ({"v":2,"id":...,
// "state":..., courts, case numbers, deadline, offer and update times}),
// a newline, then the protocol-level transfer JSON as the node gave it
// (Body, opaque to storage); version 1 (schema 3 and older) is that JSON
// alone, still read, and rewritten as version 2 when the transfer next
// changes. <order> in the listing indexes is 16 hex digits of the
// complement of the offer time in Unix nanoseconds (newest first).
//
// Every write of a transfer (Apply, PutTransfer) reads the stored
// version, deletes its index entries, decrements its counters, then
// writes the new value, entries and counters, all in one transaction, so
// the indexes and counters never disagree with the records. Counters are
// read-modify-write keys, so concurrent writers may conflict; the write
// is retried. Routine reads never scan: ListTransfers pages an index with
// an opaque cursor (bounded work per page), TransferCounts and
// CourtTransferCounts read counters, CountOverdue and CountCourtOverdue
// sum the per-day deadline counters, TransfersByCase reads one index
// prefix. Transfers (every match, unpaged) remains for the callers not
// yet moved. Migrations 3 and 4 (schema 3 to 5) build all of it from the
// stored values.
//
// A transfer may carry Stats: named non-negative integers its writer
// computes (the node's dashboard: counts, seconds, fen). The same
// transaction keeps, per name, their sum over every transfer and over
// the transfers concerning each court (ix/xsm/, ix/xsc/), read by
// TransferStats; EnsureTransferStats recomputes every transfer's Stats
// and the sums once when the writer's definition changes (meta/xstats
// names the one in force).
// TransferLoader fills a store in bulk (fixtures) with the same key
// builders; CheckTransferIndexes recomputes and compares the counters.
//
// A Checkpoint (meta/ckpt/) records how far a pass over the record logs
// got per issuer, moved in the transaction of what the pass wrote
// (Commit.Checkpoints), so that a start resumes instead of re-verifying
// every log.
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
// DataKey.SealField; only masked forms (110***********1234, court.MaskNumber)
// are in clear.
// The original case.json, which holds them in clear, is stored as a sealed
// internal document so that export writes it back byte for byte.
//
// # The chunk store
//
// Chunks are not in Badger (schema 1 kept them there under k/<id>;
// migration 1 moves them out). Badger's at-rest encryption would add
// nothing to them: each chunk is already AES-256-GCM sealed under its
// dossier's data key, which is only ever stored wrapped (HPKE) for the
// court's enc.key, and its file name is the SHA-256 of the sealed bytes,
// which says nothing about the plaintext. What the chunk store shows in
// clear to someone who reads the disk is sizes and counts: the number of
// chunks, their sizes (so the rough size of the last chunk of each
// document, and the total volume of dossiers) and file times; which
// chunks make up which case is in the encrypted records. Paying for the
// second encryption cost more than the rest of the store together (a
// 1 GiB fetch: 8.4 CPU s/GiB through encrypted Badger, 5.5 with the
// chunk store, measured with node BenchmarkFetch on a 2-CPU machine).
//
// The store is ChunkStore, with FileChunks on disk and MemChunks for
// tests. Files beat a second, unencrypted Badger: reading a chunk is one
// open and read into a reused buffer (0.1 CPU s/GiB against 0.3 for
// Badger), writing costs about the same CPU, and deleting a chunk frees
// its space at once where Badger needs value-log rewrites. A batch writes
// each chunk to chunks/tmp/, and Commit fsyncs the files, renames them
// into place and fsyncs the directories: a chunk under its final name is
// complete and durable, and Has, Append and Walk see only such chunks.
// Writes are group-committed (16 MiB per import batch, up to 32 chunks
// per fetch commit) so that the fsyncs are shared.
//
// # Atomic imports
//
// A 200 MB dossier does not fit one Badger transaction, and raising the
// limits to make it fit would hold the whole dossier in memory. PutCase
// therefore commits in two phases:
//
//  1. a pending marker is written and synced; the sealed chunks are
//     written to the chunk store in batches of about 16 MiB, each
//     committed (fsynced) before step 2. Until step 2, nothing refers to
//     them: they are garbage.
//  2. one small transaction writes every record of the case (head,
//     version, assets, measures, both indexes), deletes the previous
//     version's asset, measure and index entries, and deletes the marker;
//     then the store is synced again.
//
// A crash before step 2 commits leaves the case absent (or at its previous
// version) plus unreferenced chunks and the marker; Open sees the marker
// and runs CollectGarbage, which deletes every chunk that no version and
// no fetch in progress (fc/<transfer>) refers to, and Open removes
// chunks/tmp/. A crash after the commit leaves the case complete, since
// its chunks were durable first. Collection takes an exclusive lock that
// imports hold shared, so it never removes the chunks of an import in
// flight.
//
// # Fetches
//
// The receiver saves the manifest and its chunk IDs (fm/, fc/, synced)
// before the first chunk; verified chunks are group-committed to the
// chunk store and only then are their bits fb/ set, so a bit never stands
// for a chunk that is not durable. Filing the case deletes fc/ in the
// transaction that writes the version that now refers to the chunks, and
// names the transfer in the case record; fm/ stays, for serving the filed
// copy. Garbage collection counts such a manifest as covered by its case.
//
// # Backups
//
// Backup writes a versioned container (see backup.go): the chunks, then
// Badger's own backup stream of the records, then chunks stored
// meanwhile, then counts and a SHA-256 checksum, the whole sealed in
// frames for the court's enc.key (format 2, backupseal.go). Restore opens
// each frame, checks each chunk against its ID, the checksum, and that
// every chunk a record refers to arrived; it reads format-1 containers
// (not sealed) and schema-1 backups (a bare Badger stream) too.
//
// # Errors
//
// Errors wrap ErrNotFound, ErrInvalid, ErrConflict, ErrCorrupt or
// ErrUnavailable, and name the case and what to do.
package storage
