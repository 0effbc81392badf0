package storage

import (
	"errors"

	"github.com/dgraph-io/badger/v4"

	"courtmesh.dev/courtmesh/court"
)

// Batch applies many commits in one transaction: a node applying the
// records of one sync response reads and writes them all through one
// Batch, and so pays the store's cost per transaction once per range
// instead of once per record, and writes a counter that several records
// move once. What one commit wrote is visible to the reads of the next
// (Transfer, HasRecord); nothing is visible to other readers, nor
// durable, until the batch commits, all of it or none.
//
// A Batch is used by one goroutine, only inside the function given to
// DB.Batch.
type Batch struct {
	db   *DB
	txn  *badger.Txn
	rc   *readCache      // what the batch read, so as not to read it again
	n    int             // commits applied
	size int             // bytes of records and transfers written (an estimate)
	held map[string]bool // transfers with a record held by the batch
	// view and heldIt read the committed held records (HasHeld).
	view   *badger.Txn
	heldIt *badger.Iterator
}

// ErrBatchFull is returned by Batch.Apply when the transaction cannot take
// the commit: the store's limit on one transaction was reached. The batch
// cannot be committed any more (part of the commit may be written); the
// caller discards it and applies its commits in smaller batches.
var ErrBatchFull = court.Errorf(court.ErrUnavailable, "too much for one store transaction; apply it in smaller batches")

// MaxBatchBytes bounds what a caller should put in one Batch (Batch.Size):
// far under the store's limit on one transaction, so that ErrBatchFull
// does not happen in practice.
const MaxBatchBytes = 2 << 20

// Batch runs fn on a new batch and commits what it applied if fn returns
// nil; if fn returns an error nothing is written. When the commit
// conflicts with a concurrent transaction (one wrote a key the batch
// read, e.g. a counter), fn runs again from the start on a fresh batch,
// so fn must keep no state across runs that it does not rebuild.
func (db *DB) Batch(fn func(b *Batch) error) error {
	return db.update(func(txn *badger.Txn) error {
		b := &Batch{db: db, txn: txn, rc: newReadCache()}
		defer b.close()
		return fn(b)
	})
}

// HasRecord reports whether the log holds exactly raw at (issuer, seq),
// counting what the batch wrote; ErrEquivocation if it holds another
// record there.
func (b *Batch) HasRecord(issuer court.PeerID, seq uint64, raw []byte) (bool, error) {
	return hasRecordIn(b.txn, b.rc, issuer, seq, raw)
}

// Transfer returns the stored state of a transfer (protocol JSON, as
// DB.Transfer), counting what the batch wrote; an error wrapping
// court.ErrNotFound if there is none.
func (b *Batch) Transfer(id string) ([]byte, error) {
	r, found, err := b.rc.transfer(b.txn, id)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, court.Errorf(court.ErrNotFound, "transfer %s: %w", id, court.ErrNotFound)
	}
	return r.Body, nil
}

// Apply writes c into the batch, as DB.Apply writes it alone (but not
// Commit.Unhold: the records a batch holds are released after it, by
// DB.Apply). On an error
// the batch must be discarded (fn returns an error): part of c may be
// written.
func (b *Batch) Apply(c Commit) error {
	if c.Unhold != nil {
		// HasHeld would not see it.
		return court.Errorf(court.ErrInvalid, "a batch does not release held records (transfer %s)", c.Unhold.Transfer)
	}
	rec, err := c.transferRecord()
	if err != nil {
		return err
	}
	if err := applyIn(b.txn, b.rc, &c, rec); err != nil {
		if errors.Is(err, badger.ErrTxnTooBig) {
			return ErrBatchFull
		}
		return err
	}
	b.n++
	if c.Record != nil {
		b.size += len(c.Record.Raw)
	}
	if rec != nil {
		b.size += 2 * len(rec.Body) // the new value and the index keys, roughly
	}
	if c.Hold != nil {
		b.size += len(c.Hold.Raw)
		if b.held == nil {
			b.held = map[string]bool{}
		}
		b.held[c.Hold.Transfer] = true
	}
	return nil
}

// Len is the number of commits applied to the batch.
func (b *Batch) Len() int { return b.n }

// Size estimates the bytes the batch writes (compare MaxBatchBytes).
func (b *Batch) Size() int { return b.size }

// HasHeld reports whether records wait for their predecessor in transfer
// (Commit.Hold), counting those the batch held. It reads the others from
// the store as committed when the batch first asked (an iterator of the
// batch's own transaction would sort every write of the batch at each
// call): a batch holds records and never releases one, and the caller
// serialises the writers of held records.
func (b *Batch) HasHeld(transfer string) (bool, error) {
	if b.held[transfer] {
		return true, nil
	}
	if b.heldIt == nil {
		// One read transaction and iterator for the batch's lifetime.
		b.view = b.db.bdb.NewTransaction(false)
		b.heldIt = b.view.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixHeld)})
	}
	p := []byte(prefixHeld + transfer + "/")
	b.heldIt.Seek(p)
	return b.heldIt.ValidForPrefix(p), nil
}

// close releases what HasHeld opened.
func (b *Batch) close() {
	if b.heldIt != nil {
		b.heldIt.Close()
		b.view.Discard()
		b.heldIt, b.view = nil, nil
	}
}
