package fetch

import (
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/api"
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

// refusalReason names a source's refusal from its message.
func refusalReason(msg string) string {
	switch {
	case strings.Contains(msg, "revoked"):
		return reasonRevoked
	case strings.Contains(msg, "holds no dossier"):
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
