package api

import (
	"context"
	"errors"
	"io/fs"
	"net/http"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/storage/importer"
)

// Stable error codes besides those of the kinds: see the Code constants.
const (
	// CodeStale answers a request that repeats or predates what is held.
	CodeStale = "stale"
	// CodeRevoked answers an action by or for a revoked or expired
	// certificate or grant.
	CodeRevoked = "revoked"
	// CodeCorrupt answers a read of stored bytes that fail verification.
	CodeCorrupt = "corrupt"
)

// kindStatus is the one mapping from court's error kinds to HTTP statuses
// and stable codes.
var kindStatus = map[error]struct {
	status int
	code   string
}{
	court.ErrInvalid:     {http.StatusUnprocessableEntity, CodeInvalid},
	court.ErrNotFound:    {http.StatusNotFound, CodeNotFound},
	court.ErrPermission:  {http.StatusForbidden, CodeForbidden},
	court.ErrRevoked:     {http.StatusForbidden, CodeRevoked},
	court.ErrConflict:    {http.StatusConflict, CodeConflict},
	court.ErrStale:       {http.StatusConflict, CodeStale},
	court.ErrUnavailable: {http.StatusServiceUnavailable, CodeUnavailable},
	court.ErrCorrupt:     {http.StatusInternalServerError, CodeCorrupt},
}

// FromError maps any error to the API error answered for it: an *Error
// as it is; a request body over its limit as 413; otherwise by its kind
// (court.KindOf), with the more specific code of a court.CodedError where
// there is one, and the error's own text as the message (it names the
// case, court or field and what to do next; no layer puts personal data
// in an error). An error of no kind is a 500.
func FromError(err error) *Error {
	var ae *Error
	var mbe *http.MaxBytesError
	var coded interface{ Code() string }
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &mbe):
		return Errorf(http.StatusRequestEntityTooLarge, CodeTooLarge, "request body larger than %d bytes", mbe.Limit)
	case errors.Is(err, fs.ErrNotExist):
		return Errorf(http.StatusNotFound, CodeNotFound, "%v", err)
	case errors.Is(err, fs.ErrExist):
		return Errorf(http.StatusConflict, CodeConflict, "%v", err)
	case errors.Is(err, fs.ErrPermission):
		return Errorf(http.StatusForbidden, CodeForbidden, "%v (the node's own user must be able to read or write it)", err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return Errorf(http.StatusServiceUnavailable, CodeUnavailable, "%v", err)
	}
	k, ok := kindStatus[court.KindOf(err)]
	if !ok {
		return Errorf(http.StatusInternalServerError, CodeInternal, "%v", err)
	}
	code := k.code
	if errors.As(err, &coded) {
		code = coded.Code()
	}
	msg := err.Error()
	if errors.Is(err, protocol.ErrHeld) {
		// Kept as it was before the error kinds: a step out of order for
		// this node is a conflict to the clerk, with what to do.
		k.status, code = http.StatusConflict, CodeConflict
		msg += " (this node has not yet seen the step before; wait for the mesh to sync and try again)"
	}
	return &Error{Status: k.status, Code: code, Message: msg}
}

// CodeOf is the stable code FromError answers for err: its
// court.CodedError's code, else its kind's code ("internal" for an error
// of no kind). The fetch protocol sends it with a refusal
// (FetchResponse.code), so that the asking node tells the kinds apart
// with errors.Is (CodeKind) instead of reading the message.
func CodeOf(err error) string { return FromError(err).Code }

// CodeKind is the error kind of a stable code, as Unwrap maps it; nil for
// a code of no kind or one this build does not know (a peer's newer code).
func CodeKind(code string) error { return codeKind[code] }

// WriteError writes err as a JSON error (see FromError). A refused import
// also lists its field problems (ValidationProblem) beside the code and
// message.
func WriteError(w http.ResponseWriter, err error) {
	var ve *importer.ValidationError
	if errors.As(err, &ve) {
		p := ValidationProblem{Code: CodeInvalid, Message: ve.Error(), Source: ve.Source, Fields: []FieldProblem{}}
		for _, fe := range ve.Errs {
			p.Fields = append(p.Fields, FieldProblem{Path: fe.Path, Message: fe.Msg})
		}
		writeJSON(w, http.StatusUnprocessableEntity, struct {
			Error ValidationProblem `json:"error"`
		}{p})
		return
	}
	e := FromError(err)
	writeJSON(w, e.Status, struct {
		Error *Error `json:"error"`
	}{e})
}

// codeKind maps the stable codes back to error kinds, so that an *Error
// a client receives matches court's kinds with errors.Is (the CLI turns
// kinds into exit statuses).
var codeKind = map[string]error{
	CodeInvalid: court.ErrInvalid, CodeTooLarge: court.ErrInvalid,
	CodeNotFound:  court.ErrNotFound,
	CodeForbidden: court.ErrPermission, CodeUnauthorised: court.ErrPermission,
	CodeRevoked:  court.ErrRevoked,
	CodeConflict: court.ErrConflict, CodeStale: court.ErrStale,
	CodeUnavailable: court.ErrUnavailable, "disk_full": court.ErrUnavailable, "store_in_use": court.ErrUnavailable,
	CodeCorrupt: court.ErrCorrupt,
}

// Unwrap returns the error kind of e's code; a specific code (such as
// handover_blocked) falls back to the kind of its HTTP status.
func (e *Error) Unwrap() error {
	if k, ok := codeKind[e.Code]; ok {
		return k
	}
	for k, v := range kindStatus {
		if v.status == e.Status && (k == court.ErrConflict || k == court.ErrInvalid || k == court.ErrNotFound || k == court.ErrUnavailable) {
			return k
		}
	}
	return nil
}
