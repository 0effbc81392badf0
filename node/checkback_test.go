package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/nodetest"
	cmproto "courtmesh.dev/courtmesh/protocol"
)

// TestCheckBackOnOrigin (倒查): 京0105 hands 京0108 a case whose record
// holds 京0105's property searches; within days of filing, 京0108 finds a
// deposit the debtor has held since before 京0105's last search (and
// another asset first seen after it, which does not count). 京0108's
// node reports it in a signed OriginCheck (dates and the asset class
// only); 京01, the origin's superior, finds the transfer flagged (its
// listing and an alert), and records a check-back review with a finding,
// which every node holds and which clears the flag. The receiver cannot
// record such a review, nor can 京01 find "in order".
func TestCheckBackOnOrigin(t *testing.T) {
	s := newScenario(t)
	ctx := context.Background()
	safe, _ := s.cases("京0105", 6)
	if len(safe) == 0 {
		t.Fatal("no case without a near-expiry measure")
	}
	cn := safe[0]
	_, v, err := s.as("京0105").Store().Case(cn)
	if err != nil {
		t.Fatal(err)
	}
	last, searches := court.LastSearch(v.Searches, "京0105")
	if searches == 0 {
		t.Fatalf("case %s records no search by 京0105: %+v", cn, v.Searches)
	}
	id := s.handedOver(t, cn)
	fctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := s.as("京0108").Fetcher().Fetch(fctx, id); err != nil {
		t.Fatal(err)
	}
	s.expectEverywhere(id, cmproto.StateReceived)
	// The receiver's copy of the case holds the origin's searches: they
	// travelled in the sealed case record.
	tr, err := s.as("京0108").Workflow().Transfer(id)
	if err != nil {
		t.Fatal(err)
	}
	newNo, err := court.ParseCaseNumber(tr.NewCaseNumber)
	if err != nil {
		t.Fatal(err)
	}
	if _, rv, err := s.as("京0108").Store().Case(newNo); err != nil {
		t.Fatal(err)
	} else if l, n := court.LastSearch(rv.Searches, "京0105"); l != last || n != searches {
		t.Fatalf("the receiver's copy shows the origin's last search %s (%d), the origin's case %s (%d)", l, n, last, searches)
	}

	// Nothing flagged yet.
	if cb, err := s.as("京01").Workflow().CheckBacks(ctx, ""); err != nil || len(cb.Items) != 0 {
		t.Fatalf("flagged before anything was found: %+v, %v", cb.Items, err)
	}

	// As 京0108, a few days after filing: a deposit first seen 100 days
	// before the origin's last search, and a vehicle first seen after it.
	const account = "9999000011112222333"
	firstSeen := last.AddDate(0, 0, -100)
	recv := s.as("京0108")
	must(t)(recv.Assets().UpdateAssets(ctx, id, api.AssetChange{Kind: "search_result", MeasureKind: "freeze",
		Asset: &api.NewAsset{Class: "deposit", Description: "某某银行活期存款账户", Owner: "p2", Source: "national_search", Account: account, ValueFen: 3_500_000,
			FirstSeen: firstSeen.String()}}))
	after := must(t)(recv.Assets().UpdateAssets(ctx, id, api.AssetChange{Kind: "search_result", MeasureKind: "seal",
		Asset: &api.NewAsset{Class: "vehicle", Description: "小型轿车一辆", Owner: "p2", Source: "local_link", FirstSeen: last.AddDate(0, 0, 1).String()}}))
	oc := after.OriginCheck
	if oc == nil || len(oc.Assets) != 1 || oc.Assets[0].Class != "deposit" || oc.Assets[0].FirstSeen != firstSeen.String() ||
		oc.Assets[0].AssetUpdate != 1 || oc.OriginLastSearch != last.String() || oc.OriginSearches != searches {
		t.Fatalf("the receiver's report: %+v (last search %s of %d, first seen %s)", oc, last, searches, firstSeen)
	}

	// As 京01 (the origin's superior): flagged, with the indicators.
	var item api.CheckBackItem
	nodetest.PollUntil(t, 20*time.Second, "the flag on 京01", func() bool {
		cb, err := s.as("京01").Workflow().CheckBacks(ctx, "")
		if err != nil || len(cb.Items) != 1 {
			return false
		}
		item = cb.Items[0]
		return true
	})
	if item.Transfer != id || item.Origin != "京0105" || item.CheckBack.EarlierAssets != 1 ||
		len(item.CheckBack.Reasons) != 1 || item.CheckBack.Reasons[0] != cmproto.CheckBackAssetFound || item.CheckBack.DaysHeld < 180 {
		t.Fatalf("京01's flag: %+v", item)
	}
	// Over the API, and as an alert at 京01.
	c := s.conn(t, "京01")
	code, body := c.send(t, http.MethodGet, "/v1/check-backs", "Bearer "+c.token, nil)
	var listed api.CheckBacks
	if code != http.StatusOK || json.Unmarshal(body, &listed) != nil || len(listed.Items) != 1 || listed.Rule != cmproto.DefaultCheckBackRule {
		t.Fatalf("GET /v1/check-backs: %d %s", code, body)
	}
	hasAlert := func() bool {
		for _, a := range s.dashboardJSON("京01").Alerts {
			if a.Kind == "check_back" && a.Transfer == string(id) && a.Court == "京01" {
				return true
			}
		}
		return false
	}
	if !hasAlert() {
		t.Fatal("no check_back alert on 京01's dashboard")
	}
	// 京0108 is not the origin's superior; 京02 is not either.
	if cb, err := s.as("京02").Workflow().CheckBacks(ctx, ""); err != nil || len(cb.Items) != 0 {
		t.Fatalf("京02 sees %+v, %v", cb.Items, err)
	}

	// No personal data on the wire: the receiver's log carries neither
	// the account nor the description.
	head, err := recv.Store().LogHead(court.PeerID(recv.PeerID().String()))
	if err != nil {
		t.Fatal(err)
	}
	raws, err := recv.Store().LogRange(court.PeerID(recv.PeerID().String()), 1, head, int(head))
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range raws {
		if bytes.Contains(raw, []byte(account)) || bytes.Contains(raw, []byte("某某银行")) {
			t.Fatal("a record of 京0108's log carries the asset's account or description in the clear")
		}
	}

	// The review: the receiver may not; "in order" is not a check-back
	// finding; 京01 finds negligence.
	if _, err := recv.Workflow().Review(ctx, id, api.ReviewRequest{Finding: "negligence", CheckBack: true}); !errors.Is(err, court.ErrPermission) {
		t.Fatalf("the receiver reviewed the origin: %v, want a permission error", err)
	}
	if _, err := s.as("京01").Workflow().Review(ctx, id, api.ReviewRequest{Finding: "in_order", CheckBack: true}); !errors.Is(err, court.ErrInvalid) {
		t.Fatalf("a check back finding in_order: %v, want invalid", err)
	}
	reviewed := must(t)(s.as("京01").Workflow().Review(ctx, id, api.ReviewRequest{Finding: "negligence", Note: "倒查：原执行法院末次查询时该存款已存在", CheckBack: true}))
	if cb := cmproto.CheckBackOf(reviewed, cmproto.DefaultCheckBackRule); cb.Reviewed == nil || cb.Reviewed.Finding != "negligence" || cb.Reviewed.Issuer != "京01" {
		t.Fatalf("the review on 京01: %+v", cb.Reviewed)
	}
	if cb, err := s.as("京01").Workflow().CheckBacks(ctx, ""); err != nil || len(cb.Items) != 0 {
		t.Fatalf("still flagged after the review: %+v, %v", cb.Items, err)
	}
	if hasAlert() {
		t.Fatal("the check_back alert stays after the review")
	}
	// Every node holds the review (evidence), the high court 京 included.
	nodetest.PollUntil(t, 20*time.Second, "the check-back review on 京's node", func() bool {
		v, err := s.as("京").Workflow().Transfer(id)
		if err != nil {
			return false
		}
		for _, r := range v.Reviews {
			if r.CheckBack && r.Finding == "negligence" && r.Issuer == "京01" {
				return true
			}
		}
		return false
	})
}
