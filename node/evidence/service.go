package evidence

import (
	"context"
	"io"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/api"
)

// Service serves evidence exports for the running node
// (api.EvidenceService).
type Service struct{ d Deps }

// New builds the service; Deps.Actor is ignored (each export names its
// caller from the request).
func New(d Deps) *Service { return &Service{d: d} }

// ExportEvidence writes the evidence file of transfer id to w.
func (s *Service) ExportEvidence(ctx context.Context, w io.Writer, id court.TransferID) error {
	d := s.d
	d.Actor = api.ActorFrom(ctx)
	_, err := Export(w, d, id)
	return err
}

var _ api.EvidenceService = (*Service)(nil)
