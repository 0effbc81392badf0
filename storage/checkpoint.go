package storage

import (
	"encoding/binary"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"

	"courtmesh.dev/courtmesh/court"
)

// prefixCheckpoint keys checkpoints: meta/ckpt/<name>/<issuer> holds the
// sequence (8 bytes, big-endian) up to which the named pass has handled
// issuer's record log.
const prefixCheckpoint = "meta/ckpt/"

// Checkpoint records that a pass over the record logs (named by Name, e.g.
// "records.applied" or "assets.recovered") has handled every record of
// Issuer's log up to Seq, so that a node start resumes after Seq instead
// of decoding and verifying the whole log again. A checkpoint never moves
// back: setting a lower Seq keeps the higher one (ResetCheckpoints starts
// a pass over).
type Checkpoint struct {
	Name   string       // the pass: [A-Za-z0-9._-], no '/'
	Issuer court.PeerID // the log's issuer, as in LogRecord.Issuer
	Seq    uint64
}

func checkpointKey(name string, issuer court.PeerID) []byte {
	return []byte(prefixCheckpoint + name + "/" + string(issuer))
}

func (cp Checkpoint) validate() error {
	if err := checkKeyPart("checkpoint name", cp.Name); err != nil {
		return err
	}
	return checkKeyPart("checkpoint issuer", string(cp.Issuer))
}

// setCheckpoint raises the checkpoint in txn (never lowers it).
func setCheckpoint(txn *badger.Txn, cp Checkpoint) error {
	if err := cp.validate(); err != nil {
		return err
	}
	k := checkpointKey(cp.Name, cp.Issuer)
	cur, err := getUint(txn, k)
	if err != nil {
		return err
	}
	if cp.Seq <= cur {
		return nil
	}
	return txn.Set(k, binary.BigEndian.AppendUint64(nil, cp.Seq))
}

// SetCheckpoint raises a checkpoint on its own. To tie it to what the
// pass wrote, pass it in Commit.Checkpoints instead: then both land in
// one transaction.
func (db *DB) SetCheckpoint(cp Checkpoint) error {
	return db.update(func(txn *badger.Txn) error { return setCheckpoint(txn, cp) })
}

// Checkpoint returns how far the pass name has handled issuer's log (0:
// not at all).
func (db *DB) Checkpoint(name string, issuer court.PeerID) (uint64, error) {
	if err := (Checkpoint{Name: name, Issuer: issuer}).validate(); err != nil {
		return 0, err
	}
	var seq uint64
	err := db.bdb.View(func(txn *badger.Txn) error {
		var err error
		seq, err = getUint(txn, checkpointKey(name, issuer))
		return err
	})
	return seq, err
}

// Checkpoints returns every issuer's checkpoint of the pass name. A start
// compares it with LogHeads and reads only LogRange(issuer, cp+1, head).
func (db *DB) Checkpoints(name string) (map[court.PeerID]uint64, error) {
	if err := checkKeyPart("checkpoint name", name); err != nil {
		return nil, err
	}
	p := []byte(prefixCheckpoint + name + "/")
	out := map[court.PeerID]uint64{}
	err := db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: p, PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			issuer := string(it.Item().Key()[len(p):])
			err := it.Item().Value(func(b []byte) error {
				if len(b) != 8 {
					return court.Errorf(court.ErrCorrupt, "checkpoint %s of %s: %d bytes, want 8: %w", name, issuer, len(b), court.ErrCorrupt)
				}
				out[court.PeerID(issuer)] = binary.BigEndian.Uint64(b)
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

// ResetCheckpoints forgets every checkpoint of the pass name, so that the
// next start handles every log from the beginning (e.g. after a change of
// the verification rules).
func (db *DB) ResetCheckpoints(name string) error {
	if err := checkKeyPart("checkpoint name", name); err != nil {
		return err
	}
	p := []byte(prefixCheckpoint + name + "/")
	err := db.update(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: p})
		var ks [][]byte
		for it.Rewind(); it.Valid(); it.Next() {
			ks = append(ks, it.Item().KeyCopy(nil))
		}
		it.Close()
		for _, k := range ks {
			if err := txn.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("reset checkpoints %s: %w", name, err)
	}
	return nil
}
