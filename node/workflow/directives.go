package workflow

import (
	"context"
	"fmt"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/api"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
)

// Direct issues a directive (督办) of this court on a transfer to one of
// its courts; the state machine checks that this court is a superior of
// the court directed. The instruction is broadcast: it is checked for
// personal data and the case's places as every broadcast text.
func (w *Service) Direct(ctx context.Context, id court.TransferID, req api.DirectiveRequest) (*cmproto.Transfer, error) {
	if req.Instruction == "" {
		return nil, court.Errorf(court.ErrInvalid, "instruction is required: what the court directed must do")
	}
	if _, err := court.ParseDate(req.Due); err != nil {
		return nil, court.Errorf(court.ErrInvalid, "due %q: the day to answer by (YYYY-MM-DD) is required", req.Due)
	}
	if err := req.Court.Validate(); err != nil {
		return nil, court.Errorf(court.ErrInvalid, "court: %v", err)
	}
	if !court.IsSuperior(w.trust.Trust(), w.court, req.Court) {
		return nil, court.Errorf(court.ErrPermission, "%s is not a superior court of %s: only a superior directs a court", w.court, req.Court)
	}
	if err := w.checkFreeText(id, "instruction", req.Instruction); err != nil {
		return nil, err
	}
	return w.records.Issue(ctx, id, &pb.Record{Body: &pb.Record_Directive{Directive: &pb.Directive{
		Court: string(req.Court), Instruction: req.Instruction, Due: req.Due}}})
}

// ReportDirective answers a directive to this court.
func (w *Service) ReportDirective(ctx context.Context, id court.TransferID, directive string, req api.DirectiveReportRequest) (*cmproto.Transfer, error) {
	if req.Report == "" {
		return nil, court.Errorf(court.ErrInvalid, "report is required: what this court did")
	}
	t, err := w.records.Load(id)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, fmt.Errorf("transfer %s: %w", id, court.ErrNotFound)
	}
	found := false
	for _, d := range t.Directives {
		if d.Hash == directive {
			found = true
			if d.Court != w.court {
				return nil, court.Errorf(court.ErrPermission, "directive %.12s… of transfer %s directs %s, not this court (%s)", directive, id, d.Court, w.court)
			}
		}
	}
	if !found {
		return nil, court.Errorf(court.ErrNotFound, "transfer %s has no directive %.12s…", id, directive)
	}
	if err := w.checkFreeText(id, "report", req.Report); err != nil {
		return nil, err
	}
	return w.records.Issue(ctx, id, &pb.Record{Body: &pb.Record_DirectiveReport{DirectiveReport: &pb.DirectiveReport{
		Directive: directive, Report: req.Report}}})
}

var _ api.DirectiveService = (*Service)(nil)
