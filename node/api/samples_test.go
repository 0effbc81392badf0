package api_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/protocol"
)

var update = flag.Bool("update", false, "rewrite the frozen samples in testdata (a deliberate format change only)")

// sampleTransfer is a handed-over transfer with every field set.
func sampleTransfer() *protocol.Transfer {
	at := func(h int) time.Time { return time.Date(2026, 3, 2, h, 0, 0, 0, time.UTC) }
	return &protocol.Transfer{
		ID: "0123456789abcdef0123456789abcdef", State: protocol.StateHandedOver,
		CaseNumber: "（2024）京0105执1234号", Origin: "京0105", Superior: "京01",
		Grounds: []string{"long_unexecuted", "interference"}, AmountOutstanding: 12_000_000_00, AmountOrigin: 500_00,
		EarliestExpiry: "2026-09-30", Decider: "京01", Mode: "designated", Receiver: "京0108",
		DecisionNumber: "（2026）京01执监7号", AcceptBy: "2026-03-09", NewCaseNumber: "（2026）京0108执1201号",
		MerkleRoot: bytes.Repeat([]byte{1}, 32), SealedCaseHash: bytes.Repeat([]byte{2}, 32), ChunkCount: 3, SealedBytes: 3 << 20,
		OverrideReason: "续行裁定已送达", Overridden: []string{"m-1"},
		Readers:      []court.CourtCode{"京0108", "京01"},
		WrappedKeys:  []protocol.WrappedKey{{Court: "京0108", Serial: 7, Wrapped: []byte{9, 9, 9}}},
		AssetUpdates: 1, LatestExpiryNote: "2026-12-31",
		OfferedAt: at(1), DecidedAt: at(2), AcceptedAt: at(3), HandedOverAt: at(4),
		Records: []protocol.RecordRef{
			{Kind: protocol.KindOffer, Issuer: "京0105", Hash: "aa", IssuedAt: at(1)},
			{Kind: protocol.KindDecision, Issuer: "京01", Hash: "bb", IssuedAt: at(2)},
		},
	}
}

// TestFrozenTransferView: the API's view of a transfer is its own format;
// today's code must give the frozen bytes, and the frozen bytes must read
// back as the same view.
func TestFrozenTransferView(t *testing.T) {
	v := api.NewTransfer(sampleTransfer(), time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC))
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "transfer.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("the API's transfer view changed; if deliberate, run with -update and say so\ngot:\n%s\nwant:\n%s", got, want)
	}
	var back api.Transfer
	dec := json.NewDecoder(bytes.NewReader(want))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&back); err != nil {
		t.Fatalf("the frozen view does not read back: %v", err)
	}
	if back.ID != v.ID || back.State != protocol.StateHandedOver || back.Receiver != "京0108" || len(back.Records) != 2 ||
		back.WaitingOn != "京0108" || back.Overdue || back.AmountOutstanding != 12_000_000_00 || !back.HandedOverAt.Equal(v.HandedOverAt) {
		t.Errorf("the frozen view reads back as %+v", back)
	}
}
