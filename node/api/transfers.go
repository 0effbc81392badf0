package api

import (
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/protocol"
)

// OfferRequest asks the node to offer one of its cases for transfer. The
// amounts, asset counts, earliest measure expiry and filing date come from
// the case in the store unless given.
type OfferRequest struct {
	CaseNumber         string   `json:"case_number"`
	Superior           string   `json:"superior"`
	Grounds            []string `json:"grounds"` // long_unexecuted, interference, serial_cases, capacity
	AmountRecoveredFen *int64   `json:"amount_recovered_fen,omitempty"`
}

// DecideRequest is a superior court's decision.
type DecideRequest struct {
	Mode           string `json:"mode"` // designated (指令执行) | elevated (提级执行)
	Receiver       string `json:"receiver"`
	DecisionNumber string `json:"decision_number"`
	AcceptBy       string `json:"accept_by,omitempty"` // YYYY-MM-DD; default: 7 days after the decision
}

// AcceptRequest is the receiver's acceptance.
type AcceptRequest struct {
	NewCaseNumber string `json:"new_case_number"`
}

// ReasonRequest carries a rejection's or a withdrawal's reason.
type ReasonRequest struct {
	Reason string `json:"reason"`
}

// HandoverRequest hands the dossier over. OverrideReason is required when
// an active measure expires within 30 days; it is recorded and audited.
type HandoverRequest struct {
	OverrideReason string `json:"override_reason,omitempty"`
}

// ProgressRequest is the receiver's progress report.
type ProgressRequest struct {
	AmountRecoveredFen int64  `json:"amount_recovered_fen"`
	Status             string `json:"status,omitempty"`
}

// CloseRequest concludes a received case.
type CloseRequest struct {
	Outcome            string `json:"outcome"` // concluded | terminated | settled
	AmountRecoveredFen int64  `json:"amount_recovered_fen"`
}

// Transfer is a transfer as the API shows it: its state, what it waits
// for and from whom, and whether a deadline passed.
type Transfer struct {
	*protocol.Transfer
	Overdue    bool   `json:"overdue"`
	WaitingOn  string `json:"waiting_on,omitempty"`
	WaitingFor string `json:"waiting_for,omitempty"`
}

// NewTransfer is the API's view of a transfer at now: the transfer, and
// whether it is overdue and whom it waits on.
func NewTransfer(t *protocol.Transfer, now time.Time) Transfer {
	on, what := t.WaitingOn()
	return Transfer{Transfer: t, Overdue: t.Overdue(now), WaitingOn: string(on), WaitingFor: what}
}

// FetchProgress reports a fetch.
type FetchProgress struct {
	Transfer  court.TransferID `json:"transfer"`
	State     string           `json:"state"` // running, verifying, done, failed, cancelled
	Chunks    int              `json:"chunks"`
	Verified  int              `json:"verified"`
	Resumed   int              `json:"resumed"` // verified before this run (not fetched again)
	Fetched   int              `json:"fetched"` // fetched in this run
	Bytes     int64            `json:"bytes"`   // fetched in this run
	Rejected  int              `json:"rejected_chunks"`
	Sources   map[string]int   `json:"sources"` // court -> chunks from it
	Started   time.Time        `json:"started"`
	Finished  time.Time        `json:"finished,omitzero"`
	Error     string           `json:"error,omitempty"`
	NewCase   string           `json:"new_case,omitempty"`
	BytesPerS float64          `json:"bytes_per_second"`
}

// TransferQuery selects a page of GET /v1/transfers.
type TransferQuery struct {
	State   string          // only this state ("" all)
	Court   court.CourtCode // only transfers this court takes part in
	Overdue bool            // only overdue ones
	Cursor  string          // from the previous page's X-Next-Cursor
	Limit   int             // per page: 0 means 100, at most 1000
}
