package protocol

import (
	"fmt"
	"unicode/utf8"

	"github.com/libp2p/go-libp2p/core/protocol"
	"google.golang.org/protobuf/proto"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/protocol/pb"
)

// GossipSubProtocols are the gossipsub protocol IDs with courtmesh's
// private prefix; they speak gossipsub v1.2 (mesh, peer exchange,
// IDONTWANT).
var GossipSubProtocols = []protocol.ID{"/courtmesh/meshsub/1.2.0"}

// Topics. Transfers and trust are national; heartbeats are per province.
const (
	TopicTrust = "/courtmesh/trust/1"
)

// Stream protocols.
const (
	// ProtoBundle offers the trust bundle in force to a peer that asks:
	// first a small offer (sequence, root-signed head, the deltas that
	// lead from the asker's bundle), then the whole bundle only if the
	// asker, having checked the offer, asks for it.
	ProtoBundle protocol.ID = "/courtmesh/bundle/2.0.0"
	// ProtoBundleV1 serves the whole bundle at once, for nodes of older
	// builds.
	ProtoBundleV1 protocol.ID = "/courtmesh/bundle/1.0.0"
)

// Payload types of the records that travel on the topics.
const (
	PayloadBundleAnnounce = "courtmesh/bundle-announce/v1"
	// PayloadHeartbeat is a node's signed Heartbeat.
	PayloadHeartbeat = "courtmesh/heartbeat/v1"
)

// MaxGossipMessage bounds a gossip message. Gossip carries signalling
// only: records are a few KiB; bulk data (dossiers, bundles) goes over
// streams.
const MaxGossipMessage = 64 << 10

// BundleAnnounceVersion is the version of BundleAnnounce this build writes.
const BundleAnnounceVersion = 1

// DecodeBundleAnnounce decodes and checks a BundleAnnounce payload.
func DecodeBundleAnnounce(b []byte) (*pb.BundleAnnounce, error) {
	var a pb.BundleAnnounce
	if err := proto.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("bundle announce: %w: %v", crypto.ErrMalformed, err)
	}
	if a.GetVersion() != BundleAnnounceVersion {
		return nil, fmt.Errorf("bundle announce: %w: version %d", crypto.ErrMalformed, a.GetVersion())
	}
	if a.GetSequence() == 0 || len(a.GetSha256()) != 32 {
		return nil, fmt.Errorf("bundle announce: %w: missing sequence or hash", crypto.ErrMalformed)
	}
	return &a, nil
}

// TopicHeartbeat is the heartbeat topic of a province, named by its high
// court's code (京; 最高法 for the Supreme People's Court and the national
// operators): /courtmesh/heartbeat/京/1. 3,500 nodes every 30 s is too much
// for one national topic; each node joins its own province's, operators
// join them all.
func TopicHeartbeat(province court.CourtCode) string {
	return "/courtmesh/heartbeat/" + string(province) + "/1"
}

// HeartbeatVersion is the version of Heartbeat this build writes.
const HeartbeatVersion = 1

// Bounds on a Heartbeat's fields.
const (
	maxHeartbeatCheckpoints = 128
	maxHeartbeatStates      = 32
	maxHeartbeatString      = 64
	// MaxPeerRecord bounds the signed peer record carried in a heartbeat.
	MaxPeerRecord = 4 << 10
)

// DecodeHeartbeat decodes and checks a Heartbeat payload: version, a
// court code, a 32-byte audit head (and record log head) exactly when that
// log is not empty,
// checkpoints within the log, bounded sizes.
func DecodeHeartbeat(b []byte) (*pb.Heartbeat, error) {
	var h pb.Heartbeat
	if err := proto.Unmarshal(b, &h); err != nil {
		return nil, fmt.Errorf("heartbeat: %w: %v", crypto.ErrMalformed, err)
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("heartbeat: %w: "+format, append([]any{crypto.ErrMalformed}, a...)...)
	}
	if h.GetVersion() != HeartbeatVersion {
		return nil, bad("version %d", h.GetVersion())
	}
	if err := court.CourtCode(h.GetCourt()).Validate(); err != nil {
		return nil, bad("court %q", h.GetCourt())
	}
	if h.GetSentAt() <= 0 || h.GetIntervalMs() == 0 || h.GetUptimeSeconds() < 0 {
		return nil, bad("missing time, interval or uptime")
	}
	if (h.GetAuditLength() == 0) != (len(h.GetAuditHead()) == 0) || (len(h.GetAuditHead()) != 0 && len(h.GetAuditHead()) != 32) {
		return nil, bad("audit head of %d bytes for a log of %d entries", len(h.GetAuditHead()), h.GetAuditLength())
	}
	if (h.GetRecordLogLength() == 0) != (len(h.GetRecordLogHead()) == 0) || (len(h.GetRecordLogHead()) != 0 && len(h.GetRecordLogHead()) != 32) {
		return nil, bad("record log head of %d bytes for a log of %d records", len(h.GetRecordLogHead()), h.GetRecordLogLength())
	}
	if len(h.GetAuditCheckpoints()) > maxHeartbeatCheckpoints {
		return nil, bad("%d audit checkpoints", len(h.GetAuditCheckpoints()))
	}
	for _, c := range h.GetAuditCheckpoints() {
		if c.GetLength() == 0 || c.GetLength() > h.GetAuditLength() || len(c.GetHash()) != 32 {
			return nil, bad("audit checkpoint at %d of a log of %d entries", c.GetLength(), h.GetAuditLength())
		}
	}
	if len(h.GetTransferStates()) > maxHeartbeatStates {
		return nil, bad("%d transfer states", len(h.GetTransferStates()))
	}
	for s := range h.GetTransferStates() {
		if len(s) > maxHeartbeatString || !utf8.ValidString(s) {
			return nil, bad("transfer state name")
		}
	}
	if v := h.GetSoftwareVersion(); len(v) > maxHeartbeatString || !utf8.ValidString(v) {
		return nil, bad("software version")
	}
	if len(h.GetPeerRecord()) > MaxPeerRecord {
		return nil, bad("peer record of %d bytes", len(h.GetPeerRecord()))
	}
	return &h, nil
}

// CaseLabel is the sealing label of the case record a handover names
// (HandoverManifest.sealed_case_hash) and the fetch serves: it binds the
// sealed record to its transfer.
func CaseLabel(id court.TransferID) string { return "fetch/" + string(id) + "/case" }
