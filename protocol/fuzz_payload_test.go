package protocol_test

import (
	"errors"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/protocol"
)

// samplePayload is the payload of a frozen signed sample, as a fuzz seed.
func samplePayload(f *testing.F, file string) []byte {
	env, err := crypto.UnmarshalEnvelope(readHexFile(f, filepath.Join(sampleDir, file)), protocol.MaxGossipMessage)
	if err != nil {
		f.Fatal(err)
	}
	return env.Payload
}

// reencodes checks that a decoded message re-encodes to bytes that
// decode to the same message.
func reencodes[M proto.Message](t *testing.T, m M, decode func([]byte) (M, error)) {
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatalf("re-encode: %v", err)
	}
	again, err := decode(b)
	if err != nil {
		t.Fatalf("re-decoding a decoded message: %v", err)
	}
	if !proto.Equal(again, m) {
		t.Fatal("re-decoding changed the message")
	}
}

// FuzzDecodeHeartbeat feeds arbitrary payloads to DecodeHeartbeat: what
// it accepts keeps the promises its comment makes.
func FuzzDecodeHeartbeat(f *testing.F) {
	f.Add(samplePayload(f, "heartbeat.hex"))
	f.Add([]byte{})
	f.Add([]byte{0x08, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := protocol.DecodeHeartbeat(b)
		if err != nil {
			if h != nil || !errors.Is(err, crypto.ErrMalformed) {
				t.Fatalf("refusal %v with %v", err, h)
			}
			return
		}
		if h.GetVersion() != protocol.HeartbeatVersion || court.CourtCode(h.GetCourt()).Validate() != nil || h.GetSentAt() <= 0 ||
			(h.GetAuditLength() == 0) != (len(h.GetAuditHead()) == 0) || len(h.GetPeerRecord()) > protocol.MaxPeerRecord ||
			(h.GetRecordLogLength() == 0) != (len(h.GetRecordLogHead()) == 0) || (h.GetRecordLogLength() > 0 && len(h.GetRecordLogHead()) != 32) {
			t.Fatalf("accepted an ill-formed heartbeat: %v", h)
		}
		for _, c := range h.GetAuditCheckpoints() {
			if c.GetLength() == 0 || c.GetLength() > h.GetAuditLength() || len(c.GetHash()) != 32 {
				t.Fatalf("accepted checkpoint %v of a log of %d", c, h.GetAuditLength())
			}
		}
		reencodes(t, h, protocol.DecodeHeartbeat)
	})
}

// FuzzDecodeBundleAnnounce feeds arbitrary payloads to
// DecodeBundleAnnounce.
func FuzzDecodeBundleAnnounce(f *testing.F) {
	f.Add(samplePayload(f, "bundle-announce.hex"))
	f.Add([]byte{})
	f.Add([]byte{0x08, 0x01, 0x10, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := protocol.DecodeBundleAnnounce(b)
		if err != nil {
			if a != nil || !errors.Is(err, crypto.ErrMalformed) {
				t.Fatalf("refusal %v with %v", err, a)
			}
			return
		}
		if a.GetVersion() != protocol.BundleAnnounceVersion || a.GetSequence() == 0 || len(a.GetSha256()) != 32 {
			t.Fatalf("accepted an ill-formed announcement: %v", a)
		}
		reencodes(t, a, protocol.DecodeBundleAnnounce)
	})
}
