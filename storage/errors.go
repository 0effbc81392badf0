package storage

import (
	"errors"

	"courtmesh.dev/courtmesh/court"
)

// Error kinds returned by this package and its subpackages; test them with
// errors.Is. Messages name the case or field and what to do next.
var (
	// ErrNotFound: no such case, version, document or measure; the same
	// value as court.ErrNotFound (the case rules return it).
	ErrNotFound = court.ErrNotFound
	// ErrInvalid: input that breaks a rule; the same value as
	// court.ErrInvalid, so a court-level parse error is also ErrInvalid.
	ErrInvalid = court.ErrInvalid
	// ErrConflict: another writer changed the case meanwhile, or a
	// restore into a store that already holds data; the same value as
	// court.ErrConflict (the case rules return it).
	ErrConflict = court.ErrConflict
	// ErrCorrupt: stored bytes that fail verification (a chunk whose hash
	// or seal does not check, a record that does not decode); the same
	// value as court.ErrCorrupt (the case rules return it).
	ErrCorrupt = court.ErrCorrupt
	// ErrUnavailable: the store cannot be used (missing key file, newer
	// schema, closed).
	ErrUnavailable = errors.New("store unavailable")
)
