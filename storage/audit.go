package storage

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
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
	db.auditMu.Lock() // the head is read and written in one transaction
	defer db.auditMu.Unlock()
	if db.auditFault != nil {
		if err := db.auditFault(e); err != nil {
			return e, fmt.Errorf("audit log: %w", err)
		}
	}
	err := db.bdb.Update(func(txn *badger.Txn) error {
		var head auditHead
		if err := getJSON(txn, []byte(keyAuditHead), &head); err != nil && !errors.Is(err, court.ErrNotFound) {
			return err
		}
		e.Seq, e.Prev = head.Seq+1, head.Hash
		if e.Time.IsZero() {
			e.Time = db.now()
		}
		e.Time = e.Time.UTC()
		e.Hash = chainHashIn(db.suite, e)
		if err := setJSON(txn, binary.BigEndian.AppendUint64([]byte(prefixAudit), e.Seq), e); err != nil {
			return err
		}
		return setJSON(txn, []byte(keyAuditHead), auditHead{Seq: e.Seq, Hash: e.Hash})
	})
	return e, err
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
// Appends that wait at the same time share one sync (auditSync), so that
// concurrent requests pay about one sync between them, not one each.
//
// One window remains: Badger does not sync a memtable's log when it
// rotates it out (a full memtable, 16 MiB of writes), so an entry whose
// memtable rotates between its append and the sync is on disk once that
// memtable is flushed to a table, normally within a second.
func (db *DB) AuditSynced(e AuditEntry) (AuditEntry, error) {
	e, err := db.Audit(e)
	if err != nil {
		return e, err
	}
	if err := db.auditSync.wait(db.syncLogs); err != nil {
		return e, fmt.Errorf("audit log: entry %d written but not synced to disk: %w", e.Seq, err)
	}
	return e, nil
}

// groupSync shares syncs among the callers that wait for one at the same
// time: a caller needs a sync that began after its write, and whoever
// finds none running starts one for everyone waiting.
type groupSync struct {
	mu      sync.Mutex
	cond    sync.Cond
	running bool
	started uint64 // syncs begun
	done    uint64 // syncs finished (they run one at a time, in order)
	failed  uint64 // the last sync that failed, 0 if none
	err     error  // its error
	syncs   uint64 // syncs run, for tests and benchmarks
}

// wait returns once a sync (run by this caller or another) that began
// after the call has finished; the error of that sync, or of a later one
// that failed before this caller saw the first (a failed sync may leave
// pages it did not write marked clean: no later success is trusted).
func (g *groupSync) wait(syncFn func() error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cond.L == nil {
		g.cond.L = &g.mu
	}
	need := g.started + 1
	for g.done < need {
		if g.running {
			g.cond.Wait()
			continue
		}
		g.running = true
		g.started++
		n := g.started
		g.mu.Unlock()
		err := syncFn()
		g.mu.Lock()
		g.running, g.done = false, n
		g.syncs++
		if err != nil {
			g.failed, g.err = n, err
		}
		g.cond.Broadcast()
	}
	if g.failed >= need {
		return g.err
	}
	return nil
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
