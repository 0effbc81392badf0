package api

import (
	"bufio"
	"io"
	"log/slog"
	"net/http"
	"time"
)

// The audit endpoint:
//
//	GET /v1/audit?from=T&to=T  -> the audit log, or a time range of it, as
//	                              JSON lines (application/x-ndjson), one
//	                              storage.AuditEntry a line
//
// T is RFC 3339 or a date (the start of that day in China time). An
// export that fails midway breaks the connection: a truncated export
// must not look whole.

// AuditExport describes an export of the audit log.
type AuditExport struct {
	Entries uint64 `json:"entries"`
	First   uint64 `json:"first"` // sequence of the first entry exported (0: none)
	Last    uint64 `json:"last"`
	// Prev is the hash the first entry links to: "" when the export starts
	// at entry 1; otherwise the head of entry First-1, to check against a
	// head witnessed by the mesh or an earlier export.
	Prev string `json:"prev"`
}

// AuditService is the audit log as GET /v1/audit serves it (node/audit
// implements it). Its methods are safe for concurrent use.
type AuditService interface {
	// ExportAudit writes the entries from the first one at or after from
	// to the last one before the first at or after to (a zero bound is
	// open) to w as JSON lines, and says what it wrote.
	ExportAudit(w io.Writer, from, to time.Time) (AuditExport, error)
	// AuditExported appends the audit entry of an export that went out,
	// via saying how ("through the local API"). The export has left by
	// then: on failure the service has already counted and logged it, and
	// the caller only withholds the end of the export.
	AuditExported(res AuditExport, via string) error
	// ParseAuditTime parses an export bound: RFC 3339 or a date.
	ParseAuditTime(s string) (time.Time, error)
}

// RegisterAudit adds GET /v1/audit to s, served by a. Each export is
// audited after it is written; if that entry cannot be written, the
// connection is broken before the response ends, so the client does not
// take the export as whole (the failure is counted and logged by a).
func RegisterAudit(s *Server, a AuditService) {
	log := s.log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s.Handle("GET /v1/audit", func(w http.ResponseWriter, r *http.Request) {
		var from, to time.Time
		for name, t := range map[string]*time.Time{"from": &from, "to": &to} {
			v := r.URL.Query().Get(name)
			if v == "" {
				continue
			}
			p, err := a.ParseAuditTime(v)
			if err != nil {
				WriteError(w, Errorf(http.StatusBadRequest, CodeInvalid, "%s: %v", name, err))
				return
			}
			*t = p
		}
		w.Header().Set("Content-Type", "application/x-ndjson; charset=utf-8")
		bw := bufio.NewWriterSize(w, 64<<10)
		res, err := a.ExportAudit(bw, from, to)
		if err == nil {
			err = bw.Flush()
		}
		if err != nil {
			log.Warn("audit export failed", "reason", err)
			// Break the connection: a truncated export must not look whole.
			panic(http.ErrAbortHandler)
		}
		if err := a.AuditExported(res, "through the local API"); err != nil {
			// Counted and logged by a: the export is not ended, so that
			// the client discards it.
			panic(http.ErrAbortHandler)
		}
	})
}
