package court

import (
	"errors"
	"fmt"
)

// The error kinds of courtmesh. Every error a package of this module
// returns for a reason a caller may act on wraps exactly one of them; test
// with errors.Is, never by the message. The local API maps each kind to one
// stable code (node/api) and the CLI to one exit code (cmd/courtmesh);
// nothing else maps errors.
//
// A package may declare a more specific sentinel (protocol.ErrDuplicate,
// crypto.ErrBadSignature) as long as it wraps one of these kinds, so that
// callers who only care about the kind still see it. cmd/courtmesh's
// TestEverySentinelHasAKind finds every exported Err* variable of the
// module and fails on one of no kind.
var (
	// ErrInvalid: input that is malformed or breaks a rule (a bad court
	// code, case number, date, record, request field). Fix the input.
	ErrInvalid = errors.New("invalid")
	// ErrNotFound: no such case, transfer, version, document or measure.
	ErrNotFound = errors.New("not found")
	// ErrPermission: the caller (a court, a peer, a person) may not do
	// this: not a party to the transfer, not the superior, no grant.
	ErrPermission = errors.New("not permitted")
	// ErrConflict: the action clashes with what is already there (another
	// writer changed the case, a step out of order, a number in use).
	ErrConflict = errors.New("conflict")
	// ErrStale: the input is older than what is held (a replayed or
	// superseded record, a bundle behind the one in force). Usually
	// ignored, never an attack by itself.
	ErrStale = errors.New("stale")
	// ErrUnavailable: the thing cannot be done now but may later (a
	// source offline, the store closed, the disk reserve reached). Retry.
	ErrUnavailable = errors.New("unavailable")
	// ErrRevoked: a certificate or grant was revoked or has expired.
	ErrRevoked = errors.New("revoked")
	// ErrCorrupt: stored bytes that fail verification (a chunk whose hash
	// or seal does not check, a record that does not decode). Restore
	// from a backup or fetch again.
	ErrCorrupt = errors.New("corrupt")
)

// Kinds lists every error kind, in the order of precedence KindOf uses.
var Kinds = []error{ErrRevoked, ErrPermission, ErrCorrupt, ErrInvalid, ErrNotFound, ErrStale, ErrConflict, ErrUnavailable}

// KindOf returns the error kind err wraps, or nil if it wraps none (an
// internal failure). When an error wraps several kinds (errors.Join), the
// first in Kinds wins.
func KindOf(err error) error {
	if err == nil {
		return nil
	}
	for _, k := range Kinds {
		if errors.Is(err, k) {
			return k
		}
	}
	return nil
}

// kindError is an error of a kind whose message is written in full by the
// caller: it reads as msg alone, without the kind's own text.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

// Errorf returns an error of the given kind that reads as the formatted
// message alone (the kind is not prefixed). %w in format wraps as usual:
// the result then matches both kind and the wrapped error.
func Errorf(kind error, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	if u, ok := err.(interface{ Unwrap() []error }); ok {
		return &multiKindError{kind: kind, msg: err.Error(), wrapped: u.Unwrap()}
	}
	if u := errors.Unwrap(err); u != nil {
		return &multiKindError{kind: kind, msg: err.Error(), wrapped: []error{u}}
	}
	return &kindError{kind: kind, msg: err.Error()}
}

// multiKindError is a kindError that also wraps the errors its format
// wrapped with %w.
type multiKindError struct {
	kind    error
	msg     string
	wrapped []error
}

func (e *multiKindError) Error() string   { return e.msg }
func (e *multiKindError) Unwrap() []error { return append([]error{e.kind}, e.wrapped...) }

// CodedError is a sentinel error with a stable machine code more specific
// than its kind ("handover_blocked" rather than "conflict"): the API
// answers with the code, the CLI prints it. Match it with errors.Is on
// the sentinel; it also matches its kind.
type CodedError struct {
	kind error
	code string
	msg  string
}

// NewCoded returns a CodedError of kind with a stable code and message.
func NewCoded(kind error, code, msg string) *CodedError {
	return &CodedError{kind: kind, code: code, msg: msg}
}

func (e *CodedError) Error() string { return e.msg }

// Unwrap returns the kind.
func (e *CodedError) Unwrap() error { return e.kind }

// Code is the stable machine code.
func (e *CodedError) Code() string { return e.code }

// ErrHandoverBlocked: a handover refused because an active measure
// (查封/冻结/扣押) of the case expires within the guard period; renew it
// (续行) or give an override reason. Kind conflict, code
// "handover_blocked".
var ErrHandoverBlocked = NewCoded(ErrConflict, "handover_blocked", "handover refused: measures expire too soon")
