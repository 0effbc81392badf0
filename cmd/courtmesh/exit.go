package main

import (
	"errors"

	"courtmesh.dev/courtmesh/court"
)

// Exit statuses: 0 for success, 1 for a failure of no known kind (a bug,
// or the machine), 2 for a usage error, and one per error kind, so that a
// script (a court's case-management system, a monitoring check) can tell
// "fix the input" from "try again later" without reading the message.
// Errors from a running node arrive as API errors, whose code carries the
// same kind (api.Error.Unwrap).
const (
	exitFailure     = 1
	exitUsage       = 2
	exitInvalid     = 3 // court.ErrInvalid: fix the input
	exitNotFound    = 4 // court.ErrNotFound
	exitPermission  = 5 // court.ErrPermission, court.ErrRevoked
	exitConflict    = 6 // court.ErrConflict, court.ErrStale: the state does not allow it
	exitUnavailable = 7 // court.ErrUnavailable: try again later (node not running, source offline)
	exitCorrupt     = 8 // court.ErrCorrupt: restore or fetch again
)

// kindExit is the one mapping from error kinds to exit statuses.
var kindExit = map[error]int{
	court.ErrInvalid:     exitInvalid,
	court.ErrNotFound:    exitNotFound,
	court.ErrPermission:  exitPermission,
	court.ErrRevoked:     exitPermission,
	court.ErrConflict:    exitConflict,
	court.ErrStale:       exitConflict,
	court.ErrUnavailable: exitUnavailable,
	court.ErrCorrupt:     exitCorrupt,
}

// exitStatus is the exit status for err returned by run.
func exitStatus(err error) int {
	switch {
	case err == nil, errors.Is(err, errHelp):
		return 0
	case errors.Is(err, errUsage), errors.As(err, new(usageError)):
		return exitUsage
	}
	if s, ok := kindExit[court.KindOf(err)]; ok {
		return s
	}
	return exitFailure
}
