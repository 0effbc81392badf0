package api

import (
	"encoding/hex"
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
	// ResumeAs, for a case concluded as 终本 (terminated), is the 执恢
	// number it is resumed under (恢复执行) before it is offered: the
	// offer names the resumed case.
	ResumeAs string `json:"resume_as,omitempty"`
}

// StartRequest opens a transfer as the superior court of the origin,
// without the origin's offer: on its own motion (source own_motion,
// supervision or petition), or recording the applicant's request
// (applicant_request, 申请变更执行法院, 民诉法 art. 237: filed_on and
// requested_on required; the answer is due request_answer_days after
// requested_on unless answer_by says). Grounds as for an offer, and
// passive (消极执行).
type StartRequest struct {
	CaseNumber  string   `json:"case_number"`
	Origin      string   `json:"origin"`
	Grounds     []string `json:"grounds"`
	Source      string   `json:"source,omitempty"` // own_motion (default), supervision, petition, applicant_request
	FiledOn     string   `json:"filed_on,omitempty"`
	RequestedOn string   `json:"requested_on,omitempty"`
	AnswerBy    string   `json:"answer_by,omitempty"`
}

// DecideRequest is a superior court's decision.
type DecideRequest struct {
	Mode           string `json:"mode"` // designated (指令执行) | elevated (提级执行)
	Receiver       string `json:"receiver"`
	DecisionNumber string `json:"decision_number"`
	AcceptBy       string `json:"accept_by,omitempty"` // YYYY-MM-DD; default: the decider's acceptance_days (7) after the decision
	// RecommendationHash is the inputs hash of the recommendation the
	// decider saw (GET /v1/transfers/{id}/recommendation); if the inputs
	// changed since, the decision is refused as stale. The decision notes
	// the chosen court's rank in the recommendation either way.
	RecommendationHash string `json:"recommendation_hash,omitempty"`
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
	// AmountRecoveredFen is what the origin recovered up to the handover,
	// stated in the signed handover; the receiver's claim is the case's
	// claim less this. Default: what the offer announced. It may not be
	// less than that.
	AmountRecoveredFen *int64 `json:"amount_recovered_fen,omitempty"`
}

// ReturnRequest returns an incomplete handover to the origin: the kinds
// of dossier item missing (title, application, notice,
// report_order, search_result, ruling, assist_notice, valuation,
// settlement, consumption_restriction, dishonest_listing, terminal,
// other) and an optional note (no personal data: it is broadcast).
type ReturnRequest struct {
	Missing []string `json:"missing"`
	Note    string   `json:"note,omitempty"`
}

// ProgressRequest is the receiver's progress report. Publish shows the
// status to the case's parties on their status page; without it the
// status is for the courts only.
type ProgressRequest struct {
	AmountRecoveredFen int64  `json:"amount_recovered_fen"`
	Status             string `json:"status,omitempty"`
	Publish            bool   `json:"publish,omitempty"`
}

// CloseRequest concludes a received case.
type CloseRequest struct {
	Outcome            string `json:"outcome"` // concluded | terminated | settled
	AmountRecoveredFen int64  `json:"amount_recovered_fen"`
}

// ConcludeRequest concludes a received case with its closure kind
// (结案方式): 执行完毕 (fulfilled), 终本 (terminal), 终结 (ended), 不予执行
// (not_enforced) or 驳回 (dismissed). A 终本 lists the investigation
// steps done (online_search, report_order, on_site,
// consumption_restriction required) and who approved it
// (applicant_signed or panel_and_president), and is possible from 3
// months after filing.
type ConcludeRequest struct {
	Kind               string   `json:"kind"`
	AmountRecoveredFen int64    `json:"amount_recovered_fen"`
	InvestigationSteps []string `json:"investigation_steps,omitempty"`
	Approval           string   `json:"approval,omitempty"`
}

// Transfer is a transfer as the API shows it: its own type, converted
// from the records' state (protocol.Transfer) at the edge by NewTransfer,
// so that neither the wire nor the store can change the API by accident
// (a frozen sample in testdata pins it). Amounts are in fen.
type Transfer struct {
	ID                  court.TransferID  `json:"id"`
	State               protocol.State    `json:"state"`
	CaseNumber          string            `json:"case_number"`
	Origin              court.CourtCode   `json:"origin"`
	Superior            court.CourtCode   `json:"superior"`
	Grounds             []string          `json:"grounds"`
	StartedBy           string            `json:"started_by,omitempty"`   // own_motion, supervision, petition, applicant_request; empty for an offer
	RequestedOn         string            `json:"requested_on,omitempty"` // the applicant's request reached the superior
	AnswerBy            string            `json:"answer_by,omitempty"`    // the superior answers the applicant's request by
	AmountOutstanding   int64             `json:"amount_outstanding_fen"`
	AmountOrigin        int64             `json:"amount_recovered_by_origin_fen"`
	EarliestExpiry      string            `json:"earliest_measure_expiry,omitempty"`
	RegionAssets        []RegionAssets    `json:"region_assets,omitempty"`
	DebtorRegion        string            `json:"debtor_region,omitempty"`
	Decider             court.CourtCode   `json:"decider,omitempty"`
	Mode                string            `json:"mode,omitempty"`
	Receiver            court.CourtCode   `json:"receiver,omitempty"`
	DecisionNumber      string            `json:"decision_number,omitempty"`
	RecommendedRank     uint32            `json:"recommended_rank,omitempty"`
	RecommendationHash  string            `json:"recommendation_hash,omitempty"` // hex
	AcceptBy            string            `json:"accept_by,omitempty"`
	HandoverBy          string            `json:"handover_by,omitempty"`    // the origin hands over by (from the acceptance)
	FileBy              string            `json:"file_by,omitempty"`        // the receiver confirms receipt and files by
	InvestigateBy       string            `json:"investigate_by,omitempty"` // the receiver reports its property investigation by
	ConcludeBy          string            `json:"conclude_by,omitempty"`    // the receiver concludes by
	ReturnBy            string            `json:"return_by,omitempty"`      // the receiver may return an incomplete handover until
	SupplementBy        string            `json:"supplement_by,omitempty"`  // the origin supplements a returned handover by
	HandoverVersion     int               `json:"handover_version,omitempty"`
	Missing             []string          `json:"missing,omitempty"` // what the last return named
	ReturnNote          string            `json:"return_note,omitempty"`
	NewCaseNumber       string            `json:"new_case_number,omitempty"`
	MerkleRoot          []byte            `json:"merkle_root,omitempty"`
	SealedCaseHash      []byte            `json:"sealed_case_hash,omitempty"`
	ClaimFen            int64             `json:"claim_fen,omitempty"`              // the origin's claim, stated in the handover
	HandoverRecovered   int64             `json:"handover_recovered_fen,omitempty"` // recovered by the origin up to the handover
	BalanceFen          int64             `json:"balance_fen,omitempty"`            // the receiver's claim: the amount still unrecovered
	ChunkCount          uint32            `json:"chunk_count,omitempty"`
	SealedBytes         uint64            `json:"sealed_bytes,omitempty"`
	OverrideReason      string            `json:"override_reason,omitempty"`
	Overridden          []string          `json:"overridden_measures,omitempty"`
	AmountRecovered     int64             `json:"amount_recovered_fen"`
	ProgressStatus      string            `json:"progress_status,omitempty"`
	ProgressPublished   string            `json:"progress_published,omitempty"`    // the status the receiver published to the parties
	ProgressPublishedOn string            `json:"progress_published_on,omitempty"` // the day it did
	Outcome             string            `json:"outcome,omitempty"`
	ClosureKind         string            `json:"closure_kind,omitempty"`        // 执行完毕, 终本, 终结, 不予执行, 驳回
	InvestigationDone   []string          `json:"investigation_steps,omitempty"` // for 终本
	Approval            string            `json:"approval,omitempty"`            // for 终本
	Readers             []court.CourtCode `json:"readers,omitempty"`
	WrappedKeys         []WrappedKey      `json:"wrapped_keys,omitempty"`
	GrantUntil          int64             `json:"grant_until,omitempty"`
	RevokedGrants       []court.CourtCode `json:"revoked_grants,omitempty"`
	AssetUpdates        int               `json:"asset_updates"`
	LatestExpiryNote    string            `json:"latest_update_earliest_expiry,omitempty"`
	Reason              string            `json:"reason,omitempty"`
	OfferedAt           time.Time         `json:"offered_at"`
	DecidedAt           time.Time         `json:"decided_at,omitzero"`
	AcceptedAt          time.Time         `json:"accepted_at,omitzero"`
	HandedOverAt        time.Time         `json:"handed_over_at,omitzero"`
	ReceivedAt          time.Time         `json:"received_at,omitzero"`
	ClosedAt            time.Time         `json:"closed_at,omitzero"`
	Records             []RecordRef       `json:"records"`
	Directives          []Directive       `json:"directives,omitempty"` // 督办 and their reports
	Reviews             []protocol.Review `json:"reviews,omitempty"`    // 抽查 and 倒查 reviews
	// Overdue: the court that must act let the deadline the transfer
	// waits on (Deadline) pass.
	// Overdue: the receiver let the acceptance deadline pass.
	Overdue bool `json:"overdue"`
	// Deadline is the deadline the transfer waits on now, DeadlineFor
	// which step it is (acceptance, handover, filing, investigation,
	// conclusion) and DeadlineCourt the court that must meet it.
	Deadline      string `json:"deadline,omitempty"`
	DeadlineFor   string `json:"deadline_for,omitempty"`
	DeadlineCourt string `json:"deadline_court,omitempty"`
	// WaitingOn is the court that must act next, WaitingFor what it must do.
	WaitingOn  string `json:"waiting_on,omitempty"`
	WaitingFor string `json:"waiting_for,omitempty"`
}

// RegionAssets is one entry of an offer's region summary: how many
// assets of one class lie in one region (6-digit division code), and the
// band of their total estimated value (1 <100k yuan, 2 100k-1m, 3 1m-10m,
// 4 >=10m; 0 no estimate).
type RegionAssets struct {
	Region string `json:"region"`
	Class  string `json:"asset_class"`
	Count  uint32 `json:"count"`
	Band   int    `json:"value_band"`
}

// RecordRef names one signed record of a transfer.
type RecordRef struct {
	Kind     protocol.Kind   `json:"kind"`
	Issuer   court.CourtCode `json:"issuer"`
	Hash     string          `json:"hash"`
	IssuedAt time.Time       `json:"issued_at"`
}

// WrappedKey is the dossier's data key wrapped (HPKE) for one reader: a
// ciphertext only that reader's key opens.
type WrappedKey struct {
	Court   court.CourtCode `json:"court"`
	Serial  uint64          `json:"certificate_serial"`
	Wrapped []byte          `json:"wrapped"`
}

// NewTransfer is the API's view of a transfer at now: the transfer, and
// whether it is overdue and whom it waits on.
func NewTransfer(t *protocol.Transfer, now time.Time) Transfer {
	on, what := t.WaitingOn()
	v := Transfer{
		ID: t.ID, State: t.State, CaseNumber: t.CaseNumber, Origin: t.Origin, Superior: t.Superior,
		Grounds: t.Grounds, StartedBy: t.StartedBy, RequestedOn: t.RequestedOn, AnswerBy: t.AnswerBy, AmountOutstanding: t.AmountOutstanding, AmountOrigin: t.AmountOrigin,
		EarliestExpiry: t.EarliestExpiry, Decider: t.Decider, Mode: t.Mode, Receiver: t.Receiver,
		DecisionNumber: t.DecisionNumber, AcceptBy: t.AcceptBy, HandoverBy: t.HandoverBy, FileBy: t.FileBy,
		InvestigateBy: t.InvestigateBy, ConcludeBy: t.ConcludeBy, ReturnBy: t.ReturnBy, SupplementBy: t.SupplementBy,
		HandoverVersion: t.HandoverVersion, Missing: t.Missing, ReturnNote: t.ReturnNote, NewCaseNumber: t.NewCaseNumber,
		MerkleRoot: t.MerkleRoot, SealedCaseHash: t.SealedCaseHash,
		ClaimFen: t.ClaimFen, HandoverRecovered: t.HandoverRecovered, BalanceFen: t.BalanceFen, ChunkCount: t.ChunkCount, SealedBytes: t.SealedBytes,
		OverrideReason: t.OverrideReason, Overridden: t.Overridden, AmountRecovered: t.AmountRecovered,
		ProgressStatus: t.ProgressStatus, ProgressPublished: t.ProgressPublished, ProgressPublishedOn: t.ProgressPublishedOn, Outcome: t.Outcome,
		ClosureKind: string(t.ClosureKind), InvestigationDone: t.InvestigationDone, Approval: t.Approval, Readers: t.Readers, GrantUntil: t.GrantUntil,
		RevokedGrants: t.RevokedGrants, AssetUpdates: t.AssetUpdates, LatestExpiryNote: t.LatestExpiryNote,
		Reason: t.Reason, OfferedAt: t.OfferedAt, DecidedAt: t.DecidedAt, AcceptedAt: t.AcceptedAt,
		HandedOverAt: t.HandedOverAt, ReceivedAt: t.ReceivedAt, ClosedAt: t.ClosedAt,
		Records: make([]RecordRef, 0, len(t.Records)),
		Overdue: t.Overdue(now), WaitingOn: string(on), WaitingFor: what,
	}
	for _, h := range t.RegionAssets {
		v.RegionAssets = append(v.RegionAssets, RegionAssets{Region: string(h.Region), Class: string(h.Class), Count: h.Count, Band: int(h.Band)})
	}
	v.DebtorRegion, v.RecommendedRank = string(t.DebtorRegion), t.RecommendedRank
	if len(t.RecommendationHash) > 0 {
		v.RecommendationHash = hex.EncodeToString(t.RecommendationHash)
	}
	if c, what, by, ok := t.Deadline(); ok {
		v.Deadline, v.DeadlineFor, v.DeadlineCourt = by.String(), what, string(c)
	}
	for _, k := range t.WrappedKeys {
		v.WrappedKeys = append(v.WrappedKeys, WrappedKey{Court: k.Court, Serial: k.Serial, Wrapped: k.Wrapped})
	}
	for _, r := range t.Records {
		v.Records = append(v.Records, RecordRef{Kind: r.Kind, Issuer: r.Issuer, Hash: r.Hash, IssuedAt: r.IssuedAt})
	}
	if len(t.Directives) > 0 {
		v.Directives = NewDirectives(t, now)
	}
	v.Reviews = t.Reviews
	return v
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
	// Code is the stable error code of a fetch that did not end done
	// (unavailable, disk_full, revoked, ...), as the API would answer it.
	Code string `json:"code,omitempty"`
	// Resumable says whether running the fetch again can finish it: false
	// once the grant was revoked or ran out.
	Resumable bool `json:"resumable"`
	// Failures says why chunk requests failed, by source and reason: the
	// requests go to another stream or source, and a fetch that ends
	// failed names here what stopped it.
	Failures []FetchFailure `json:"failures,omitempty"`
}

// FetchFailure counts the chunk requests of one fetch that failed at one
// source for one reason.
type FetchFailure struct {
	// Court is the source's court, or this court for a failure of its
	// own store (disk_full, store).
	Court string `json:"court"`
	Peer  string `json:"peer,omitempty"`
	// Reason is one of unreachable (no stream could be opened), timeout
	// (the source sent nothing within the stall time), broken (the stream
	// was reset or cut), refused (the source refused the request),
	// revoked (refused: the grant was revoked), missing (the source does
	// not hold the chunk, or holds a grant but has not fetched its copy),
	// corrupt (the chunk does not match the signed
	// manifest), bad_answer (an answer that does not fit the request),
	// disk_full (this node's disk is at its reserve), store (this node's
	// store failed).
	Reason string `json:"reason"`
	// Chunks is the number of chunk requests that failed so.
	Chunks int `json:"chunks"`
	// Last is the latest such error; it names no person.
	Last string    `json:"last_error"`
	At   time.Time `json:"at"`
}

// TransferQuery selects a page of GET /v1/transfers.
type TransferQuery struct {
	State   string          // only this state ("" all)
	Court   court.CourtCode // only transfers this court takes part in
	Overdue bool            // only overdue ones
	Cursor  string          // from the previous page's X-Next-Cursor
	Limit   int             // per page: 0 means 100, at most 1000
}
