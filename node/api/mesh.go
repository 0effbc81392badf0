package api

import "time"

// CourtHealth is what the operator knows of one court's node from its
// signed heartbeats. Filled by the heartbeat service; read by the
// dashboard and GET /v1/mesh.
type CourtHealth struct {
	Court          string         `json:"court"`
	Name           string         `json:"name"`
	Province       string         `json:"province"` // the high court's code, e.g. 京
	PeerID         string         `json:"peer_id"`
	Online         bool           `json:"online"` // a heartbeat within 3 intervals
	LastHeartbeat  time.Time      `json:"last_heartbeat,omitzero"`
	Version        string         `json:"version,omitempty"`
	UptimeSeconds  int64          `json:"uptime_seconds,omitempty"`
	Peers          int            `json:"peers"`
	BundleSequence uint64         `json:"bundle_sequence"`
	AuditLength    uint64         `json:"audit_length"`
	AuditHead      string         `json:"audit_head,omitempty"`
	TransferStates map[string]int `json:"transfer_states,omitempty"`
	// ClockOffsetMs is how far ahead (positive) or behind (negative) of
	// this node's clock the node's newest heartbeat was dated when it
	// arrived, in milliseconds (gossip delay included).
	ClockOffsetMs int64 `json:"clock_offset_ms,omitempty"`
	// Flags are problems operators must act on: "audit_rewound" (the log
	// head went backwards), "audit_forked" (same length, another head),
	// "revoked", "silent", "bundle_behind", "clock_skew" (its heartbeats
	// are dated further than clock_skew_tolerance from this node's clock).
	Flags []string `json:"flags,omitempty"`
}

// Alert is something an operator or a court must act on.
type Alert struct {
	Kind     string    `json:"kind"`     // measure_expiring, <deadline>_overdue (decision, acceptance, handover, filing, supplement, supervision, refusal_ruling, assistance, enforcement), complaint_overdue, check_back, node_silent, node_revoked, bundle_expiring, audit_inconsistent, clock_skew, disk_full
	Severity string    `json:"severity"` // warning | critical
	Court    string    `json:"court,omitempty"`
	Transfer string    `json:"transfer,omitempty"`
	Message  string    `json:"message"` // Chinese and English, no personal data
	Since    time.Time `json:"since,omitzero"`
}

// ClockCheck is how a node's clock compares with its peers': each online
// peer's newest heartbeat date against this node's clock when it arrived.
type ClockCheck struct {
	// State is "ok", "ahead" or "behind" (more than half of the peers
	// heard disagree beyond the tolerance, the same way), or "unknown"
	// (no peer heard).
	State string `json:"state"`
	// OffsetMs is the median of how far this node's clock is ahead
	// (positive) or behind (negative) of its peers', in milliseconds.
	OffsetMs int64 `json:"offset_ms"`
	// Peers is the number of online peers the median is taken over.
	Peers int `json:"peers"`
	// ToleranceMs is clock_skew_tolerance in milliseconds.
	ToleranceMs int64 `json:"tolerance_ms"`
}
