package protocol

import (
	"fmt"

	"github.com/libp2p/go-libp2p/core/protocol"
	"google.golang.org/protobuf/proto"

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
	// ProtoBundle serves the trust bundle in force to a peer that asks.
	ProtoBundle protocol.ID = "/courtmesh/bundle/1.0.0"
)

// Payload types of the records that travel on the topics.
const (
	PayloadBundleAnnounce = "courtmesh/bundle-announce/v1"
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
