package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"courtmesh.dev/courtmesh/court"
)

// The record log and the transfer states.
//
// Every signed transfer record a node accepts is kept, exactly as
// received, in its signer's log: rl/<issuer peer ID>/<sequence, 8 bytes
// big-endian>. rh/<issuer> holds the highest sequence up to which the log
// is complete (no gaps), which is what the node announces and what a peer
// compares to find what it lacks. A second, different record at a
// sequence already filled is equivocation and is refused with
// ErrConflict (and kept out of the log: the first one stands).
//
// Transfer states are kept at x/<transfer id> as a TransferRecord
// (transfers.go), indexed and counted in the same transaction. Records
// that arrived before their predecessor wait at xh/<transfer id>/<record
// hash>.
const (
	prefixLog      = "rl/"
	prefixLogHead  = "rh/"
	prefixTransfer = "x/"
	prefixHeld     = "xh/"
)

func logKey(issuer court.PeerID, seq uint64) []byte {
	k := []byte(prefixLog + issuer + "/")
	return binary.BigEndian.AppendUint64(k, seq)
}

// LogRecord is one record in its issuer's log.
type LogRecord struct {
	Issuer court.PeerID // the signing node
	Seq    uint64
	Raw    []byte
}

// TransferWrite is a transfer state to store with a record, as protocol
// JSON: storage reads the fields it indexes from Data
// (TransferRecordFromJSON). New code passes Commit.TransferRecord instead.
type TransferWrite struct {
	ID        string
	State     string
	PrevState string // "" for a new transfer; informational (the stored state is read)
	Data      []byte
	// Stats is what the transfer adds to the statistics of its scopes (see
	// TransferRecord.Stats).
	Stats map[string]int64
	// Tags mark the transfer for listings by tag (TransferRecord.Tags).
	Tags []string
}

// Commit is what one accepted record changes, written in one transaction.
type Commit struct {
	Record   *LogRecord     // the record to append to its log (nil: none)
	Transfer *TransferWrite // the new transfer state (nil: unchanged)
	// TransferRecord is the new transfer state with its indexed fields
	// filled by the caller (nil: unchanged). At most one of Transfer and
	// TransferRecord may be set.
	TransferRecord *TransferRecord
	Hold           *Held // park the record until its predecessor arrives
	Unhold         *Held // a parked record now applied or refused
	// Checkpoints move in the same transaction (see Checkpoint): e.g.
	// "applied up to this record's sequence" for its issuer.
	Checkpoints []Checkpoint
	// Complaint is the new state of a complaint (nil: none); see party.go.
	Complaint *ComplaintWrite
}

// Held is a record waiting for its predecessor.
type Held struct {
	Transfer string
	Hash     string
	Raw      []byte
}

// ErrEquivocation marks a second, different record at a filled position
// of an issuer's log.
var ErrEquivocation = fmt.Errorf("%w: another record already holds this log position", court.ErrConflict)

// HasRecord reports whether the log holds exactly raw at (issuer, seq).
func (db *DB) HasRecord(issuer court.PeerID, seq uint64, raw []byte) (bool, error) {
	var found bool
	err := db.bdb.View(func(txn *badger.Txn) error {
		var err error
		found, err = hasRecordIn(txn, nil, issuer, seq, raw)
		return err
	})
	return found, err
}

// hasRecordIn is HasRecord in txn, reading through rc (nil: none).
func hasRecordIn(txn *badger.Txn, rc *readCache, issuer court.PeerID, seq uint64, raw []byte) (bool, error) {
	item, err := rc.get(txn, logKey(issuer, seq))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	found := false
	err = item.Value(func(v []byte) error {
		if !bytes.Equal(v, raw) {
			return ErrEquivocation
		}
		found = true
		return nil
	})
	return found, err
}

// Apply writes c in one transaction. Appending a record already in its
// log is a no-op for that part; a different record at the same position
// fails the whole commit with ErrEquivocation.
func (db *DB) Apply(c Commit) error {
	rec, err := c.transferRecord()
	if err != nil {
		return err
	}
	return db.update(func(txn *badger.Txn) error { return applyIn(txn, nil, &c, rec) })
}

// transferRecord returns the transfer record c writes, nil if none.
func (c *Commit) transferRecord() (*TransferRecord, error) {
	if c.Transfer != nil && c.TransferRecord != nil {
		return nil, court.Errorf(court.ErrInvalid, "commit sets both Transfer and TransferRecord for %s", c.Transfer.ID)
	}
	switch {
	case c.TransferRecord != nil:
		r := *c.TransferRecord
		return &r, nil
	case c.Transfer != nil:
		r, err := TransferRecordFromJSON(c.Transfer.Data)
		if err != nil {
			return nil, fmt.Errorf("transfer %s: %w", c.Transfer.ID, err)
		}
		r.ID, r.State, r.Terminal = c.Transfer.ID, c.Transfer.State, legacyTerminal[c.Transfer.State]
		r.Stats, r.Tags = c.Transfer.Stats, c.Transfer.Tags
		return &r, nil
	}
	return nil, nil
}

// applyIn writes c, whose transfer record is rec (nil: none), in txn,
// reading the log and the transfer through rc (nil: none).
func applyIn(txn *badger.Txn, rc *readCache, c *Commit, rec *TransferRecord) error {
	if r := c.Record; r != nil {
		if err := appendLog(txn, rc, r); err != nil {
			return err
		}
	}
	if rec != nil {
		r := *rec // putTransfer may fill Offered; a retry starts afresh
		if err := putTransfer(txn, rc, &r); err != nil {
			return err
		}
	}
	for _, cp := range c.Checkpoints {
		if err := setCheckpoint(txn, cp); err != nil {
			return err
		}
	}
	if w := c.Complaint; w != nil {
		if err := putComplaint(txn, w); err != nil {
			return err
		}
	}
	if h := c.Hold; h != nil {
		if err := txn.Set([]byte(prefixHeld+h.Transfer+"/"+h.Hash), h.Raw); err != nil {
			return err
		}
	}
	if h := c.Unhold; h != nil {
		if err := txn.Delete([]byte(prefixHeld + h.Transfer + "/" + h.Hash)); err != nil {
			return err
		}
	}
	return nil
}

// appendLog appends r to its issuer's log in txn and moves the log head,
// reading the log through rc (nil: none).
func appendLog(txn *badger.Txn, rc *readCache, r *LogRecord) error {
	if r.Seq == 0 || r.Issuer == "" {
		return fmt.Errorf("%w: log record needs an issuer and a sequence from 1", court.ErrInvalid)
	}
	k := logKey(r.Issuer, r.Seq)
	item, err := rc.get(txn, k)
	switch {
	case err == nil:
		return item.Value(func(v []byte) error {
			if !bytes.Equal(v, r.Raw) {
				return ErrEquivocation
			}
			return nil
		})
	case !errors.Is(err, badger.ErrKeyNotFound):
		return err
	}
	rc.wrote(k)
	if err := txn.Set(k, r.Raw); err != nil {
		return err
	}
	head, err := getUint(txn, []byte(prefixLogHead+r.Issuer))
	if err != nil {
		return err
	}
	if r.Seq != head+1 {
		return nil // a gap remains below; the head moves when it is filled
	}
	for {
		_, err := rc.get(txn, logKey(r.Issuer, head+1))
		if errors.Is(err, badger.ErrKeyNotFound) {
			break
		}
		if err != nil {
			return err
		}
		head++
	}
	return txn.Set([]byte(prefixLogHead+r.Issuer), binary.BigEndian.AppendUint64(nil, head))
}

func getUint(txn *badger.Txn, k []byte) (uint64, error) {
	item, err := txn.Get(k)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var v uint64
	err = item.Value(func(b []byte) error {
		if len(b) != 8 {
			return fmt.Errorf("%w: log head %q", court.ErrCorrupt, k)
		}
		v = binary.BigEndian.Uint64(b)
		return nil
	})
	return v, err
}

// LogHead returns the sequence up to which issuer's log is complete.
func (db *DB) LogHead(issuer court.PeerID) (uint64, error) {
	var h uint64
	err := db.bdb.View(func(txn *badger.Txn) error {
		var err error
		h, err = getUint(txn, []byte(prefixLogHead+issuer))
		return err
	})
	return h, err
}

// LogHeads returns every issuer's complete-log head.
func (db *DB) LogHeads() (map[court.PeerID]uint64, error) {
	out := map[court.PeerID]uint64{}
	err := db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixLogHead), PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := string(it.Item().Key()[len(prefixLogHead):])
			err := it.Item().Value(func(b []byte) error {
				if len(b) != 8 {
					return fmt.Errorf("%w: log head of %s", court.ErrCorrupt, k)
				}
				out[court.PeerID(k)] = binary.BigEndian.Uint64(b)
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// LogRange returns the records of issuer's log from..to (inclusive), at
// most max of them, stopping at the first gap.
func (db *DB) LogRange(issuer court.PeerID, from, to uint64, max int) ([][]byte, error) {
	var out [][]byte
	err := db.bdb.View(func(txn *badger.Txn) error {
		for s := from; s <= to && len(out) < max; s++ {
			item, err := txn.Get(logKey(issuer, s))
			if errors.Is(err, badger.ErrKeyNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			out = append(out, v)
		}
		return nil
	})
	return out, err
}

// Transfer returns the stored state of a transfer: the protocol JSON
// (TransferRecord.Body), whatever version the value was stored in.
func (db *DB) Transfer(id string) ([]byte, error) {
	r, err := db.GetTransfer(id)
	if err != nil {
		return nil, err
	}
	return r.Body, nil
}

// Transfers returns the stored states (protocol JSON) of every transfer
// in state (all transfers when state is ""), newest offer first. It reads
// every match: routine reads use ListTransfers, which pages.
func (db *DB) Transfers(state string) ([][]byte, error) {
	p := prefixXAll
	if state != "" {
		p = prefixXSt + state + "/"
	}
	var out [][]byte
	err := db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(p)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			id := idOfIndexKey(it.Item().Key())
			r, found, err := loadTransfer(txn, id)
			if err != nil {
				return err
			}
			if !found {
				return court.Errorf(court.ErrCorrupt, "transfer index names %s, which is not stored: %w", id, court.ErrCorrupt)
			}
			out = append(out, r.Body) // owned: loadTransfer copied the value
		}
		return nil
	})
	return out, err
}

// HeldRecords returns the records waiting for a predecessor in a transfer.
func (db *DB) HeldRecords(transfer string) ([]Held, error) {
	var out []Held
	p := []byte(prefixHeld + transfer + "/")
	err := db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: p, PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			out = append(out, Held{Transfer: transfer, Hash: string(it.Item().Key()[len(p):]), Raw: v})
		}
		return nil
	})
	return out, err
}
