package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/node/api"
)

// transfer list and show speak China time (UTC+08:00) on a server whose
// clock runs in UTC, like every other command: an offer made at 20:30 UTC
// on 1 March is dated 2 March.
func TestTransferDatesInChinaTime(t *testing.T) {
	was := time.Local
	time.Local = time.UTC // a server set to UTC, as most are
	defer func() { time.Local = was }()
	at := time.Date(2026, 3, 1, 20, 30, 0, 0, time.UTC)
	tr := api.Transfer{ID: "0123456789abcdef0123456789abcdef", CaseNumber: "（2024）京0105执1号", Origin: "京0105", State: "offered", OfferedAt: at,
		Records: []api.RecordRef{{Kind: "offer", Issuer: "京0105", Hash: "00112233445566778899", IssuedAt: at}}}
	var list bytes.Buffer
	if err := printTransferTable(&list, []api.Transfer{tr}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(list.String(), "2026-03-02") || strings.Contains(list.String(), "2026-03-01") {
		t.Errorf("transfer list dates the offer in UTC:\n%s", list.String())
	}
	var show bytes.Buffer
	printTransfer(&show, tr)
	if !strings.Contains(show.String(), "2026-03-02 04:30:00") {
		t.Errorf("transfer show dates the record in UTC:\n%s", show.String())
	}
}
