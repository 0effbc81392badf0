package storage

// Errors: this package and its subpackages return court's error kinds
// (court.ErrNotFound, ErrInvalid, ErrConflict, ErrCorrupt,
// ErrUnavailable); test them with errors.Is. Messages name the case or
// field and what to do next. ErrEquivocation (records.go) is a conflict
// of its own.

import "courtmesh.dev/courtmesh/court"

// ErrInUse: the store is open in another process (a running node, or
// another command): Badger allows one opener. Kind unavailable, code
// "store_in_use".
var ErrInUse = court.NewCoded(court.ErrUnavailable, "store_in_use", "the store is in use by another process (is the node running?)")
