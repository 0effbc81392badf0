package node_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/dashboard"
	"courtmesh.dev/courtmesh/node/datadir"
	"courtmesh.dev/courtmesh/node/devmesh"
	"courtmesh.dev/courtmesh/node/nodetest"
	"courtmesh.dev/courtmesh/node/records"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/storage"
)

// TestCheckBacksPaged pages GET /v1/check-backs on 京01's node over
// transfers stored with their statistics as the records room stores
// them: flagged ones of courts under 京01, among transfers of a court
// outside it and ones reviewed already, which no page shows. Two a page
// give three pages; every flagged transfer comes once, by origin and
// ID; a cursor that does not continue the listing is refused as invalid.
func TestCheckBacksPaged(t *testing.T) {
	tm := startCourts(t, []devmesh.Court{{Code: "京01", Roles: []crypto.Role{crypto.RoleCourt}}})
	n := tm.nodes[0]
	at := time.Now().UTC().AddDate(-1, 0, 0)
	put := func(id string, origin court.CourtCode, reviewed bool) {
		tr := cmproto.Transfer{ID: court.TransferID(id), State: cmproto.StateReceived, CaseNumber: "（2024）京0105执1号",
			Origin: origin, Decider: "京01", Receiver: "京0108", OfferedAt: at, AcceptedAt: at, HandedOverAt: at, ReceivedAt: at,
			OriginCheck: &cmproto.OriginCheck{Hash: "h", IssuedAt: at, MeasuresLapsed: 2}}
		if reviewed {
			tr.Reviews = []cmproto.Review{{Issuer: "京01", Finding: "negligence", CheckBack: true}}
		}
		body, err := json.Marshal(&tr)
		if err != nil {
			t.Fatal(err)
		}
		r := storage.NewTransferRecord(records.TransferFields(&tr), body)
		r.Stats = dashboard.Contribution(&tr, 0)
		if err := n.Store().PutTransfer(r); err != nil {
			t.Fatal(err)
		}
	}
	var want []string
	for i, o := range []court.CourtCode{"京0108", "京0105", "京0105", "京0108", "京0105"} {
		id := fmt.Sprintf("cb%02d", i)
		put(id, o, false)
		want = append(want, string(o)+"/"+id)
	}
	slices.Sort(want)
	put("cb90", "京0201", false) // not under 京01
	put("cb91", "京0105", true)  // reviewed
	put("cb92", "京01", false)   // 京01's own case

	d := tm.Dirs[0]
	tok, err := d.Token()
	if err != nil {
		t.Fatal(err)
	}
	cl := api.NewClient(d.Path(datadir.SocketFile), tok)
	ctx := context.Background()
	got, pages := nodetest.ReadPages(t, 2, 5, func(cursor string) ([]string, string, error) {
		var page api.CheckBacks
		next, err := cl.Page(ctx, "/v1/check-backs?"+url.Values{"limit": {"2"}, "cursor": {cursor}}.Encode(), &page)
		if err == nil && next != page.Next {
			t.Fatalf("X-Next-Cursor %q, next %q", next, page.Next)
		}
		var keys []string
		for _, it := range page.Items {
			keys = append(keys, string(it.Origin)+"/"+string(it.Transfer))
		}
		return keys, next, err
	})
	if pages != 3 || !slices.Equal(got, want) {
		t.Fatalf("%d pages of %v, want 3 pages of %v", pages, got, want)
	}
	for _, bad := range []string{"nonsense", "AQIDBAUGBw"} {
		var page api.CheckBacks
		_, err := cl.Page(ctx, "/v1/check-backs?cursor="+bad, &page)
		var ae *api.Error
		if !errors.As(err, &ae) || ae.Code != api.CodeInvalid || ae.Status != 422 {
			t.Errorf("cursor %q: %v, want invalid (422)", bad, err)
		}
	}
	var page api.CheckBacks
	if _, err := cl.Page(ctx, "/v1/check-backs?limit=1001", &page); err == nil {
		t.Error("limit 1001 accepted")
	}
	// The whole list, as the dashboard counts it, follows the pages.
	all, err := n.Workflow().CheckBacks(ctx, "")
	if err != nil || len(all.Items) != len(want) || all.Next != "" {
		t.Fatalf("every check-back: %d items (next %q), %v; want %d", len(all.Items), all.Next, err, len(want))
	}
}
