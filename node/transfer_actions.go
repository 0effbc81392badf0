package node

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/cases"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
	"courtmesh.dev/courtmesh/storage"
)

// self returns this node's certificate.
func (n *Node) self() (*crypto.Certificate, error) {
	return n.trust.Trust().ByPeer(n.h.ID(), n.now())
}

// Offer offers one of this court's cases for transfer.
func (n *Node) Offer(ctx context.Context, req api.OfferRequest) (*cmproto.Transfer, error) {
	self, err := n.self()
	if err != nil {
		return nil, err
	}
	cn, err := cmproto.EnforcementCase("case_number", req.CaseNumber, self.Code)
	if err != nil {
		return nil, err
	}
	head, v, err := n.db.Case(cn)
	if err != nil {
		return nil, err
	}
	if head.Status != court.StatusActive {
		return nil, fmt.Errorf("%w: case %s is %s; only an active case can be offered", court.ErrInvalid, cn, head.Status)
	}
	sup, err := court.ParseCourtCode(req.Superior)
	if err != nil {
		return nil, fmt.Errorf("%w: superior: %v", court.ErrInvalid, err)
	}
	o := &pb.TransferOffer{CaseNumber: cn.String(), OriginCourt: string(self.Code), SuperiorCourt: string(sup), FiledOn: v.Filed.String()}
	for _, g := range req.Grounds {
		val, ok := pb.Ground_value["GROUND_"+strings.ToUpper(g)]
		if !ok {
			return nil, fmt.Errorf("%w: ground %q: want long_unexecuted, interference, serial_cases or capacity", court.ErrInvalid, g)
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
	var earliest court.Date
	for _, m := range v.Measures {
		if m.Status == court.MeasureActive && !m.Expiry.IsZero() && (earliest.IsZero() || m.Expiry.Before(earliest)) {
			earliest = m.Expiry
		}
	}
	if !earliest.IsZero() {
		o.EarliestMeasureExpiry = earliest.String()
	}
	for _, t := range n.mustList("") {
		if t.CaseNumber == cn.String() && t.Origin == self.Code && !t.State.Terminal() {
			return nil, fmt.Errorf("%w: case %s is already offered in transfer %s (%s)", court.ErrConflict, cn, t.ID, t.State)
		}
	}
	return n.xfer.issue(ctx, cmproto.NewTransferID(), &pb.Record{Body: &pb.Record_Offer{Offer: o}})
}

func (n *Node) mustList(state string) []*cmproto.Transfer {
	ts, _ := n.xfer.list(state)
	return ts
}

// Decide decides an offered transfer as a superior court.
func (n *Node) Decide(ctx context.Context, id cmproto.TransferID, req api.DecideRequest) (*cmproto.Transfer, error) {
	d := &pb.TransferDecision{ReceiverCourt: req.Receiver, DecisionNumber: req.DecisionNumber, AcceptBy: req.AcceptBy}
	switch req.Mode {
	case "designated", "指令执行":
		d.Mode = pb.Mode_MODE_DESIGNATED
	case "elevated", "提级执行":
		d.Mode = pb.Mode_MODE_ELEVATED
		if d.ReceiverCourt == "" {
			self, err := n.self()
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
		if _, err := n.trust.Trust().Court(c, n.now()); err != nil {
			return nil, fmt.Errorf("%w: the designated court %s has no certificate in force on the mesh (%v); it could neither accept the case nor fetch the dossier: designate another court, or have it certified first", court.ErrInvalid, c, err)
		}
	}
	return n.xfer.issue(ctx, id, &pb.Record{Body: &pb.Record_Decision{Decision: d}})
}

// acceptMu orders this process's acceptances (see Accept).
var acceptMu sync.Mutex

// Accept accepts a transfer designated to this court.
func (n *Node) Accept(ctx context.Context, id cmproto.TransferID, req api.AcceptRequest) (*cmproto.Transfer, error) {
	// The new number goes out in its normal form, and must be free here:
	// the case arrives under it, and the other court's asset updates
	// follow it.
	newNo, err := cmproto.EnforcementCase("new case number", req.NewCaseNumber, n.court)
	if err != nil {
		return nil, err
	}
	acceptMu.Lock() // two acceptances cannot both find the same number free
	defer acceptMu.Unlock()
	if _, _, err := n.db.Case(newNo); err == nil {
		return nil, fmt.Errorf("%w: case number %s is already used by a case in this court's store; accept under a new number", court.ErrConflict, newNo)
	} else if !errors.Is(err, storage.ErrNotFound) {
		return nil, err
	}
	if _, in, reserved, err := cases.InFlight(ctx, n.db, newNo); err != nil {
		return nil, err
	} else if t := cmp.Or(in, reserved); t != nil && t.ID != string(id) {
		return nil, fmt.Errorf("%w: case number %s is already given to the case of transfer %s; accept under a new number", court.ErrConflict, newNo, t.ID)
	}
	return n.xfer.issue(ctx, id, &pb.Record{Body: &pb.Record_Acceptance{Acceptance: &pb.Acceptance{NewCaseNumber: newNo.String()}}})
}

// Reject declines an offer (as the decider) or a designation (as the receiver).
func (n *Node) Reject(ctx context.Context, id cmproto.TransferID, reason string) (*cmproto.Transfer, error) {
	return n.xfer.issue(ctx, id, &pb.Record{Body: &pb.Record_Rejection{Rejection: &pb.Rejection{Reason: reason}}})
}

// Withdraw withdraws this court's offer before handover.
func (n *Node) Withdraw(ctx context.Context, id cmproto.TransferID, reason string) (*cmproto.Transfer, error) {
	return n.xfer.issue(ctx, id, &pb.Record{Body: &pb.Record_Withdrawal{Withdrawal: &pb.Withdrawal{Reason: reason}}})
}

// Progress reports progress as the receiving court.
func (n *Node) Progress(ctx context.Context, id cmproto.TransferID, req api.ProgressRequest) (*cmproto.Transfer, error) {
	// Recovery counts for the receiver only once it holds the case: a
	// report before the receipt would credit it with what the origin
	// still enforces. (Other nodes accept such a report from older
	// nodes; this node does not issue one.)
	if t, err := n.xfer.load(id); err == nil && t != nil && (t.State == cmproto.StateAccepted || t.State == cmproto.StateHandedOver) {
		return nil, fmt.Errorf("%w: transfer %s is %s: report progress once the dossier is received and the case filed here (courtmesh dossier fetch)", court.ErrConflict, id, t.State)
	}
	return n.xfer.issue(ctx, id, &pb.Record{Body: &pb.Record_Progress{Progress: &pb.Progress{AmountRecoveredFen: req.AmountRecoveredFen, Status: req.Status}}})
}

// CloseTransfer concludes a received case as the receiving court.
func (n *Node) CloseTransfer(ctx context.Context, id cmproto.TransferID, req api.CloseRequest) (*cmproto.Transfer, error) {
	return n.xfer.issue(ctx, id, &pb.Record{Body: &pb.Record_Closure{Closure: &pb.Closure{Outcome: req.Outcome, AmountRecoveredFen: req.AmountRecoveredFen}}})
}

// Handover hands the dossier of an accepted transfer over: it refuses while
// an active measure expires within the guard period unless an override
// reason is given, wraps the data key for the receiver and the decider,
// and publishes the manifest.
func (n *Node) Handover(ctx context.Context, id cmproto.TransferID, req api.HandoverRequest) (*cmproto.Transfer, error) {
	t, err := n.xfer.load(id)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, fmt.Errorf("transfer %s: %w", id, storage.ErrNotFound)
	}
	if t.State != cmproto.StateAccepted {
		return nil, fmt.Errorf("%w: transfer %s is %s; handover follows the receiver's acceptance", court.ErrConflict, id, t.State)
	}
	cn, err := court.ParseCaseNumber(t.CaseNumber)
	if err != nil {
		return nil, err
	}
	// An import of this case still sealing its documents must not land
	// under the version handed over: it now refuses at its commit.
	if err := n.db.TouchCase(cn); err != nil {
		return nil, err
	}
	dos, err := n.db.Dossier(cn)
	if err != nil {
		return nil, err
	}
	today := court.DateOf(n.now())
	var blocking []string
	var ids []string
	active := 0
	for _, m := range dos.Version.Measures {
		if m.Status != court.MeasureActive || m.Expiry.IsZero() {
			continue
		}
		active++
		if days := today.DaysUntil(m.Expiry); days <= n.cfg.HandoverGuardDays {
			class := ""
			for _, a := range dos.Version.Assets {
				if a.ID == m.Asset {
					class = a.Class.Label()
				}
			}
			blocking = append(blocking, fmt.Sprintf("measure %s (%s of %s asset %s) expires %s, in %d days", m.ID, m.Kind.Label(), class, m.Asset, m.Expiry, days))
			ids = append(ids, m.ID)
		}
	}
	reason := strings.TrimSpace(req.OverrideReason)
	if len(blocking) > 0 && reason == "" {
		return nil, fmt.Errorf("%w: case %s: %s. Renew these measures (续行) before handing over, or give an override reason", court.ErrHandoverBlocked, cn, strings.Join(blocking, "; "))
	}
	if len(blocking) == 0 {
		ids, reason = nil, ""
	}
	m := &pb.HandoverManifest{
		ChunkCount: uint32(len(dos.Chunks)), SealedBytes: dos.Bytes, DocumentCount: uint32(len(dos.Documents)),
		OverrideReason: reason, OverriddenMeasures: ids, ActiveMeasures: uint32(active),
	}
	root, snap := dos.Root(), dos.SnapshotHash()
	m.MerkleRoot, m.SnapshotHash = root[:], snap[:]
	// The case record every source will serve in the fetch manifest,
	// fixed now and named in the signed record: the receiver files
	// nothing else (not a record re-sealed by another key holder, nor the
	// origin's copy as later asset updates change it; those arrive as
	// their own records).
	caseJSON, err := json.Marshal(dos.Version)
	if err != nil {
		return nil, err
	}
	sealedCase, err := dos.Key.SealField(fetchCaseLabel(id), caseJSON)
	if err != nil {
		return nil, err
	}
	caseHash, err := n.db.SaveHandoverCase(string(id), sealedCase)
	if err != nil {
		return nil, err
	}
	m.SealedCaseHash = caseHash[:]
	readers := []court.CourtCode{t.Receiver}
	if t.Decider != t.Receiver {
		readers = append(readers, t.Decider)
	}
	for _, c := range readers {
		cert, err := n.trust.Trust().Court(c, n.now())
		if err != nil {
			return nil, fmt.Errorf("handover %s: no certificate in force for %s: %w", id, c, err)
		}
		w, err := crypto.WrapDataKey(cert.EncKEM, cert.EncKey, "handover", string(id), dos.Key)
		if err != nil {
			return nil, fmt.Errorf("handover %s: wrap the data key for %s: %w", id, c, err)
		}
		m.Keys = append(m.Keys, &pb.WrappedKey{Court: string(c), CertificateSerial: cert.Serial, Wrapped: w})
	}
	detail, err := json.Marshal(struct {
		Case      string          `json:"case"`
		Documents []string        `json:"documents"`
		Snapshot  json.RawMessage `json:"snapshot"`
	}{cn.String(), dos.Documents, dos.Snapshot})
	if err != nil {
		return nil, err
	}
	if m.SealedDetail, err = dos.Key.SealField("handover/"+string(id)+"/detail", detail); err != nil {
		return nil, err
	}
	next, err := n.xfer.issue(ctx, id, &pb.Record{Body: &pb.Record_Handover{Handover: m}})
	if err != nil {
		return nil, err
	}
	if reason != "" {
		n.db.Audit(storage.AuditEntry{Event: "handover.override", Outcome: "ok", Transfer: string(id), Case: cn.String(),
			Detail: fmt.Sprintf("handover despite %d measure(s) expiring within %d days: %s; reason: %s", len(ids), n.cfg.HandoverGuardDays, strings.Join(ids, ", "), reason)})
	}
	return next, nil
}

// TransferView decorates a transfer for the API.
func (n *Node) TransferView(t *cmproto.Transfer) api.Transfer {
	on, what := t.WaitingOn()
	return api.Transfer{Transfer: t, Overdue: t.Overdue(n.now()), WaitingOn: string(on), WaitingFor: what}
}

// Transfers lists transfers (state "" for all; overdue only if asked).
func (n *Node) Transfers(state string, overdueOnly bool) ([]api.Transfer, error) {
	ts, err := n.xfer.list(state)
	if err != nil {
		return nil, err
	}
	out := []api.Transfer{}
	for _, t := range ts {
		v := n.TransferView(t)
		if overdueOnly && !v.Overdue {
			continue
		}
		out = append(out, v)
	}
	return out, nil
}

// Transfer returns one transfer.
func (n *Node) Transfer(id cmproto.TransferID) (api.Transfer, error) {
	t, err := n.xfer.load(id)
	if err != nil {
		return api.Transfer{}, err
	}
	if t == nil {
		return api.Transfer{}, fmt.Errorf("transfer %s: %w", id, storage.ErrNotFound)
	}
	return n.TransferView(t), nil
}

// errAnswered: the handler already wrote the answer (a bad request body).
var errAnswered = errors.New("answered")

// registerTransferAPI adds the transfer endpoints.
func (n *Node) registerTransferAPI() {
	type action func(ctx context.Context, id cmproto.TransferID, r *http.Request, w http.ResponseWriter) (*cmproto.Transfer, error)
	respond := func(w http.ResponseWriter, t *cmproto.Transfer, err error) {
		if errors.Is(err, errAnswered) {
			return
		}
		if err != nil {
			api.WriteError(w, err)
			return
		}
		api.WriteJSON(w, http.StatusOK, n.TransferView(t))
	}
	withID := func(f action) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			id, err := cmproto.ParseTransferID(r.PathValue("id"))
			if err != nil {
				api.WriteError(w, api.Errorf(http.StatusBadRequest, api.CodeInvalid, "%v", err))
				return
			}
			t, err := f(r.Context(), id, r, w)
			respond(w, t, err)
		}
	}
	body := func(w http.ResponseWriter, r *http.Request, v any) error {
		if !api.DecodeBody(w, r, v) {
			return errAnswered
		}
		return nil
	}
	n.api.Handle("POST /v1/transfers", func(w http.ResponseWriter, r *http.Request) {
		var req api.OfferRequest
		if err := body(w, r, &req); err != nil {
			return
		}
		t, err := n.Offer(r.Context(), req)
		respond(w, t, err)
	})
	n.api.Handle("POST /v1/transfers/{id}/decide", withID(func(ctx context.Context, id cmproto.TransferID, r *http.Request, w http.ResponseWriter) (*cmproto.Transfer, error) {
		var req api.DecideRequest
		if err := body(w, r, &req); err != nil {
			return nil, err
		}
		return n.Decide(ctx, id, req)
	}))
	n.api.Handle("POST /v1/transfers/{id}/accept", withID(func(ctx context.Context, id cmproto.TransferID, r *http.Request, w http.ResponseWriter) (*cmproto.Transfer, error) {
		var req api.AcceptRequest
		if err := body(w, r, &req); err != nil {
			return nil, err
		}
		return n.Accept(ctx, id, req)
	}))
	n.api.Handle("POST /v1/transfers/{id}/reject", withID(func(ctx context.Context, id cmproto.TransferID, r *http.Request, w http.ResponseWriter) (*cmproto.Transfer, error) {
		var req api.ReasonRequest
		if err := body(w, r, &req); err != nil {
			return nil, err
		}
		return n.Reject(ctx, id, req.Reason)
	}))
	n.api.Handle("POST /v1/transfers/{id}/withdraw", withID(func(ctx context.Context, id cmproto.TransferID, r *http.Request, w http.ResponseWriter) (*cmproto.Transfer, error) {
		var req api.ReasonRequest
		if err := body(w, r, &req); err != nil {
			return nil, err
		}
		return n.Withdraw(ctx, id, req.Reason)
	}))
	n.api.Handle("POST /v1/transfers/{id}/handover", withID(func(ctx context.Context, id cmproto.TransferID, r *http.Request, w http.ResponseWriter) (*cmproto.Transfer, error) {
		var req api.HandoverRequest
		if err := body(w, r, &req); err != nil {
			return nil, err
		}
		return n.Handover(ctx, id, req)
	}))
	n.api.Handle("POST /v1/transfers/{id}/progress", withID(func(ctx context.Context, id cmproto.TransferID, r *http.Request, w http.ResponseWriter) (*cmproto.Transfer, error) {
		var req api.ProgressRequest
		if err := body(w, r, &req); err != nil {
			return nil, err
		}
		return n.Progress(ctx, id, req)
	}))
	n.api.Handle("POST /v1/transfers/{id}/close", withID(func(ctx context.Context, id cmproto.TransferID, r *http.Request, w http.ResponseWriter) (*cmproto.Transfer, error) {
		var req api.CloseRequest
		if err := body(w, r, &req); err != nil {
			return nil, err
		}
		return n.CloseTransfer(ctx, id, req)
	}))
	n.api.Handle("GET /v1/transfers", func(w http.ResponseWriter, r *http.Request) {
		state, overdue, err := transferListQuery(r.URL.Query())
		if err != nil {
			api.WriteError(w, api.Errorf(http.StatusBadRequest, api.CodeInvalid, "%v", err))
			return
		}
		ts, err := n.Transfers(state, overdue)
		if err != nil {
			api.WriteError(w, err)
			return
		}
		sort.SliceStable(ts, func(i, j int) bool { return ts[i].Overdue && !ts[j].Overdue })
		api.WriteJSON(w, http.StatusOK, ts)
	})
	n.api.Handle("GET /v1/transfers/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, err := cmproto.ParseTransferID(r.PathValue("id"))
		if err != nil {
			api.WriteError(w, api.Errorf(http.StatusBadRequest, api.CodeInvalid, "%v", err))
			return
		}
		t, err := n.Transfer(id)
		if err != nil {
			api.WriteError(w, err)
			return
		}
		api.WriteJSON(w, http.StatusOK, t)
	})
}

// RevokeGrant stops further fetches of a handed-over dossier by a court.
// What that court already fetched stays fetched: revocation cannot unsee.
func (n *Node) RevokeGrant(ctx context.Context, id cmproto.TransferID, c court.CourtCode, reason string) (*cmproto.Transfer, error) {
	t, err := n.xfer.issue(ctx, id, &pb.Record{Body: &pb.Record_GrantRevocation{GrantRevocation: &pb.GrantRevocation{Court: string(c), Reason: reason}}})
	if err != nil {
		return nil, err
	}
	n.db.Audit(storage.AuditEntry{Event: "grant.revoked", Outcome: "ok", Transfer: string(id), Court: string(c), Detail: reason})
	return t, nil
}

// registerFetchAPI adds the fetch and grant endpoints.
func (n *Node) registerFetchAPI() {
	id := func(w http.ResponseWriter, r *http.Request) (cmproto.TransferID, bool) {
		id, err := cmproto.ParseTransferID(r.PathValue("id"))
		if err != nil {
			api.WriteError(w, api.Errorf(http.StatusBadRequest, api.CodeInvalid, "%v", err))
			return "", false
		}
		return id, true
	}
	n.api.Handle("POST /v1/transfers/{id}/fetch", func(w http.ResponseWriter, r *http.Request) {
		tid, ok := id(w, r)
		if !ok {
			return
		}
		if _, err := n.Transfer(tid); err != nil {
			api.WriteError(w, err)
			return
		}
		p, err := n.StartFetch(tid)
		if err != nil {
			api.WriteError(w, err)
			return
		}
		api.WriteJSON(w, http.StatusAccepted, p)
	})
	n.api.Handle("GET /v1/transfers/{id}/fetch", func(w http.ResponseWriter, r *http.Request) {
		tid, ok := id(w, r)
		if !ok {
			return
		}
		p, ok := n.FetchStatus(tid)
		if !ok {
			api.WriteError(w, api.Errorf(http.StatusNotFound, api.CodeNotFound, "no fetch of transfer %s has been started on this node; start one with POST /v1/transfers/%s/fetch", tid, tid))
			return
		}
		api.WriteJSON(w, http.StatusOK, p)
	})
	n.api.Handle("DELETE /v1/transfers/{id}/fetch", func(w http.ResponseWriter, r *http.Request) {
		tid, ok := id(w, r)
		if !ok {
			return
		}
		if !n.CancelFetch(tid) {
			api.WriteError(w, api.Errorf(http.StatusNotFound, api.CodeNotFound, "no fetch of transfer %s is running", tid))
			return
		}
		p, _ := n.FetchStatus(tid)
		api.WriteJSON(w, http.StatusOK, p)
	})
	n.api.Handle("POST /v1/transfers/{id}/grants/{court}/revoke", func(w http.ResponseWriter, r *http.Request) {
		tid, ok := id(w, r)
		if !ok {
			return
		}
		c, err := court.ParseCourtCode(r.PathValue("court"))
		if err != nil {
			api.WriteError(w, api.Errorf(http.StatusBadRequest, api.CodeInvalid, "%v", err))
			return
		}
		var req api.ReasonRequest
		if !api.DecodeBody(w, r, &req) {
			return
		}
		t, err := n.RevokeGrant(r.Context(), tid, c, req.Reason)
		if err != nil {
			api.WriteError(w, err)
			return
		}
		api.WriteJSON(w, http.StatusOK, n.TransferView(t))
	})
}

// transferListQuery checks the query of GET /v1/transfers: a misspelt
// filter is an error, not a silently unfiltered list.
func transferListQuery(q url.Values) (state string, overdue bool, err error) {
	for k, v := range q {
		if len(v) != 1 {
			return "", false, fmt.Errorf("query parameter %q given %d times; give it once", k, len(v))
		}
		switch k {
		case "state":
			switch s := cmproto.State(v[0]); s {
			case cmproto.StateOffered, cmproto.StateDecided, cmproto.StateAccepted, cmproto.StateHandedOver,
				cmproto.StateReceived, cmproto.StateClosed, cmproto.StateRejected, cmproto.StateWithdrawn:
				state = v[0]
			default:
				return "", false, fmt.Errorf("state %q: want offered, decided, accepted, handed_over, received, closed, rejected or withdrawn", v[0])
			}
		case "overdue":
			switch v[0] {
			case "1":
				overdue = true
			case "0":
			default:
				return "", false, fmt.Errorf("overdue %q: want 1 (only overdue transfers) or 0", v[0])
			}
		default:
			return "", false, fmt.Errorf("unknown query parameter %q: GET /v1/transfers takes state and overdue", k)
		}
	}
	return state, overdue, nil
}
