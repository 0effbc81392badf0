package protocol_test

import (
	"testing"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"

	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
)

// modesSamples are the records of the modes where power stays with the
// origin (Record fields 24-27), two lines of their own: 京01 puts 京0105's
// offer under 督促执行 and 京0105 reports the case concluded; 京0105 asks
// 京0108 to assist (协同执行), 京0108 takes it on and reports the result.
// Added after the samples above; those decode and reproduce as before.
func modesSamples() []recordSample {
	at := func(h int) time.Time { return sampleTime.Add(time.Duration(h) * time.Hour) }
	keys := []*pb.WrappedKey{
		{Court: "京0108", CertificateSerial: 204, Wrapped: []byte("wrapped assistance key for 京0108")},
		{Court: "京0105", CertificateSerial: 203, Wrapped: []byte("wrapped assistance key for 京0105")},
	}
	return []recordSample{
		{"record-decision-supervised.hex", protocol.KindDecision, "京01", 4, at(1), &pb.Record{Body: &pb.Record_Decision{Decision: &pb.TransferDecision{
			Mode: pb.Mode_MODE_SUPERVISED, ReceiverCourt: "京0105", DecisionNumber: "（2026）京01执监9号", EnforceBy: "2026-04-30",
		}}}},
		{"record-supervision_report.hex", protocol.KindSupervisionReport, "京0105", 6, at(24 * 20), &pb.Record{Body: &pb.Record_SupervisionReport{SupervisionReport: &pb.SupervisionReport{
			AmountRecoveredFen: 150_000_000, Status: "被执行人已全部履行", Kind: pb.ClosureKind_CLOSURE_FULFILLED,
		}}}},
		{"record-assistance_request.hex", protocol.KindAssistRequest, "京0105", 7, at(0), &pb.Record{Body: &pb.Record_AssistanceRequest{AssistanceRequest: &pb.AssistanceRequest{
			CaseNumber: "（2025）京0105执123号", AssistingCourt: "京0108", Tasks: []string{"investigate", "seize"},
			AnswerBy: "2026-03-23", Due: "2026-04-30", SealedDetail: []byte("sealed assistance detail"), Keys: keys,
		}}}},
		{"record-assistance_answer.hex", protocol.KindAssistAnswer, "京0108", 8, at(2), &pb.Record{Body: &pb.Record_AssistanceAnswer{AssistanceAnswer: &pb.AssistanceAnswer{
			Accepted: true, Reason: "本院可派员协助",
		}}}},
		{"record-assistance_result.hex", protocol.KindAssistResult, "京0108", 9, at(24 * 10), &pb.Record{Body: &pb.Record_AssistanceResult{AssistanceResult: &pb.AssistanceResult{
			Outcome: "partial", AmountRecoveredFen: 800_000, SealedDetail: []byte("sealed assistance result"),
		}}}},
	}
}

// isModesSample says whether file is one of modesSamples, which
// verifyModesSamples applies.
func isModesSample(file string) bool {
	for _, s := range modesSamples() {
		if s.file == file {
			return true
		}
	}
	return false
}

// verifyModesSamples applies the modes' lines through the state machine.
func verifyModesSamples(t *testing.T, v map[string][]byte, trust *crypto.Trust) {
	apply := func(cur *protocol.Transfer, file string) *protocol.Transfer {
		t.Helper()
		next, err := protocol.Apply(cur, decodeSample(t, v, trust, file), trust, protocol.Rules{})
		if err != nil {
			t.Fatalf("%s does not apply: %v", file, err)
		}
		return next
	}
	sup := apply(apply(nil, "record-offer.hex"), "record-decision-supervised.hex")
	if sup.State != protocol.StateSupervised || sup.Mode != protocol.ModeSupervised || sup.Supervision.EnforceBy != "2026-04-30" {
		t.Errorf("the supervised decision gives %+v", sup)
	}
	sup = apply(sup, "record-supervision_report.hex")
	if sup.State != protocol.StateClosed || sup.ClosureKind != protocol.ClosureFulfilled || sup.Supervision.Reports != 1 ||
		sup.Supervision.Recovered != 150_000_000 || sup.AmountRecovered != 150_000_000 {
		t.Errorf("the supervision line ends as %+v", sup)
	}
	as := apply(nil, "record-assistance_request.hex")
	if as.State != protocol.StateAssistRequested || as.Mode != protocol.ModeAssisted || as.Assistance.Court != "京0108" || len(as.Assistance.Keys) != 2 {
		t.Errorf("the assistance request opens %+v", as)
	}
	as = apply(apply(as, "record-assistance_answer.hex"), "record-assistance_result.hex")
	if as.State != protocol.StateClosed || as.Outcome != "assistance_partial" || as.Assistance.Recovered != 800_000 || as.Assistance.AnsweredAt.IsZero() {
		t.Errorf("the assistance line ends as %+v", as)
	}
}

// verifyEveryRecordKind fails when a member of Record's body oneof has no
// frozen sample: a record kind added without one.
func verifyEveryRecordKind(t *testing.T) {
	have := map[protoreflect.Name]bool{}
	for _, s := range recordSamples() {
		if f := s.body.ProtoReflect().WhichOneof(bodyOneof()); f != nil {
			have[f.Name()] = true
		}
	}
	fields := bodyOneof().Fields()
	for i := range fields.Len() {
		if f := fields.Get(i); !have[f.Name()] {
			t.Errorf("Record.%s (field %d) has no frozen sample in %s: add one to recordSamples and run go test ./protocol -run TestSamples -update",
				f.Name(), f.Number(), sampleDir)
		}
	}
}

func bodyOneof() protoreflect.OneofDescriptor {
	return (&pb.Record{}).ProtoReflect().Descriptor().Oneofs().ByName("body")
}
