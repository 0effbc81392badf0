package storage

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"courtmesh.dev/courtmesh/court"
)

// The party service's data: the query codes (查询码) of each case's
// parties, kept only as slow hashes, and the complaints every node learns
// from the record logs, with their indexes.
const (
	keyPartyKey      = "meta/party/key" // 32 random bytes: the key of the query-code selectors
	prefixQueryCode  = "pq/"            // pq/<case>/<selector hex>     QueryCode
	prefixComplaint  = "cp/"            // cp/<id>                      the complaint's state (protocol.Complaint, JSON)
	prefixCplCase    = "ix/cpcase/"     // ix/cpcase/<case>/<id>
	prefixCplSup     = "ix/cpsup/"      // ix/cpsup/<supervisor>/<id>
	prefixCplCourt   = "ix/cpcourt/"    // ix/cpcourt/<complained>/<id>
	prefixCplOpen    = "ix/cpopen/"     // ix/cpopen/<answer-by yyyy-mm-dd>/<id>   unanswered complaints by deadline
	queryCodeVersion = 1
)

// QueryCode is what the store keeps of one party's query code: never the
// code, only an argon2id hash of the code and the last characters of the
// party's identity number, under a per-code salt. The JSON field names are
// a stored format.
type QueryCode struct {
	Version int              `json:"version"`
	Case    court.CaseNumber `json:"case"`
	Party   string           `json:"party"` // the party's ID within the case
	Role    court.PartyRole  `json:"role"`
	Salt    []byte           `json:"salt"`
	Hash    []byte           `json:"hash"`
	// Params are the argon2id parameters the hash was made with
	// (time, memory KiB, threads), so that they can grow.
	Time    uint32    `json:"time"`
	Memory  uint32    `json:"memory_kib"`
	Threads uint8     `json:"threads"`
	Issued  time.Time `json:"issued"`
	// Selector is the hex of a keyed hash of the case number and the
	// code (PartyKey): it finds the entry without trying every party's
	// hash, so that every sign-in costs exactly one argon2id.
	Selector string `json:"selector"`
}

// PartyKey returns the store's key for query-code selectors, making it on
// first use.
func (db *DB) PartyKey() ([]byte, error) {
	var key []byte
	err := db.update(func(txn *badger.Txn) error {
		item, err := txn.Get([]byte(keyPartyKey))
		if err == nil {
			key, err = item.ValueCopy(nil)
			return err
		}
		if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		key = make([]byte, 32)
		rand.Read(key)
		return txn.Set([]byte(keyPartyKey), key)
	})
	return key, err
}

func queryCodePrefix(n court.CaseNumber) []byte { return []byte(prefixQueryCode + n.String() + "/") }

// QueryCodesIssued reports how many query codes case n has.
func (db *DB) QueryCodesIssued(n court.CaseNumber) (int, error) {
	count := 0
	err := db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: queryCodePrefix(n)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			count++
		}
		return nil
	})
	return count, err
}

// ReplaceQueryCodes replaces every query code of case n with codes (the
// old codes stop working). The case must exist. With replace false it
// refuses (court.ErrConflict) when the case already has codes.
func (db *DB) ReplaceQueryCodes(n court.CaseNumber, codes []QueryCode, replace bool) error {
	return db.update(func(txn *badger.Txn) error {
		if _, err := txn.Get(caseKey(n)); errors.Is(err, badger.ErrKeyNotFound) {
			return court.Errorf(court.ErrNotFound, "case %s is not in this node's store", n)
		} else if err != nil {
			return err
		}
		var old [][]byte
		it := txn.NewIterator(badger.IteratorOptions{Prefix: queryCodePrefix(n)})
		for it.Rewind(); it.Valid(); it.Next() {
			old = append(old, it.Item().KeyCopy(nil))
		}
		it.Close()
		if len(old) > 0 && !replace {
			return court.Errorf(court.ErrConflict, "case %s already has query codes, printed when they were issued; reissue them (the old ones stop working) with --reissue", n)
		}
		for _, k := range old {
			if err := txn.Delete(k); err != nil {
				return err
			}
		}
		for _, c := range codes {
			c.Version = queryCodeVersion
			if c.Case != n || c.Selector == "" || strings.Contains(c.Selector, "/") {
				return court.Errorf(court.ErrInvalid, "query code for case %s is malformed", n)
			}
			b, err := json.Marshal(c)
			if err != nil {
				return err
			}
			if err := txn.Set(append(queryCodePrefix(n), c.Selector...), b); err != nil {
				return err
			}
		}
		return nil
	})
}

// QueryCodeBySelector returns case n's query code under selector, or
// court.ErrNotFound.
func (db *DB) QueryCodeBySelector(n court.CaseNumber, selector string) (QueryCode, error) {
	var q QueryCode
	err := db.bdb.View(func(txn *badger.Txn) error {
		item, err := txn.Get(append(queryCodePrefix(n), selector...))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return court.ErrNotFound
		}
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error { return json.Unmarshal(v, &q) })
	})
	if err != nil && !errors.Is(err, court.ErrNotFound) {
		return q, fmt.Errorf("query code of case %s: %w", n, err)
	}
	return q, err
}

// ComplaintWrite is a complaint's new state with its indexed fields.
type ComplaintWrite struct {
	ID         string
	Case       string
	Supervisor court.CourtCode
	Complained court.CourtCode
	AnswerBy   string // YYYY-MM-DD
	Answered   bool
	Data       []byte // protocol.Complaint, JSON
}

func putComplaint(txn *badger.Txn, w *ComplaintWrite) error {
	if w.ID == "" || strings.Contains(w.ID, "/") || strings.Contains(w.Case, "/") {
		return court.Errorf(court.ErrInvalid, "complaint %q is malformed", w.ID)
	}
	if err := txn.Set([]byte(prefixComplaint+w.ID), w.Data); err != nil {
		return err
	}
	for _, k := range []string{prefixCplCase + w.Case, prefixCplSup + string(w.Supervisor), prefixCplCourt + string(w.Complained)} {
		if err := txn.Set([]byte(k+"/"+w.ID), nil); err != nil {
			return err
		}
	}
	open := []byte(prefixCplOpen + w.AnswerBy + "/" + w.ID)
	if w.Answered {
		return txn.Delete(open)
	}
	return txn.Set(open, nil)
}

// Complaint returns a complaint's stored state (JSON), or
// court.ErrNotFound.
func (db *DB) Complaint(id string) ([]byte, error) {
	var out []byte
	err := db.bdb.View(func(txn *badger.Txn) error {
		item, err := txn.Get([]byte(prefixComplaint + id))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return court.Errorf(court.ErrNotFound, "complaint %s: %w; check the reference or wait for the records to sync", id, court.ErrNotFound)
		}
		if err != nil {
			return err
		}
		out, err = item.ValueCopy(nil)
		return err
	})
	return out, err
}

// ComplaintIndex names an index of complaints.
type ComplaintIndex string

// The complaint indexes.
const (
	ComplaintsByCase       ComplaintIndex = prefixCplCase  // key: a case number
	ComplaintsBySupervisor ComplaintIndex = prefixCplSup   // key: a court code
	ComplaintsByCourt      ComplaintIndex = prefixCplCourt // key: the complained court's code
	// ComplaintsOpen lists unanswered complaints by answer-by date; key is
	// empty (all) and after a cursor.
	ComplaintsOpen ComplaintIndex = prefixCplOpen
)

// Complaints returns up to limit complaints (JSON) from an index under
// key, after the opaque cursor (empty: from the start), and the cursor of
// the next page ("" at the end).
func (db *DB) Complaints(ix ComplaintIndex, key, cursor string, limit int) ([][]byte, string, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	prefix := []byte(string(ix))
	if key != "" {
		prefix = append(prefix, key+"/"...)
	}
	var out [][]byte
	next, last := "", ""
	err := db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		start := prefix
		if cursor != "" {
			start = append(bytes.Clone(prefix), cursor...)
		}
		for it.Seek(start); it.Valid(); it.Next() {
			rest := string(it.Item().Key()[len(prefix):])
			if cursor != "" && rest <= cursor {
				continue
			}
			if len(out) == limit {
				next = last
				break
			}
			id := rest[strings.LastIndexByte(rest, '/')+1:]
			item, err := txn.Get([]byte(prefixComplaint + id))
			if err != nil {
				return fmt.Errorf("complaint index names %s, which is missing: %w", id, court.ErrCorrupt)
			}
			b, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			out = append(out, b)
			last = rest
		}
		return nil
	})
	return out, next, err
}

// prefixPartyLock holds the party service's sign-in lockouts per case
// number, so that a restart does not lift a lockout or forget its level:
// pl/<key> PartyLockout (JSON), the key being the service's hash of the
// case number as typed.
const prefixPartyLock = "pl/"

// PartyLockout is one key's failed sign-ins and lockout (see
// node/party's Limits). The JSON field names are a stored format.
type PartyLockout struct {
	Fails    int       `json:"fails"`
	Lockouts int       `json:"lockouts"`
	Until    time.Time `json:"until"`
	Last     time.Time `json:"last"`
}

// PutPartyLockout stores key's lockout state.
func (db *DB) PutPartyLockout(key string, l PartyLockout) error {
	if key == "" || strings.Contains(key, "/") {
		return fmt.Errorf("%w: party lockout key %q", court.ErrInvalid, key)
	}
	return db.update(func(txn *badger.Txn) error { return setJSON(txn, []byte(prefixPartyLock+key), l) })
}

// DeletePartyLockout forgets key's lockout state.
func (db *DB) DeletePartyLockout(key string) error {
	return db.update(func(txn *badger.Txn) error { return txn.Delete([]byte(prefixPartyLock + key)) })
}

// PartyLockouts returns every stored lockout state by key.
func (db *DB) PartyLockouts() (map[string]PartyLockout, error) {
	out := map[string]PartyLockout{}
	err := db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixPartyLock)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var l PartyLockout
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &l) }); err != nil {
				return fmt.Errorf("%w: party lockout %s: %v", court.ErrCorrupt, it.Item().Key(), err)
			}
			out[strings.TrimPrefix(string(it.Item().Key()), prefixPartyLock)] = l
		}
		return nil
	})
	return out, err
}
