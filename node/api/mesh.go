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
	// Flags are problems operators must act on: "audit_rewound" (the log
	// head went backwards), "audit_forked" (same length, another head),
	// "revoked", "silent", "bundle_behind".
	Flags []string `json:"flags,omitempty"`
}

// Alert is something an operator or a court must act on.
type Alert struct {
	Kind     string    `json:"kind"`     // measure_expiring, acceptance_overdue, node_silent, node_revoked, bundle_expiring, audit_inconsistent
	Severity string    `json:"severity"` // warning | critical
	Court    string    `json:"court,omitempty"`
	Transfer string    `json:"transfer,omitempty"`
	Message  string    `json:"message"` // Chinese and English, no personal data
	Since    time.Time `json:"since,omitzero"`
}
