package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/advice"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/datadir"
	"courtmesh.dev/courtmesh/node/nodetest"
	"courtmesh.dev/courtmesh/storage"
)

// TestE2ETransferCLIAndHTTP builds the real binary, inits five courts in
// temporary directories, certifies them with `courtmesh ca`, starts each
// node as its own process, and plays a whole transfer twice: first with
// the CLI alone (offer, decide, accept, a handover refused for a measure
// that expires within 30 days, the handover with --override, dossier
// fetch and receipt, progress, closure), then with the HTTP API alone
// (plain net/http and the bearer token from api.token, over the Unix
// socket for some courts and loopback TCP for the others; the refused
// handover is cured by renewing the measure (续行) and re-importing the
// case, as a case-management system would). At the end all five nodes
// agree on both transfers' final state.
func TestE2ETransferCLIAndHTTP(t *testing.T) {
	e := newE2E(t)
	base := t.TempDir()
	root := filepath.Join(base, "root")
	e.must(t, "ca", "init", "--dir", root)
	courts := []*e2eCourt{
		{code: "最高法", roles: "court,operator"},
		{code: "京", roles: "court"},
		{code: "京01", roles: "court"},
		{code: "京0105", roles: "court"},
		{code: "京0108", roles: "court"},
	}
	dec, origin, recv := courts[2], courts[3], courts[4]
	e.certifyAndStart(t, base, root, courts)
	for _, c := range courts {
		nodetest.PollUntil(t, 30*time.Second, c.code+" sees the other four courts", func() bool {
			ps, err := c.apiPeers(t)
			return err == nil && len(ps) == len(courts)-1
		})
	}

	// Synthetic cases of 京0105, written and imported with the CLI into the
	// running node; two of them have a measure expiring within 30 days.
	casesDir := filepath.Join(base, "cases")
	e.must(t, "gen", "--out", casesDir, "--cases", "12", "--seed", "5", "--court", "京0105")
	dirOf := map[string]string{}
	ents, err := os.ReadDir(casesDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, ent := range ents {
		dir := filepath.Join(casesDir, ent.Name())
		out := e.must(t, "case", "import", "--data", origin.dir, dir)
		raw, err := os.ReadFile(filepath.Join(dir, "case.json"))
		if err != nil {
			t.Fatal(err)
		}
		var cj struct {
			CaseNumber string `json:"case_number"`
		}
		if err := json.Unmarshal(raw, &cj); err != nil || cj.CaseNumber == "" {
			t.Fatalf("%s/case.json: no case number (%v)", dir, err)
		}
		if !strings.Contains(out, cj.CaseNumber) {
			t.Errorf("case import of %s does not print the case number %s:\n%s", dir, cj.CaseNumber, out)
		}
		dirOf[cj.CaseNumber] = dir
	}
	var exp api.ExpiringResult
	e.mustJSON(t, &exp, "measures", "expiring", "--json", "--data", origin.dir, "--within", "30")
	var near []string
	for _, m := range exp.Measures {
		if m.DaysLeft >= 0 && !slices.Contains(near, m.Case) {
			near = append(near, m.Case)
		}
	}
	if len(near) < 2 {
		t.Fatalf("the generated cases have %d cases with a measure expiring within 30 days (%v); the story needs 2", len(near), exp.Measures)
	}
	cliCase, httpCase := near[0], near[1]
	t.Logf("CLI story: %s; HTTP story: %s", cliCase, httpCase)

	cliID := e.cliStory(t, courts, dec, origin, recv, cliCase)
	httpID := httpStory(t, courts, dec, origin, recv, httpCase, dirOf[httpCase])

	// All five nodes agree on both transfers, as the API shows them to
	// each and as the CLI prints them.
	for _, id := range []string{cliID, httpID} {
		var want string
		for _, c := range courts {
			var tr api.Transfer
			e.mustJSON(t, &tr, "transfer", "show", "--json", "--data", c.dir, id)
			got := finalState(tr)
			if want == "" {
				want = got
				t.Logf("transfer %s on %s: %s", id, c.code, got)
			} else if got != want {
				t.Errorf("%s disagrees on %s:\n got %s\nwant %s", c.code, id, got, want)
			}
		}
	}
	// The decider's listing shows both, closed.
	out := e.must(t, "transfer", "list", "--data", dec.dir)
	for _, w := range []string{cliCase, httpCase, "closed"} {
		if !strings.Contains(out, w) {
			t.Errorf("transfer list on 京01 does not show %q:\n%s", w, out)
		}
	}
}

// finalState is what every node must agree on about a transfer.
func finalState(tr api.Transfer) string {
	var recs []string
	for _, r := range tr.Records {
		recs = append(recs, string(r.Kind)+"/"+string(r.Issuer)+"/"+r.Hash[:12])
	}
	return fmt.Sprintf("state=%s case=%s origin=%s decider=%s mode=%s receiver=%s new=%s chunks=%d root=%x override=%q recovered=%d status=%q outcome=%s records=%v",
		tr.State, tr.CaseNumber, tr.Origin, tr.Decider, tr.Mode, tr.Receiver, tr.NewCaseNumber, tr.ChunkCount, tr.MerkleRoot, tr.OverrideReason,
		tr.AmountRecovered, tr.ProgressStatus, tr.Outcome, recs)
}

// cliStory plays the whole transfer of cn with the CLI alone and returns
// its id.
func (e *e2e) cliStory(t *testing.T, courts []*e2eCourt, dec, origin, recv *e2eCourt, cn string) string {
	t.Helper()
	var tr api.Transfer
	e.mustJSON(t, &tr, "transfer", "offer", "--json", "--data", origin.dir, "--case", cn, "--superior", "京01", "--grounds", "long_unexecuted,serial_cases")
	id := string(tr.ID)
	if tr.State != "offered" || tr.CaseNumber != cn || len(tr.Grounds) != 2 {
		t.Fatalf("transfer offer: %+v", tr)
	}
	e.waitState(t, id, "offered", courts...)
	if out := e.must(t, "transfer", "list", "--data", dec.dir, "--state", "offered"); !strings.Contains(out, cn) || !strings.Contains(out, "京01: decide") {
		t.Errorf("transfer list on 京01 does not show %s waiting for its decision:\n%s", cn, out)
	}

	// The recommendation, as a table and as JSON, then the decision on it.
	var rec advice.Recommendation
	e.mustJSON(t, &rec, "transfer", "recommend", "--json", "--data", dec.dir, id)
	if rec.Decider != "京01" || len(rec.HashBytes()) != 32 || rec.RankOf("京0108") == 0 || rec.RankOf("京0105") != len(rec.Ranking) {
		t.Fatalf("transfer recommend --json: %+v", rec)
	}
	if out := e.must(t, "transfer", "recommend", "--data", dec.dir, id); !strings.Contains(out, rec.InputsHash) || !strings.Contains(out, "the origin court") || !strings.Contains(out, "京0108") {
		t.Errorf("transfer recommend does not show the ranking with its reasons:\n%s", out)
	}
	decision, newCase := "（2026）京01执监51号", nodetest.CaseNo(time.Now(), "京0108", court.TypeEnforcement, 5101)
	out := e.must(t, "transfer", "decide", "--data", dec.dir, "--mode", "designated", "--to", "京0108", "--recommendation", rec.InputsHash, "--decision", decision, id)
	if !strings.Contains(out, fmt.Sprintf("ranked %d in the recommendation", rec.RankOf("京0108"))) {
		t.Errorf("transfer decide does not show the rank the decision notes:\n%s", out)
	}
	if !strings.Contains(out, decision) || !strings.Contains(out, "指令执行") {
		t.Errorf("transfer decide does not print the decision %s (指令执行):\n%s", decision, out)
	}
	e.waitState(t, id, "decided", courts...)
	e.must(t, "transfer", "accept", "--data", recv.dir, "--case", newCase, id)
	e.waitState(t, id, "accepted", courts...)

	// Refused: a measure expires within 30 days.
	out, err := e.run("transfer", "handover", "--data", origin.dir, id)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitConflict || !strings.Contains(out, "handover_blocked") || !strings.Contains(out, "Renew") || !strings.Contains(out, cn) {
		t.Fatalf("transfer handover with a measure expiring within 30 days: %v\n%s", err, out)
	}
	t.Logf("handover refused: %s", strings.TrimSpace(out))
	st := e.showJSON(t, origin, id)
	if st.State != "accepted" {
		t.Fatalf("after the refused handover the transfer is %s", st.State)
	}
	const override = "端到端测试：续行裁定已送达，移交后由受托法院办理"
	out = e.must(t, "transfer", "handover", "--data", origin.dir, "--override", override, id)
	if !strings.Contains(out, override) || !strings.Contains(out, "handed_over") {
		t.Errorf("transfer handover --override does not show the override and the new state:\n%s", out)
	}
	e.waitState(t, id, "handed_over", courts...)
	// The origin's audit log records the override and its reason.
	export := filepath.Join(t.TempDir(), "audit.jsonl")
	e.must(t, "audit", "export", "--data", origin.dir, "--out", export)
	raw, err := os.ReadFile(export)
	if err != nil {
		t.Fatal(err)
	}
	overridden := false
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var ae storage.AuditEntry
		if json.Unmarshal([]byte(line), &ae) == nil && ae.Event == "handover.override" && ae.Transfer == id && strings.Contains(ae.Detail, override) {
			overridden = true
		}
	}
	if !overridden {
		t.Errorf("the origin's audit export has no handover.override entry for %s with the reason:\n%s", id, raw)
	}

	// The receiver fetches the dossier; the receipt moves every node on.
	var p api.FetchProgress
	e.mustJSONLong(t, 5*time.Minute, &p, "dossier", "fetch", "--json", "--data", recv.dir, id)
	if p.State != "done" || p.NewCase != newCase || p.Verified != p.Chunks || p.Chunks == 0 {
		t.Fatalf("dossier fetch: %+v", p)
	}
	e.waitState(t, id, "received", courts...)
	if out := e.must(t, "dossier", "verify", "--data", recv.dir, newCase); !strings.Contains(out, "verified") {
		t.Errorf("dossier verify %s: %s", newCase, out)
	}

	e.must(t, "transfer", "progress", "--data", recv.dir, "--recovered-fen", "12500000", "--status", "已扣划存款，房产进入评估", id)
	for _, c := range courts {
		nodetest.PollUntil(t, 30*time.Second, c.code+" records the progress", func() bool {
			tr, err := apiTransfer(c, id)
			return err == nil && tr.AmountRecovered == 12500000
		})
	}
	out = e.must(t, "transfer", "close", "--data", recv.dir, "--outcome", "concluded", "--recovered-fen", "30000000", id)
	if !strings.Contains(out, "closed") || !strings.Contains(out, newCase) {
		t.Errorf("transfer close:\n%s", out)
	}
	e.waitState(t, id, "closed", courts...)
	return id
}

func (e *e2e) showJSON(t *testing.T, c *e2eCourt, id string) api.Transfer {
	t.Helper()
	var tr api.Transfer
	e.mustJSON(t, &tr, "transfer", "show", "--json", "--data", c.dir, id)
	return tr
}

func apiTransfer(c *e2eCourt, id string) (api.Transfer, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var tr api.Transfer
	err := api.NewClient(datadir.Dir(c.dir).Path(datadir.SocketFile), readToken(c)).Do(ctx, "GET", "/v1/transfers/"+id, nil, &tr)
	return tr, err
}

func readToken(c *e2eCourt) string {
	b, _ := os.ReadFile(datadir.Dir(c.dir).Path(datadir.TokenFile))
	return strings.TrimSpace(string(b))
}

// httpCourt talks to one court's node with net/http alone.
type httpCourt struct {
	code  string
	base  string // http://127.0.0.1:PORT, or http://courtmesh over the socket
	via   string
	token string
	hc    *http.Client
}

func newHTTPCourt(t *testing.T, c *e2eCourt, tcp bool) *httpCourt {
	t.Helper()
	d := datadir.Dir(c.dir)
	tok, err := os.ReadFile(d.Path(datadir.TokenFile))
	if err != nil {
		t.Fatal(err)
	}
	h := &httpCourt{code: c.code, token: strings.TrimSpace(string(tok))}
	if tcp {
		addr, err := os.ReadFile(d.Path(datadir.AddrFile))
		if err != nil {
			t.Fatalf("%s: %v", c.code, err)
		}
		host := strings.TrimSpace(string(addr))
		if ip, _, err := net.SplitHostPort(host); err != nil || !net.ParseIP(ip).IsLoopback() {
			t.Fatalf("%s: API address %q is not loopback", c.code, host)
		}
		h.base, h.via, h.hc = "http://"+host, "tcp "+host, &http.Client{Timeout: time.Minute}
	} else {
		sock := d.Path(datadir.SocketFile)
		h.base, h.via = "http://courtmesh", "unix "+sock
		h.hc = &http.Client{Timeout: time.Minute, Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var dl net.Dialer
			return dl.DialContext(ctx, "unix", sock)
		}}}
	}
	t.Cleanup(h.hc.CloseIdleConnections)
	return h
}

// call sends a JSON request and decodes the answer into out when its
// status is want; otherwise it returns the status and the error body.
func (h *httpCourt) call(t *testing.T, method, path string, in any, want int, out any) (int, *api.Error) {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, h.base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+h.token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := h.hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s on %s (%s): %v", method, path, h.code, h.via, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != want {
		var eb struct {
			Error *api.Error `json:"error"`
		}
		if json.Unmarshal(raw, &eb) != nil || eb.Error == nil {
			t.Fatalf("%s %s on %s: %d, not a JSON error: %s", method, path, h.code, resp.StatusCode, raw)
		}
		return resp.StatusCode, eb.Error
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s on %s: %v\n%s", method, path, h.code, err, raw)
		}
	}
	return resp.StatusCode, nil
}

// must sends a request that has to answer want.
func (h *httpCourt) must(t *testing.T, method, path string, in any, want int, out any) {
	t.Helper()
	if status, e := h.call(t, method, path, in, want, out); e != nil {
		t.Fatalf("%s %s on %s (%s): %d %s: %s; want %d", method, path, h.code, h.via, status, e.Code, e.Message, want)
	}
}

// httpStory plays the whole transfer of cn with HTTP requests alone and
// returns its id. caseDir is the case's folder, which the "case-management
// system" edits for the renewal.
func httpStory(t *testing.T, courts []*e2eCourt, dec, origin, recv *e2eCourt, cn, caseDir string) string {
	t.Helper()
	hs := map[string]*httpCourt{}
	for i, c := range courts {
		hs[c.code] = newHTTPCourt(t, c, i%2 == 0)
		t.Logf("HTTP to %s over %s", c.code, hs[c.code].via)
	}
	everywhere := func(id, what string, ok func(api.Transfer) bool) {
		t.Helper()
		for _, c := range courts {
			h := hs[c.code]
			nodetest.PollUntil(t, 30*time.Second, fmt.Sprintf("%s: %s %s", c.code, id, what), func() bool {
				var tr api.Transfer
				status, _ := h.call(t, "GET", "/v1/transfers/"+id, nil, 200, &tr)
				return status == 200 && tr.ID != "" && ok(tr)
			})
		}
	}
	state := func(s string) func(api.Transfer) bool {
		return func(tr api.Transfer) bool { return string(tr.State) == s }
	}
	o, d, r := hs[origin.code], hs[dec.code], hs[recv.code]

	var tr api.Transfer
	o.must(t, "POST", "/v1/transfers", api.OfferRequest{CaseNumber: cn, Superior: "京01", Grounds: []string{"interference"}}, 200, &tr)
	id := string(tr.ID)
	everywhere(id, "offered", state("offered"))
	decision, newCase := "（2026）京01执监52号", nodetest.CaseNo(time.Now(), "京0108", court.TypeEnforcement, 5202)
	d.must(t, "POST", "/v1/transfers/"+id+"/decide", api.DecideRequest{Mode: "designated", Receiver: "京0108", DecisionNumber: decision}, 200, &tr)
	if tr.Mode != "指令执行" || tr.Receiver != "京0108" || tr.AcceptBy == "" {
		t.Fatalf("decision: %+v", tr)
	}
	everywhere(id, "decided", state("decided"))
	r.must(t, "POST", "/v1/transfers/"+id+"/accept", api.AcceptRequest{NewCaseNumber: newCase}, 200, nil)
	everywhere(id, "accepted", state("accepted"))

	// Refused: the answer names each measure expiring within 30 days.
	status, herr := o.call(t, "POST", "/v1/transfers/"+id+"/handover", api.HandoverRequest{}, 200, nil)
	if status != http.StatusConflict || herr == nil || herr.Code != "handover_blocked" {
		t.Fatalf("handover with a measure expiring within 30 days: %d %+v; want 409 handover_blocked", status, herr)
	}
	var detail api.CaseDetail
	o.must(t, "GET", "/v1/cases/"+url.PathEscape(cn), nil, 200, &detail)
	today := court.DateOf(time.Now())
	var renewed []string
	for _, m := range detail.Measures {
		if m.Status != "active" || m.DaysLeft == nil || *m.DaysLeft > 30 {
			continue
		}
		if !strings.Contains(herr.Message, m.ID) {
			t.Errorf("the refusal does not name measure %s (expires %s): %s", m.ID, m.Expiry, herr.Message)
		}
		// The renewal ruling (续行), as the case-management system records
		// it in the case folder.
		if err := renewMeasure(caseDir, court.Measure{ID: m.ID, Asset: m.Asset, Court: court.CourtCode(m.Court)}, today); err != nil {
			t.Fatal(err)
		}
		renewed = append(renewed, m.ID)
	}
	if len(renewed) == 0 {
		t.Fatalf("the refusal (%s) names no active measure of %s within 30 days", herr.Message, cn)
	}
	t.Logf("handover refused (%s); renewing %v", herr.Message, renewed)
	var imp api.ImportResult
	o.must(t, "POST", "/v1/cases/import", api.ImportRequest{Path: caseDir}, 201, &imp)
	if imp.Version != detail.Version+1 || imp.Unchanged {
		t.Fatalf("re-import after the renewal: %+v; want version %d", imp, detail.Version+1)
	}
	o.must(t, "POST", "/v1/transfers/"+id+"/handover", api.HandoverRequest{}, 200, &tr)
	if tr.OverrideReason != "" || tr.ChunkCount == 0 {
		t.Fatalf("handover after the renewal: %+v", tr)
	}
	everywhere(id, "handed_over", state("handed_over"))

	var p api.FetchProgress
	r.must(t, "POST", "/v1/transfers/"+id+"/fetch", nil, 202, &p)
	nodetest.PollUntil(t, 2*time.Minute, "the fetch of "+id+" to end", func() bool {
		r.must(t, "GET", "/v1/transfers/"+id+"/fetch", nil, 200, &p)
		return p.State != "running" && p.State != "verifying"
	})
	if p.State != "done" || p.NewCase != newCase || p.Verified != p.Chunks {
		t.Fatalf("fetch: %+v", p)
	}
	everywhere(id, "received", state("received"))
	var v api.VerifyResult
	r.must(t, "GET", "/v1/cases/"+url.PathEscape(newCase)+"/verify", nil, 200, &v)
	if v.Case != newCase || v.Chunks == 0 {
		t.Fatalf("verify %s: %+v", newCase, v)
	}

	r.must(t, "POST", "/v1/transfers/"+id+"/progress", api.ProgressRequest{AmountRecoveredFen: 4_000_000, Status: "已查封车辆"}, 200, nil)
	everywhere(id, "with the progress", func(tr api.Transfer) bool { return tr.AmountRecovered == 4_000_000 })
	r.must(t, "POST", "/v1/transfers/"+id+"/close", api.CloseRequest{Outcome: "settled", AmountRecoveredFen: 9_000_000}, 200, nil)
	everywhere(id, "closed", state("closed"))

	// Over HTTP too, all five agree.
	var want string
	for _, c := range courts {
		var tr api.Transfer
		hs[c.code].must(t, "GET", "/v1/transfers/"+id, nil, 200, &tr)
		if got := finalState(tr); want == "" {
			want = got
		} else if got != want {
			t.Errorf("%s disagrees over HTTP:\n got %s\nwant %s", c.code, got, want)
		}
	}
	return id
}
