package storage

// Errors: this package and its subpackages return court's error kinds
// (court.ErrNotFound, ErrInvalid, ErrConflict, ErrCorrupt,
// ErrUnavailable); test them with errors.Is. Messages name the case or
// field and what to do next. ErrEquivocation (records.go) is a conflict
// of its own.
