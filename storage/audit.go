package storage

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"github.com/dgraph-io/badger/v4"
)

// The audit log: append-only and hash-chained. Entry n stores the hash of
// entry n-1, and its own hash covers its content and that link, so that
// rewriting any entry breaks every later link. Keys: au/<seq, 8 bytes
// big-endian>; the head (sequence and hash) at meta/audit-head.
//
// Entries name peers, courts, transfers and case numbers; never personal
// data, keys or document content.
const (
	prefixAudit  = "au/"
	keyAuditHead = "meta/audit-head"
)

// AuditEntry is one audited event.
type AuditEntry struct {
	Seq      uint64    `json:"seq"`
	Time     time.Time `json:"time"`
	Event    string    `json:"event"`              // e.g. record.rejected, dossier.served, override
	Outcome  string    `json:"outcome"`            // ok | refused | rejected
	Peer     string    `json:"peer,omitempty"`     // the remote peer, if any
	Court    string    `json:"court,omitempty"`    // the remote court, if known
	Transfer string    `json:"transfer,omitempty"` // the transfer concerned
	Case     string    `json:"case,omitempty"`     // the case number concerned
	Person   string    `json:"person,omitempty"`   // who acted: "user:<name>" or "api-token" (entries before named accounts have none)
	Detail   string    `json:"detail,omitempty"`   // what happened, for operators
	Prev     string    `json:"prev"`               // hash of the previous entry (hex)
	Hash     string    `json:"hash"`               // hash of this entry (hex)
}

// chainHash is SHA-256 over the entry without its own hash field, in
// hex; under crypto.SuiteSM it is SM3 over the same bytes with its own
// domain, written "sm3:" + hex, so that a verifier (courtmesh audit
// verify, offline) tells the two apart without knowing the mesh's suite.
func chainHash(e AuditEntry) string {
	e.Hash = ""
	b, _ := json.Marshal(e)
	h := sha256.Sum256(append([]byte("courtmesh audit v1\n"), b...))
	return hex.EncodeToString(h[:])
}

// auditSM3Prefix marks an audit hash of the SM suite.
const auditSM3Prefix = "sm3:"

func chainHashIn(s crypto.Suite, e AuditEntry) string {
	if s != crypto.SuiteSM {
		return chainHash(e)
	}
	e.Hash = ""
	b, _ := json.Marshal(e)
	h := crypto.SuiteSM.Sum(append([]byte("courtmesh audit sm v1\n"), b...))
	return auditSM3Prefix + hex.EncodeToString(h[:])
}

type auditHead struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

// Audit appends an event to the audit log and returns it as stored. The
// caller decides what a failure means (see node/audit for the policy):
// the audit log is evidence, so no caller ignores it.
func (db *DB) Audit(e AuditEntry) (AuditEntry, error) {
	if err := db.writable("audit log"); err != nil {
		return e, err
	}
	r := &auditReq{e: e}
	db.appendAudit([]*auditReq{r})
	return r.e, r.err
}

// auditReq is one entry to append: e as given, then as stored (or as
// given again, with err, if it was not).
type auditReq struct {
	e    AuditEntry
	err  error
	done bool // set by the queue (auditQueue) once e and err are final
}

// appendAudit appends the entries of rs in order, in one transaction:
// each links to the one before it, the first to the log's head. An entry
// the test fault refuses is skipped with that error; if the transaction
// fails, every entry gets its error and none is stored.
func (db *DB) appendAudit(rs []*auditReq) {
	db.auditMu.Lock() // the head is read and written in one transaction
	defer db.auditMu.Unlock()
	given := make([]AuditEntry, len(rs))
	for i, r := range rs {
		given[i] = r.e
		if db.auditFault != nil {
			if err := db.auditFault(r.e); err != nil {
				r.err = fmt.Errorf("audit log: %w", err)
			}
		}
	}
	err := db.bdb.Update(func(txn *badger.Txn) error {
		var head auditHead
		if err := getJSON(txn, []byte(keyAuditHead), &head); err != nil && !errors.Is(err, court.ErrNotFound) {
			return err
		}
		wrote := false
		for _, r := range rs {
			if r.err != nil {
				continue
			}
			e := &r.e
			e.Seq, e.Prev = head.Seq+1, head.Hash
			if e.Time.IsZero() {
				e.Time = db.now()
			}
			e.Time = e.Time.UTC()
			e.Hash = chainHashIn(db.suite, *e)
			if err := setJSON(txn, binary.BigEndian.AppendUint64([]byte(prefixAudit), e.Seq), *e); err != nil {
				return err
			}
			head, wrote = auditHead{Seq: e.Seq, Hash: e.Hash}, true
		}
		if !wrote {
			return nil
		}
		return setJSON(txn, []byte(keyAuditHead), head)
	})
	if err != nil {
		for i, r := range rs {
			if r.err == nil {
				r.e, r.err = given[i], err
			}
		}
	}
}

// AuditSynced appends e as Audit does and returns once the entry is on
// disk: the store's logs are synced (Badger's Sync: the active memtable's
// write-ahead log and the value log) after the append. It is for an entry
// written before the action it records (node/audit's Before: a dossier
// served, a case shown), which a power cut must not lose while the action
// stands; Audit alone leaves the entry in the page cache until the kernel
// writes it back, as the store's other writes are (Options.SyncWrites is
// off).
//
// Entries that wait at the same time are committed together: one
// transaction and one sync for all of them (auditQueue), so concurrent
// requests pay about one commit and one sync between them.
//
// One window remains: Badger does not sync a memtable's log when it
// rotates it out (a full memtable, 16 MiB of writes), so an entry whose
// memtable rotates between its append and the sync is on disk once that
// memtable is flushed to a table, normally within a second.
func (db *DB) AuditSynced(e AuditEntry) (AuditEntry, error) {
	if err := db.writable("audit log"); err != nil {
		return e, err
	}
	r := &auditReq{e: e}
	db.auditQ.commit(r, func(batch []*auditReq) {
		db.appendAudit(batch)
		if !slices.ContainsFunc(batch, func(b *auditReq) bool { return b.err == nil }) {
			return // nothing written, nothing to sync
		}
		if err := db.syncLogs(); err != nil {
			for _, b := range batch {
				if b.err == nil {
					b.err = fmt.Errorf("audit log: entry %d written but not synced to disk: %w", b.e.Seq, err)
				}
			}
		}
	})
	return r.e, r.err
}

// maxAuditBatch bounds the entries one commit of the queue takes: far
// under Badger's transaction limit (a few hundred bytes each).
const maxAuditBatch = 256

// auditQueue commits the entries that wait at the same time together
// (group commit): a caller queues its entry; if no commit is under way it
// takes the queue (up to maxAuditBatch) and commits it, else it waits,
// and takes what queued meanwhile when that commit ends, unless a commit
// already carried its entry.
type auditQueue struct {
	mu      sync.Mutex
	cond    sync.Cond
	pending []*auditReq
	busy    bool
	commits uint64 // batches committed, for tests and benchmarks
}

// commit returns once r has been committed by run, called with r in a
// batch of the entries queued, in their order.
func (q *auditQueue) commit(r *auditReq, run func([]*auditReq)) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.cond.L == nil {
		q.cond.L = &q.mu
	}
	q.pending = append(q.pending, r)
	for !r.done {
		if q.busy {
			q.cond.Wait()
			continue
		}
		n := min(len(q.pending), maxAuditBatch)
		batch := q.pending[:n:n]
		q.pending = append([]*auditReq(nil), q.pending[n:]...)
		q.busy = true
		q.mu.Unlock()
		run(batch)
		q.mu.Lock()
		for _, b := range batch {
			b.done = true
		}
		q.busy = false
		q.commits++
		q.cond.Broadcast()
	}
}

// AuditHead returns the sequence and hash of the newest entry.
func (db *DB) AuditHead() (uint64, string, error) {
	var head auditHead
	err := db.bdb.View(func(txn *badger.Txn) error { return getJSON(txn, []byte(keyAuditHead), &head) })
	if errors.Is(err, court.ErrNotFound) {
		return 0, "", nil
	}
	return head.Seq, head.Hash, err
}

// AuditEntries returns the entries with from <= seq <= to (to 0: all).
func (db *DB) AuditEntries(from, to uint64) ([]AuditEntry, error) {
	var out []AuditEntry
	err := db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixAudit), PrefetchValues: true})
		defer it.Close()
		for it.Seek(binary.BigEndian.AppendUint64([]byte(prefixAudit), from)); it.Valid(); it.Next() {
			var e AuditEntry
			if err := it.Item().Value(func(b []byte) error { return jsonUnmarshal(b, &e) }); err != nil {
				return err
			}
			if to != 0 && e.Seq > to {
				break
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// VerifyAudit checks a sequence of entries (a whole log or an export that
// starts after prevHash) and returns the sequence of the first broken
// entry, or 0 if every link holds.
func VerifyAudit(entries []AuditEntry, prevHash string) (uint64, error) {
	prev := prevHash
	var want uint64
	var first crypto.Suite
	for i, e := range entries {
		if i == 0 {
			want = e.Seq
		}
		if e.Seq != want {
			return e.Seq, fmt.Errorf("audit entry %d: expected sequence %d (an entry was removed or reordered)", e.Seq, want)
		}
		if e.Prev != prev {
			return e.Seq, fmt.Errorf("audit entry %d: link to the previous entry is broken", e.Seq)
		}
		suite := crypto.SuiteV1
		if strings.HasPrefix(e.Hash, auditSM3Prefix) {
			suite = crypto.SuiteSM
		}
		if i == 0 {
			first = suite
		} else if suite != first {
			return e.Seq, fmt.Errorf("audit entry %d: hashed in suite %s, the log in suite %s (rewritten)", e.Seq, suite.Name(), first.Name())
		}
		if chainHashIn(suite, e) != e.Hash {
			return e.Seq, fmt.Errorf("audit entry %d: content does not match its hash (rewritten)", e.Seq)
		}
		prev, want = e.Hash, e.Seq+1
	}
	return 0, nil
}

// SetAuditFault makes every later audit write call f first and fail with
// its error, if any (nil removes it). Tests use it to show that each
// caller keeps its audit policy when the log cannot be written.
func (db *DB) SetAuditFault(f func(AuditEntry) error) {
	db.auditMu.Lock()
	db.auditFault = f
	db.auditMu.Unlock()
}

// AuditHashBytes decodes an audit entry's hash (hex, or "sm3:" + hex under
// the SM suite) into its 32 bytes, as heartbeats carry it.
func AuditHashBytes(h string) ([]byte, error) {
	b, err := hex.DecodeString(strings.TrimPrefix(h, auditSM3Prefix))
	if err != nil || len(b) != 32 {
		return nil, fmt.Errorf("%w: audit hash %q", court.ErrCorrupt, h)
	}
	return b, nil
}
