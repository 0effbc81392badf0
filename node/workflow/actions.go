package workflow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node/api"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
	"courtmesh.dev/courtmesh/storage"
)

// Offer offers one of this court's cases for transfer.
func (w *Service) Offer(ctx context.Context, req api.OfferRequest) (*cmproto.Transfer, error) {
	self, err := w.self()
	if err != nil {
		return nil, err
	}
	cn, err := cmproto.EnforcementCase("case_number", req.CaseNumber, self.Code)
	if err != nil {
		return nil, err
	}
	head, v, err := w.db.Case(cn)
	if err != nil {
		return nil, err
	}
	if head.Status == court.StatusTerminated {
		// A case concluded as 终本 may be offered once resumed (恢复执行)
		// under an 执恢 number: the offer names the resumed case.
		if req.ResumeAs == "" {
			return nil, fmt.Errorf("%w: case %s was concluded as 终本; resume it under an 执恢 number (resume_as, --resume-as) to offer it", court.ErrInvalid, cn)
		}
		rn, err := cmproto.EnforcementCase("resume_as", req.ResumeAs, self.Code)
		if err != nil {
			return nil, err
		}
		e := storage.AuditEntry{Event: "case.resumed", Outcome: "ok", Case: rn.String(), Detail: fmt.Sprintf("%s (终本) resumed as %s to be offered for transfer", cn, rn)}
		if err := w.audit.Before(e); err != nil {
			return nil, court.Errorf(court.ErrUnavailable, "resume %s refused: the audit log cannot be written (%v); try again", cn, err)
		}
		if _, err := w.db.ResumeCase(cn, rn); err != nil {
			e.Outcome, e.Detail = "failed", err.Error()
			w.auditDone(e)
			return nil, err
		}
		cn = rn
		if head, v, err = w.db.Case(cn); err != nil {
			return nil, err
		}
	} else if req.ResumeAs != "" {
		return nil, fmt.Errorf("%w: case %s is %s, not concluded as 终本: there is nothing to resume", court.ErrInvalid, cn, head.Status)
	}
	if head.Status != court.StatusActive {
		return nil, fmt.Errorf("%w: case %s is %s; only an active case (or one concluded as 终本, resumed) can be offered", court.ErrInvalid, cn, head.Status)
	}
	sup, err := court.ParseCourtCode(req.Superior)
	if err != nil {
		return nil, fmt.Errorf("%w: superior: %v", court.ErrInvalid, err)
	}
	o := &pb.TransferOffer{CaseNumber: cn.String(), OriginCourt: string(self.Code), SuperiorCourt: string(sup), FiledOn: v.Filed.String()}
	for _, g := range req.Grounds {
		val, ok := pb.Ground_value["GROUND_"+strings.ToUpper(g)]
		if !ok {
			return nil, fmt.Errorf("%w: ground %q: want long_unexecuted, interference, serial_cases, capacity or passive", court.ErrInvalid, g)
		}
		o.Grounds = append(o.Grounds, pb.Ground(val))
	}
	if req.AmountRecoveredFen != nil {
		o.AmountRecoveredFen = *req.AmountRecoveredFen
	}
	o.AmountOutstandingFen = v.ClaimFen - o.AmountRecoveredFen
	counts := map[court.AssetClass]uint32{}
	for _, a := range v.Assets {
		counts[a.Class]++
	}
	for _, c := range court.AssetClasses() {
		if counts[c] > 0 {
			o.Assets = append(o.Assets, &pb.AssetCount{AssetClass: string(c), Count: counts[c]})
		}
	}
	o.RegionAssets, o.DebtorRegion = regionSummary(v.Assets, v.Parties)
	// The guard's rule (handover): only the measures this court can renew
	// count; other courts' are announced apart, flagged.
	var earliest, others court.Date
	for _, m := range v.Measures {
		if m.Status != court.MeasureActive || m.Expiry.IsZero() {
			continue
		}
		e := &earliest
		if !m.RenewableBy(self.Code) {
			e = &others
		}
		if e.IsZero() || m.Expiry.Before(*e) {
			*e = m.Expiry
		}
	}
	if !earliest.IsZero() {
		o.EarliestMeasureExpiry = earliest.String()
	}
	if !others.IsZero() {
		o.EarliestOtherCourtExpiry = others.String()
	}
	ts, err := w.records.ByCase(ctx, cn)
	if err != nil {
		return nil, err
	}
	for _, t := range ts {
		if t.CaseNumber == cn.String() && t.Origin == self.Code && !t.State.Terminal() {
			return nil, fmt.Errorf("%w: case %s is already offered in transfer %s (%s)", court.ErrConflict, cn, t.ID, t.State)
		}
	}
	id := court.NewTransferID()
	var party string
	if o.DebtorMatch, party, err = w.debtorMatch(id, cn, v.Parties, sup); err != nil {
		return nil, err
	}
	t, err := w.records.Issue(ctx, id, &pb.Record{Body: &pb.Record_Offer{Offer: o}})
	if err != nil {
		return nil, err
	}
	if party != "" {
		w.matchAudited(t, party)
	}
	return t, nil
}

// Start opens a transfer of a case of a court below this one, as its
// superior, without the origin's offer: on its own motion, from
// supervision or a petition, or recording the applicant's request (whose
// answer is due the configured request_answer_days after it reached this
// court, unless the request names the date).
func (w *Service) Start(ctx context.Context, req api.StartRequest) (*cmproto.Transfer, error) {
	switch {
	case req.CaseNumber == "":
		return nil, court.Errorf(court.ErrInvalid, "case_number is required: the origin's 执 case to move")
	case req.Origin == "":
		return nil, court.Errorf(court.ErrInvalid, "origin is required: the court that holds the case")
	case len(req.Grounds) == 0:
		return nil, court.Errorf(court.ErrInvalid, "grounds is required: at least one of long_unexecuted, interference, serial_cases, capacity or passive")
	}
	origin, err := court.ParseCourtCode(req.Origin)
	if err != nil {
		return nil, fmt.Errorf("%w: origin: %v", court.ErrInvalid, err)
	}
	cn, err := cmproto.EnforcementCase("case_number", req.CaseNumber, origin)
	if err != nil {
		return nil, err
	}
	if req.Source == "" {
		req.Source = "own_motion"
	}
	src, err := cmproto.ParseStartSource(req.Source)
	if err != nil {
		return nil, err
	}
	st := &pb.TransferStart{CaseNumber: cn.String(), OriginCourt: string(origin), Source: src, FiledOn: req.FiledOn, RequestedOn: req.RequestedOn, AnswerBy: req.AnswerBy}
	if src == pb.StartSource_START_APPLICANT_REQUEST && st.AnswerBy == "" && st.RequestedOn != "" {
		on, err := court.ParseDate(st.RequestedOn)
		if err != nil {
			return nil, fmt.Errorf("%w: requested_on: %v", court.ErrInvalid, err)
		}
		st.AnswerBy = on.AddDate(0, 0, w.answerDays).String()
	}
	for _, g := range req.Grounds {
		val, ok := pb.Ground_value["GROUND_"+strings.ToUpper(g)]
		if !ok {
			return nil, fmt.Errorf("%w: ground %q: want long_unexecuted, interference, serial_cases, capacity or passive", court.ErrInvalid, g)
		}
		st.Grounds = append(st.Grounds, pb.Ground(val))
	}
	ts, err := w.records.ByCase(ctx, cn)
	if err != nil {
		return nil, err
	}
	for _, t := range ts {
		if t.CaseNumber == cn.String() && t.Origin == origin && !t.State.Terminal() {
			return nil, fmt.Errorf("%w: case %s is already in transfer %s (%s)", court.ErrConflict, cn, t.ID, t.State)
		}
		// A case the origin received by an earlier transfer: the
		// applicant asks again only once its conclusion period passed.
		if src == pb.StartSource_START_APPLICANT_REQUEST && t.NewCaseNumber == cn.String() && t.Receiver == origin {
			on, err := court.ParseDate(st.RequestedOn)
			if err != nil {
				return nil, fmt.Errorf("%w: requested_on %q: the day the applicant's request reached this court", court.ErrInvalid, st.RequestedOn)
			}
			if err := cmproto.AskAgain(t, on); err != nil {
				return nil, err
			}
		}
	}
	t, err := w.records.Issue(ctx, court.NewTransferID(), &pb.Record{Body: &pb.Record_Start{Start: st}})
	if err != nil {
		return nil, err
	}
	w.auditDone(storage.AuditEntry{Event: "transfer.started", Outcome: "ok", Transfer: string(t.ID), Case: cn.String(), Court: string(origin),
		Detail: fmt.Sprintf("opened by the superior (%s); grounds %s; answer by %s", req.Source, strings.Join(t.Grounds, ", "), t.AnswerBy)})
	return t, nil
}

// Decide decides an offered transfer as a superior court.
func (w *Service) Decide(ctx context.Context, id court.TransferID, req api.DecideRequest) (*cmproto.Transfer, error) {
	// Every deadline is fixed here, once, from this court's
	// configuration: every node derives the same dates from the record.
	p := w.periods
	d := &pb.TransferDecision{ReceiverCourt: req.Receiver, DecisionNumber: req.DecisionNumber, AcceptBy: req.AcceptBy,
		HandoverDays: uint32(p.HandoverDays), FilingDays: uint32(p.FilingDays),
		InvestigationMonths: uint32(p.InvestigationMonths), ConclusionMonths: uint32(p.ConclusionMonths),
		ReturnDays: uint32(p.ReturnDays), SupplementDays: uint32(p.SupplementDays)}
	if d.AcceptBy == "" {
		d.AcceptBy = court.DateOf(w.now()).AddDate(0, 0, p.AcceptDays).String()
	}
	switch req.Mode {
	case "designated", "指令执行":
		d.Mode = pb.Mode_MODE_DESIGNATED
	case "elevated", "提级执行":
		d.Mode = pb.Mode_MODE_ELEVATED
		if d.ReceiverCourt == "" {
			self, err := w.self()
			if err != nil {
				return nil, err
			}
			d.ReceiverCourt = string(self.Code)
		}
	default:
		return nil, fmt.Errorf("%w: mode %q: want designated (指令执行) or elevated (提级执行)", court.ErrInvalid, req.Mode)
	}
	// A court without a certificate in force could neither accept nor
	// fetch: the transfer would only wait until it is overdue. (Other
	// nodes cannot check this the same way, since their bundles may
	// differ for a moment; the deciding court checks it here.)
	if c, err := court.ParseCourtCode(d.ReceiverCourt); err == nil {
		if _, err := w.trust.Trust().Court(c, w.now()); err != nil {
			return nil, fmt.Errorf("%w: the designated court %s has no certificate in force on the mesh (%v); it could neither accept the case nor fetch the dossier: designate another court, or have it certified first", court.ErrInvalid, c, err)
		}
	}
	if err := w.noteAdvice(ctx, id, d, req.RecommendationHash); err != nil {
		return nil, err
	}
	var origin court.CourtCode
	if t, err := w.records.Load(id); err == nil && t != nil {
		origin = t.Origin
	}
	var err error
	if d.SealedResponsible, d.ResponsibleKeys, err = w.responsible(ctx, id, "decision", []court.StaffRole{court.RoleSuperiorJudge}, origin, court.CourtCode(d.ReceiverCourt)); err != nil {
		return nil, err
	}
	return w.records.Issue(ctx, id, &pb.Record{Body: &pb.Record_Decision{Decision: d}})
}

// noteAdvice writes into decision d the chosen court's rank in the
// recommendation for the transfer as it stands (Recommend) and that
// recommendation's inputs hash. When the decider names the hash of the
// recommendation it saw (seen) and the inputs have changed since, the
// decision is refused as stale: the judge looks again. A transfer not
// known here, or not offered to this court, is left to the state
// machine to refuse.
func (w *Service) noteAdvice(ctx context.Context, id court.TransferID, d *pb.TransferDecision, seen string) error {
	rec, err := w.Recommend(ctx, id)
	if errors.Is(err, court.ErrNotFound) || errors.Is(err, court.ErrPermission) {
		if seen != "" {
			return err
		}
		return nil
	}
	if err != nil {
		return err
	}
	if seen != "" && seen != rec.InputsHash {
		return court.Errorf(court.ErrStale, "transfer %s: the recommendation changed since it was shown (inputs %s, now %s): show it again (courtmesh transfer recommend %s) and decide on what it says now", id, seen, rec.InputsHash, id)
	}
	d.RecommendedRank, d.RecommendationHash = uint32(rec.RankOf(court.CourtCode(d.ReceiverCourt))), rec.HashBytes()
	return nil
}

// Accept accepts a transfer designated to this court.
func (w *Service) Accept(ctx context.Context, id court.TransferID, req api.AcceptRequest) (*cmproto.Transfer, error) {
	// The new number goes out in its normal form, and must be free here:
	// the case arrives under it, and the other court's asset updates
	// follow it.
	newNo, err := cmproto.ReceiverNumber("new case number", req.NewCaseNumber, w.court, w.now())
	if err != nil {
		return nil, err
	}
	w.acceptMu.Lock() // two acceptances cannot both find the same number free
	defer w.acceptMu.Unlock()
	if _, _, err := w.db.Case(newNo); err == nil {
		return nil, fmt.Errorf("%w: case number %s is already used by a case in this court's store; accept under a new number", court.ErrConflict, newNo)
	} else if !errors.Is(err, court.ErrNotFound) {
		return nil, err
	}
	// A transfer accepted, handed over or received under this number
	// holds it (for the case on its way, or filed here).
	ts, err := w.records.ByCase(ctx, newNo)
	if err != nil {
		return nil, err
	}
	for _, t := range ts {
		switch t.State {
		case cmproto.StateAccepted, cmproto.StateHandedOver, cmproto.StateReceived:
		default:
			continue
		}
		if m, err := court.ParseCaseNumber(t.NewCaseNumber); err == nil && m == newNo && t.ID != id {
			return nil, fmt.Errorf("%w: case number %s is already given to the case of transfer %s; accept under a new number", court.ErrConflict, newNo, t.ID)
		}
	}
	a := &pb.Acceptance{NewCaseNumber: newNo.String()}
	if t, err := w.records.Load(id); err == nil && t != nil {
		if a.SealedResponsible, a.ResponsibleKeys, err = w.responsible(ctx, id, "acceptance", []court.StaffRole{court.RoleJudge}, t.Origin, t.Decider); err != nil {
			return nil, err
		}
	}
	return w.records.Issue(ctx, id, &pb.Record{Body: &pb.Record_Acceptance{Acceptance: a}})
}

// Reject declines an offer (as the decider) or a designation (as the receiver).
func (w *Service) Reject(ctx context.Context, id court.TransferID, reason string) (*cmproto.Transfer, error) {
	if err := w.checkFreeText(id, "reason", reason); err != nil {
		return nil, err
	}
	return w.records.Issue(ctx, id, &pb.Record{Body: &pb.Record_Rejection{Rejection: &pb.Rejection{Reason: reason}}})
}

// Withdraw withdraws this court's offer before handover.
func (w *Service) Withdraw(ctx context.Context, id court.TransferID, reason string) (*cmproto.Transfer, error) {
	if err := w.checkFreeText(id, "reason", reason); err != nil {
		return nil, err
	}
	return w.records.Issue(ctx, id, &pb.Record{Body: &pb.Record_Withdrawal{Withdrawal: &pb.Withdrawal{Reason: reason}}})
}

// Progress reports progress as the receiving court.
func (w *Service) Progress(ctx context.Context, id court.TransferID, req api.ProgressRequest) (*cmproto.Transfer, error) {
	// Recovery counts for the receiver only once it holds the case: a
	// report before the receipt would credit it with what the origin
	// still enforces. (Other nodes accept such a report from older
	// nodes; this node does not issue one.)
	if t, err := w.records.Load(id); err == nil && t != nil && (t.State == cmproto.StateAccepted || t.State == cmproto.StateHandedOver) {
		return nil, fmt.Errorf("%w: transfer %s is %s: report progress once the dossier is received and the case filed here (courtmesh dossier fetch)", court.ErrConflict, id, t.State)
	}
	if err := w.checkFreeText(id, "status", req.Status); err != nil {
		return nil, err
	}
	if req.Publish && strings.TrimSpace(req.Status) == "" {
		return nil, court.Errorf(court.ErrInvalid, "publish shows the status to the parties: give the status to show (status, --status)")
	}
	return w.records.Issue(ctx, id, &pb.Record{Body: &pb.Record_Progress{Progress: &pb.Progress{AmountRecoveredFen: req.AmountRecoveredFen, Status: req.Status, Publish: req.Publish}}})
}

// Close concludes a received case as the receiving court.
func (w *Service) Close(ctx context.Context, id court.TransferID, req api.CloseRequest) (*cmproto.Transfer, error) {
	return w.records.Issue(ctx, id, &pb.Record{Body: &pb.Record_Closure{Closure: &pb.Closure{Outcome: req.Outcome, AmountRecoveredFen: req.AmountRecoveredFen}}})
}

// Conclude concludes a received case as the receiving court with its
// closure kind, and sets the filed case's status accordingly (终本:
// terminated; the other kinds: concluded).
func (w *Service) Conclude(ctx context.Context, id court.TransferID, req api.ConcludeRequest) (*cmproto.Transfer, error) {
	if req.Kind == "" {
		return nil, court.Errorf(court.ErrInvalid, "kind is required: how the case ended (执行完毕, 终本, 终结, 不予执行, 驳回)")
	}
	kind, k, err := cmproto.ParseClosureKind(req.Kind)
	if err != nil {
		return nil, err
	}
	t, err := w.records.Load(id)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, fmt.Errorf("transfer %s: %w", id, court.ErrNotFound)
	}
	newNo, err := court.ParseCaseNumber(t.NewCaseNumber)
	if t.Receiver == w.court && t.State == cmproto.StateClosed && t.ClosureKind == k && err == nil {
		// A retry after the case's status could not be set.
		if err := w.db.SetCaseStatus(newNo, k.CaseStatus()); err != nil {
			return nil, err
		}
		return t, nil
	}
	if t.Receiver != w.court || t.State != cmproto.StateReceived {
		return nil, fmt.Errorf("%w: transfer %s is %s with receiver %s: only the receiver concludes a case it received and filed, once", court.ErrConflict, id, t.State, t.Receiver)
	}
	if err != nil {
		return nil, err
	}
	next, err := w.records.Issue(ctx, id, &pb.Record{Body: &pb.Record_Closure{Closure: &pb.Closure{Kind: kind, AmountRecoveredFen: req.AmountRecoveredFen,
		InvestigationSteps: req.InvestigationSteps, Approval: req.Approval}}})
	if err != nil {
		return nil, err
	}
	// The closure is signed and out: the filed case follows it.
	e := storage.AuditEntry{Event: "case.concluded", Outcome: "ok", Transfer: string(id), Case: newNo.String(), Detail: fmt.Sprintf("concluded as %s", k)}
	if err := w.db.SetCaseStatus(newNo, k.CaseStatus()); err != nil {
		e.Outcome, e.Detail = "failed", fmt.Sprintf("concluded as %s; the case's status could not be set to %s: %v", k, k.CaseStatus(), err)
		w.auditDone(e)
		return nil, fmt.Errorf("transfer %s concluded as %s, but case %s could not be marked %s (conclude again to retry): %w", id, k, newNo, k.CaseStatus(), err)
	}
	w.auditDone(e)
	return next, nil
}

// Handover hands the dossier of an accepted transfer over: it refuses while
// an active measure expires within the guard period unless an override
// reason is given, wraps the data key for the receiver and the decider,
// and publishes the manifest.
func (w *Service) Handover(ctx context.Context, id court.TransferID, req api.HandoverRequest) (*cmproto.Transfer, error) {
	return w.handover(ctx, id, req, false)
}

// Supplement answers the receiver's return of an incomplete handover with
// a new version of it: the case as it is now in this court's store (the
// missing papers imported since), under the same rules as the handover.
// The readers fetch only the chunks they do not hold yet.
func (w *Service) Supplement(ctx context.Context, id court.TransferID, req api.HandoverRequest) (*cmproto.Transfer, error) {
	t, err := w.handover(ctx, id, req, true)
	if err != nil {
		return nil, err
	}
	w.auditDone(storage.AuditEntry{Event: "handover.supplemented", Outcome: "ok", Transfer: string(id), Case: t.CaseNumber,
		Detail: fmt.Sprintf("handover version %d: %d chunks, answering the return of %s", t.HandoverVersion, t.ChunkCount, strings.Join(t.Missing, ", "))})
	return t, nil
}

// Return returns a handed-over dossier to the origin as incomplete,
// naming the kinds of dossier item missing (within the decision's return
// period of the handover), as the receiving court.
func (w *Service) Return(ctx context.Context, id court.TransferID, req api.ReturnRequest) (*cmproto.Transfer, error) {
	if len(req.Missing) == 0 {
		return nil, court.Errorf(court.ErrInvalid, "missing is required: a return names what is missing (the dossier item kinds the handover lacks)")
	}
	missing, err := cmproto.ReturnKinds(req.Missing) // the dossier-items view's names too
	if err != nil {
		return nil, err
	}
	if err := w.checkFreeText(id, "note", req.Note); err != nil {
		return nil, err
	}
	t, err := w.records.Issue(ctx, id, &pb.Record{Body: &pb.Record_HandoverReturn{HandoverReturn: &pb.HandoverReturn{Missing: missing, Note: req.Note}}})
	if err != nil {
		return nil, err
	}
	w.auditDone(storage.AuditEntry{Event: "handover.returned", Outcome: "ok", Transfer: string(id), Case: t.CaseNumber,
		Detail: fmt.Sprintf("handover version %d returned as incomplete: %s missing; the origin supplements by %s", t.HandoverVersion, strings.Join(missing, ", "), t.SupplementBy)})
	return t, nil
}

func (w *Service) handover(ctx context.Context, id court.TransferID, req api.HandoverRequest, supplement bool) (*cmproto.Transfer, error) {
	t, err := w.records.Load(id)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, fmt.Errorf("transfer %s: %w", id, court.ErrNotFound)
	}
	switch {
	case supplement && t.State != cmproto.StateReturned:
		return nil, fmt.Errorf("%w: transfer %s is %s; a supplement answers the receiver's return of the handover", court.ErrConflict, id, t.State)
	case !supplement && t.State != cmproto.StateAccepted:
		return nil, fmt.Errorf("%w: transfer %s is %s; handover follows the receiver's acceptance", court.ErrConflict, id, t.State)
	}
	cn, err := court.ParseCaseNumber(t.CaseNumber)
	if err != nil {
		return nil, err
	}
	// An import of this case still sealing its documents must not land
	// under the version handed over: it now refuses at its commit.
	if err := w.db.TouchCase(cn); err != nil {
		return nil, err
	}
	dos, err := w.db.Dossier(cn)
	if err != nil {
		return nil, err
	}
	if root := dos.Root(); supplement && bytes.Equal(root[:], t.MerkleRoot) {
		return nil, fmt.Errorf("%w: case %s is as it was handed over; import the missing papers (%s) first, then supplement", court.ErrConflict, cn, strings.Join(t.Missing, ", "))
	}
	today := court.DateOf(w.now())
	blocking, flagged, ids, active := expiringMeasures(dos, today, w.guardDays, t.Origin)
	reason := strings.TrimSpace(req.OverrideReason)
	if len(blocking) > 0 && reason == "" {
		return nil, fmt.Errorf("%w: case %s: %s. Renew these measures (续行) before handing over, or give an override reason", court.ErrHandoverBlocked, cn, strings.Join(blocking, "; "))
	}
	if len(blocking) == 0 {
		ids, reason = nil, ""
	}
	if err := w.checkFreeText(id, "override_reason", reason); err != nil {
		return nil, err
	}
	claim, recovered, err := handoverAmounts(t, cn, dos.Version.ClaimFen, req.AmountRecoveredFen)
	if err != nil {
		return nil, err
	}
	m := &pb.HandoverManifest{
		ChunkCount: uint32(len(dos.Chunks)), SealedBytes: dos.Bytes, DocumentCount: uint32(len(dos.Documents)),
		OverrideReason: reason, OverriddenMeasures: ids, ActiveMeasures: uint32(active),
		ClaimFen: claim, RecoveredFen: recovered,
	}
	// The standard items the dossier carries, named in the handover
	// itself so that the receiver sees at once what is missing.
	kinds := make([]string, len(dos.Version.Documents))
	for i, d := range dos.Version.Documents {
		kinds[i] = d.Kind
	}
	m.DossierItems = cmproto.DossierItemsOf(kinds)
	root, snap := dos.Root(), dos.SnapshotHash()
	m.MerkleRoot, m.SnapshotHash = root[:], snap[:]
	if m.SealedCaseHash, err = w.sealHandoverCase(id, dos); err != nil {
		return nil, err
	}
	if m.Keys, err = w.wrapHandoverKey(id, t, dos); err != nil {
		return nil, err
	}
	detail, err := json.Marshal(struct {
		Case      string          `json:"case"`
		Documents []string        `json:"documents"`
		Snapshot  json.RawMessage `json:"snapshot"`
	}{cn.String(), dos.Documents, dos.Snapshot})
	if err != nil {
		return nil, err
	}
	if m.SealedDetail, err = dos.Key.SealFieldIn(dos.Suite, "handover/"+string(id)+"/detail", detail); err != nil {
		return nil, err
	}
	// The person handing over, sealed; with an override, the 执行局长
	// who approved it (the access policy lets only that role override).
	roles := []court.StaffRole{court.RoleJudge, court.RoleDirector}
	if reason != "" {
		roles = []court.StaffRole{court.RoleDirector, court.RoleJudge}
	}
	if m.SealedResponsible, m.ResponsibleKeys, err = w.responsible(ctx, id, "handover", roles, t.Receiver, t.Decider); err != nil {
		return nil, err
	}
	// An override is a judge's decision: it is evidenced before it takes
	// effect, and refused if it cannot be.
	var override storage.AuditEntry
	if reason != "" {
		override = storage.AuditEntry{Event: "handover.override", Outcome: "ok", Transfer: string(id), Case: cn.String(), Person: api.ActorFrom(ctx),
			Detail: fmt.Sprintf("handover despite %d measure(s) expiring within %d days: %s; reason: %s", len(ids), w.guardDays, strings.Join(ids, ", "), reason)}
		if err := w.audit.Before(override); err != nil {
			return nil, court.Errorf(court.ErrUnavailable, "handover %s refused: the override could not be written to the audit log (%v); nothing was handed over, try again", id, err)
		}
	}
	body := &pb.Record{Body: &pb.Record_Handover{Handover: m}}
	if supplement {
		body = &pb.Record{Body: &pb.Record_Supplement{Supplement: &pb.Supplement{Manifest: m}}}
	}
	next, err := w.records.Issue(ctx, id, body)
	if err != nil {
		if reason != "" {
			override.Outcome, override.Detail = "failed", "the handover with this override was not issued: "+err.Error()
			w.auditDone(override)
		}
		return nil, err
	}
	if len(flagged) > 0 {
		w.auditDone(storage.AuditEntry{Event: "handover.other_court_measures", Outcome: "ok", Transfer: string(id), Case: cn.String(),
			Detail: fmt.Sprintf("handed over with %d measure(s) of other courts expiring within %d days, which only their holders renew (not blocking): %s",
				len(flagged), w.guardDays, strings.Join(flagged, "; "))})
	}
	return next, nil
}

// expiringMeasures sorts the case's active measures that expire within
// guardDays of today: those the origin renews itself block the handover
// (their lines and IDs), another court's are only flagged. active counts
// every active measure with an expiry.
func expiringMeasures(dos *storage.Dossier, today court.Date, guardDays int, origin court.CourtCode) (blocking, flagged, ids []string, active int) {
	for _, m := range dos.Version.Measures {
		if m.Status != court.MeasureActive || m.Expiry.IsZero() {
			continue
		}
		active++
		if days := today.DaysUntil(m.Expiry); days <= guardDays {
			class := ""
			for _, a := range dos.Version.Assets {
				if a.ID == m.Asset {
					class = a.Class.Label()
				}
			}
			line := fmt.Sprintf("measure %s (%s of %s asset %s) expires %s, in %d days", m.ID, m.Kind.Label(), class, m.Asset, m.Expiry, days)
			if !m.RenewableBy(origin) {
				// Another court's (a first seizure ahead of this court
				// in a waiting line): only it renews; flagged, not
				// blocking.
				flagged = append(flagged, line+", held by "+string(m.Court))
				continue
			}
			blocking = append(blocking, line)
			ids = append(ids, m.ID)
		}
	}
	return blocking, flagged, ids, active
}

// handoverAmounts is the claim a handover of case cn states and what the
// origin recovered up to now (stated, or else what it announced before).
// The balance the receiver files (法明传〔2018〕335号): the claim the
// offer announced, less what this court recovered up to now.
func handoverAmounts(t *cmproto.Transfer, cn court.CaseNumber, claim int64, stated *int64) (int64, int64, error) {
	before := max(t.AmountOrigin, t.HandoverRecovered)
	recovered := before
	if stated != nil {
		recovered = *stated
	}
	switch {
	case t.StartedBy == "" && claim != t.AmountOutstanding+t.AmountOrigin:
		return 0, 0, fmt.Errorf("%w: case %s now claims %d fen, but the offer announced %d; the claim cannot change during a transfer: withdraw and offer again", court.ErrConflict, cn, claim, t.AmountOutstanding+t.AmountOrigin)
	case recovered < before:
		return 0, 0, fmt.Errorf("%w: amount recovered %d fen is less than the %d fen announced before; what was recovered cannot shrink", court.ErrInvalid, recovered, before)
	case recovered >= claim:
		return 0, 0, fmt.Errorf("%w: amount recovered %d fen covers the whole claim of %d fen: nothing is left to transfer; withdraw the offer and conclude the case (执行完毕)", court.ErrInvalid, recovered, claim)
	}
	return claim, recovered, nil
}

// sealHandoverCase seals and saves the case record every source will
// serve in the fetch manifest of transfer id, and returns its hash. It
// is fixed now and named in the signed record: the receiver files
// nothing else (not a record re-sealed by another key holder, nor the
// origin's copy as later asset updates change it; those arrive as their
// own records).
func (w *Service) sealHandoverCase(id court.TransferID, dos *storage.Dossier) ([]byte, error) {
	caseJSON, err := json.Marshal(dos.Version)
	if err != nil {
		return nil, err
	}
	sealedCase, err := dos.Key.SealFieldIn(dos.Suite, cmproto.CaseLabel(id), caseJSON)
	if err != nil {
		return nil, err
	}
	caseHash, err := w.db.SaveHandoverCase(string(id), sealedCase)
	if err != nil {
		return nil, err
	}
	return caseHash[:], nil
}

// wrapHandoverKey wraps the dossier's data key for the courts that read
// the handover of t: the receiver, and the decider when it is another
// court, each under its certificate in force now.
func (w *Service) wrapHandoverKey(id court.TransferID, t *cmproto.Transfer, dos *storage.Dossier) ([]*pb.WrappedKey, error) {
	readers := []court.CourtCode{t.Receiver}
	if t.Decider != t.Receiver {
		readers = append(readers, t.Decider)
	}
	var keys []*pb.WrappedKey
	for _, c := range readers {
		cert, err := w.trust.Trust().Court(c, w.now())
		if err != nil {
			return nil, fmt.Errorf("handover %s: no certificate in force for %s: %w", id, c, err)
		}
		wrapped, err := crypto.WrapDataKey(cert.EncKEM, cert.EncKey, "handover", string(id), dos.Key)
		if err != nil {
			return nil, fmt.Errorf("handover %s: wrap the data key for %s: %w", id, c, err)
		}
		keys = append(keys, &pb.WrappedKey{Court: string(c), CertificateSerial: cert.Serial, Wrapped: wrapped})
	}
	return keys, nil
}

// RevokeGrant stops further fetches of a handed-over dossier by a court.
// What that court already fetched stays fetched: revocation cannot unsee.
func (w *Service) RevokeGrant(ctx context.Context, id court.TransferID, c court.CourtCode, reason string) (*cmproto.Transfer, error) {
	// Revoking is effective at once: the record goes out first, and its
	// audit entry follows (a failed write is counted and alerts; the
	// signed record in this court's log is the primary evidence).
	if err := w.checkFreeText(id, "reason", reason); err != nil {
		return nil, err
	}
	t, err := w.records.Issue(ctx, id, &pb.Record{Body: &pb.Record_GrantRevocation{GrantRevocation: &pb.GrantRevocation{Court: string(c), Reason: reason}}})
	if err != nil {
		return nil, err
	}
	w.auditDone(storage.AuditEntry{Event: "grant.revoked", Outcome: "ok", Transfer: string(id), Court: string(c), Detail: reason})
	return t, nil
}
