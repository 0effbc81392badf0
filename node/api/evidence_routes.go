package api

import (
	"bytes"
	"context"
	"io"
	"net/http"

	"courtmesh.dev/courtmesh/court"
)

// The evidence route: one transfer's evidence file (docs/evidence.md),
// for `courtmesh evidence export` while the node runs.
//
//	GET /v1/transfers/{id}/evidence -> the evidence file (JSON)

// EvidenceService writes a transfer's evidence file; the node's evidence
// room implements it. The export is audited (evidence.exported) before
// anything is written to w; an error means nothing was.
type EvidenceService interface {
	ExportEvidence(ctx context.Context, w io.Writer, id court.TransferID) error
}

// RegisterEvidence registers the evidence route.
func RegisterEvidence(s *Server, e EvidenceService) {
	s.Handle("GET /v1/transfers/{id}/evidence", func(w http.ResponseWriter, r *http.Request) {
		if !CheckQuery(w, r) {
			return
		}
		id, ok := TransferIDParam(w, r)
		if !ok {
			return
		}
		var buf bytes.Buffer
		if err := e.ExportEvidence(r.Context(), &buf, id); err != nil {
			WriteError(w, FromError(err))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		w.Write(buf.Bytes())
	})
}
