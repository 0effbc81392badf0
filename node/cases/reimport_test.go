package cases_test

import (
	"context"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/cases"
	"courtmesh.dev/courtmesh/storage"
)

// TestInFlight reads the transfers concerning a case number from the
// index by case number: handed out, brought here, or reserved, and never
// a closed, rejected or merely offered one.
func TestInFlight(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := storage.Open(t.TempDir(), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	num := func(s string) court.CaseNumber {
		n, err := court.ParseCaseNumber(s)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	origin, recv, reserved, other := num("（2024）京0105执1号"), num("（2025）京0108执7号"), num("（2025）京0108执8号"), num("（2024）京0105执2号")
	at := time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)
	for i, r := range []storage.TransferRecord{
		{ID: "t-received", State: "received", Origin: "京0105", Receiver: "京0108", CaseNumber: origin, NewCaseNumber: recv},
		{ID: "t-accepted", State: "accepted", Origin: "京0105", Receiver: "京0108", CaseNumber: other, NewCaseNumber: reserved},
		{ID: "t-closed", State: "closed", Terminal: true, Origin: "京0105", Receiver: "京0108", CaseNumber: other, NewCaseNumber: num("（2025）京0108执9号")},
		{ID: "t-offered", State: "offered", Origin: "京0105", CaseNumber: num("（2024）京0105执3号")},
	} {
		r.Offered, r.Updated, r.Body = at.Add(time.Duration(i)*time.Hour), at, []byte(`{}`)
		if err := db.PutTransfer(r); err != nil {
			t.Fatal(err)
		}
	}
	id := func(r *storage.TransferRecord) string {
		if r == nil {
			return "-"
		}
		return r.ID
	}
	for _, tc := range []struct {
		n                 court.CaseNumber
		out, in, reserved string
	}{
		{origin, "t-received", "-", "-"},
		{recv, "-", "t-received", "t-received"},
		{reserved, "-", "-", "t-accepted"},
		{other, "-", "-", "-"},
		{num("（2024）京0105执3号"), "-", "-", "-"},
		{num("（2024）京0105执99号"), "-", "-", "-"},
	} {
		out, in, res, err := cases.InFlight(ctx, db, tc.n)
		if err != nil {
			t.Fatal(err)
		}
		if id(out) != tc.out || id(in) != tc.in || id(res) != tc.reserved {
			t.Errorf("%s: out %s in %s reserved %s; want %s %s %s", tc.n, id(out), id(in), id(res), tc.out, tc.in, tc.reserved)
		}
	}
}
