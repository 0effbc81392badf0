package records_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/node/records"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/storage"
)

// TestTransferFieldsAsJSON: the stored record built from a transfer's
// decoded fields (records.TransferFields, storage.NewTransferRecord) is
// the one storage builds by reading the transfer's JSON back
// (storage.TransferRecordFromJSON), in every state and shape the indexes
// look at, and it is stored as the same bytes.
func TestTransferFieldsAsJSON(t *testing.T) {
	shanghai := time.FixedZone("CST", 8*3600)
	at := time.Date(2026, 3, 4, 5, 6, 7, 8_000_000, time.UTC)
	base := cmproto.Transfer{
		ID: "0123456789abcdef0123456789abcdef", CaseNumber: "（2025）京0105执201号", Origin: "京0105", Superior: "京01",
		OfferedAt: at, Grounds: []string{"long_unexecuted"},
	}
	cases := map[string]func(*cmproto.Transfer){
		"offered": func(t *cmproto.Transfer) { t.State = cmproto.StateOffered },
		"offered, answer by": func(t *cmproto.Transfer) {
			t.State, t.AnswerBy, t.Due = cmproto.StateOffered, "2026-04-01", "2026-04-01"
		},
		"decided, accept by only": func(t *cmproto.Transfer) {
			t.State, t.Decider, t.Receiver, t.AcceptBy, t.DecidedAt = cmproto.StateDecided, "京01", "京0108", "2026-04-02", at.Add(time.Hour)
		},
		"decided, due": func(t *cmproto.Transfer) {
			t.State, t.Receiver, t.AcceptBy, t.Due, t.DecidedAt = cmproto.StateDecided, "京0108", "2026-04-02", "2026-04-02", at.Add(time.Hour).In(shanghai)
		},
		"accepted, new case number": func(t *cmproto.Transfer) {
			t.State, t.Receiver, t.NewCaseNumber, t.Due = cmproto.StateAccepted, "京0108", "（2026）京0108执31号", "2026-05-01"
			t.DecidedAt, t.AcceptedAt = at.Add(time.Hour), at.Add(2*time.Hour).In(shanghai)
		},
		"closed, due left over": func(t *cmproto.Transfer) {
			t.State, t.Receiver, t.Due, t.ClosedAt, t.ReceivedAt, t.HandedOverAt = cmproto.StateClosed, "京0108", "2026-09-01", at.Add(90*time.Hour), at.Add(50*time.Hour), at.Add(40*time.Hour)
		},
		"assistance": func(t *cmproto.Transfer) {
			t.State, t.Due, t.Assistance = cmproto.StateAssistRequested, "2026-04-09", &cmproto.Assistance{Court: "京0108", AnswerBy: "2026-04-09"}
		},
		"bad case number and date": func(t *cmproto.Transfer) {
			t.State, t.CaseNumber, t.Due = cmproto.StateOffered, "not a case number", "someday"
		},
		"withdrawn, offered in Shanghai time": func(t *cmproto.Transfer) {
			t.State, t.OfferedAt = cmproto.StateWithdrawn, at.In(shanghai)
		},
	}
	for name, set := range cases {
		t.Run(name, func(t *testing.T) {
			tr := base
			set(&tr)
			body, err := json.Marshal(&tr)
			if err != nil {
				t.Fatal(err)
			}
			want, err := storage.TransferRecordFromJSON(body)
			if err != nil {
				t.Fatal(err)
			}
			got := storage.NewTransferRecord(records.TransferFields(&tr), body)
			want.Version = 0 // the read marks version 1 values
			if !reflect.DeepEqual(stored(t, got), stored(t, want)) {
				t.Errorf("from fields %+v\nfrom JSON   %+v", got, want)
			}
		})
	}
}

// stored is r as storage writes it (the header's JSON and the body).
func stored(t *testing.T, r storage.TransferRecord) string {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
