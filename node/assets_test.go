package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/config"
	"courtmesh.dev/courtmesh/node/datadir"
	"courtmesh.dev/courtmesh/node/devmesh"
	"courtmesh.dev/courtmesh/node/nodetest"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
)

// assetMesh is the transfer scenario with nodes that a test can stop and
// start again on the same data directory.
type assetMesh struct {
	*scenario
	stops map[court.CourtCode]func()
}

func newAssetMesh(t *testing.T) *assetMesh {
	t.Helper()
	m, err := devmesh.Build(t.TempDir(), scenarioCourts(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	am := &assetMesh{scenario: &scenario{t: t, tm: &testMesh{Mesh: m}, by: map[court.CourtCode]*node.Node{}}, stops: map[court.CourtCode]func(){}}
	for i := range m.Dirs {
		am.tm.nodes = append(am.tm.nodes, nil)
		am.start(i)
	}
	connectAll(t, am.tm.nodes)
	return am
}

// start starts (or restarts) the node of court i.
func (am *assetMesh) start(i int) *node.Node {
	am.t.Helper()
	d := am.tm.Dirs[i]
	cfg, err := config.Load(d.Path(datadir.ConfigFile))
	if err != nil {
		am.t.Fatal(err)
	}
	cfg.SyncInterval.Duration = time.Second
	n, stop := startStoppable(am.t, node.Options{Dir: d, Config: &cfg, Logger: testLogger(am.t)})
	code := am.tm.Courts[i].Code
	am.tm.nodes[i], am.by[code], am.stops[code] = n, n, stop
	return n
}

// restart starts court code's node again and reconnects the mesh.
func (am *assetMesh) restart(code court.CourtCode) *node.Node {
	am.t.Helper()
	for i, c := range am.tm.Courts {
		if c.Code == code {
			n := am.start(i)
			connectAll(am.t, am.tm.nodes)
			return n
		}
	}
	am.t.Fatalf("no court %s", code)
	return nil
}

// received plays a transfer from 京0105 to 京0108 through the fetch of
// a case with at least two active measures with a term that have not
// expired, and returns the transfer, the origin's and the receiver's
// case numbers, and two such measures.
func (s *scenario) received(t *testing.T) (court.TransferID, court.CaseNumber, court.CaseNumber, [2]court.Measure) {
	t.Helper()
	safe, expiring := s.cases("京0105", 6)
	today := court.DateOf(time.Now())
	var cn court.CaseNumber
	var pick [2]court.Measure
	for _, c := range append(safe, expiring...) {
		ms, err := s.as("京0105").Store().Measures(c)
		if err != nil {
			t.Fatal(err)
		}
		k := 0
		for _, m := range ms {
			if k < 2 && m.Status == court.MeasureActive && m.Kind.HasTerm() && !m.Expiry.IsZero() && !today.After(m.Expiry) {
				pick[k] = m
				k++
			}
		}
		if k == 2 {
			cn = c
			break
		}
	}
	if cn.IsZero() {
		t.Fatal("the generator made no case with two active measures")
	}
	id := s.handedOver(t, cn)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := s.as("京0108").Fetcher().Fetch(ctx, id); err != nil {
		t.Fatal(err)
	}
	s.expectEverywhere(id, cmproto.StateReceived)
	tr, err := s.as("京0108").Workflow().Transfer(id)
	if err != nil {
		t.Fatal(err)
	}
	newNo, err := court.ParseCaseNumber(tr.NewCaseNumber)
	if err != nil {
		t.Fatal(err)
	}
	return id, cn, newNo, pick
}

// measureOf returns measure id of case cn as n holds it.
func measureOf(t *testing.T, n *node.Node, cn court.CaseNumber, id string) (court.Measure, bool) {
	t.Helper()
	ms, err := n.Store().Measures(cn)
	if err != nil {
		return court.Measure{}, false
	}
	for _, m := range ms {
		if m.ID == id {
			return m, true
		}
	}
	return court.Measure{}, false
}

// successor returns the measure of cn that renews (or releases) id.
func successor(n *node.Node, cn court.CaseNumber, id string) (court.Measure, bool) {
	ms, err := n.Store().Measures(cn)
	if err != nil {
		return court.Measure{}, false
	}
	for _, m := range ms {
		if m.Renews == id || m.Releases == id {
			return m, true
		}
	}
	return court.Measure{}, false
}

func assetClassOf(t *testing.T, n *node.Node, cn court.CaseNumber, asset string) court.AssetClass {
	t.Helper()
	_, v, err := n.Store().Case(cn)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range v.Assets {
		if a.ID == asset {
			return a.Class
		}
	}
	t.Fatalf("case %s has no asset %s", cn, asset)
	return ""
}

// assetAudits counts n's audit entries of event for transfer id.
func assetAudits(t *testing.T, n *node.Node, event string, id court.TransferID) int {
	t.Helper()
	es, err := n.Store().AuditEntries(1, 0)
	if err != nil {
		t.Fatal(err)
	}
	c := 0
	for _, e := range es {
		if e.Event == event && e.Transfer == string(id) {
			c++
		}
	}
	return c
}

// The story of the issue: an update made by the origin after the handover
// appears at the receiver; one made while the receiver is down arrives
// after it restarts; the receiver's own changes reach the origin, with
// nothing personal in the clear.
func TestAssetUpdatesReachTheOtherCourt(t *testing.T) {
	am := newAssetMesh(t)
	ctx := context.Background()
	id, cn, newNo, ms := am.received(t)
	origin := am.as("京0105")

	// As 京0105, renew (续行) the first measure.
	renewed := ms[0]
	tr := must(t)(origin.Assets().UpdateAssets(ctx, id, api.AssetChange{Kind: "renewal", Measure: renewed.ID}))
	if tr.AssetUpdates != 1 {
		t.Fatalf("asset updates = %d", tr.AssetUpdates)
	}
	class := assetClassOf(t, origin, cn, renewed.Asset)
	wantExpiry := court.LegalExpiry(class, renewed.Expiry.AddDate(0, 0, 1))

	// As 京0108, see the renewal in the filed case.
	var renewal court.Measure
	nodetest.PollUntil(t, 20*time.Second, "the renewal in the receiver's case", func() bool {
		old, ok := measureOf(t, am.as("京0108"), newNo, renewed.ID)
		if !ok || old.Status != court.MeasureRenewed {
			return false
		}
		renewal, ok = successor(am.as("京0108"), newNo, renewed.ID)
		return ok
	})
	if renewal.Kind != court.MeasureRenewal || renewal.Expiry != wantExpiry || renewal.Status != court.MeasureActive || renewal.Court != "京0108" || renewal.Rank != renewed.Rank {
		t.Errorf("renewal at the receiver: %+v, want expiry %s held by 京0108", renewal, wantExpiry)
	}
	if mine, _ := successor(origin, cn, renewed.ID); mine.ID != renewal.ID || mine.Expiry != renewal.Expiry {
		t.Errorf("origin holds renewal %+v, receiver %+v", mine, renewal)
	}
	// The receiver's expiry index and views follow.
	asOf := court.DateOf(time.Now())
	alerts, err := am.as("京0108").Assets().MeasureAlerts(ctx, asOf, api.MaxWithin)
	if err != nil {
		t.Fatal(err)
	}
	var listed, oldListed bool
	for _, m := range alerts.Measures {
		listed = listed || (m.Measure == renewal.ID && m.Expiry == wantExpiry.String() && m.Role == "receiver")
		oldListed = oldListed || m.Measure == renewed.ID
	}
	if !listed || oldListed {
		t.Errorf("receiver's alerts: renewal listed %v, renewed measure still listed %v", listed, oldListed)
	}
	exp, err := am.as("京0108").Store().ExpiringMeasures(ctx, asOf, api.MaxWithin)
	if err != nil {
		t.Fatal(err)
	}
	indexed := false
	for _, m := range exp {
		indexed = indexed || (m.Case == newNo && m.Measure.ID == renewal.ID)
		if m.Case == newNo && m.Measure.ID == renewed.ID {
			t.Error("the renewed measure is still in the receiver's expiry index")
		}
	}
	if !indexed {
		t.Error("the renewal is not in the receiver's expiry index")
	}
	// The entry is written right after the change it records (After):
	// wait for it rather than read it at once.
	nodetest.PollUntil(t, 20*time.Second, "the receiver's audit entry of the applied update", func() bool {
		return assetAudits(t, am.as("京0108"), "asset_update.applied", id) >= 1
	})
	if n := assetAudits(t, am.as("京0108"), "asset_update.applied", id); n != 1 {
		t.Errorf("the receiver audited the applied update %d times, want once", n)
	}

	// 京0108 goes down; as 京0105, release the second measure meanwhile.
	am.stops["京0108"]()
	released := ms[1]
	must(t)(origin.Assets().UpdateAssets(ctx, id, api.AssetChange{Kind: "release", Measure: released.ID}))
	if m, _ := measureOf(t, origin, cn, released.ID); m.Status != court.MeasureReleased {
		t.Fatalf("origin's own copy: %s is %s", released.ID, m.Status)
	}

	// 京0108 comes back and catches up.
	recv := am.restart("京0108")
	nodetest.PollUntil(t, 30*time.Second, "the release made while the receiver was down", func() bool {
		m, ok := measureOf(t, recv, newNo, released.ID)
		if !ok || m.Status != court.MeasureReleased {
			return false
		}
		r, ok := successor(recv, newNo, released.ID)
		return ok && r.Kind == court.MeasureRelease
	})
	view, err := recv.Assets().TransferAssets(id, asOf)
	if err != nil {
		t.Fatal(err)
	}
	if view.Role != "receiver" || view.Case != newNo.String() || view.Applied != 2 || view.Pending != 0 {
		t.Errorf("receiver's view: role %s case %s applied %d pending %d", view.Role, view.Case, view.Applied, view.Pending)
	}

	// As 京0108, record a new search result with an account number; it
	// reaches the origin, and the number is nowhere in the clear.
	const account = "6222020200112233445"
	must(t)(recv.Assets().UpdateAssets(ctx, id, api.AssetChange{Kind: "search_result", MeasureKind: "freeze",
		Asset: &api.NewAsset{ID: "x1", Class: "deposit", Description: "某银行账户", Owner: "p2", Source: "national_search", Account: account, ValueFen: 120000}}))
	nodetest.PollUntil(t, 20*time.Second, "the search result at the origin", func() bool {
		v, err := origin.Assets().TransferAssets(id, asOf)
		if err != nil {
			return false
		}
		for _, a := range v.Assets {
			if a.ID == "x1" && a.AccountMasked == court.MaskNumber(account) {
				return true
			}
		}
		return false
	})
	for _, n := range []*node.Node{origin, recv} {
		v, err := n.Assets().TransferAssets(id, asOf)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(v)
		if bytes.Contains(b, []byte(account)) {
			t.Errorf("%s shows the account number in the clear", n.Status().CourtCode)
		}
		head, err := n.Store().LogHead(court.PeerID(recv.PeerID().String()))
		if err != nil {
			t.Fatal(err)
		}
		raws, err := n.Store().LogRange(court.PeerID(recv.PeerID().String()), 1, head, int(head))
		if err != nil {
			t.Fatal(err)
		}
		for _, raw := range raws {
			if bytes.Contains(raw, []byte(account)) {
				t.Errorf("a record in %s's log carries the account number in the clear", n.Status().CourtCode)
			}
		}
	}
	// The superior court sees that updates happened, not what they were
	// (once the third update's record has reached it too).
	nodetest.PollUntil(t, 20*time.Second, "the decider counting 3 asset updates", func() bool {
		dec, err := am.as("京01").Workflow().Transfer(id)
		return err == nil && dec.AssetUpdates == 3
	})
}

// assetSigner signs records as a court, from its data directory, without
// going through its node.
type assetSigner struct {
	key  *crypto.NodeKey
	cert *crypto.Certificate
}

func signerOf(t *testing.T, am *assetMesh, code court.CourtCode) assetSigner {
	t.Helper()
	for i, c := range am.tm.Courts {
		if c.Code == code {
			k, err := crypto.LoadNodeKey(am.tm.Dirs[i].Path(crypto.NodeKeyFile))
			if err != nil {
				t.Fatal(err)
			}
			return assetSigner{key: k, cert: am.tm.Certs[i]}
		}
	}
	t.Fatalf("no court %s", code)
	return assetSigner{}
}

// sign seals an AssetUpdate as the next record of the signer's log.
func (s assetSigner) sign(t *testing.T, am *assetMesh, id court.TransferID, u *pb.AssetUpdate) []byte {
	t.Helper()
	var head uint64
	for _, n := range am.tm.nodes {
		h, err := n.Store().LogHead(court.PeerID(s.key.PeerID().String()))
		if err != nil {
			t.Fatal(err)
		}
		head = max(head, h)
	}
	raw, err := cmproto.SealRecord(s.key, s.cert, head+1, time.Now(), id, &pb.Record{Body: &pb.Record_AssetUpdate{AssetUpdate: u}})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// sealedDelta seals a release of measure m as update number of issuer.
func sealedDelta(t *testing.T, key crypto.DataKey, id court.TransferID, issuer court.CourtCode, number uint64, m court.Measure) []byte {
	t.Helper()
	after := m
	after.Status = court.MeasureReleased
	d := court.AssetDelta{V: court.AssetDeltaVersion, Kind: court.ChangeRelease, Measures: []court.MeasureEdit{{Before: &m, After: after}}}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := key.SealField("assets/"+string(id)+"/"+string(issuer)+"/"+strconv.FormatUint(number, 10), b)
	if err != nil {
		t.Fatal(err)
	}
	return sealed
}

// TestAssetUpdateRefusals: It is long on purpose: one story of every
// refused asset update, each needing the state the one before left.
func TestAssetUpdateRefusals(t *testing.T) {
	am := newAssetMesh(t)
	ctx := context.Background()
	id, cn, newNo, ms := am.received(t)
	origin, recv := am.as("京0105"), am.as("京0108")
	key, err := origin.Store().DataKey(cn)
	if err != nil {
		t.Fatal(err)
	}
	snapshot := func() string {
		_, v, err := recv.Store().Case(newNo)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(struct {
			A []court.Asset
			M []court.Measure
		}{v.Assets, v.Measures})
		return string(b)
	}
	before := snapshot()

	t.Run("a third court", func(t *testing.T) {
		// Through its node: refused before anything is signed.
		_, err := am.as("京01").Assets().UpdateAssets(ctx, id, api.AssetChange{Kind: "release", Measure: ms[0].ID})
		if !errors.Is(err, crypto.ErrNotAuthorised) {
			t.Fatalf("err = %v, want ErrNotAuthorised", err)
		}
		// Signed with its key and a payload that opens (the decider holds
		// the data key): refused by the state machine everywhere.
		raw := signerOf(t, am, "京01").sign(t, am, id, &pb.AssetUpdate{Number: 1, Kind: "release", Sealed: sealedDelta(t, key, id, "京01", 1, ms[0])})
		for _, n := range []*node.Node{recv, origin} {
			if err := node.IngestForTest(n, raw); !errors.Is(err, court.ErrInvalid) {
				t.Errorf("%s: err = %v, want ErrInvalid", n.Status().CourtCode, err)
			}
			if tr, _ := n.Workflow().Transfer(id); tr.AssetUpdates != 0 {
				t.Errorf("%s counts %d asset updates", n.Status().CourtCode, tr.AssetUpdates)
			}
		}
		if got := snapshot(); got != before {
			t.Error("the receiver's case changed")
		}
	})

	t.Run("a tampered payload", func(t *testing.T) {
		sealed := sealedDelta(t, key, id, "京0105", 1, ms[0])
		sealed[len(sealed)/2] ^= 0x40
		raw := signerOf(t, am, "京0105").sign(t, am, id, &pb.AssetUpdate{Number: 1, Kind: "release", Sealed: sealed})
		// The origin's node holds its own log: it takes the record first,
		// then the mesh hears it.
		if err := node.IngestForTest(origin, raw); err != nil {
			t.Fatal(err)
		}
		if err := node.PublishForTest(ctx, origin, raw); err != nil {
			t.Fatal(err)
		}
		// The skip is audited first (Before: written and synced), then
		// recorded: wait for both.
		nodetest.PollUntil(t, 20*time.Second, "the receiver audits and skips the unreadable update", func() bool {
			n, _ := recv.Store().AppliedAssetUpdates(string(id), "京0105")
			return assetAudits(t, recv, "asset_update.unreadable", id) >= 1 && n >= 1
		})
		if got := snapshot(); got != before {
			t.Error("an update that does not open changed the receiver's case")
		}
		if n := assetAudits(t, recv, "asset_update.unreadable", id); n != 1 {
			t.Errorf("the unreadable update audited %d times, want once", n)
		}
		if n, _ := recv.Store().AppliedAssetUpdates(string(id), "京0105"); n != 1 {
			t.Errorf("the unreadable update was not consumed: last applied %d", n)
		}
		// It holds nothing up: the origin's next update applies.
		tr := must(t)(origin.Assets().UpdateAssets(ctx, id, api.AssetChange{Kind: "release", Measure: ms[1].ID}))
		if tr.AssetUpdates != 2 {
			t.Errorf("origin counts %d updates, want 2", tr.AssetUpdates)
		}
		nodetest.PollUntil(t, 20*time.Second, "the next update at the receiver", func() bool {
			m, ok := measureOf(t, recv, newNo, ms[1].ID)
			return ok && m.Status == court.MeasureReleased
		})
		if m, _ := measureOf(t, recv, newNo, ms[0].ID); m.Status != court.MeasureActive {
			t.Errorf("the tampered update's measure %s is %s", ms[0].ID, m.Status)
		}
	})

	t.Run("through the API", func(t *testing.T) {
		var d datadir.Dir
		for i, c := range am.tm.Courts {
			if c.Code == "京0108" {
				d = am.tm.Dirs[i]
			}
		}
		tok, err := d.Token()
		if err != nil {
			t.Fatal(err)
		}
		cl := api.NewClient(d.Path(datadir.SocketFile), tok)
		path := "/v1/transfers/" + string(id)
		var ae *api.Error
		err = cl.Do(ctx, "POST", path+"/assets", map[string]any{"kind": "renewal", "measure": ms[0].ID, "when": "now"}, nil)
		if !errors.As(err, &ae) || ae.Status != 400 || ae.Code != api.CodeInvalid || !strings.Contains(ae.Message, "when") {
			t.Errorf("unknown field: %v", err)
		}
		err = cl.Do(ctx, "POST", path+"/assets", api.AssetChange{Kind: "lapse", Measure: ms[0].ID}, nil)
		if !errors.As(err, &ae) || ae.Status != 409 {
			t.Errorf("lapse of a measure in force: %v", err)
		}
		var tr api.Transfer
		if err := cl.Do(ctx, "POST", path+"/assets", api.AssetChange{Kind: "renewal", Measure: ms[0].ID}, &tr); err != nil {
			t.Fatal(err)
		}
		if tr.AssetUpdates != 3 {
			t.Errorf("asset updates %d, want 3", tr.AssetUpdates)
		}
		var view api.TransferAssets
		if err := cl.Do(ctx, "GET", path+"/measures", nil, &view); err != nil {
			t.Fatal(err)
		}
		if view.Role != "receiver" || view.Issued != 1 || len(view.Assets) != 0 || len(view.Measures) == 0 || view.Measures[0].DaysLeft == nil {
			t.Errorf("measures view: %+v", view)
		}
		for i := 1; i < len(view.Measures); i++ {
			a, b := view.Measures[i-1].DaysLeft, view.Measures[i].DaysLeft
			if b != nil && (a == nil || *a > *b) {
				t.Errorf("measures not by days to expiry at %d", i)
			}
		}
		err = cl.Do(ctx, "GET", "/v1/alerts/measures?within=soon", nil, nil)
		if !errors.As(err, &ae) || ae.Status != 400 {
			t.Errorf("within=soon: %v", err)
		}
		var alerts api.MeasureAlerts
		if err := cl.Do(ctx, "GET", "/v1/alerts/measures?within=3660", nil, &alerts); err != nil {
			t.Fatal(err)
		}
		if len(alerts.Measures) == 0 || alerts.Measures[0].Transfer != string(id) {
			t.Errorf("alerts: %+v", alerts)
		}
		// The origin hears the receiver's renewal.
		nodetest.PollUntil(t, 20*time.Second, "the receiver's renewal at the origin", func() bool {
			m, ok := measureOf(t, origin, cn, ms[0].ID)
			return ok && m.Status == court.MeasureRenewed
		})
	})

	t.Run("out of order", func(t *testing.T) {
		tr, err := origin.Workflow().Transfer(id)
		if err != nil {
			t.Fatal(err)
		}
		next := uint64(1)
		for _, r := range tr.Records {
			if r.Kind == cmproto.KindAssetUpdate && r.Issuer == "京0105" {
				next++
			}
		}
		found := func(number uint64, asset string) []byte {
			d := court.AssetDelta{V: court.AssetDeltaVersion, Kind: court.ChangeSearchResult,
				Assets: []court.AssetEdit{{After: court.Asset{ID: asset, Class: court.AssetVehicle, Source: "local_link"}}}}
			b, _ := json.Marshal(d)
			sealed, err := key.SealField("assets/"+string(id)+"/京0105/"+strconv.FormatUint(number, 10), b)
			if err != nil {
				t.Fatal(err)
			}
			return sealed
		}
		sig := signerOf(t, am, "京0105")
		first := sig.sign(t, am, id, &pb.AssetUpdate{Number: next, Kind: "search_result", Sealed: found(next, "o1")})
		// The second record is the next entry of the origin's log after the first.
		raw2, err := cmproto.SealRecord(sig.key, sig.cert, logSeq(t, first)+1, time.Now(), id,
			&pb.Record{Body: &pb.Record_AssetUpdate{AssetUpdate: &pb.AssetUpdate{Number: next + 1, Kind: "search_result", Sealed: found(next+1, "o2")}}})
		if err != nil {
			t.Fatal(err)
		}
		// The receiver hears the second first: it waits for its predecessor.
		if err := node.IngestForTest(recv, raw2); err != nil {
			t.Fatal(err)
		}
		waiting, err := recv.Store().PendingAssetUpdates(string(id))
		if err != nil || len(waiting) != 1 || waiting[0].Number != next+1 {
			t.Fatalf("pending %+v %v", waiting, err)
		}
		if last, _ := recv.Store().AppliedAssetUpdates(string(id), "京0105"); last != next-1 {
			t.Fatalf("last applied %d, want %d", last, next-1)
		}
		if err := node.IngestForTest(recv, first); err != nil {
			t.Fatal(err)
		}
		nodetest.PollUntil(t, 20*time.Second, "both updates applied in order", func() bool {
			last, _ := recv.Store().AppliedAssetUpdates(string(id), "京0105")
			return last == next+1
		})
		v, err := recv.Assets().TransferAssets(id, court.DateOf(time.Now()))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, a := range v.Assets {
			if a.ID == "o1" || a.ID == "o2" {
				got = append(got, a.ID)
			}
		}
		if strings.Join(got, ",") != "o1,o2" {
			t.Errorf("assets added %v, want o1 then o2", got)
		}
		// The origin's node takes its own records back, in order (unless
		// its anti-entropy sync, every second, already brought them back
		// from the receiver: then they are duplicates).
		for _, raw := range [][]byte{first, raw2} {
			if err := node.IngestForTest(origin, raw); err != nil && !errors.Is(err, cmproto.ErrDuplicate) {
				t.Fatal(err)
			}
		}
		for _, raw := range [][]byte{first, raw2} {
			if have, err := origin.Store().HasRecord(court.PeerID(sig.key.PeerID().String()), logSeq(t, raw), raw); err != nil || !have {
				t.Fatalf("the origin does not hold its own record %d: %v", logSeq(t, raw), err)
			}
		}
	})
}

// logSeq is the sequence number of a raw record.
func logSeq(t *testing.T, raw []byte) uint64 {
	t.Helper()
	env, err := crypto.UnmarshalEnvelope(raw, cmproto.MaxGossipMessage)
	if err != nil {
		t.Fatal(err)
	}
	var r pb.Record
	if err := proto.Unmarshal(env.Payload, &r); err != nil {
		t.Fatal(err)
	}
	return r.GetSequence()
}
