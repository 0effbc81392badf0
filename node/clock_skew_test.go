package node_test

import (
	"bufio"
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/config"
	"courtmesh.dev/courtmesh/node/datadir"
	"courtmesh.dev/courtmesh/node/devmesh"
	"courtmesh.dev/courtmesh/node/nodetest"
)

// metricValue scrapes n's metrics listener for an unlabelled sample.
func metricValue(t *testing.T, n *node.Node, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + n.MetricsAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			return f
		}
	}
	t.Fatalf("no metric %s on %s", name, n.PeerID())
	return 0
}

// datedAheadRefusals counts the audit entries of n that refuse a record
// of court c as dated ahead.
func datedAheadRefusals(t *testing.T, n *node.Node, c court.CourtCode) int {
	t.Helper()
	es, err := n.Store().AuditEntries(1, 1<<62)
	if err != nil {
		t.Fatal(err)
	}
	k := 0
	for _, e := range es {
		if e.Event == "record.rejected" && e.Court == string(c) && strings.Contains(e.Detail, "dated") {
			k++
		}
	}
	return k
}

func findAlert(as []api.Alert, kind string, c court.CourtCode) (api.Alert, bool) {
	for _, a := range as {
		if a.Kind == kind && a.Court == string(c) {
			return a, true
		}
	}
	return api.Alert{}, false
}

// A node whose clock is 24 hours ahead is heard, not silent: the operator
// raises a clock_skew alert naming its court and the offset, the node
// itself learns from its peers' heartbeats that its clock is ahead
// (GET /v1/status, what `courtmesh doctor` prints), and a record it
// issues is refused by the others once each, not pulled, checked and
// audited again at every sync interval.
func TestClockSkewAlert(t *testing.T) {
	const skewed court.CourtCode = "京0105"
	courts := scenarioCourts()
	tm := startCourts(t, courts, func(i int, o *node.Options) {
		cfg, err := config.Load(o.Dir.Path(datadir.ConfigFile))
		if err != nil {
			t.Fatal(err)
		}
		cfg.SyncInterval.Duration = 300 * time.Millisecond
		cfg.HeartbeatInterval.Duration = hbInterval
		o.Config = &cfg
		if courts[i].Code == skewed {
			o.Now = func() time.Time { return time.Now().Add(24 * time.Hour) }
		}
	})
	s := &scenario{t: t, tm: tm, by: map[court.CourtCode]*node.Node{}}
	for i, c := range tm.Courts {
		s.by[c.Code] = tm.nodes[i]
	}
	op, bad := s.as(court.Supreme), s.as(skewed)
	ctx := context.Background()

	// The operator: a clock_skew alert naming the court, with the offset.
	nodetest.PollUntil(t, 20*time.Second, "the operator raises clock_skew for "+string(skewed), func() bool {
		_, ok := findAlert(op.Health().AllAlerts(ctx), "clock_skew", skewed)
		return ok
	})
	a, _ := findAlert(op.Health().AllAlerts(ctx), "clock_skew", skewed)
	if a.Severity != "critical" || !strings.Contains(a.Message, "24h0m0s ahead") || !strings.Contains(a.Message, "NTP") {
		t.Errorf("clock_skew alert: %+v", a)
	}
	row, ok := hbRow(op, bad.PeerID())
	if !ok || !row.Online || !strings.Contains(strings.Join(row.Flags, ","), "clock_skew") || row.ClockOffsetMs < (24*time.Hour-time.Minute).Milliseconds() {
		t.Errorf("the skewed node as the operator sees it: %+v", row)
	}
	if _, silent := findAlert(op.Health().AllAlerts(ctx), "node_silent", skewed); silent {
		t.Errorf("%s reported silent although its heartbeats arrive", skewed)
	}
	// Only the skewed court is named; no other node doubts its own clock.
	for _, c := range courts {
		n := s.as(c.Code)
		if c.Code != skewed {
			if a, ok := findAlert(op.Health().AllAlerts(ctx), "clock_skew", c.Code); ok {
				t.Errorf("clock_skew raised for %s: %+v", c.Code, a)
			}
			if cc := n.Health().Clock(); cc.State == "ahead" || cc.State == "behind" {
				t.Errorf("%s thinks its clock is %s: %+v", c.Code, cc.State, cc)
			}
		}
	}

	// The skewed node itself, through its local API as doctor reads it.
	nodetest.PollUntil(t, 20*time.Second, string(skewed)+" learns that its clock is ahead", func() bool {
		var st api.Status
		if err := apiGet(t, bad, tm.Dirs[courtIndex(courts, skewed)], "/v1/status", &st); err != nil {
			t.Fatal(err)
		}
		return st.Clock != nil && st.Clock.State == "ahead" && st.Clock.Peers >= 2 &&
			st.Clock.OffsetMs > (24*time.Hour-time.Minute).Milliseconds() && st.Clock.OffsetMs < (24*time.Hour+time.Minute).Milliseconds()
	})
	if a, ok := findAlert(bad.Health().AllAlerts(ctx), "clock_skew", skewed); !ok || !strings.Contains(a.Message, "this node's clock is 24h0m0s ahead") {
		t.Errorf("the skewed node's own alert: %+v (found %v)", a, ok)
	}

	// A record the skewed node issues is dated a day ahead: refused by the
	// others, once.
	safe, _ := s.cases(skewed, 6)
	if len(safe) == 0 {
		t.Fatal("the generator made no case without a near-expiry measure")
	}
	tr := must(t)(bad.Workflow().Offer(ctx, api.OfferRequest{CaseNumber: safe[0].String(), Superior: "京01", Grounds: []string{"long_unexecuted"}}))
	var others []*node.Node
	for _, c := range courts {
		if c.Code != skewed {
			others = append(others, s.as(c.Code))
		}
	}
	nodetest.PollUntil(t, 20*time.Second, "every other node refuses the record dated ahead", func() bool {
		for _, n := range others {
			if datedAheadRefusals(t, n, skewed) == 0 {
				return false
			}
		}
		return true
	})
	// Then several sync intervals pass: wait until each node has completed
	// 5 more log-head exchanges (one per sync interval, with a random
	// peer); meanwhile the skewed court announces its log head every
	// interval, which asks every node to pull the record again.
	type mark struct{ skipped, exchanges float64 }
	marks := make([]mark, len(others))
	for i, n := range others {
		marks[i] = mark{metricValue(t, n, "courtmesh_sync_skipped_dated_ahead_total"), metricValue(t, n, "courtmesh_sync_exchanges_total")}
	}
	nodetest.PollUntil(t, 30*time.Second, "5 later sync rounds on every other node", func() bool {
		for i, n := range others {
			if metricValue(t, n, "courtmesh_sync_exchanges_total") < marks[i].exchanges+5 {
				return false
			}
		}
		return true
	})
	// And each node exchanges log heads with the skewed node itself three
	// times more (the periodic exchange picks a random peer).
	for i, n := range others {
		for range 3 {
			if err := node.SyncWithForTest(ctx, n, bad.PeerID()); err != nil {
				t.Fatalf("sync with %s: %v", skewed, err)
			}
		}
		if v := metricValue(t, n, "courtmesh_sync_skipped_dated_ahead_total"); v < marks[i].skipped+1 {
			t.Errorf("%s never skipped the log of %s (%v skips)", n.PeerID(), skewed, v)
		}
	}
	for _, n := range others {
		if got := datedAheadRefusals(t, n, skewed); got != 1 {
			t.Errorf("%s audited the record dated ahead %d times, want once", n.PeerID(), got)
		}
		if x, err := n.Workflow().Transfer(tr.ID); err == nil {
			t.Errorf("%s took the transfer offered from the future: %+v", n.PeerID(), x.State)
		}
		if v := metricValue(t, n, "courtmesh_records_dated_ahead"); v != 1 {
			t.Errorf("%s remembers %v records dated ahead, want 1", n.PeerID(), v)
		}
	}
	// The audit names the court whose clock is wrong.
	es, err := s.as("京01").Store().AuditEntries(1, 1<<62)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.Event == "record.rejected" && strings.Contains(e.Detail, "dated") && (e.Court != string(skewed) || e.Transfer != string(tr.ID)) {
			t.Errorf("refusal names court %q transfer %q, want %s %s", e.Court, e.Transfer, skewed, tr.ID)
		}
	}
}

func courtIndex(cs []devmesh.Court, c court.CourtCode) int {
	for i, x := range cs {
		if x.Code == c {
			return i
		}
	}
	return -1
}
