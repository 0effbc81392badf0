package protocol_test

import (
	"bytes"
	"crypto/sha256"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/record"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
)

// verifySamples decodes the frozen bytes as a node would and checks what
// they mean.
func verifySamples(t *testing.T, v map[string][]byte) {
	root := parseCertHex(t, v["root.cert.hex"])
	b, err := crypto.OpenBundle(root, v["bundle.hex"])
	if err != nil {
		t.Fatalf("bundle: %v", err)
	}
	trust := crypto.NewTrust(root, b)
	for _, c := range sampleCourts {
		cert, err := trust.Court(c, sampleTime)
		if err != nil || cert.Serial != sampleSerials[c] || cert.PeerID != sampleKey(t, sampleSeed(c)).PeerID() {
			t.Fatalf("sample court %s: %v, %v", c, cert, err)
		}
	}
	verifyRecordSamples(t, v, trust)
	verifyModesSamples(t, v, trust)
	verifySignedSamples(t, v, trust)
	verifyPlainSamples(t, v)
}

// checkSampleMsg checks that the sample name decoded to the meaning it
// was written with, with no field this build does not know.
func checkSampleMsg(t *testing.T, name string, got, want proto.Message) {
	t.Helper()
	if !proto.Equal(got, want) {
		t.Errorf("%s decodes to another meaning than the sample's: %v", name, protoDiff(got, want))
	}
	if len(got.ProtoReflect().GetUnknown()) != 0 {
		t.Errorf("%s: fields this build does not know", name)
	}
}

// verifyRecordSamples checks the transfer records: decoded and checked
// by DecodeRecord at the time they were issued, their meaning field by
// field, and the main line applied in order by the state machine.
func verifyRecordSamples(t *testing.T, v map[string][]byte, trust *crypto.Trust) {
	var cur *protocol.Transfer
	var offered, second, handed, received *protocol.Transfer
	var complaint *protocol.Complaint
	for _, s := range recordSamples() {
		raw := v[s.file]
		r, err := protocol.DecodeRecord(raw, trust, s.at)
		if err != nil {
			t.Errorf("%s: %v", s.file, err)
			continue
		}
		if r.Kind != s.kind || r.Issuer != s.issuer || r.Seq != s.seq || !r.IssuedAt.Equal(s.at) || r.Transfer != sampleTransfer ||
			r.Signer.Serial != sampleSerials[s.issuer] || r.Env.PayloadType != protocol.PayloadRecord || r.Hash != sha256.Sum256(raw) {
			t.Errorf("%s: decoded as %s #%d from %s (serial %d) at %s of %s", s.file, r.Kind, r.Seq, r.Issuer, r.Signer.Serial, r.IssuedAt, r.Transfer)
		}
		checkSampleMsg(t, s.file, r.PB, s.wantRecord())
		// Years later, offline: the signature holds against the key the
		// certificate names, whatever the clock.
		if err := r.Env.VerifyWith(r.Signer.SigningKey, protocol.PayloadRecord); err != nil {
			t.Errorf("%s: %v", s.file, err)
		}
		switch {
		case isModesSample(s.file):
			// Their own lines, applied in verifyModesSamples.
		case s.file == "record-offer-regions.hex" || s.file == "record-decision-advice.hex":
			next, err := protocol.Apply(second, r, trust, protocol.Rules{})
			if err != nil {
				t.Errorf("%s does not apply after %v: %v", s.file, stateOf(second), err)
				continue
			}
			second = next
		case s.kind == protocol.KindComplaint || s.kind == protocol.KindComplaintAnswer:
			next, err := protocol.ApplyComplaint(complaint, r)
			if err != nil {
				t.Errorf("%s does not apply: %v", s.file, err)
				continue
			}
			complaint = next
		case s.kind == protocol.KindReturn:
			next, err := protocol.Apply(handed, r, trust, protocol.Rules{})
			if err != nil || next.State != protocol.StateReturned || len(next.Missing) != 2 {
				t.Errorf("%s applied to the handed-over transfer: %v", s.file, err)
				continue
			}
			if next, err = protocol.Apply(next, decodeSample(t, v, trust, "record-supplement.hex"), trust, protocol.Rules{}); err != nil ||
				next.State != protocol.StateHandedOver || next.HandoverVersion != 2 || next.ChunkCount != 14 || next.BalanceFen != 150_000_000 {
				t.Errorf("record-supplement.hex applied to the returned transfer: %v", err)
			}
		case s.kind == protocol.KindStart:
			next, err := protocol.Apply(nil, r, trust, protocol.Rules{})
			if err != nil || next.State != protocol.StateOffered || next.StartedBy != "applicant_request" || next.Superior != "京01" || next.Due != "2026-03-25" {
				t.Errorf("%s opens %+v: %v", s.file, next, err)
			}
		case s.kind == protocol.KindSupplement:
			// Applied after the return, above.
		case s.file == "record-closure-kind.hex":
			next, err := protocol.Apply(received, r, trust, protocol.Rules{})
			if err != nil || next.State != protocol.StateClosed || next.ClosureKind != protocol.ClosureFulfilled || next.Outcome != "concluded" {
				t.Errorf("%s applied to the received transfer: %v", s.file, err)
			}
		case s.kind == protocol.KindRejection || s.kind == protocol.KindWithdrawal:
			next, err := protocol.Apply(offered, r, trust, protocol.Rules{})
			want := map[protocol.Kind]protocol.State{protocol.KindRejection: protocol.StateRejected, protocol.KindWithdrawal: protocol.StateWithdrawn}[s.kind]
			if err != nil || next.State != want {
				t.Errorf("%s applied to the offered transfer: %v", s.file, err)
			}
		default:
			next, err := protocol.Apply(cur, r, trust, protocol.Rules{})
			if err != nil {
				t.Errorf("%s does not apply after %v: %v", s.file, stateOf(cur), err)
				continue
			}
			cur = next
			switch s.kind {
			case protocol.KindOffer:
				offered = cur
			case protocol.KindHandover:
				handed = cur
			case protocol.KindReceipt:
				received = cur
			}
		}
	}
	if cur == nil || cur.State != protocol.StateClosed || cur.Mode != "指令执行" || cur.Receiver != "京0108" || cur.NewCaseNumber != "（2026）京0108执77号" ||
		cur.AmountRecovered != 100_000_000 || cur.AssetUpdates != 1 || len(cur.RevokedGrants) != 1 || cur.RevokedGrants[0] != "京01" ||
		len(cur.Records) != 18 || cur.Outcome != "concluded" || cur.ChunkCount != 12 ||
		cur.Ledger == nil || cur.Ledger.RecoveredFen != 300_000 || cur.Ledger.OriginHeldFen != 300_000 || len(cur.Sanctions) != 1 ||
		len(cur.Notices) != 1 || len(cur.MissingDossierItems()) != len(protocol.DossierItemsRequired)-3 ||
		len(cur.Directives) != 1 || len(cur.Reviews) != 2 || cur.Reviews[0].SpotCheck == "" || cur.Directives[0].ReportedAt.IsZero() ||
		!cur.Reviews[1].CheckBack || cur.Reviews[1].Finding != "negligence" || cur.OriginCheck == nil || len(cur.OriginCheck.Assets) != 1 ||
		cur.OriginCheck.OriginLastSearch != "2025-11-20" || cur.OriginCheck.MeasuresLapsed != 1 ||
		protocol.CheckBackOf(cur, protocol.DefaultCheckBackRule).Reviewed == nil {
		t.Errorf("the main line ends as %+v", cur)
	}
	if second == nil || second.State != protocol.StateDecided || second.DebtorRegion != "110105" || len(second.RegionAssets) != 3 ||
		second.RegionAssets[0] != (protocol.RegionAssets{Region: "110108", Class: "real_estate", Count: 1, Band: court.BandUnder10M}) ||
		second.RecommendedRank != 2 || !bytes.Equal(second.RecommendationHash, fill32(0xDD)) {
		t.Errorf("the second line ends as %+v", second)
	}
	if offered != nil && (offered.RegionAssets != nil || offered.DebtorRegion != "") {
		t.Errorf("an offer without the summary reads as %+v", offered)
	}

	if complaint == nil || !complaint.Answered() || complaint.Supervisor != "京01" || complaint.Complained != "京0108" || len(complaint.Readers()) != 3 || len(complaint.Records) != 2 {
		t.Errorf("the complaint line ends as %+v", complaint)
	}
}

// verifySignedSamples checks the other signed payloads.
func verifySignedSamples(t *testing.T, v map[string][]byte, trust *crypto.Trust) {
	for _, s := range signedSamples(t) {
		env, err := crypto.UnmarshalEnvelope(v[s.file], protocol.MaxGossipMessage)
		if err != nil {
			t.Errorf("%s: %v", s.file, err)
			continue
		}
		signer, err := trust.Open(env, s.payloadType, sampleTime)
		if err != nil || signer.Code != s.signer {
			t.Errorf("%s: signed by %v: %v", s.file, signer, err)
			continue
		}
		var got proto.Message
		switch s.payloadType {
		case protocol.PayloadBundleAnnounce:
			got, err = protocol.DecodeBundleAnnounce(env.Payload)
		case protocol.PayloadHeartbeat:
			var hb *pb.Heartbeat
			if hb, err = protocol.DecodeHeartbeat(env.Payload); err == nil && len(hb.GetPeerRecord()) > 0 {
				checkPeerRecord(t, hb.GetPeerRecord(), signer)
			}
			got = hb
		case protocol.PayloadLogHeads:
			lh := &pb.LogHeads{}
			err = proto.Unmarshal(env.Payload, lh)
			got = lh
		}
		if err != nil {
			t.Errorf("%s: %v", s.file, err)
			continue
		}
		checkSampleMsg(t, s.file, got, s.msg)
	}
}

// verifyPlainSamples checks the stream messages (unsigned; framed on the
// stream).
func verifyPlainSamples(t *testing.T, v map[string][]byte) {
	for _, s := range plainSamples(t) {
		got := s.msg.ProtoReflect().New().Interface()
		if err := proto.Unmarshal(v[s.file], got); err != nil {
			t.Errorf("%s: %v", s.file, err)
			continue
		}
		checkSampleMsg(t, s.file, got, s.msg)
	}
}

// checkPeerRecord checks the libp2p signed peer record in the heartbeat.
func checkPeerRecord(t *testing.T, raw []byte, signer *crypto.Certificate) {
	t.Helper()
	_, rec, err := record.ConsumeEnvelope(raw, peer.PeerRecordEnvelopeDomain)
	if err != nil {
		t.Errorf("heartbeat peer record: %v", err)
		return
	}
	pr, ok := rec.(*peer.PeerRecord)
	if !ok || pr.PeerID != signer.PeerID || len(pr.Addrs) != 1 || pr.Addrs[0].String() != samplePeerRecordAddr || pr.Seq != uint64(sampleTime.UnixNano()) {
		t.Errorf("heartbeat peer record: %+v", rec)
	}
}

func stateOf(t *protocol.Transfer) protocol.State {
	if t == nil {
		return "(none)"
	}
	return t.State
}

// protoDiff shows both messages, for the error message only (prototext
// output is not stable and is never compared).
func protoDiff(got, want proto.Message) string {
	return "got {" + prototext.Format(got) + "}, want {" + prototext.Format(want) + "}"
}
