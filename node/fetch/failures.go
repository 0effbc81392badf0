package fetch

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/protocol/pb"
	"courtmesh.dev/courtmesh/storage"
)

// Why a chunk request failed (api.FetchFailure.Reason).
const (
	reasonUnreachable = "unreachable"
	reasonTimeout     = "timeout"
	reasonBroken      = "broken"
	reasonRefused     = "refused"
	reasonRevoked     = "revoked"
	reasonMissing     = "missing"
	reasonCorrupt     = "corrupt"
	reasonBadAnswer   = "bad_answer"
	reasonDiskFull    = "disk_full"
	reasonStore       = "store"
)

// streamReason names the failure of a stream read or write.
func streamReason(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return reasonTimeout
	}
	return reasonBroken
}

// storeReason names a failure of this node's store.
func storeReason(err error) string {
	if errors.Is(err, storage.ErrDiskFull) {
		return reasonDiskFull
	}
	return reasonStore
}

// refusal is a source's refusal (a FetchResponse with error set) as an
// error of the kind the source named: its code is one of the API's stable
// codes (api.CodeOf on the source), turned back into a court kind here
// (api.CodeKind), so that this node acts on the kind with errors.Is. A
// code this build does not know gives an error of no kind: a plain
// refusal.
func refusal(src court.CourtCode, resp *pb.FetchResponse) error {
	msg := resp.GetError()
	kind := api.CodeKind(resp.GetCode())
	if resp.GetCode() == "" {
		kind = legacyRefusalKind(msg)
	}
	if kind == nil {
		return fmt.Errorf("%s refused: %s", src, msg)
	}
	return court.Errorf(kind, "%s refused: %s", src, msg)
}

// legacyRefusalKind guesses the kind of a refusal that came without a
// code, from its words. Only a source of a build before
// FetchResponse.code (a peer not upgraded yet) sends one: a source of
// this build always sends the code, and its code alone is used (see
// refusal). The words are those the older builds wrote: "revoked" for a
// revoked grant or certificate, "holds no dossier" for a court with a
// grant that has not fetched its copy. Remove this when no peer of such a
// build remains in the mesh.
func legacyRefusalKind(msg string) error {
	switch {
	case strings.Contains(msg, "revoked"):
		return court.ErrRevoked
	case strings.Contains(msg, "holds no dossier"):
		return court.ErrNotFound
	}
	return nil
}

// refusalReason names a source's refusal (see refusal) by its kind.
func refusalReason(err error) string {
	switch {
	case errors.Is(err, court.ErrRevoked):
		return reasonRevoked // the grant (or this node's certificate) was revoked or ran out: no source will serve
	case errors.Is(err, court.ErrNotFound):
		return reasonMissing // a court with a grant that has not fetched its copy
	}
	return reasonRefused
}

// failed records that chunks chunk requests of the fetch id failed at
// source s (nil: in this node's own store) for reason, in the fetch's
// status and the log. Messages name courts, peers, transfers and chunk
// counts, never a person.
func (f *Service) failed(j *fetchJob, id court.TransferID, s *source, reason string, chunks int, err error) {
	if chunks == 0 || (j.ctx != nil && j.ctx.Err() != nil) {
		return // nothing, or the fetch is stopping: not a failure of the source
	}
	var c, p string
	if s != nil {
		c, p = string(s.court), s.peer.String()
	} else if self, serr := f.self(); serr == nil {
		c = string(self.Code)
	}
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	j.mu.Lock()
	found := false
	for i := range j.p.Failures {
		if fl := &j.p.Failures[i]; fl.Court == c && fl.Peer == p && fl.Reason == reason {
			fl.Chunks += chunks
			fl.Last, fl.At = msg, time.Now()
			found = true
			break
		}
	}
	if !found {
		j.p.Failures = append(j.p.Failures, api.FetchFailure{Court: c, Peer: p, Reason: reason, Chunks: chunks, Last: msg, At: time.Now()})
	}
	j.mu.Unlock()
	level := f.log.Info
	switch reason {
	case reasonRefused, reasonRevoked, reasonCorrupt, reasonDiskFull, reasonStore, reasonBadAnswer:
		level = f.log.Warn
	}
	level("chunk request failed", "transfer", id, "court", c, "peer", p, "reason", reason, "chunks", chunks, "error", msg)
}

// failureSummary is the fetch's failures in one line, for its error.
func failureSummary(fs []api.FetchFailure) string {
	var b strings.Builder
	for i, fl := range fs {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(fl.Court)
		b.WriteString(" ")
		b.WriteString(fl.Reason)
		b.WriteString(" (")
		b.WriteString(strconv.Itoa(fl.Chunks))
		b.WriteString(" chunk requests")
		if fl.Last != "" {
			b.WriteString(": ")
			b.WriteString(fl.Last)
		}
		b.WriteString(")")
	}
	return b.String()
}
