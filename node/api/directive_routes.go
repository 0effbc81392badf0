package api

import (
	"context"
	"encoding/hex"
	"net/http"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/protocol"
)

// The supervision routes: a superior court's directive (督办) on a
// transfer and the directed court's report. Both are signed records of
// the transfer (evidence); the answer is the transfer.
//
//	POST /v1/transfers/{id}/directives                  DirectiveRequest -> Transfer
//	POST /v1/transfers/{id}/directives/{directive}/report DirectiveReportRequest -> Transfer

// DirectiveRequest directs a court of the transfer to act by a date.
type DirectiveRequest struct {
	Court       court.CourtCode `json:"court"`       // the origin, decider or receiver, under this court
	Instruction string          `json:"instruction"` // what to do; no personal data (it is broadcast)
	Due         string          `json:"due"`         // YYYY-MM-DD
}

// DirectiveReportRequest answers a directive to this court.
type DirectiveReportRequest struct {
	Report string `json:"report"` // what was done; no personal data
}

// Directive is a directive as the API shows it.
type Directive struct {
	Hash        string          `json:"hash"`
	Issuer      court.CourtCode `json:"issuer"`
	Court       court.CourtCode `json:"court"`
	Instruction string          `json:"instruction"`
	Due         string          `json:"due"`
	IssuedAt    time.Time       `json:"issued_at"`
	Report      string          `json:"report,omitempty"`
	ReportedAt  *time.Time      `json:"reported_at,omitempty"`
	Overdue     bool            `json:"overdue"`
}

// NewDirectives is the API's view of a transfer's directives at now.
func NewDirectives(t *protocol.Transfer, now time.Time) []Directive {
	out := make([]Directive, 0, len(t.Directives))
	for _, d := range t.Directives {
		v := Directive{Hash: d.Hash, Issuer: d.Issuer, Court: d.Court, Instruction: d.Instruction, Due: d.Due, IssuedAt: d.IssuedAt,
			Report: d.Report, Overdue: d.Overdue(now)}
		if !d.ReportedAt.IsZero() {
			at := d.ReportedAt
			v.ReportedAt = &at
		}
		out = append(out, v)
	}
	return out
}

// DirectiveService issues directives and reports (the workflow room).
type DirectiveService interface {
	Direct(ctx context.Context, id court.TransferID, req DirectiveRequest) (*protocol.Transfer, error)
	ReportDirective(ctx context.Context, id court.TransferID, directive string, req DirectiveReportRequest) (*protocol.Transfer, error)
}

// RegisterDirectives registers the supervision routes; now is the clock
// the views are computed at.
func RegisterDirectives(s *Server, x DirectiveService, now func() time.Time) {
	respond := func(w http.ResponseWriter, t *protocol.Transfer, err error) {
		if err != nil {
			WriteError(w, err)
			return
		}
		WriteJSON(w, http.StatusOK, NewTransfer(t, now()))
	}
	s.Handle("POST /v1/transfers/{id}/directives", func(w http.ResponseWriter, r *http.Request) {
		id, ok := TransferIDParam(w, r)
		if !ok {
			return
		}
		var req DirectiveRequest
		if !DecodeBody(w, r, &req) {
			return
		}
		t, err := x.Direct(r.Context(), id, req)
		respond(w, t, err)
	})
	s.Handle("POST /v1/transfers/{id}/directives/{directive}/report", func(w http.ResponseWriter, r *http.Request) {
		id, ok := TransferIDParam(w, r)
		if !ok {
			return
		}
		d := r.PathValue("directive")
		if h, err := hex.DecodeString(d); err != nil || len(h) != 32 {
			WriteError(w, Errorf(http.StatusBadRequest, CodeInvalid, "directive %.20q: the directive record's hash, 64 hex digits", d))
			return
		}
		var req DirectiveReportRequest
		if !DecodeBody(w, r, &req) {
			return
		}
		t, err := x.ReportDirective(r.Context(), id, d, req)
		respond(w, t, err)
	})
}
