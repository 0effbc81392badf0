package node_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/config"
	"courtmesh.dev/courtmesh/node/dashboard"
	"courtmesh.dev/courtmesh/node/datadir"
	"courtmesh.dev/courtmesh/node/nodetest"
	cmproto "courtmesh.dev/courtmesh/protocol"
)

// dashStory is the mesh the dashboard tests look at, after the story:
// A 指令执行 from 京0105 to 京0108, handed over despite a measure near
// expiry, received and with progress reported; B 提级执行 to 京01,
// accepted; C designated to 京0108 with an acceptance deadline already
// passed (overdue); D offered, waiting for the decision.
type dashStory struct {
	*scenario
	A, B, C, D court.TransferID
	spare      []court.CaseNumber // cases of 京0105 not offered
}

// Amounts of transfer A.
const (
	storyOriginFen    = 300_000_00
	storyRecoveredFen = 1_250_000_00
)

// newDashStory starts the scenario courts with one-second sync and
// heartbeats (webhookURL, if set, on the operator node 最高法) and plays
// the story.
func newDashStory(t *testing.T, webhookURL string) *dashStory {
	t.Helper()
	tm := startCourts(t, scenarioCourts(), func(i int, o *node.Options) {
		cfg, err := config.Load(o.Dir.Path(datadir.ConfigFile))
		if err != nil {
			t.Fatal(err)
		}
		cfg.SyncInterval.Duration = time.Second
		cfg.HeartbeatInterval.Duration = time.Second
		if i == 0 {
			cfg.WebhookURL = webhookURL
		}
		o.Config = &cfg
	})
	s := &scenario{t: t, tm: tm, by: map[court.CourtCode]*node.Node{}}
	for i, c := range tm.Courts {
		s.by[c.Code] = tm.nodes[i]
	}
	st := &dashStory{scenario: s}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	safe, expiring := s.cases("京0105", 12)
	if len(safe) < 4 || len(expiring) < 1 {
		t.Fatalf("the generator made %d safe and %d expiring cases; the story needs 4 and 1", len(safe), len(expiring))
	}
	st.spare = safe[3:]

	// A: 指令执行 to 京0108, handed over with an override, received.
	origin := int64(storyOriginFen)
	tr := must(t)(s.as("京0105").Workflow().Offer(ctx, api.OfferRequest{CaseNumber: expiring[0].String(), Superior: "京01", Grounds: []string{"long_unexecuted"}, AmountRecoveredFen: &origin}))
	st.A = tr.ID
	s.expectEverywhere(st.A, cmproto.StateOffered)
	must(t)(s.as("京01").Workflow().Decide(ctx, st.A, api.DecideRequest{Mode: "designated", Receiver: "京0108", DecisionNumber: "（2026）京01执监21号"}))
	s.expectEverywhere(st.A, cmproto.StateDecided)
	must(t)(s.as("京0108").Workflow().Accept(ctx, st.A, api.AcceptRequest{NewCaseNumber: nodetest.CaseNo(time.Now(), "京0108", court.TypeEnforcement, 2101)}))
	s.expectEverywhere(st.A, cmproto.StateAccepted)
	must(t)(s.as("京0105").Workflow().Handover(ctx, st.A, api.HandoverRequest{OverrideReason: "测试：续行裁定已送达，待系统更新"}))
	s.expectEverywhere(st.A, cmproto.StateHandedOver)
	if _, err := s.as("京0108").Fetcher().Fetch(ctx, st.A); err != nil {
		t.Fatal(err)
	}
	s.expectEverywhere(st.A, cmproto.StateReceived)
	must(t)(s.as("京0108").Workflow().Progress(ctx, st.A, api.ProgressRequest{AmountRecoveredFen: storyRecoveredFen, Status: "已扣划存款"}))
	nodetest.PollUntil(t, 20*time.Second, "progress everywhere", func() bool {
		for _, n := range s.tm.nodes {
			if tr, err := n.Workflow().Transfer(st.A); err != nil || tr.AmountRecovered != storyRecoveredFen {
				return false
			}
		}
		return true
	})

	// B: 提级执行, accepted by 京01 itself.
	tr = must(t)(s.as("京0105").Workflow().Offer(ctx, api.OfferRequest{CaseNumber: safe[0].String(), Superior: "京01", Grounds: []string{"capacity"}}))
	st.B = tr.ID
	s.expectEverywhere(st.B, cmproto.StateOffered)
	must(t)(s.as("京01").Workflow().Decide(ctx, st.B, api.DecideRequest{Mode: "elevated", DecisionNumber: "（2026）京01执监22号"}))
	s.expectEverywhere(st.B, cmproto.StateDecided)
	must(t)(s.as("京01").Workflow().Accept(ctx, st.B, api.AcceptRequest{NewCaseNumber: nodetest.CaseNo(time.Now(), "京01", court.TypeEnforcement, 122)}))
	s.expectEverywhere(st.B, cmproto.StateAccepted)

	// C: designated to 京0108, to accept by yesterday: overdue.
	tr = must(t)(s.as("京0105").Workflow().Offer(ctx, api.OfferRequest{CaseNumber: safe[1].String(), Superior: "京01", Grounds: []string{"interference"}}))
	st.C = tr.ID
	s.expectEverywhere(st.C, cmproto.StateOffered)
	yesterday := court.DateOf(time.Now()).AddDate(0, 0, -1).String()
	must(t)(s.as("京01").Workflow().Decide(ctx, st.C, api.DecideRequest{Mode: "designated", Receiver: "京0108", DecisionNumber: "（2026）京01执监23号", AcceptBy: yesterday}))
	s.expectEverywhere(st.C, cmproto.StateDecided)

	// D: offered only.
	tr = must(t)(s.as("京0105").Workflow().Offer(ctx, api.OfferRequest{CaseNumber: safe[2].String(), Superior: "京01", Grounds: []string{"long_unexecuted"}}))
	st.D = tr.ID
	s.expectEverywhere(st.D, cmproto.StateOffered)

	// Every node heard every other node's heartbeat.
	nodetest.PollUntil(t, 30*time.Second, "the operator sees every node online", func() bool {
		m := s.as(court.Supreme).Health().Mesh()
		online := 0
		for _, ch := range m {
			if ch.Online {
				online++
			}
		}
		return online == len(s.tm.nodes)
	})
	return st
}

// token is a court's API token.
func (s *scenario) token(code court.CourtCode) string {
	for i, c := range s.tm.Courts {
		if c.Code == code {
			tok, err := s.tm.Dirs[i].Token()
			if err != nil {
				s.t.Fatal(err)
			}
			return tok
		}
	}
	s.t.Fatalf("no court %s", code)
	return ""
}

// call sends a request to a node's local API over loopback TCP, without
// following redirects.
func call(t *testing.T, n *node.Node, method, path, bearer string, cookies ...*http.Cookie) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+n.APIAddr()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	c := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// dashboardJSON fetches GET /v1/dashboard with the bearer token.
func (s *scenario) dashboardJSON(code court.CourtCode) dashboard.Dashboard {
	s.t.Helper()
	resp, body := call(s.t, s.as(code), "GET", "/v1/dashboard", s.token(code))
	if resp.StatusCode != 200 {
		s.t.Fatalf("GET /v1/dashboard on %s: %s %s", code, resp.Status, body)
	}
	var d dashboard.Dashboard
	if err := json.Unmarshal(body, &d); err != nil {
		s.t.Fatal(err)
	}
	return d
}

func stateCount(d dashboard.Dashboard, s cmproto.State) int {
	for _, c := range d.Pipeline.States {
		if c.State == string(s) {
			return c.Count
		}
	}
	return -1
}

func courtRow(d dashboard.Dashboard, c court.CourtCode) dashboard.CourtIndicators {
	for _, ci := range d.Courts {
		if ci.Court == string(c) {
			return ci
		}
	}
	return dashboard.CourtIndicators{}
}

func hasAlert(as []api.Alert, kind string, transfer court.TransferID) bool {
	for _, a := range as {
		if a.Kind == kind && (transfer == "" || a.Transfer == string(transfer)) {
			return true
		}
	}
	return false
}

// webhookSink receives webhook posts on loopback.
type webhookSink struct {
	*httptest.Server
	mu  sync.Mutex
	got []dashboard.WebhookPayload
}

func newWebhookSink(t *testing.T) *webhookSink {
	w := &webhookSink{}
	w.Server = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var p dashboard.WebhookPayload
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
			rw.WriteHeader(http.StatusBadRequest)
			return
		}
		w.mu.Lock()
		w.got = append(w.got, p)
		w.mu.Unlock()
	}))
	t.Cleanup(w.Close)
	return w
}

func (w *webhookSink) payloads() []dashboard.WebhookPayload {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]dashboard.WebhookPayload(nil), w.got...)
}

func TestDashboardIndicatorsAlertsAndWebhook(t *testing.T) {
	sink := newWebhookSink(t)
	st := newDashStory(t, sink.URL+"/alerts")

	// The operator sees the whole mesh, and its numbers are the store's.
	d := st.dashboardJSON(court.Supreme)
	if d.Scope != dashboard.ScopeMesh || d.Court != string(court.Supreme) || d.Version != dashboard.Version {
		t.Errorf("operator dashboard: scope %q court %q version %d", d.Scope, d.Court, d.Version)
	}
	all, err := listAll(st.as(court.Supreme))
	if err != nil {
		t.Fatal(err)
	}
	if d.Pipeline.Total != len(all) || d.Pipeline.Total != 4 {
		t.Errorf("pipeline total %d; the store holds %d, the story made 4", d.Pipeline.Total, len(all))
	}
	for state, want := range map[cmproto.State]int{cmproto.StateOffered: 1, cmproto.StateDecided: 1, cmproto.StateAccepted: 1, cmproto.StateReceived: 1, cmproto.StateClosed: 0} {
		if got := stateCount(d, state); got != want {
			t.Errorf("state %s: %d, want %d", state, got, want)
		}
	}
	if d.Pipeline.Overdue != 1 || d.Pipeline.AcceptanceSamples != 2 || d.Pipeline.ReceiptSamples != 1 {
		t.Errorf("pipeline %+v", d.Pipeline)
	}
	if d.Modes[0] != (dashboard.ModeCount{Mode: "指令执行", Count: 2}) || d.Modes[1] != (dashboard.ModeCount{Mode: "提级执行", Count: 1}) {
		t.Errorf("modes %+v", d.Modes)
	}
	r := courtRow(d, "京0108")
	// The received case counts as a first enforcement of its balance.
	var balance int64
	for _, tr := range all {
		if tr.State == cmproto.StateReceived {
			balance = tr.BalanceFen
		}
	}
	want := dashboard.CourtIndicators{Court: "京0108", Name: r.Name, Designated: 2, Accepted: 1, AcceptedInTime: 1, Received: 1,
		RecoveredFen: storyRecoveredFen, OriginFen: storyOriginFen, Open: 1, ClaimedFen: balance}
	if balance <= 0 {
		t.Errorf("the received transfer states no balance")
	}
	if r != want || r.Name == "" {
		t.Errorf("京0108: %+v, want %+v", r, want)
	}
	if r := courtRow(d, "京01"); r.Designated != 1 || r.Accepted != 1 || r.Received != 0 {
		t.Errorf("京01: %+v", r)
	}
	if d.Mesh.Total != len(st.tm.nodes) || d.Mesh.Online != len(st.tm.nodes) {
		t.Errorf("mesh %d of %d online, want all %d", d.Mesh.Online, d.Mesh.Total, len(st.tm.nodes))
	}
	if !hasAlert(d.Alerts, "acceptance_overdue", st.C) {
		t.Errorf("no overdue alert for C in %+v", d.Alerts)
	}

	// The receiver sees its own part, with the measure of A near expiry.
	rd := st.dashboardJSON("京0108")
	if rd.Scope != dashboard.ScopeCourt || rd.Pipeline.Total != 2 {
		t.Errorf("京0108's dashboard: scope %s, %d transfers, want court and 2 (A and C)", rd.Scope, rd.Pipeline.Total)
	}
	if !hasAlert(rd.Alerts, "measure_expiring", st.A) || !hasAlert(rd.Alerts, "acceptance_overdue", st.C) {
		t.Errorf("京0108's alerts %+v: want the measure of A near expiry and C overdue", rd.Alerts)
	}
	for _, a := range rd.Alerts {
		if a.Kind == "node_silent" && a.Court != "京0108" {
			t.Errorf("京0108 sees another court's node alert: %+v", a)
		}
	}
	// A court that takes part in nothing sees no transfer.
	if od := st.dashboardJSON("京02"); od.Pipeline.Total != 0 || len(od.Courts) != 0 {
		t.Errorf("京02 sees %d transfers, %d courts", od.Pipeline.Total, len(od.Courts))
	}

	// The webhook of the operator node got the overdue acceptance, once.
	nodetest.PollUntil(t, 20*time.Second, "the overdue acceptance at the webhook", func() bool {
		for _, p := range sink.payloads() {
			if p.Alert.Kind == "acceptance_overdue" && p.Alert.Transfer == string(st.C) {
				return true
			}
		}
		return false
	})
	// Another transfer becomes overdue: once its alert arrives, the
	// alerts were evaluated again, and C's was not posted again.
	ctx := context.Background()
	tr := must(t)(st.as("京0105").Workflow().Offer(ctx, api.OfferRequest{CaseNumber: st.spare[0].String(), Superior: "京01", Grounds: []string{"interference"}}))
	st.expectEverywhere(tr.ID, cmproto.StateOffered)
	yesterday := court.DateOf(time.Now()).AddDate(0, 0, -1).String()
	must(t)(st.as("京01").Workflow().Decide(ctx, tr.ID, api.DecideRequest{Mode: "designated", Receiver: "京0108", DecisionNumber: "（2026）京01执监24号", AcceptBy: yesterday}))
	nodetest.PollUntil(t, 20*time.Second, "the second overdue acceptance at the webhook", func() bool {
		for _, p := range sink.payloads() {
			if p.Alert.Kind == "acceptance_overdue" && p.Alert.Transfer == string(tr.ID) {
				return true
			}
		}
		return false
	})
	seen := map[string]int{}
	for _, p := range sink.payloads() {
		if p.Version != dashboard.WebhookVersion || p.Court != string(court.Supreme) {
			t.Errorf("payload %+v", p)
		}
		seen[dashboard.AlertKey(p.Alert)]++
	}
	for k, c := range seen {
		if c != 1 {
			t.Errorf("alert %q posted %d times", k, c)
		}
	}
}

func TestDashboardAccess(t *testing.T) {
	tm := startCourts(t, scenarioCourts()[:1])
	n := tm.nodes[0]
	tok, err := tm.Dirs[0].Token()
	if err != nil {
		t.Fatal(err)
	}

	for _, path := range []string{"/dashboard", "/v1/dashboard"} {
		if resp, _ := call(t, n, "GET", path, ""); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s without credentials: %s", path, resp.Status)
		}
	}
	resp, body := call(t, n, "GET", "/dashboard?token=not-the-token-"+strings.Repeat("x", 20), "")
	if resp.StatusCode != http.StatusUnauthorized || strings.Contains(string(body), "not-the-token") || len(resp.Cookies()) != 0 {
		t.Errorf("wrong token: %s, cookies %v, body %s", resp.Status, resp.Cookies(), body)
	}

	// The right token: a session cookie and a redirect without the token.
	resp, body = call(t, n, "GET", "/dashboard?lang=en&token="+tok, "")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/dashboard?lang=en" || strings.Contains(string(body), tok) {
		t.Fatalf("login: %s, Location %q", resp.Status, resp.Header.Get("Location"))
	}
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == api.SessionCookie {
			session = c
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Value == "" || strings.Contains(session.Value, tok) {
		t.Fatalf("session cookie %+v", session)
	}

	resp, body = call(t, n, "GET", "/dashboard?lang=en", "", session)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "Cross-execution supervision dashboard") || strings.Contains(string(body), tok) {
		t.Errorf("the page with the session cookie: %s", resp.Status)
	}
	if resp, _ := call(t, n, "GET", "/v1/dashboard", "", session); resp.StatusCode != 200 {
		t.Errorf("GET /v1/dashboard with the session cookie: %s", resp.Status)
	}
	// The cookie opens the dashboard only, and only for reading.
	for _, c := range []struct{ method, path string }{{"GET", "/v1/status"}, {"GET", "/v1/transfers"}, {"GET", "/v1/cases"}, {"POST", "/v1/transfers"}, {"POST", "/v1/dashboard"}} {
		if resp, _ := call(t, n, c.method, c.path, "", session); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s %s with the session cookie: %s, want 401", c.method, c.path, resp.Status)
		}
	}
	// A forged cookie does not.
	if resp, _ := call(t, n, "GET", "/v1/dashboard", "", &http.Cookie{Name: api.SessionCookie, Value: tok}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the raw token as cookie: %s, want 401", resp.Status)
	}
	// The bearer token still works everywhere.
	if resp, _ := call(t, n, "GET", "/v1/dashboard", tok); resp.StatusCode != 200 {
		t.Errorf("GET /v1/dashboard with the bearer token: %s", resp.Status)
	}
}

func TestConfigWebhookURL(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		line string
		ok   bool
	}{
		{``, true},
		{`webhook_url = "https://ops.court.example/alerts"`, true},
		{`webhook_url = "ftp://ops.court.example/alerts"`, false},
		{`webhook_url = "/alerts"`, false},
	} {
		p := filepath.Join(dir, "config.toml")
		if err := os.WriteFile(p, []byte("version = 1\n"+c.line+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(p)
		if c.ok != (err == nil) || (err != nil && !errors.Is(err, config.ErrConfig)) {
			t.Errorf("%q: %v", c.line, err)
		}
		if c.ok && c.line == "" && cfg.WebhookURL != "" {
			t.Errorf("default webhook_url %q, want none", cfg.WebhookURL)
		}
	}
}
