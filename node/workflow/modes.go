package workflow

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node/api"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
	"courtmesh.dev/courtmesh/storage"
)

// The modes beyond the move of one case: 督促执行 (Supervise, Report),
// 协同执行 (Assist, AnswerAssist, AssistResult, AssistDetail) and 集中执行
// (SameDebtor, Gather). The protocol's state machine (protocol/modes.go)
// decides whether each step is in order; here are the checks only this
// court can make and the sealing.

// matchLabel prefixes the identity number a debtor match key hashes.
const matchLabel = "courtmesh/debtor-match/v1\x00"

// debtorMatch returns the sealed match key of case cn's principal
// respondent (the first respondent with an identity number) for the
// superior sup, bound to transfer id, and the party it names; nil when
// no respondent has one or the superior has no certificate in force
// (the offer is then refused as it is). The identity number is read
// from the sealed case by the machine and never leaves this function:
// only its hash, sealed to the superior, does. The offer's issue writes
// the audit entry (matchAudited).
func (w *Service) debtorMatch(id court.TransferID, cn court.CaseNumber, parties []court.Party, sup court.CourtCode) ([]byte, string, error) {
	var p *court.Party
	for i := range parties {
		if parties[i].Role == court.RoleRespondent && len(parties[i].IDSealed) > 0 {
			p = &parties[i]
			break
		}
	}
	if p == nil {
		return nil, "", nil
	}
	cert, err := w.trust.Trust().Court(sup, w.now())
	if err != nil {
		return nil, "", nil
	}
	num, err := w.db.PartyID(cn, p.ID)
	if err != nil {
		return nil, "", err
	}
	key := sha256.Sum256([]byte(matchLabel + string(p.IDType) + "\x00" + strings.ToUpper(num)))
	sealed, err := crypto.Wrap(cert.EncKEM, cert.EncKey, cmproto.MatchInfo(id), key[:])
	if err != nil {
		return nil, "", err
	}
	return sealed, p.ID, nil
}

// matchAudited writes the audit entry of an offer that carries a debtor
// match key: which party's identity number was hashed into it, for whom.
func (w *Service) matchAudited(t *cmproto.Transfer, party string) {
	w.auditDone(storage.AuditEntry{Event: "party.match_key", Outcome: "ok", Transfer: string(t.ID), Case: t.CaseNumber, Court: string(t.Superior),
		Detail: fmt.Sprintf("identity number of party %s hashed into the debtor match key, sealed to %s (集中执行)", party, t.Superior)})
}

// openMatch opens transfer t's debtor match key as its superior; nil
// when the offer carries none.
func (w *Service) openMatch(t *cmproto.Transfer) ([]byte, error) {
	if len(t.DebtorMatch) == 0 {
		return nil, nil
	}
	if w.dec == nil {
		return nil, court.Errorf(court.ErrUnavailable, "this node has no decryption key to open debtor match keys")
	}
	k, err := w.dec.Open(cmproto.MatchInfo(t.ID), t.DebtorMatch)
	if err != nil {
		return nil, court.Errorf(court.ErrPermission, "transfer %s: the debtor match key is not sealed to this court (%s): %v", t.ID, w.court, err)
	}
	return k, nil
}

// Supervise decides an offered (or started) transfer as 督促执行: the
// origin keeps the case and must enforce by req.EnforceBy, reporting.
func (w *Service) Supervise(ctx context.Context, id court.TransferID, req api.SuperviseRequest) (*cmproto.Transfer, error) {
	switch {
	case req.DecisionNumber == "":
		return nil, court.Errorf(court.ErrInvalid, "decision_number is required: the number of the 督促 decision")
	case req.EnforceBy == "":
		return nil, court.Errorf(court.ErrInvalid, "enforce_by is required: the date by which the origin enforces and reports (YYYY-MM-DD)")
	}
	if _, err := court.ParseDate(req.EnforceBy); err != nil {
		return nil, fmt.Errorf("%w: enforce_by: %v", court.ErrInvalid, err)
	}
	t, err := w.load(id)
	if err != nil {
		return nil, err
	}
	p := w.periods
	d := &pb.TransferDecision{Mode: pb.Mode_MODE_SUPERVISED, ReceiverCourt: string(t.Origin), DecisionNumber: req.DecisionNumber, EnforceBy: req.EnforceBy,
		HandoverDays: uint32(p.HandoverDays), FilingDays: uint32(p.FilingDays), InvestigationMonths: uint32(p.InvestigationMonths),
		ConclusionMonths: uint32(p.ConclusionMonths), ReturnDays: uint32(p.ReturnDays), SupplementDays: uint32(p.SupplementDays)}
	next, err := w.records.Issue(ctx, id, &pb.Record{Body: &pb.Record_Decision{Decision: d}})
	if err != nil {
		return nil, err
	}
	w.auditDone(storage.AuditEntry{Event: "transfer.supervised", Outcome: "ok", Transfer: string(id), Case: t.CaseNumber, Court: string(t.Origin),
		Detail: fmt.Sprintf("督促执行 %s: %s enforces and reports by %s", req.DecisionNumber, t.Origin, req.EnforceBy)})
	return next, nil
}

// Report is the origin's report under 督促执行: progress, or (with a
// closure kind) the case concluded here.
func (w *Service) Report(ctx context.Context, id court.TransferID, req api.SupervisionReportRequest) (*cmproto.Transfer, error) {
	if req.Status == "" {
		return nil, court.Errorf(court.ErrInvalid, "status is required: what this court did under the superior's supervision")
	}
	if err := w.checkFreeText(id, "status", req.Status); err != nil {
		return nil, err
	}
	s := &pb.SupervisionReport{AmountRecoveredFen: req.AmountRecoveredFen, Status: req.Status}
	if req.Kind != "" {
		k, _, err := cmproto.ParseClosureKind(req.Kind)
		if err != nil {
			return nil, err
		}
		s.Kind = k
	}
	t, err := w.records.Issue(ctx, id, &pb.Record{Body: &pb.Record_SupervisionReport{SupervisionReport: s}})
	if err != nil {
		return nil, err
	}
	w.auditDone(storage.AuditEntry{Event: "supervision.reported", Outcome: "ok", Transfer: string(id), Case: t.CaseNumber,
		Detail: fmt.Sprintf("report %d under 督促执行 (%d fen recovered) %s", t.Supervision.Reports, req.AmountRecoveredFen, req.Kind)})
	return t, nil
}

// Assist asks another court to assist in one of this court's cases
// (协同执行): the tasks travel as kinds, the detail sealed to the
// assisting court and this one.
func (w *Service) Assist(ctx context.Context, req api.AssistRequest) (*cmproto.Transfer, error) {
	switch {
	case req.CaseNumber == "":
		return nil, court.Errorf(court.ErrInvalid, "case_number is required: this court's enforcement case to be assisted")
	case req.Court == "":
		return nil, court.Errorf(court.ErrInvalid, "court is required: the court asked to assist")
	case len(req.Tasks) == 0:
		return nil, court.Errorf(court.ErrInvalid, "tasks is required: at least one of %s", strings.Join(cmproto.AssistTasks, ", "))
	case strings.TrimSpace(req.Detail) == "":
		return nil, court.Errorf(court.ErrInvalid, "detail is required: what to do, where and against whom (sealed to the assisting court)")
	}
	self, err := w.self()
	if err != nil {
		return nil, err
	}
	cn, err := cmproto.EnforcementCase("case_number", req.CaseNumber, self.Code)
	if err != nil {
		return nil, err
	}
	if _, _, err := w.db.Case(cn); err != nil {
		return nil, err
	}
	helper, err := court.ParseCourtCode(req.Court)
	if err != nil {
		return nil, fmt.Errorf("%w: court: %v", court.ErrInvalid, err)
	}
	today := court.DateOf(w.now())
	if req.AnswerBy == "" {
		req.AnswerBy = today.AddDate(0, 0, w.periods.AcceptDays).String()
	}
	if req.Due == "" {
		d, err := court.ParseDate(req.AnswerBy)
		if err != nil {
			return nil, fmt.Errorf("%w: answer_by: %v", court.ErrInvalid, err)
		}
		req.Due = d.AddDate(0, 1, 0).String()
	}
	id := court.NewTransferID()
	sealed, keys, err := w.sealAssist(id, "request", req.Detail, []court.CourtCode{helper, self.Code})
	if err != nil {
		return nil, err
	}
	a := &pb.AssistanceRequest{CaseNumber: cn.String(), AssistingCourt: string(helper), Tasks: req.Tasks, AnswerBy: req.AnswerBy, Due: req.Due,
		SealedDetail: sealed, Keys: keys}
	t, err := w.records.Issue(ctx, id, &pb.Record{Body: &pb.Record_AssistanceRequest{AssistanceRequest: a}})
	if err != nil {
		return nil, err
	}
	w.auditDone(storage.AuditEntry{Event: "assistance.requested", Outcome: "ok", Transfer: string(id), Case: cn.String(), Court: string(helper),
		Detail: fmt.Sprintf("协同执行 asked of %s: %s; answer by %s, done by %s", helper, strings.Join(req.Tasks, ", "), req.AnswerBy, req.Due)})
	return t, nil
}

// AnswerAssist takes a request for assistance on, or declines it with
// reasons, as the assisting court.
func (w *Service) AnswerAssist(ctx context.Context, id court.TransferID, req api.AssistAnswerRequest) (*cmproto.Transfer, error) {
	if !req.Accept && req.Reason == "" {
		return nil, court.Errorf(court.ErrInvalid, "reason is required to decline a request for assistance")
	}
	if err := w.checkFreeText(id, "reason", req.Reason); err != nil {
		return nil, err
	}
	t, err := w.records.Issue(ctx, id, &pb.Record{Body: &pb.Record_AssistanceAnswer{AssistanceAnswer: &pb.AssistanceAnswer{Accepted: req.Accept, Reason: req.Reason}}})
	if err != nil {
		return nil, err
	}
	w.auditDone(storage.AuditEntry{Event: "assistance.answered", Outcome: "ok", Transfer: string(id), Case: t.CaseNumber, Court: string(t.Origin),
		Detail: fmt.Sprintf("accepted %v %s", req.Accept, req.Reason)})
	return t, nil
}

// AssistResult reports the assistance's outcome as the assisting court,
// the detail sealed with the request's data key.
func (w *Service) AssistResult(ctx context.Context, id court.TransferID, req api.AssistResultRequest) (*cmproto.Transfer, error) {
	switch {
	case req.Outcome == "":
		return nil, court.Errorf(court.ErrInvalid, "outcome is required: %s", strings.Join(cmproto.AssistOutcomes, ", "))
	case strings.TrimSpace(req.Detail) == "":
		return nil, court.Errorf(court.ErrInvalid, "detail is required: what was done (sealed to the requesting court)")
	}
	t, err := w.load(id)
	if err != nil {
		return nil, err
	}
	if t.Assistance == nil {
		return nil, fmt.Errorf("%w: transfer %s is no request for assistance", court.ErrConflict, id)
	}
	k, err := w.assistKey(t)
	if err != nil {
		return nil, err
	}
	sealed, err := k.SealField(cmproto.AssistLabel(id, "result"), []byte(req.Detail))
	if err != nil {
		return nil, err
	}
	next, err := w.records.Issue(ctx, id, &pb.Record{Body: &pb.Record_AssistanceResult{AssistanceResult: &pb.AssistanceResult{
		Outcome: req.Outcome, AmountRecoveredFen: req.AmountRecoveredFen, SealedDetail: sealed}}})
	if err != nil {
		return nil, err
	}
	w.auditDone(storage.AuditEntry{Event: "assistance.result", Outcome: "ok", Transfer: string(id), Case: t.CaseNumber, Court: string(t.Origin),
		Detail: fmt.Sprintf("assistance %s (%d fen)", req.Outcome, req.AmountRecoveredFen)})
	return next, nil
}

// AssistDetail opens a request for assistance's sealed detail (and its
// result's, once reported) for a person of this court (one of its
// readers); each read is audited before the detail is shown.
func (w *Service) AssistDetail(ctx context.Context, id court.TransferID) (api.AssistDetail, error) {
	t, err := w.load(id)
	if err != nil {
		return api.AssistDetail{}, err
	}
	if t.Assistance == nil {
		return api.AssistDetail{}, fmt.Errorf("%w: transfer %s is no request for assistance", court.ErrNotFound, id)
	}
	k, err := w.assistKey(t)
	if err != nil {
		return api.AssistDetail{}, err
	}
	e := storage.AuditEntry{Event: "assistance.read", Outcome: "ok", Transfer: string(id), Case: t.CaseNumber,
		Detail: "the sealed detail of the request for assistance (and its result) opened by " + cmp.Or(api.ActorFrom(ctx), "the local API")}
	if err := w.audit.Before(e); err != nil {
		return api.AssistDetail{}, court.Errorf(court.ErrUnavailable, "the detail of %s is not shown: the audit log cannot be written (%v); try again", id, err)
	}
	b, err := k.OpenField(cmproto.AssistLabel(id, "request"), t.Assistance.SealedDetail)
	if err != nil {
		return api.AssistDetail{}, court.Errorf(court.ErrCorrupt, "transfer %s: the request's detail does not open: %v", id, err)
	}
	out := api.AssistDetail{Transfer: id, Request: string(b), Outcome: t.Assistance.Outcome}
	if len(t.Assistance.SealedResult) > 0 {
		b, err := k.OpenField(cmproto.AssistLabel(id, "result"), t.Assistance.SealedResult)
		if err != nil {
			return api.AssistDetail{}, court.Errorf(court.ErrCorrupt, "transfer %s: the result's detail does not open: %v", id, err)
		}
		out.Result = string(b)
	}
	return out, nil
}

// sealAssist seals text with a new data key wrapped for each reader.
func (w *Service) sealAssist(id court.TransferID, part, text string, readers []court.CourtCode) ([]byte, []*pb.WrappedKey, error) {
	k, err := crypto.NewDataKey()
	if err != nil {
		return nil, nil, err
	}
	sealed, err := k.SealField(cmproto.AssistLabel(id, part), []byte(text))
	if err != nil {
		return nil, nil, err
	}
	var keys []*pb.WrappedKey
	for _, c := range readers {
		cert, err := w.trust.Trust().Court(c, w.now())
		if err != nil {
			return nil, nil, court.Errorf(court.ErrInvalid, "request for assistance: %s has no certificate in force on the mesh (%v): ask a certified court", c, err)
		}
		wk, err := crypto.WrapDataKey(cert.EncKEM, cert.EncKey, cmproto.AssistPurpose, string(id), k)
		if err != nil {
			return nil, nil, fmt.Errorf("request for assistance %s: wrap the data key for %s: %w", id, c, err)
		}
		keys = append(keys, &pb.WrappedKey{Court: string(c), CertificateSerial: cert.Serial, Wrapped: wk})
	}
	return sealed, keys, nil
}

// assistKey unwraps the data key of a request for assistance with this
// court's key.
func (w *Service) assistKey(t *cmproto.Transfer) (crypto.DataKey, error) {
	if w.dec == nil {
		return crypto.DataKey{}, court.Errorf(court.ErrUnavailable, "this node has no decryption key")
	}
	for _, k := range t.Assistance.Keys {
		if k.Court != w.court {
			continue
		}
		dk, err := crypto.UnwrapDataKey(w.dec, cmproto.AssistPurpose, string(t.ID), k.Wrapped)
		if err != nil {
			continue // wrapped for another node of this court
		}
		return dk, nil
	}
	return crypto.DataKey{}, court.Errorf(court.ErrPermission, "transfer %s: the request for assistance is sealed to %s and %s, not to this court (%s)", t.ID, t.Assistance.Court, t.Origin, w.court)
}

// SameDebtor lists the transfers offered to this court, still offered,
// whose debtor match key equals transfer id's: the cases of one debtor a
// 集中执行 decision may gather (id first, then by ID).
func (w *Service) SameDebtor(ctx context.Context, id court.TransferID) ([]court.TransferID, error) {
	t, err := w.load(id)
	if err != nil {
		return nil, err
	}
	if t.Superior != w.court {
		return nil, fmt.Errorf("%w: transfer %s asks %s, not this court (%s): only the superior asked opens its debtor match key", court.ErrPermission, id, t.Superior, w.court)
	}
	key, err := w.openMatch(t)
	if err != nil {
		return nil, err
	}
	if key == nil {
		return nil, fmt.Errorf("%w: the offer of transfer %s carries no debtor match key (the case names no respondent's identity number)", court.ErrInvalid, id)
	}
	out := []court.TransferID{id}
	err = w.records.Each(ctx, storage.TransferQuery{State: string(cmproto.StateOffered), Court: w.court}, func(o *cmproto.Transfer) error {
		if o.ID == id || o.Superior != w.court || len(o.DebtorMatch) == 0 {
			return nil
		}
		k, err := w.openMatch(o)
		if err != nil {
			return nil // not sealed to this court: not its to gather
		}
		if bytes.Equal(k, key) {
			out = append(out, o.ID)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(out[1:])
	return out, nil
}

// Gather decides several offered transfers of one debtor by one 集中执行
// decision: each is designated to req.Receiver by its own decision
// record naming them all. Every transfer must be offered to this court
// and carry the same debtor match key; the receiver may not be the
// origin of any of them (its own cases stay where they are).
func (w *Service) Gather(ctx context.Context, req api.GatherRequest) ([]*cmproto.Transfer, error) {
	switch {
	case len(req.Transfers) < 2:
		return nil, court.Errorf(court.ErrInvalid, "transfers is required: at least 2 transfers of one debtor to gather")
	case len(req.Transfers) > cmproto.MaxGathered:
		return nil, court.Errorf(court.ErrInvalid, "transfers: at most %d in one 集中执行 decision", cmproto.MaxGathered)
	case req.Receiver == "":
		return nil, court.Errorf(court.ErrInvalid, "receiver is required: the court the cases are gathered into")
	case req.DecisionNumber == "":
		return nil, court.Errorf(court.ErrInvalid, "decision_number is required: the number of the 集中执行 decision")
	}
	recv, err := court.ParseCourtCode(req.Receiver)
	if err != nil {
		return nil, fmt.Errorf("%w: receiver: %v", court.ErrInvalid, err)
	}
	if _, err := w.trust.Trust().Court(recv, w.now()); err != nil {
		return nil, fmt.Errorf("%w: the receiving court %s has no certificate in force on the mesh (%v): gather into another court", court.ErrInvalid, recv, err)
	}
	ids := make([]string, 0, len(req.Transfers))
	var ts []*cmproto.Transfer
	var key []byte
	for _, s := range req.Transfers {
		id, err := court.ParseTransferID(s)
		if err != nil {
			return nil, fmt.Errorf("%w: transfer %q: %v", court.ErrInvalid, s, err)
		}
		if slices.Contains(ids, string(id)) {
			return nil, fmt.Errorf("%w: transfer %s named twice", court.ErrInvalid, id)
		}
		t, err := w.load(id)
		if err != nil {
			return nil, err
		}
		switch {
		case t.State != cmproto.StateOffered:
			return nil, fmt.Errorf("%w: transfer %s is %s; only offered transfers are gathered", court.ErrConflict, id, t.State)
		case t.Superior != w.court:
			return nil, fmt.Errorf("%w: transfer %s asks %s to decide, not this court (%s)", court.ErrPermission, id, t.Superior, w.court)
		case t.Origin == recv:
			return nil, fmt.Errorf("%w: transfer %s is a case of %s itself: leave it out, its cases stay where they are", court.ErrInvalid, id, recv)
		}
		k, err := w.openMatch(t)
		if err != nil {
			return nil, err
		}
		switch {
		case k == nil:
			return nil, fmt.Errorf("%w: the offer of transfer %s (%s) carries no debtor match key: its debtor cannot be matched", court.ErrInvalid, id, t.CaseNumber)
		case key == nil:
			key = k
		case !bytes.Equal(k, key):
			return nil, fmt.Errorf("%w: transfer %s (%s) is against another debtor than %s: 集中执行 gathers the cases of one debtor", court.ErrInvalid, id, t.CaseNumber, ids[0])
		}
		ids = append(ids, string(id))
		ts = append(ts, t)
	}
	sorted := slices.Clone(ids)
	slices.Sort(sorted)
	p := w.periods
	acceptBy := req.AcceptBy
	if acceptBy == "" {
		acceptBy = court.DateOf(w.now()).AddDate(0, 0, p.AcceptDays).String()
	}
	e := storage.AuditEntry{Event: "transfer.gathered", Outcome: "ok", Court: string(recv),
		Detail: fmt.Sprintf("集中执行 %s: %d cases of one debtor into %s: %s", req.DecisionNumber, len(ids), recv, strings.Join(sorted, ", "))}
	if err := w.audit.Before(e); err != nil {
		return nil, court.Errorf(court.ErrUnavailable, "gather refused: the audit log cannot be written (%v); nothing was decided, try again", err)
	}
	out := make([]*cmproto.Transfer, 0, len(ts))
	for _, t := range ts {
		d := &pb.TransferDecision{Mode: pb.Mode_MODE_GATHERED, ReceiverCourt: string(recv), DecisionNumber: req.DecisionNumber, AcceptBy: acceptBy,
			Gathered: sorted, HandoverDays: uint32(p.HandoverDays), FilingDays: uint32(p.FilingDays), InvestigationMonths: uint32(p.InvestigationMonths),
			ConclusionMonths: uint32(p.ConclusionMonths), ReturnDays: uint32(p.ReturnDays), SupplementDays: uint32(p.SupplementDays)}
		next, err := w.records.Issue(ctx, t.ID, &pb.Record{Body: &pb.Record_Decision{Decision: d}})
		if err != nil {
			// The decisions issued stand (signed and out); gathering
			// again with the rest completes it.
			w.auditDone(storage.AuditEntry{Event: "transfer.gathered", Outcome: "failed", Transfer: string(t.ID), Court: string(recv),
				Detail: fmt.Sprintf("集中执行 %s: %d of %d decided; %s: %v", req.DecisionNumber, len(out), len(ts), t.ID, err)})
			return out, fmt.Errorf("集中执行 %s: %d of %d transfers decided, then %s: %w", req.DecisionNumber, len(out), len(ts), t.ID, err)
		}
		out = append(out, next)
	}
	return out, nil
}

// load returns a transfer known to this node.
func (w *Service) load(id court.TransferID) (*cmproto.Transfer, error) {
	t, err := w.records.Load(id)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, fmt.Errorf("transfer %s: not known to this node: %w", id, court.ErrNotFound)
	}
	return t, nil
}
