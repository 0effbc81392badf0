package storage

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
)

// encodeTransferJSON is encodeTransfer as it was written before the
// header was written by hand: the reference it must match.
func encodeTransferJSON(r *TransferRecord) ([]byte, error) {
	b, err := json.Marshal(transferValue{
		V: TransferRecordVersion, ID: r.ID, State: r.State, Terminal: r.Terminal,
		Origin: r.Origin, Decider: r.Decider, Receiver: r.Receiver,
		CaseNumber: r.CaseNumber, NewCaseNumber: r.NewCaseNumber,
		Deadline: r.Deadline, Offered: r.Offered, Updated: r.Updated, Stats: r.Stats, Tags: r.Tags,
	})
	if err != nil {
		return nil, err
	}
	b = append(b, '\n')
	return append(b, r.Body...), nil
}

// sameAsJSON fails t unless encodeTransfer writes what encoding/json
// writes for r, or both fail.
func sameAsJSON(t *testing.T, r *TransferRecord) {
	t.Helper()
	want, werr := encodeTransferJSON(r)
	got, gerr := encodeTransfer(r)
	if (werr != nil) != (gerr != nil) {
		t.Fatalf("encodeTransfer error %v, encoding/json's %v", gerr, werr)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("encodeTransfer wrote\n%s\nencoding/json\n%s", got, want)
	}
}

// TestEncodeTransferAsJSON: the hand-written header is byte for byte what
// encoding/json writes for transferValue, and fails where it fails; the
// order key is the same as fmt's %016x of the complemented nanoseconds.
func TestEncodeTransferAsJSON(t *testing.T) {
	cn, err := court.ParseCaseNumber("（2025）京0103执106号")
	if err != nil {
		t.Fatal(err)
	}
	cn2, err := court.ParseCaseNumber("（2026）京01执恢7号")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 7, 12, 4, 48, 69_000_123, time.UTC)
	body := []byte(`{"id":"t1","state":"offered"}`)
	for name, r := range map[string]TransferRecord{
		"zero":  {},
		"offer": {ID: "012b73037eab24dca5f3c9365be9004a", State: "offered", Origin: "京0103", Decider: "京01", CaseNumber: cn, Offered: at, Updated: at, Body: body},
		"all": {ID: "t1", State: "closed", Terminal: true, Origin: "京0103", Decider: "京01", Receiver: "京0105", CaseNumber: cn, NewCaseNumber: cn2,
			Deadline: court.Date{Year: 2027, Month: 1, Day: 31}, Offered: at, Updated: at.Add(time.Hour).In(time.FixedZone("CST", 8*3600)),
			Stats: map[string]int64{"open": 1, "amount_fen": 1234567800, "a/b": -3, "<&>": 0}, Tags: []string{"funds", "x"}, Body: body},
		"escapes":    {ID: "a\"b\\c\n\t\b\f\r\x01\x7f<>&\u2028\u2029é\xff\xfe中", State: "s\u00e9", Stats: map[string]int64{"\xff": 1, "é": 2}, Tags: []string{"", "\u2029"}},
		"bad court":  {ID: "t", State: "s", Origin: "nope"},
		"bad date":   {ID: "t", State: "s", Deadline: court.Date{Year: 2025, Month: 2, Day: 30}},
		"bad year":   {ID: "t", State: "s", Offered: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		"bad case":   {ID: "t", State: "s", CaseNumber: court.CaseNumber{Year: 1}},
		"empty maps": {ID: "t", State: "s", Stats: map[string]int64{}, Tags: []string{}},
	} {
		t.Run(name, func(t *testing.T) {
			sameAsJSON(t, &r)
			if _, err := encodeTransfer(&r); (err != nil) != strings.HasPrefix(name, "bad ") {
				t.Errorf("error %v", err)
			}
		})
	}
	for _, at := range []time.Time{{}, at, time.Unix(0, 0), time.Unix(0, 1), time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC), time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC)} {
		var ns uint64
		if !at.IsZero() {
			ns = uint64(at.UnixNano())
		}
		if got, want := orderKey(at), fmt.Sprintf("%016x", ^ns); got != want {
			t.Errorf("orderKey(%v) = %s, want %s", at, got, want)
		}
	}
}

// FuzzEncodeTransfer: for any text in the header's string fields, any
// times and numbers, encodeTransfer writes what encoding/json writes.
func FuzzEncodeTransfer(f *testing.F) {
	f.Add("012b73037eab24dca5f3c9365be9004a", "offered", "京0103", "京01", "", "（2025）京0103执106号", "funds", "open", int64(1), int64(1765000000000000000), int64(0), false)
	f.Add("a\"<>&\u2028\xff", "s\n", "x", "京01", "京0105", "bad", "", "", int64(-1), int64(-62135596800000000), int64(253402300800000000), true)
	f.Fuzz(func(t *testing.T, id, state, origin, decider, receiver, caseNo, tag, stat string, v, offered, updated int64, terminal bool) {
		cn, _ := court.ParseCaseNumber(caseNo)
		r := TransferRecord{ID: id, State: state, Terminal: terminal, Origin: court.CourtCode(origin), Decider: court.CourtCode(decider),
			Receiver: court.CourtCode(receiver), CaseNumber: cn, Deadline: court.Date{Year: int(v % 10000), Month: time.Month(v % 13), Day: int(v % 32)},
			Offered: time.Unix(0, offered).UTC(), Updated: time.Unix(offered, updated%1e9).In(time.FixedZone("", int(v%50000))),
			Stats: map[string]int64{stat: v, stat + "2": -v}, Tags: []string{tag, stat}, Body: []byte(`{}`)}
		if offered == 0 {
			r.Offered = time.Time{}
		}
		sameAsJSON(t, &r)
	})
}
