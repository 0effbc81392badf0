package api

import (
	"context"
	"net/http"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/protocol"
)

// The money, sanctions and assisting-body endpoints of a transferred case
// (node/funds implements them). Each change is a signed record in this
// court's log: amounts, dates and kinds travel in the clear; accounts,
// payers, payees, respondents and bank references only sealed with the
// dossier's data key, for the courts of the transfer.
//
//	POST /v1/transfers/{id}/funds                   FundsEntryRequest -> FundsLedger
//	GET  /v1/transfers/{id}/funds                   -> FundsLedger
//	GET  /v1/transfers/{id}/funds/reconcile?as_of=D -> FundsReconciliation
//	GET  /v1/transfers/{id}/sanctions               -> SanctionList
//	POST /v1/transfers/{id}/sanctions               SanctionRequest -> SanctionList
//	GET  /v1/transfers/{id}/notices                 -> NoticeWorklist (drafts the missing notices first)
//	POST /v1/transfers/{id}/notices/{measure}       NoticeRequest -> NoticeWorklist
//	GET  /v1/transfers/{id}/notices/{measure}/document -> text/html, print-ready A4
//	GET  /v1/transfers/{id}/dossier-items           -> DossierItems
//	POST /v1/transfers/{id}/dossier-items           (origin: names them from its case documents) -> DossierItems
//	GET  /v1/alerts/funds?as_of=D                   -> []Alert

// FundsEntryRequest is the body of POST /v1/transfers/{id}/funds.
type FundsEntryRequest struct {
	// Kind is received, paid_out or forwarded. Required.
	Kind string `json:"kind"`
	// AmountFen is the amount in fen (分), more than 0. Required.
	AmountFen int64 `json:"amount_fen"`
	// On (YYYY-MM-DD) is when the money moved; empty means today.
	On string `json:"on,omitempty"`
	// Source (received) is deduction (扣划), auction, voluntary, forward
	// or other.
	Source string `json:"source,omitempty"`
	// ForwardNumber (received from a forward) is the other court's
	// forwarded entry.
	ForwardNumber uint64 `json:"forward_number,omitempty"`
	// Reference is the bank's reference of the payment: sealed, and
	// digested so that the same payment cannot be counted twice.
	Reference string `json:"reference,omitempty"`
	// Account is the account the money came from or went to: sealed.
	Account string `json:"account,omitempty"`
	// Measure is the measure the money came from (a deduction's freeze).
	Measure string `json:"measure,omitempty"`
}

// FundsEntry is one entry of a ledger, without its sealed detail.
type FundsEntry struct {
	Court         string `json:"court"`
	Number        uint64 `json:"number"`
	Kind          string `json:"kind"`
	AmountFen     int64  `json:"amount_fen"`
	On            string `json:"on"`
	Source        string `json:"source,omitempty"`
	ForwardNumber uint64 `json:"forward_number,omitempty"`
	Answered      bool   `json:"answered,omitempty"`
}

// FundsLedger is a transfer's funds ledger as the records show it.
type FundsLedger struct {
	Transfer        string       `json:"transfer"`
	Origin          string       `json:"origin"`
	Receiver        string       `json:"receiver"`
	ClaimFen        int64        `json:"claim_fen"` // the amount outstanding at the offer: the receiver's claim
	RecoveredFen    int64        `json:"recovered_fen"`
	PaidOutFen      int64        `json:"paid_out_fen"`
	OriginHeldFen   int64        `json:"origin_held_fen"`
	ReceiverHeldFen int64        `json:"receiver_held_fen"`
	InTransitFen    int64        `json:"in_transit_fen"`
	OriginHeldSince string       `json:"origin_held_since,omitempty"`
	Entries         []FundsEntry `json:"entries"`
}

// FundsReconciliation is the check of a ledger: Balanced when no problem
// stands.
type FundsReconciliation struct {
	FundsLedger
	AsOf string `json:"as_of"`
	// ForwardBy is the last day for the origin to forward or pay out the
	// money it holds ("" if it holds none).
	ForwardBy string   `json:"forward_by,omitempty"`
	Balanced  bool     `json:"balanced"`
	Problems  []string `json:"problems"` // Chinese and English, no personal data
}

// SanctionRequest is the body of POST /v1/transfers/{id}/sanctions.
type SanctionRequest struct {
	// Action is in_force (the origin declares a sanction of its case at
	// handover), reissued (the receiver, under its new case number) or
	// lifted (the origin, once re-issued). Required.
	Action string `json:"action"`
	// ID names the sanction in both courts; empty on in_force gives the
	// next s1, s2, ...
	ID string `json:"id,omitempty"`
	// Kind (in_force, reissued) is dishonest_listing (失信被执行人名单),
	// consumption_restriction (限制消费令), exit_restriction (限制出境) or
	// other; a re-issue may leave it empty.
	Kind string `json:"kind,omitempty"`
	// Until (YYYY-MM-DD) is the end of the term, if any.
	Until string `json:"until,omitempty"`
	// On (YYYY-MM-DD) is the date of the act; empty means today.
	On string `json:"on,omitempty"`
	// Respondent and Decision (the decision document's number) are
	// sealed.
	Respondent string `json:"respondent,omitempty"`
	Decision   string `json:"decision,omitempty"`
}

// Sanction is one credit sanction of a transfer, and who must act.
type Sanction struct {
	ID         string `json:"id"`
	Kind       string `json:"kind"`
	KindLabel  string `json:"kind_label"`
	Until      string `json:"until,omitempty"`
	DeclaredOn string `json:"declared_on"`
	ReissueBy  string `json:"reissue_by"`
	ReissuedOn string `json:"reissued_on,omitempty"`
	NewCase    string `json:"new_case,omitempty"`
	LiftedOn   string `json:"lifted_on,omitempty"`
	// Waiting is the court that must act next ("" when both have), and
	// Todo what it must do: reissue or lift.
	Waiting string `json:"waiting,omitempty"`
	Todo    string `json:"todo,omitempty"`
}

// SanctionList answers the sanction routes.
type SanctionList struct {
	Transfer  string     `json:"transfer"`
	Role      string     `json:"role"` // origin | receiver | other
	Sanctions []Sanction `json:"sanctions"`
	// ToReissue and ToLift count the sanctions waiting on the receiver
	// and on the origin.
	ToReissue int `json:"to_reissue"`
	ToLift    int `json:"to_lift"`
}

// NoticeRequest is the body of POST /v1/transfers/{id}/notices/{measure}.
type NoticeRequest struct {
	// Status is sent or acknowledged. Required.
	Status string `json:"status"`
	// On (YYYY-MM-DD) is the date; empty means today.
	On string `json:"on,omitempty"`
}

// Notice is one notice to an assisting body in the receiver's worklist.
type Notice struct {
	Measure       string `json:"measure"`
	MeasureKind   string `json:"measure_kind,omitempty"`
	AssetClass    string `json:"asset_class,omitempty"`
	BodyKind      string `json:"body_kind"`
	BodyLabel     string `json:"body_label"`
	Status        string `json:"status"` // drafted | sent | acknowledged
	DraftedOn     string `json:"drafted_on,omitempty"`
	SentOn        string `json:"sent_on,omitempty"`
	AckOn         string `json:"acknowledged_on,omitempty"`
	MeasureExpiry string `json:"measure_expiry,omitempty"`
}

// NoticeWorklist is the receiver's notices to the assisting bodies of the
// moved measures.
type NoticeWorklist struct {
	Transfer string   `json:"transfer"`
	Case     string   `json:"case"`
	Notices  []Notice `json:"notices"`
	// Unacknowledged counts the notices not acknowledged yet.
	Unacknowledged int `json:"unacknowledged"`
	// MissingItems lists the standard dossier items the handover did not
	// name (absent if the origin named none).
	MissingItems []string `json:"missing_dossier_items,omitempty"`
}

// DossierItem is one standard dossier item (执行案卷).
type DossierItem struct {
	Item     string `json:"item"`
	Label    string `json:"label"`
	Required bool   `json:"required"`
}

// DossierItems is what a handover named of the standard dossier items:
// Named is false until the origin named them (then both lists are empty).
type DossierItems struct {
	Transfer string        `json:"transfer"`
	Named    bool          `json:"named"`
	Carried  []DossierItem `json:"carried"`
	Missing  []DossierItem `json:"missing"`
}

// FundsService is what the funds routes consume (node/funds implements
// it). Errors are of court's kinds.
type FundsService interface {
	RecordFunds(ctx context.Context, id court.TransferID, req FundsEntryRequest) (FundsLedger, error)
	Ledger(id court.TransferID) (FundsLedger, error)
	Reconcile(id court.TransferID, asOf court.Date) (FundsReconciliation, error)
	Sanctions(id court.TransferID) (SanctionList, error)
	ActOnSanction(ctx context.Context, id court.TransferID, req SanctionRequest) (SanctionList, error)
	Worklist(ctx context.Context, id court.TransferID) (NoticeWorklist, error)
	MarkNotice(ctx context.Context, id court.TransferID, measure string, req NoticeRequest) (NoticeWorklist, error)
	NoticeDocument(ctx context.Context, id court.TransferID, measure string) ([]byte, error)
	FundsAlerts(ctx context.Context, asOf court.Date) ([]Alert, error)
	DossierItems(id court.TransferID) (DossierItems, error)
	NameDossierItems(ctx context.Context, id court.TransferID) (DossierItems, error)
}

// RegisterFunds adds the funds, sanction and notice routes.
func RegisterFunds(s *Server, f FundsService, now func() time.Time) {
	today := func() court.Date { return court.DateOf(now()) }
	s.Handle("POST /v1/transfers/{id}/funds", func(w http.ResponseWriter, r *http.Request) {
		tid, ok := TransferIDParam(w, r)
		if !ok {
			return
		}
		var req FundsEntryRequest
		if !DecodeBody(w, r, &req) {
			return
		}
		res, err := f.RecordFunds(r.Context(), tid, req)
		answer(w, res, err)
	})
	s.Handle("GET /v1/transfers/{id}/funds", func(w http.ResponseWriter, r *http.Request) {
		tid, ok := TransferIDParam(w, r)
		if !ok || !CheckQuery(w, r) {
			return
		}
		res, err := f.Ledger(tid)
		answer(w, res, err)
	})
	s.Handle("GET /v1/transfers/{id}/funds/reconcile", func(w http.ResponseWriter, r *http.Request) {
		tid, ok := TransferIDParam(w, r)
		if !ok || !CheckQuery(w, r, "as_of") {
			return
		}
		asOf, ok := DateParam(w, r, "as_of", today())
		if !ok {
			return
		}
		res, err := f.Reconcile(tid, asOf)
		answer(w, res, err)
	})
	s.Handle("GET /v1/transfers/{id}/sanctions", func(w http.ResponseWriter, r *http.Request) {
		tid, ok := TransferIDParam(w, r)
		if !ok || !CheckQuery(w, r) {
			return
		}
		res, err := f.Sanctions(tid)
		answer(w, res, err)
	})
	s.Handle("POST /v1/transfers/{id}/sanctions", func(w http.ResponseWriter, r *http.Request) {
		tid, ok := TransferIDParam(w, r)
		if !ok {
			return
		}
		var req SanctionRequest
		if !DecodeBody(w, r, &req) {
			return
		}
		res, err := f.ActOnSanction(r.Context(), tid, req)
		answer(w, res, err)
	})
	s.Handle("GET /v1/transfers/{id}/notices", func(w http.ResponseWriter, r *http.Request) {
		tid, ok := TransferIDParam(w, r)
		if !ok || !CheckQuery(w, r) {
			return
		}
		res, err := f.Worklist(r.Context(), tid)
		answer(w, res, err)
	})
	s.Handle("POST /v1/transfers/{id}/notices/{measure}", func(w http.ResponseWriter, r *http.Request) {
		tid, ok := TransferIDParam(w, r)
		if !ok {
			return
		}
		var req NoticeRequest
		if !DecodeBody(w, r, &req) {
			return
		}
		res, err := f.MarkNotice(r.Context(), tid, r.PathValue("measure"), req)
		answer(w, res, err)
	})
	s.Handle("GET /v1/transfers/{id}/notices/{measure}/document", func(w http.ResponseWriter, r *http.Request) {
		tid, ok := TransferIDParam(w, r)
		if !ok || !CheckQuery(w, r) {
			return
		}
		doc, err := f.NoticeDocument(r.Context(), tid, r.PathValue("measure"))
		if err != nil {
			WriteError(w, err)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(doc)
	})
	s.Handle("GET /v1/transfers/{id}/dossier-items", func(w http.ResponseWriter, r *http.Request) {
		tid, ok := TransferIDParam(w, r)
		if !ok || !CheckQuery(w, r) {
			return
		}
		res, err := f.DossierItems(tid)
		answer(w, res, err)
	})
	s.Handle("POST /v1/transfers/{id}/dossier-items", func(w http.ResponseWriter, r *http.Request) {
		tid, ok := TransferIDParam(w, r)
		if !ok || !CheckQuery(w, r) {
			return
		}
		res, err := f.NameDossierItems(r.Context(), tid)
		answer(w, res, err)
	})
	s.Handle("GET /v1/alerts/funds", func(w http.ResponseWriter, r *http.Request) {
		if !CheckQuery(w, r, "as_of") {
			return
		}
		asOf, ok := DateParam(w, r, "as_of", today())
		if !ok {
			return
		}
		res, err := f.FundsAlerts(r.Context(), asOf)
		answer(w, res, err)
	})
}

func answer(w http.ResponseWriter, v any, err error) {
	if err != nil {
		WriteError(w, err)
		return
	}
	WriteJSON(w, http.StatusOK, v)
}

// LedgerOf converts a transfer's ledger for the API.
func LedgerOf(t *protocol.Transfer) FundsLedger {
	l := FundsLedger{Transfer: string(t.ID), Origin: string(t.Origin), Receiver: string(t.Receiver), ClaimFen: t.AmountOutstanding, Entries: []FundsEntry{}}
	if t.Ledger == nil {
		return l
	}
	g := t.Ledger
	l.RecoveredFen, l.PaidOutFen, l.OriginHeldFen, l.ReceiverHeldFen, l.InTransitFen, l.OriginHeldSince =
		g.RecoveredFen, g.PaidOutFen, g.OriginHeldFen, g.ReceiverHeldFen, g.InTransitFen, g.OriginHeldSince
	for _, e := range g.Entries {
		l.Entries = append(l.Entries, FundsEntry{Court: string(e.Court), Number: e.Number, Kind: e.Kind, AmountFen: e.AmountFen,
			On: e.On, Source: e.Source, ForwardNumber: e.ForwardNumber, Answered: e.Answered})
	}
	return l
}
