package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/protocol"
)

// errAnswered: the handler already wrote the answer (a bad request body).
var errAnswered = errors.New("answered")

// TransferService is what the transfer routes consume (node/workflow
// implements it). Errors are of court's kinds.
type TransferService interface {
	Offer(ctx context.Context, req OfferRequest) (*protocol.Transfer, error)
	Start(ctx context.Context, req StartRequest) (*protocol.Transfer, error)
	Decide(ctx context.Context, id court.TransferID, req DecideRequest) (*protocol.Transfer, error)
	Accept(ctx context.Context, id court.TransferID, req AcceptRequest) (*protocol.Transfer, error)
	Reject(ctx context.Context, id court.TransferID, reason string) (*protocol.Transfer, error)
	Withdraw(ctx context.Context, id court.TransferID, reason string) (*protocol.Transfer, error)
	Handover(ctx context.Context, id court.TransferID, req HandoverRequest) (*protocol.Transfer, error)
	Progress(ctx context.Context, id court.TransferID, req ProgressRequest) (*protocol.Transfer, error)
	Close(ctx context.Context, id court.TransferID, req CloseRequest) (*protocol.Transfer, error)
	Conclude(ctx context.Context, id court.TransferID, req ConcludeRequest) (*protocol.Transfer, error)
	Return(ctx context.Context, id court.TransferID, req ReturnRequest) (*protocol.Transfer, error)
	Supplement(ctx context.Context, id court.TransferID, req HandoverRequest) (*protocol.Transfer, error)
	RevokeGrant(ctx context.Context, id court.TransferID, c court.CourtCode, reason string) (*protocol.Transfer, error)
	// The modes beyond the move of one case (督促, 协同, 集中).
	Supervise(ctx context.Context, id court.TransferID, req SuperviseRequest) (*protocol.Transfer, error)
	Report(ctx context.Context, id court.TransferID, req SupervisionReportRequest) (*protocol.Transfer, error)
	Assist(ctx context.Context, req AssistRequest) (*protocol.Transfer, error)
	AnswerAssist(ctx context.Context, id court.TransferID, req AssistAnswerRequest) (*protocol.Transfer, error)
	AssistResult(ctx context.Context, id court.TransferID, req AssistResultRequest) (*protocol.Transfer, error)
	AssistDetail(ctx context.Context, id court.TransferID) (AssistDetail, error)
	SameDebtor(ctx context.Context, id court.TransferID) ([]court.TransferID, error)
	Gather(ctx context.Context, req GatherRequest) ([]*protocol.Transfer, error)
	// Transfer returns one transfer.
	Transfer(id court.TransferID) (Transfer, error)
	// List returns a page of transfers and the cursor of the next ("" at
	// the end), from the store's indexes.
	List(ctx context.Context, q TransferQuery) ([]Transfer, string, error)
}

// FetchService is what the fetch routes consume (node/fetch implements
// it).
type FetchService interface {
	// Start starts (or joins) the fetch of a transfer's dossier.
	Start(id court.TransferID) (FetchProgress, error)
	// Status is the latest fetch's progress, false if none.
	Status(id court.TransferID) (FetchProgress, bool)
	// Cancel stops a running fetch, false if none runs.
	Cancel(id court.TransferID) bool
}

// NextCursorHeader carries the cursor of the next page of a listing
// ("" or absent at the end); the body stays a JSON array.
const NextCursorHeader = "X-Next-Cursor"

// RegisterTransfers adds the routes of the transfer steps, the transfer
// listing and the fetch; now is the clock the views are computed at.
//
// It is long on purpose: one table of every transfer route, each a few
// lines that decode its body and call the service.
func RegisterTransfers(s *Server, x TransferService, f FetchService, now func() time.Time) {
	type action func(ctx context.Context, id court.TransferID, r *http.Request, w http.ResponseWriter) (*protocol.Transfer, error)
	respond := func(w http.ResponseWriter, t *protocol.Transfer, err error) {
		if errors.Is(err, errAnswered) {
			return
		}
		if err != nil {
			WriteError(w, err)
			return
		}
		WriteJSON(w, http.StatusOK, NewTransfer(t, now()))
	}
	withID := func(f action) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			id, ok := TransferIDParam(w, r)
			if !ok {
				return
			}
			t, err := f(r.Context(), id, r, w)
			respond(w, t, err)
		}
	}
	body := func(w http.ResponseWriter, r *http.Request, v any) error {
		if !DecodeBody(w, r, v) {
			return errAnswered
		}
		return nil
	}
	s.Handle("POST /v1/transfers", func(w http.ResponseWriter, r *http.Request) {
		var req OfferRequest
		if err := body(w, r, &req); err != nil {
			return
		}
		t, err := x.Offer(r.Context(), req)
		respond(w, t, err)
	})
	s.Handle("POST /v1/transfers/start", func(w http.ResponseWriter, r *http.Request) {
		var req StartRequest
		if err := body(w, r, &req); err != nil {
			return
		}
		t, err := x.Start(r.Context(), req)
		respond(w, t, err)
	})
	s.Handle("POST /v1/transfers/{id}/decide", withID(func(ctx context.Context, id court.TransferID, r *http.Request, w http.ResponseWriter) (*protocol.Transfer, error) {
		var req DecideRequest
		if err := body(w, r, &req); err != nil {
			return nil, err
		}
		return x.Decide(ctx, id, req)
	}))
	s.Handle("POST /v1/transfers/{id}/accept", withID(func(ctx context.Context, id court.TransferID, r *http.Request, w http.ResponseWriter) (*protocol.Transfer, error) {
		var req AcceptRequest
		if err := body(w, r, &req); err != nil {
			return nil, err
		}
		return x.Accept(ctx, id, req)
	}))
	s.Handle("POST /v1/transfers/{id}/reject", withID(func(ctx context.Context, id court.TransferID, r *http.Request, w http.ResponseWriter) (*protocol.Transfer, error) {
		var req ReasonRequest
		if err := body(w, r, &req); err != nil {
			return nil, err
		}
		return x.Reject(ctx, id, req.Reason)
	}))
	s.Handle("POST /v1/transfers/{id}/withdraw", withID(func(ctx context.Context, id court.TransferID, r *http.Request, w http.ResponseWriter) (*protocol.Transfer, error) {
		var req ReasonRequest
		if err := body(w, r, &req); err != nil {
			return nil, err
		}
		return x.Withdraw(ctx, id, req.Reason)
	}))
	s.Handle("POST /v1/transfers/{id}/handover", withID(func(ctx context.Context, id court.TransferID, r *http.Request, w http.ResponseWriter) (*protocol.Transfer, error) {
		var req HandoverRequest
		if err := body(w, r, &req); err != nil {
			return nil, err
		}
		return x.Handover(ctx, id, req)
	}))
	s.Handle("POST /v1/transfers/{id}/progress", withID(func(ctx context.Context, id court.TransferID, r *http.Request, w http.ResponseWriter) (*protocol.Transfer, error) {
		var req ProgressRequest
		if err := body(w, r, &req); err != nil {
			return nil, err
		}
		return x.Progress(ctx, id, req)
	}))
	s.Handle("POST /v1/transfers/{id}/close", withID(func(ctx context.Context, id court.TransferID, r *http.Request, w http.ResponseWriter) (*protocol.Transfer, error) {
		var req CloseRequest
		if err := body(w, r, &req); err != nil {
			return nil, err
		}
		return x.Close(ctx, id, req)
	}))
	s.Handle("POST /v1/transfers/{id}/return", withID(func(ctx context.Context, id court.TransferID, r *http.Request, w http.ResponseWriter) (*protocol.Transfer, error) {
		var req ReturnRequest
		if err := body(w, r, &req); err != nil {
			return nil, err
		}
		return x.Return(ctx, id, req)
	}))
	s.Handle("POST /v1/transfers/{id}/supplement", withID(func(ctx context.Context, id court.TransferID, r *http.Request, w http.ResponseWriter) (*protocol.Transfer, error) {
		var req HandoverRequest
		if err := body(w, r, &req); err != nil {
			return nil, err
		}
		return x.Supplement(ctx, id, req)
	}))
	s.Handle("POST /v1/transfers/{id}/conclude", withID(func(ctx context.Context, id court.TransferID, r *http.Request, w http.ResponseWriter) (*protocol.Transfer, error) {
		var req ConcludeRequest
		if err := body(w, r, &req); err != nil {
			return nil, err
		}
		return x.Conclude(ctx, id, req)
	}))
	s.Handle("POST /v1/transfers/{id}/supervise", withID(func(ctx context.Context, id court.TransferID, r *http.Request, w http.ResponseWriter) (*protocol.Transfer, error) {
		var req SuperviseRequest
		if err := body(w, r, &req); err != nil {
			return nil, err
		}
		return x.Supervise(ctx, id, req)
	}))
	s.Handle("POST /v1/transfers/{id}/report", withID(func(ctx context.Context, id court.TransferID, r *http.Request, w http.ResponseWriter) (*protocol.Transfer, error) {
		var req SupervisionReportRequest
		if err := body(w, r, &req); err != nil {
			return nil, err
		}
		return x.Report(ctx, id, req)
	}))
	s.Handle("POST /v1/transfers/assist", func(w http.ResponseWriter, r *http.Request) {
		var req AssistRequest
		if err := body(w, r, &req); err != nil {
			return
		}
		t, err := x.Assist(r.Context(), req)
		respond(w, t, err)
	})
	s.Handle("POST /v1/transfers/{id}/assist/answer", withID(func(ctx context.Context, id court.TransferID, r *http.Request, w http.ResponseWriter) (*protocol.Transfer, error) {
		var req AssistAnswerRequest
		if err := body(w, r, &req); err != nil {
			return nil, err
		}
		return x.AnswerAssist(ctx, id, req)
	}))
	s.Handle("POST /v1/transfers/{id}/assist/result", withID(func(ctx context.Context, id court.TransferID, r *http.Request, w http.ResponseWriter) (*protocol.Transfer, error) {
		var req AssistResultRequest
		if err := body(w, r, &req); err != nil {
			return nil, err
		}
		return x.AssistResult(ctx, id, req)
	}))
	s.Handle("GET /v1/transfers/{id}/assistance", func(w http.ResponseWriter, r *http.Request) {
		id, ok := TransferIDParam(w, r)
		if !ok {
			return
		}
		d, err := x.AssistDetail(r.Context(), id)
		if err != nil {
			WriteError(w, err)
			return
		}
		WriteJSON(w, http.StatusOK, d)
	})
	s.Handle("GET /v1/transfers/{id}/same-debtor", func(w http.ResponseWriter, r *http.Request) {
		id, ok := TransferIDParam(w, r)
		if !ok {
			return
		}
		ids, err := x.SameDebtor(r.Context(), id)
		if err != nil {
			WriteError(w, err)
			return
		}
		WriteJSON(w, http.StatusOK, ids)
	})
	s.Handle("POST /v1/transfers/gather", func(w http.ResponseWriter, r *http.Request) {
		var req GatherRequest
		if err := body(w, r, &req); err != nil {
			return
		}
		ts, err := x.Gather(r.Context(), req)
		if err != nil {
			WriteError(w, err)
			return
		}
		out := make([]Transfer, 0, len(ts))
		for _, t := range ts {
			out = append(out, NewTransfer(t, now()))
		}
		WriteJSON(w, http.StatusOK, out)
	})
	s.Handle("GET /v1/transfers", func(w http.ResponseWriter, r *http.Request) {
		q, err := transferListQuery(r.URL.Query())
		if err != nil {
			WriteError(w, Errorf(http.StatusBadRequest, CodeInvalid, "%v", err))
			return
		}
		ts, next, err := x.List(r.Context(), q)
		if err != nil {
			WriteError(w, err)
			return
		}
		sort.SliceStable(ts, func(i, j int) bool { return ts[i].Overdue && !ts[j].Overdue })
		if next != "" {
			w.Header().Set(NextCursorHeader, next)
		}
		WriteJSON(w, http.StatusOK, ts)
	})
	s.Handle("GET /v1/transfers/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, ok := TransferIDParam(w, r)
		if !ok {
			return
		}
		t, err := x.Transfer(id)
		if err != nil {
			WriteError(w, err)
			return
		}
		WriteJSON(w, http.StatusOK, t)
	})
	registerFetch(s, x, f, now)
}

// registerFetch adds the routes of the fetch and of grant revocation.
func registerFetch(s *Server, x TransferService, f FetchService, now func() time.Time) {
	s.Handle("POST /v1/transfers/{id}/fetch", func(w http.ResponseWriter, r *http.Request) {
		tid, ok := TransferIDParam(w, r)
		if !ok {
			return
		}
		if _, err := x.Transfer(tid); err != nil {
			WriteError(w, err)
			return
		}
		p, err := f.Start(tid)
		if err != nil {
			WriteError(w, err)
			return
		}
		WriteJSON(w, http.StatusAccepted, p)
	})
	s.Handle("GET /v1/transfers/{id}/fetch", func(w http.ResponseWriter, r *http.Request) {
		tid, ok := TransferIDParam(w, r)
		if !ok {
			return
		}
		p, ok := f.Status(tid)
		if !ok {
			WriteError(w, Errorf(http.StatusNotFound, CodeNotFound, "no fetch of transfer %s has been started on this node; start one with POST /v1/transfers/%s/fetch", tid, tid))
			return
		}
		WriteJSON(w, http.StatusOK, p)
	})
	s.Handle("DELETE /v1/transfers/{id}/fetch", func(w http.ResponseWriter, r *http.Request) {
		tid, ok := TransferIDParam(w, r)
		if !ok {
			return
		}
		if !f.Cancel(tid) {
			WriteError(w, Errorf(http.StatusNotFound, CodeNotFound, "no fetch of transfer %s is running", tid))
			return
		}
		p, _ := f.Status(tid)
		WriteJSON(w, http.StatusOK, p)
	})
	s.Handle("POST /v1/transfers/{id}/grants/{court}/revoke", func(w http.ResponseWriter, r *http.Request) {
		tid, ok := TransferIDParam(w, r)
		if !ok {
			return
		}
		c, err := court.ParseCourtCode(r.PathValue("court"))
		if err != nil {
			WriteError(w, Errorf(http.StatusBadRequest, CodeInvalid, "%v", err))
			return
		}
		var req ReasonRequest
		if !DecodeBody(w, r, &req) {
			return
		}
		t, err := x.RevokeGrant(r.Context(), tid, c, req.Reason)
		if err != nil {
			WriteError(w, err)
			return
		}
		WriteJSON(w, http.StatusOK, NewTransfer(t, now()))
	})
}

// transferListQuery checks the query of GET /v1/transfers: a misspelt
// filter is an error, not a silently unfiltered list.
func transferListQuery(q url.Values) (out TransferQuery, err error) {
	for k, v := range q {
		if len(v) != 1 {
			return out, fmt.Errorf("query parameter %q given %d times; give it once", k, len(v))
		}
		switch k {
		case "state":
			switch s := protocol.State(v[0]); s {
			case protocol.StateOffered, protocol.StateDecided, protocol.StateAccepted, protocol.StateHandedOver, protocol.StateReturned,
				protocol.StateReceived, protocol.StateClosed, protocol.StateRejected, protocol.StateWithdrawn:
				out.State = v[0]
			default:
				return out, fmt.Errorf("state %q: want offered, decided, accepted, handed_over, returned, received, closed, rejected or withdrawn", v[0])
			}
		case "overdue":
			switch v[0] {
			case "1":
				out.Overdue = true
			case "0":
			default:
				return out, fmt.Errorf("overdue %q: want 1 (only overdue transfers) or 0", v[0])
			}
		case "court":
			c, err := court.ParseCourtCode(v[0])
			if err != nil {
				return out, fmt.Errorf("court %q: %v", v[0], err)
			}
			out.Court = c
		case "cursor":
			out.Cursor = v[0]
		case "limit":
			n, err := strconv.Atoi(v[0])
			if err != nil || n < 1 || n > 1000 {
				return out, fmt.Errorf("limit %q: want 1 to 1000 transfers a page", v[0])
			}
			out.Limit = n
		default:
			return out, fmt.Errorf("unknown query parameter %q: GET /v1/transfers takes state, overdue, court, cursor and limit", k)
		}
	}
	return out, nil
}
