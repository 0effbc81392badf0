package storage

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"

	"courtmesh.dev/courtmesh/court"
)

// The named accounts of the court's staff (node/users owns them).
const (
	prefixUser     = "u/"       // u/<name>              UserRecord
	prefixUserTok  = "ix/utok/" // ix/utok/<token id>    -> the account's name
	userVersion    = 1          // UserRecord.Version
	maxUserRecords = 100_000    // a court's staff is hundreds; a bound for the listing
)

// UserRecord is one person's account on the node: who (a login name and
// the person's name as the law records it), the roles, the cases assigned
// to a judge, and the API tokens (argon2id hashes only). Version 1.
type UserRecord struct {
	Version     int               `json:"version"`
	Name        string            `json:"name"`         // login name: a-z, 0-9, '.', '-', '_'
	DisplayName string            `json:"display_name"` // 姓名, as decisions and acceptances name the judge
	Roles       []court.StaffRole `json:"roles"`
	Cases       []string          `json:"cases,omitempty"` // case numbers assigned (承办), for a judge
	Created     time.Time         `json:"created"`
	CreatedBy   string            `json:"created_by"`
	Disabled    bool              `json:"disabled,omitempty"`
	DisabledAt  time.Time         `json:"disabled_at,omitzero"`
	Tokens      []UserToken       `json:"tokens,omitempty"`
}

// UserToken is one API token of an account, stored as argon2id(secret)
// under its own salt; the secret exists in clear only when issued.
type UserToken struct {
	ID      string    `json:"id"` // 16 hex digits, the public part of the token
	Salt    []byte    `json:"salt"`
	Hash    []byte    `json:"hash"`
	Time    uint32    `json:"time"`
	Memory  uint32    `json:"memory"`
	Threads uint8     `json:"threads"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
	Revoked time.Time `json:"revoked,omitzero"`
}

func userKey(name string) []byte { return []byte(prefixUser + name) }

func validUserName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func getUser(txn *badger.Txn, name string) (UserRecord, error) {
	var u UserRecord
	if !validUserName(name) {
		return u, court.Errorf(court.ErrInvalid, "account name %q: use lower-case letters, digits, '.', '-' and '_' (at most 64)", name)
	}
	item, err := txn.Get(userKey(name))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return u, court.Errorf(court.ErrNotFound, "no account %q on this node; `courtmesh user list` shows them", name)
	}
	if err != nil {
		return u, err
	}
	if err := item.Value(func(v []byte) error { return json.Unmarshal(v, &u) }); err != nil {
		return u, court.Errorf(court.ErrCorrupt, "account %q does not decode: %v", name, err)
	}
	if u.Version != userVersion {
		return u, court.Errorf(court.ErrCorrupt, "account %q has version %d; this build reads version %d", name, u.Version, userVersion)
	}
	return u, nil
}

func putUser(txn *badger.Txn, u UserRecord) error {
	u.Version = userVersion
	b, err := json.Marshal(u)
	if err != nil {
		return err
	}
	if err := txn.Set(userKey(u.Name), b); err != nil {
		return err
	}
	for _, t := range u.Tokens {
		if t.ID == "" || strings.Contains(t.ID, "/") {
			return court.Errorf(court.ErrInvalid, "token id %q of account %q is malformed", t.ID, u.Name)
		}
		if err := txn.Set([]byte(prefixUserTok+t.ID), []byte(u.Name)); err != nil {
			return err
		}
	}
	return nil
}

// AddUser stores a new account; court.ErrConflict if the name is taken.
func (db *DB) AddUser(u UserRecord) error {
	return db.update(func(txn *badger.Txn) error {
		if _, err := getUser(txn, u.Name); err == nil {
			return court.Errorf(court.ErrConflict, "an account %q already exists on this node", u.Name)
		} else if court.KindOf(err) != court.ErrNotFound {
			return err
		}
		return putUser(txn, u)
	})
}

// UpdateUser changes the account name with fn in one transaction
// (court.ErrNotFound if there is none). fn must not change the name.
func (db *DB) UpdateUser(name string, fn func(*UserRecord) error) (UserRecord, error) {
	var out UserRecord
	err := db.update(func(txn *badger.Txn) error {
		u, err := getUser(txn, name)
		if err != nil {
			return err
		}
		if err := fn(&u); err != nil {
			return err
		}
		if u.Name != name {
			return court.Errorf(court.ErrInvalid, "an account cannot be renamed (%q to %q)", name, u.Name)
		}
		out = u
		return putUser(txn, u)
	})
	return out, err
}

// User returns the account name, or court.ErrNotFound.
func (db *DB) User(name string) (UserRecord, error) {
	var u UserRecord
	err := db.bdb.View(func(txn *badger.Txn) error {
		var err error
		u, err = getUser(txn, name)
		return err
	})
	return u, err
}

// UserByToken returns the account that holds the token with id, or
// court.ErrNotFound.
func (db *DB) UserByToken(id string) (UserRecord, error) {
	var u UserRecord
	err := db.bdb.View(func(txn *badger.Txn) error {
		if id == "" || strings.Contains(id, "/") {
			return court.Errorf(court.ErrNotFound, "no such token")
		}
		item, err := txn.Get([]byte(prefixUserTok + id))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return court.Errorf(court.ErrNotFound, "no such token")
		}
		if err != nil {
			return err
		}
		name, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		u, err = getUser(txn, string(name))
		return err
	})
	return u, err
}

// Users lists the accounts by name.
func (db *DB) Users() ([]UserRecord, error) {
	var out []UserRecord
	err := db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixUser)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if len(out) >= maxUserRecords {
				return court.Errorf(court.ErrUnavailable, "more than %d accounts", maxUserRecords)
			}
			var u UserRecord
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &u) }); err != nil {
				return court.Errorf(court.ErrCorrupt, "account %q does not decode: %v", it.Item().Key(), err)
			}
			out = append(out, u)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("the node's accounts: %w", err)
	}
	return out, nil
}
