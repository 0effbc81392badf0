package api

import (
	"context"
	"net/http"
	"strconv"

	"courtmesh.dev/courtmesh/court"
)

// CaseService is the court's own case store as the case endpoints serve
// it (node/cases implements it; so does the CLI when the node is
// stopped). Its methods are safe for concurrent use. Errors carry
// court's kinds (court.ErrInvalid, ErrNotFound, ErrConflict, ...) or are
// an *importer.ValidationError, each naming the case; the routes answer
// them through WriteError.
type CaseService interface {
	// Import validates the case folder or .zip at the absolute path and
	// stores it whole, or nothing; maxDoc bounds a document (0: default).
	Import(ctx context.Context, path string, maxDoc int64) (ImportResult, error)
	// List returns a page of the cases in the store, all or those in one
	// status, in case number order, the respondents' names masked, and
	// the cursor of the next page ("" at the end). It reads one page.
	List(ctx context.Context, q CaseQuery) ([]CaseSummary, string, error)
	// Show returns the current version of case n, days to expiry counted
	// from asOf, personal data masked (see CaseDetail) unless reveal; the
	// show is audited (case.shown) with the caller (ActorFrom), the
	// purpose (required to reveal) and whether it was revealed.
	Show(ctx context.Context, n court.CaseNumber, asOf court.Date, purpose string, reveal bool) (CaseDetail, error)
	// Verify reads back and checks every chunk of case n.
	Verify(ctx context.Context, n court.CaseNumber) (VerifyResult, error)
	// Export writes case n, unmasked, to the absent or empty folder out
	// under the exports folder, for purpose (required), audited with the
	// caller (ActorFrom).
	Export(ctx context.Context, n court.CaseNumber, out, purpose string) (ExportResult, error)
	// Expiring lists the active measures expiring within days of asOf.
	Expiring(ctx context.Context, asOf court.Date, within int) (ExpiringResult, error)
	// Backup writes a full backup of the store to the new file out.
	Backup(ctx context.Context, out string) (BackupResult, error)
	// Today is the default as_of: today in China time.
	Today() court.Date
}

// CaseQuery selects a page of GET /v1/cases.
type CaseQuery struct {
	Status court.CaseStatus // only cases in this status ("" all)
	Cursor string           // from the previous page's X-Next-Cursor
	Limit  int              // per page: 0 means DefaultPage, at most MaxPage
}

// RegisterCases adds the case endpoints (see cases.go) to s, served by c.
func RegisterCases(s *Server, c CaseService) {
	s.Handle("POST /v1/cases/import", func(w http.ResponseWriter, r *http.Request) {
		var req ImportRequest
		if !DecodeBody(w, r, &req) {
			return
		}
		if req.MaxDocumentSize < 0 {
			WriteError(w, Errorf(http.StatusBadRequest, CodeInvalid, "max_document_size %d: want a positive number of bytes, or 0 for the default", req.MaxDocumentSize))
			return
		}
		res, err := c.Import(r.Context(), req.Path, req.MaxDocumentSize)
		if err != nil {
			WriteError(w, err)
			return
		}
		status := http.StatusCreated
		if res.Unchanged {
			status = http.StatusOK
		}
		WriteJSON(w, status, res)
	})
	s.Handle("GET /v1/cases", func(w http.ResponseWriter, r *http.Request) {
		if !CheckQuery(w, r, "status", "cursor", "limit") {
			return
		}
		cursor, limit, ok := PageParams(w, r, "cases")
		if !ok {
			return
		}
		res, next, err := c.List(r.Context(), CaseQuery{Status: court.CaseStatus(r.URL.Query().Get("status")), Cursor: cursor, Limit: limit})
		writePage(w, res, next, err)
	})
	s.Handle("GET /v1/cases/{number}", func(w http.ResponseWriter, r *http.Request) {
		num, ok := CaseNumberParam(w, r)
		if !ok || !CheckQuery(w, r, "as_of", "purpose", "reveal") {
			return
		}
		asOf, ok := DateParam(w, r, "as_of", c.Today())
		if !ok {
			return
		}
		reveal, ok := BoolParam(w, r, "reveal")
		if !ok {
			return
		}
		res, err := c.Show(r.Context(), num, asOf, r.URL.Query().Get("purpose"), reveal)
		caseAnswer(w, http.StatusOK, res, err)
	})
	s.Handle("GET /v1/cases/{number}/verify", func(w http.ResponseWriter, r *http.Request) {
		num, ok := CaseNumberParam(w, r)
		if !ok || !CheckQuery(w, r) {
			return
		}
		res, err := c.Verify(r.Context(), num)
		caseAnswer(w, http.StatusOK, res, err)
	})
	s.Handle("POST /v1/cases/{number}/export", func(w http.ResponseWriter, r *http.Request) {
		num, ok := CaseNumberParam(w, r)
		if !ok {
			return
		}
		var req ExportRequest
		if !DecodeBody(w, r, &req) {
			return
		}
		res, err := c.Export(r.Context(), num, req.Out, req.Purpose)
		caseAnswer(w, http.StatusOK, res, err)
	})
	s.Handle("GET /v1/measures/expiring", func(w http.ResponseWriter, r *http.Request) {
		if !CheckQuery(w, r, "within", "as_of") {
			return
		}
		asOf, ok := DateParam(w, r, "as_of", c.Today())
		if !ok {
			return
		}
		within := 30
		if q := r.URL.Query().Get("within"); q != "" {
			v, err := strconv.Atoi(q)
			if err != nil {
				WriteError(w, Errorf(http.StatusBadRequest, CodeInvalid, "query parameter within=%q: want a whole number of days (0 to %d)", q, MaxWithin))
				return
			}
			within = v
		}
		res, err := c.Expiring(r.Context(), asOf, within)
		caseAnswer(w, http.StatusOK, res, err)
	})
	s.Handle("POST /v1/backup", func(w http.ResponseWriter, r *http.Request) {
		var req BackupRequest
		if !DecodeBody(w, r, &req) {
			return
		}
		res, err := c.Backup(r.Context(), req.Out)
		caseAnswer(w, http.StatusCreated, res, err)
	})
}

// caseAnswer writes res with status, or err through WriteError.
func caseAnswer(w http.ResponseWriter, status int, res any, err error) {
	if err != nil {
		WriteError(w, err)
		return
	}
	WriteJSON(w, status, res)
}
