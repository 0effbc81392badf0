package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"courtmesh.dev/courtmesh/court"
)

// ComplaintService is the court's side of the parties' complaints and
// query codes (node/party implements it). Its methods are safe for
// concurrent use; errors carry court's kinds.
type ComplaintService interface {
	// List lists the complaints this court supervises ("supervising"),
	// those about it ("about"), or the overdue ones it supervises
	// ("overdue"), metadata only, a page at a time.
	List(ctx context.Context, which, cursor string, limit int) (ComplaintList, error)
	// Indicators counts, per court complained of, the complaints this
	// court supervises: total, answered, answered in time, overdue.
	Indicators(ctx context.Context) ([]ComplaintIndicator, error)
	// Show returns a complaint with its text (and answer), opened with
	// this court's key; audited (complaint.shown) with the purpose.
	Show(ctx context.Context, ref, purpose string) (ComplaintInfo, error)
	// Answer answers a complaint this court supervises; audited.
	Answer(ctx context.Context, ref, text string) (ComplaintInfo, error)
	// Codes issues the query codes of case n's parties (printed once;
	// only their hashes are kept); audited (case.codes).
	Codes(ctx context.Context, n court.CaseNumber, reissue bool) (CodesResult, error)
}

// ComplaintInfo is a complaint as a court sees it.
type ComplaintInfo struct {
	Ref        string          `json:"ref"`
	Case       string          `json:"case"`
	Category   string          `json:"category"`
	PartyRole  string          `json:"party_role"`
	Issuer     court.CourtCode `json:"filed_at_court"`
	Complained court.CourtCode `json:"complained"`
	Supervisor court.CourtCode `json:"supervisor"`
	Filed      time.Time       `json:"filed"`
	AnswerBy   string          `json:"answer_by"`
	Answered   time.Time       `json:"answered,omitzero"`
	InTime     bool            `json:"answered_in_time"`
	Overdue    bool            `json:"overdue"`
	Text       string          `json:"text,omitempty"`
	Answer     string          `json:"answer,omitempty"`
}

// ComplaintList is a page of complaints; Next is the cursor of the next
// page ("" at the end).
type ComplaintList struct {
	Complaints []ComplaintInfo `json:"complaints"`
	Next       string          `json:"next,omitempty"`
}

// ComplaintIndicator counts the complaints about one court.
type ComplaintIndicator struct {
	Court    court.CourtCode `json:"court"`
	Total    int             `json:"complaints"`
	Answered int             `json:"answered"`
	InTime   int             `json:"answered_in_time"`
	Overdue  int             `json:"overdue"`
}

// AnswerRequest is the body of POST /v1/complaints/{id}/answer.
type AnswerRequest struct {
	Text string `json:"text"`
}

// CodesRequest is the body of POST /v1/cases/{number}/codes.
type CodesRequest struct {
	// Reissue replaces codes already issued (the old ones stop working).
	Reissue bool `json:"reissue,omitempty"`
}

// IssuedCode is one party's query code, shown once.
type IssuedCode struct {
	Party   string          `json:"party"`
	Role    court.PartyRole `json:"role"`
	Name    string          `json:"name"`           // masked
	Code    string          `json:"code,omitempty"` // XXXX-XXXX-XXXX
	Skipped string          `json:"skipped,omitempty"`
}

// CodesResult is the answer of POST /v1/cases/{number}/codes.
type CodesResult struct {
	Case  string       `json:"case"`
	Codes []IssuedCode `json:"codes"`
}

// RegisterComplaints adds the complaint and query-code endpoints to s.
func RegisterComplaints(s *Server, c ComplaintService) {
	s.Handle("GET /v1/complaints", func(w http.ResponseWriter, r *http.Request) {
		if !CheckQuery(w, r, "which", "cursor", "limit") {
			return
		}
		q := r.URL.Query()
		limit := 100
		if l := q.Get("limit"); l != "" {
			v, err := strconv.Atoi(l)
			if err != nil || v < 1 || v > 1000 {
				WriteError(w, Errorf(http.StatusBadRequest, CodeInvalid, "limit %q: want a number from 1 to 1000", l))
				return
			}
			limit = v
		}
		res, err := c.List(r.Context(), q.Get("which"), q.Get("cursor"), limit)
		if err != nil {
			WriteError(w, err)
			return
		}
		WriteJSON(w, http.StatusOK, res)
	})
	s.Handle("GET /v1/complaints/indicators", func(w http.ResponseWriter, r *http.Request) {
		if !CheckQuery(w, r) {
			return
		}
		res, err := c.Indicators(r.Context())
		if err != nil {
			WriteError(w, err)
			return
		}
		WriteJSON(w, http.StatusOK, res)
	})
	s.Handle("GET /v1/complaints/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, ok := TransferIDParam(w, r)
		if !ok || !CheckQuery(w, r, "purpose") {
			return
		}
		res, err := c.Show(r.Context(), string(id), r.URL.Query().Get("purpose"))
		if err != nil {
			WriteError(w, err)
			return
		}
		WriteJSON(w, http.StatusOK, res)
	})
	s.Handle("POST /v1/complaints/{id}/answer", func(w http.ResponseWriter, r *http.Request) {
		id, ok := TransferIDParam(w, r)
		if !ok {
			return
		}
		var req AnswerRequest
		if !DecodeBody(w, r, &req) {
			return
		}
		res, err := c.Answer(r.Context(), string(id), req.Text)
		if err != nil {
			WriteError(w, err)
			return
		}
		WriteJSON(w, http.StatusOK, res)
	})
	s.Handle("POST /v1/cases/{number}/codes", func(w http.ResponseWriter, r *http.Request) {
		n, ok := CaseNumberParam(w, r)
		if !ok {
			return
		}
		var req CodesRequest
		if !DecodeBody(w, r, &req) {
			return
		}
		res, err := c.Codes(r.Context(), n, req.Reissue)
		if err != nil {
			WriteError(w, err)
			return
		}
		WriteJSON(w, http.StatusCreated, res)
	})
}
