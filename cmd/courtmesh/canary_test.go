package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/config"
	"courtmesh.dev/courtmesh/node/datadir"
	"courtmesh.dev/courtmesh/node/nodetest"
	"courtmesh.dev/courtmesh/node/nodetest/served"
	"courtmesh.dev/courtmesh/storage/importer"
)

// canary is one distinctive piece of personal data of the canary case.
type canary struct {
	label, value string
	// revealed: an authorised view (case show --reveal on the origin)
	// shows it. Phones are stored masked only, so no view shows them.
	revealed bool
}

// canaryCase is the canary case: parties, identity numbers, a phone,
// accounts, addresses and a plate that occur nowhere else, all synthetic
// (DOMAIN.md: names as judgments anonymise them, region prefix 99 with
// valid check digits, accounts starting 9999, a phone number outside the
// mobile ranges).
type canaryCase struct {
	number  string
	tokens  []canary
	account string // sent later in an asset update, through --account-file -
}

func newCanaryCase() canaryCase {
	id1 := "99010519880307123"
	id1 += string(court.ResidentIDCheck(id1))
	id2 := "99022019750611456"
	id2 += string(court.ResidentIDCheck(id2))
	cc := "91990105MA7QK3C9P"
	cc += string(court.CreditCodeCheck(cc))
	return canaryCase{
		tokens: []canary{
			{"respondent's name", "褚某翀", true},
			{"second respondent's name", "欧阳某翚", true},
			{"applicant's name", "翀鸣科技", true},
			{"resident identity number", id1, true},
			{"second resident identity number", id2, true},
			{"credit code", cc, true},
			{"phone", "10999990468", false},
			{"second phone", "10888870357", false},
			{"deposit account", "9999073117310468213", true},
			{"address of the flat", "翀鸣路88号院", true},
			{"where the car is parked", "翀鸣大道8号", true},
			{"car plate", "ZC9Q7X", true},
			{"account found after the handover", "9999558877441122336", false},
			{"address found after the handover", "翀鸣东路9号", false},
			{"invalid identity number of a refused import", id1[:17] + badCheck(id1[17]), false},
		},
		account: "9999558877441122336",
	}
}

// badCheck is a check character other than c.
func badCheck(c byte) string {
	if c == '0' {
		return "1"
	}
	return "0"
}

// token is the value of the canary labelled label.
func (cc canaryCase) token(label string) string {
	for _, c := range cc.tokens {
		if c.label == label {
			return c.value
		}
	}
	panic("no canary " + label)
}

// writeCanaryCase writes the canary case of 京0105 to dir: every token
// in case.json, and in the documents (which are sealed in the store).
func writeCanaryCase(t *testing.T, dir string, cc *canaryCase) {
	t.Helper()
	tok := cc.token
	today := court.DateOf(time.Now())
	filed := today.AddDate(0, 0, -478)
	noticed := today.AddDate(0, 0, -470)
	n := court.CaseNumber{Year: filed.Year, Court: "京0105", Type: court.TypeEnforcement, Seq: 8123}
	cc.number = n.String()
	titleNo := court.CaseNumber{Year: today.AddDate(0, 0, -500).Year, Court: "京0105", Type: court.TypeCivilFirst, Seq: 4711}
	flat := "北京市朝阳区" + tok("address of the flat") + "7号楼1204室住宅"
	car := "小型轿车一辆，号牌京" + tok("car plate") + "，停放于" + tok("where the car is parked") + "地下车库"
	freezeExp := today.AddDate(0, 0, 20) // within the 30-day guard: the handover needs an override
	f := importer.CaseFile{
		Format: importer.Format, CaseNumber: n.String(), Court: "京0105", Status: string(court.StatusActive),
		Filed: filed.String(), Applied: today.AddDate(0, 0, -480).String(), Noticed: noticed.String(),
		ClaimFen: 123_456_700,
		Title:    importer.TitleFile{Kind: "judgment", CaseNumber: titleNo.String(), Issuer: "北京市朝阳区人民法院", Effective: today.AddDate(0, 0, -500).String()},
		Parties: []importer.PartyFile{
			{ID: "p1", Role: "applicant", Kind: "legal", Name: "某某" + tok("applicant's name") + "有限公司", IDType: "uscc", IDNumber: tok("credit code")},
			{ID: "p2", Role: "respondent", Kind: "natural", Name: tok("respondent's name"), IDType: "resident_id", IDNumber: tok("resident identity number"), Phone: tok("phone")},
			{ID: "p3", Role: "respondent", Kind: "natural", Name: tok("second respondent's name"), IDType: "resident_id", IDNumber: tok("second resident identity number"), Phone: tok("second phone")},
		},
		Assets: []importer.AssetFile{
			{ID: "a1", Class: "deposit", Description: "某某银行翀鸣支行活期存款账户", Owner: "p2", Source: "national_search", Account: tok("deposit account"), ValueFen: 8_800_000},
			{ID: "a2", Class: "real_estate", Description: flat, Owner: "p2", Source: "local_link", ValueFen: 300_000_000},
			{ID: "a3", Class: "vehicle", Description: car, Owner: "p3", Source: "applicant_lead", ValueFen: 9_000_000},
		},
		Measures: []importer.MeasureFile{
			{ID: "m1", Kind: "freeze", Asset: "a1", Effective: freezeExp.AddDate(0, 0, 1).AddDate(-1, 0, 0).String(), Expiry: freezeExp.String(), Status: "active", Court: "京0105", Document: "d4"},
			{ID: "m2", Kind: "seal", Asset: "a2", Effective: noticed.AddDate(0, 0, 5).String(), Expiry: today.AddDate(0, 0, 400).String(), Status: "active", Court: "京0105", Document: "d3"},
			{ID: "m3", Kind: "seal", Asset: "a3", Effective: noticed.AddDate(0, 0, 5).String(), Expiry: today.AddDate(0, 0, 200).String(), Status: "active", Court: "京0105", Document: "d3"},
		},
		Documents: []importer.DocumentFile{
			{ID: "d1", Kind: "title", Title: "民事判决书", File: "title.txt"},
			{ID: "d2", Kind: "application", Title: "执行申请书（" + tok("respondent's name") + "）", File: "docs/" + tok("respondent's name") + "-申请书.txt"},
			{ID: "d3", Kind: "ruling", Title: "查封裁定书 (" + flat + ")", File: "ruling-seal.txt"},
			{ID: "d4", Kind: "ruling", Title: "冻结裁定书", File: "ruling-freeze.txt"},
		},
	}
	var all strings.Builder
	all.WriteString("SYNTHETIC TEST DOCUMENT (canary)\n")
	for _, c := range cc.tokens {
		fmt.Fprintf(&all, "%s: %s\n", c.label, c.value)
	}
	for _, d := range f.Documents {
		p := filepath.Join(dir, filepath.FromSlash(d.File))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(d.Title+"\n"+all.String()), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "case.json"), raw, 0o600); err != nil {
		t.Fatal(err)
	}
}

// forms are the spellings of v a channel could carry it in: as is, in
// \u escapes (JSON, Go quoting of non-ASCII) and URL-escaped (a logged
// request path or query).
func forms(v string) []string {
	out := []string{v}
	for _, f := range []string{strings.Trim(strconv.QuoteToASCII(v), `"`), url.QueryEscape(v), url.PathEscape(v)} {
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

// TestPersonalDataCanary imports a case whose parties, identity numbers,
// phones, accounts, addresses and plate are distinctive synthetic
// strings, plays a whole transfer of it across real node processes (the
// built binary, run --debug, every command through the CLI), and then
// searches every channel that leaves the sealed stores: every gossip
// message (an in-process operator node on the mesh taps every topic with
// a pubsub tracer), every log line at debug level (each process's log,
// the tap's), the metrics of every node, the heartbeats and mesh view,
// the dashboard JSON and page, the webhook bodies, each node's audit
// export and a backup file, and the default output of case list, case
// show and assets show. None may hold a canary in clear; the test names
// the channel that does. As a positive control, case show --reveal
// (audited) must show the canaries it can (phones are stored masked
// only), and the same search must find them there.
//
// It is long on purpose: one story, the canary case carried through
// the mesh and then every channel searched in one list, so that no
// channel is left out.
func TestPersonalDataCanary(t *testing.T) {
	e := newE2E(t)
	base := t.TempDir()
	cc := newCanaryCase()
	var ch channels

	// Webhook sink: every alert body any node posts.
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		ch.add("webhook body", b)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(hook.Close)

	root := filepath.Join(base, "root")
	e.must(t, "ca", "init", "--dir", root)
	extra := fmt.Sprintf("sync_interval = \"1s\"\nheartbeat_interval = \"1s\"\nwebhook_url = %q\n", hook.URL)
	courts := []*e2eCourt{
		{code: "最高法", roles: "court,operator", debug: true, extraConfig: extra},
		{code: "京01", roles: "court", debug: true, extraConfig: extra},
		{code: "京0105", roles: "court", debug: true, extraConfig: extra},
		{code: "京0108", roles: "court", debug: true, extraConfig: extra},
	}
	dec, origin, recv := courts[1], courts[2], courts[3]
	// The origin also serves the party service: its pages are channels.
	partyAddr := freeLoopbackAddr(t)
	origin.extraConfig += fmt.Sprintf("party_listen = %q\n", partyAddr)
	tap := &e2eCourt{code: "京", roles: "court,operator", dir: filepath.Join(base, "tap")}
	for i, c := range append(slices.Clone(courts), tap) {
		if c.dir == "" {
			c.dir = filepath.Join(base, fmt.Sprintf("n%d", i))
			c.log = filepath.Join(base, fmt.Sprintf("n%d.log", i))
		}
		e.must(t, "init", "--data", c.dir)
		raw, err := os.ReadFile(filepath.Join(c.dir, datadir.IdentityFile))
		if err != nil {
			t.Fatal(err)
		}
		var id crypto.Identity
		if err := json.Unmarshal(raw, &id); err != nil {
			t.Fatal(err)
		}
		c.peer = id.PeerID.String()
		e.issue(t, root, c.dir, "--code", c.code, "--roles", c.roles)
	}
	bundle := filepath.Join(base, "bundle.pb")
	e.must(t, "ca", "bundle", "--dir", root, "--out", bundle)
	for _, c := range append(slices.Clone(courts), tap) {
		e.must(t, "trust", "install", "--data", c.dir, "--root", filepath.Join(root, "root.cert"), "--bundle", bundle)
	}
	var bootstrap []string
	for _, c := range courts {
		st := e.start(t, c, bootstrap)
		for _, a := range st.ListenAddrs {
			bootstrap = append(bootstrap, a+"/p2p/"+st.PeerID)
		}
	}

	// The tap: an operator node in this process, on the same mesh, that
	// records every gossip message it receives or sends.
	gt := &gossipTap{ch: &ch, topics: map[string]int{}}
	tapLog := &lockedBuffer{}
	cfg := config.Config{Version: config.ConfigVersion, Listen: []string{"/ip4/127.0.0.1/tcp/0"}, APIListen: "off", MetricsListen: "off",
		Bootstrap: bootstrap, ReconnectInterval: config.Duration{Duration: time.Second}, SyncInterval: config.Duration{Duration: time.Second},
		HeartbeatInterval: config.Duration{Duration: time.Second}}
	served.Start(t, node.Options{Dir: datadir.Dir(tap.dir), Config: &cfg, GossipTracer: gt,
		Logger: slog.New(slog.NewTextHandler(tapLog, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	for _, c := range courts {
		nodetest.PollUntil(t, 30*time.Second, c.code+" sees the other four nodes", func() bool {
			ps, err := c.apiPeers(t)
			return err == nil && len(ps) == len(courts)
		})
	}

	// cli runs a command whose output is a channel under test.
	cli := func(args ...string) string {
		t.Helper()
		out := e.must(t, args...)
		on := ""
		for _, c := range courts {
			if slices.Contains(args, c.dir) {
				on = " on " + c.code
			}
		}
		ch.add("cli: courtmesh "+strings.Join(args[:2], " ")+on, []byte(out))
		return out
	}

	// Import, then the default views: masked.
	caseDir := filepath.Join(base, "canary-case")
	writeCanaryCase(t, caseDir, &cc)
	cli("case", "import", "--data", origin.dir, caseDir)
	cli("case", "list", "--data", origin.dir)
	cli("case", "list", "--json", "--data", origin.dir)
	cli("case", "show", "--data", origin.dir, cc.number)
	cli("case", "show", "--json", "--data", origin.dir, cc.number)

	// The parties' query codes: the output names parties by role and
	// masked name only.
	var codes api.CodesResult
	e.mustJSON(t, &codes, "case", "codes", "--json", "--data", origin.dir, cc.number)
	rawCodes, _ := json.Marshal(codes)
	ch.add("cli: courtmesh case codes on 京0105", rawCodes)
	respondentCode := ""
	for _, c := range codes.Codes {
		if c.Party == "p2" {
			respondentCode = c.Code
		}
	}
	if respondentCode == "" {
		t.Fatalf("case codes: no code for the respondent p2: %s", rawCodes)
	}

	// Refusals name no personal data: an import refused for a wrong
	// check digit, a reveal whose purpose names a party.
	bad := filepath.Join(base, "canary-case-bad")
	writeCanaryCase(t, bad, &cc)
	rawCase, err := os.ReadFile(filepath.Join(bad, "case.json"))
	if err != nil {
		t.Fatal(err)
	}
	rawCase = bytes.ReplaceAll(rawCase, []byte(cc.token("resident identity number")), []byte(cc.token("invalid identity number of a refused import")))
	if err := os.WriteFile(filepath.Join(bad, "case.json"), rawCase, 0o600); err != nil {
		t.Fatal(err)
	}
	refused := func(want int, args ...string) {
		t.Helper()
		out, err := e.run(args...)
		ch.add("cli: courtmesh "+strings.Join(args[:2], " ")+" (refused)", []byte(out))
		if exitCode(err) != want {
			t.Errorf("courtmesh %s: %v, want exit status %d\n%s", strings.Join(args, " "), err, want, out)
		}
	}
	refused(exitInvalid, "case", "import", "--data", origin.dir, bad)
	refused(exitInvalid, "case", "show", "--reveal", "--purpose", "核对"+cc.token("respondent's name")+"的财产", "--data", origin.dir, cc.number)

	// Positive control: the authorised view shows what it may, and the
	// search finds it there.
	const purpose = "核对被执行人财产线索"
	revealed := e.must(t, "case", "show", "--reveal", "--purpose", purpose, "--data", origin.dir, cc.number)
	var revealedJSON api.CaseDetail
	e.mustJSON(t, &revealedJSON, "case", "show", "--json", "--reveal", "--purpose", purpose, "--data", origin.dir, cc.number)
	if !revealedJSON.Revealed {
		t.Errorf("case show --json --reveal: revealed = false")
	}
	rawRevealed, _ := json.Marshal(revealedJSON)
	for _, view := range []struct {
		name string
		b    []byte
	}{{"case show --reveal", []byte(revealed)}, {"case show --json --reveal", rawRevealed}} {
		found := strings.Join(findCanaries(cc.tokens, view.b), "\n")
		for _, c := range cc.tokens {
			if c.revealed && !strings.Contains(found, c.label+" (") {
				t.Errorf("positive control: %s does not show the %s (%s):\n%s", view.name, c.label, c.value, view.b)
			}
		}
	}
	// Revealing needs a purpose; the account number is never a flag.
	if out, err := e.run("case", "show", "--reveal", "--data", origin.dir, cc.number); exitCode(err) != exitUsage || !strings.Contains(out, "--purpose") {
		t.Errorf("case show --reveal without --purpose: %v\n%s", err, out)
	}

	// The transfer, with the CLI alone.
	var tr api.Transfer
	e.mustJSON(t, &tr, "transfer", "offer", "--json", "--data", origin.dir, "--case", cc.number, "--superior", "京01", "--grounds", "interference")
	id := string(tr.ID)
	rawTr, _ := json.Marshal(tr)
	ch.add("cli: courtmesh transfer offer on 京0105", rawTr)
	e.waitState(t, id, "offered", courts...)
	cli("transfer", "decide", "--data", dec.dir, "--mode", "designated", "--to", "京0108", "--decision", "（2026）京01执监81号", id)
	e.waitState(t, id, "decided", courts...)
	newCase := nodetest.CaseNo(time.Now(), "京0108", court.TypeEnforcement, 8101)
	cli("transfer", "accept", "--data", recv.dir, "--case", newCase, id)
	e.waitState(t, id, "accepted", courts...)
	// Broadcast text may not hold a place of the case's assets.
	refused(exitInvalid, "transfer", "handover", "--data", origin.dir, "--override", "冻结续行裁定已送达，"+cc.token("address of the flat")+"房产移交后办理", id)
	cli("transfer", "handover", "--data", origin.dir, "--override", "冻结续行裁定已送达，移交后由受托法院办理", id)
	e.waitState(t, id, "handed_over", courts...)
	var p api.FetchProgress
	e.mustJSONLong(t, 3*time.Minute, &p, "dossier", "fetch", "--json", "--data", recv.dir, id)
	if p.State != "done" || p.NewCase != newCase {
		t.Fatalf("dossier fetch: %+v", p)
	}
	rawP, _ := json.Marshal(p)
	ch.add("cli: courtmesh dossier fetch on 京0108", rawP)
	e.waitState(t, id, "received", courts...)

	// The receiver finds an asset: the account number goes through
	// standard input, never the command line (the old flag is refused
	// without repeating its value).
	out, err := e.run("assets", "update", "--data", recv.dir, "--kind", "search_result", "--new-asset", "x1", "--class", "deposit",
		"--owner", "p2", "--account", cc.account, id)
	ch.add("cli: courtmesh assets update (refused --account)", []byte(out))
	if exitCode(err) != exitUsage || !strings.Contains(out, "--account-file") {
		t.Errorf("assets update --account: %v, want exit %d naming --account-file\n%s", err, exitUsage, out)
	}
	upd := exec.Command(e.bin, "assets", "update", "--data", recv.dir, "--kind", "search_result", "--new-asset", "x1", "--class", "other",
		"--description", "某某小区"+cc.token("address found after the handover")+"院车位", "--owner", "p2", "--account-file", "-", id)
	upd.Stdin = strings.NewReader(cc.account + "\n")
	raw, err := upd.CombinedOutput()
	if err != nil {
		t.Fatalf("assets update --account-file -: %v\n%s", err, raw)
	}
	// The origin applies it (sealed in the record between the courts).
	hOrigin := newHTTPCourt(t, origin, false)
	nodetest.PollUntil(t, 30*time.Second, "the origin applies the receiver's asset update", func() bool {
		var ta api.TransferAssets
		status, _ := hOrigin.call(t, "GET", "/v1/transfers/"+id+"/assets", nil, 200, &ta)
		return status == 200 && ta.Applied >= 1
	})
	cli("assets", "show", "--data", origin.dir, id)
	cli("assets", "show", "--data", recv.dir, id)
	cli("assets", "list", "--data", recv.dir, id)
	cli("measures", "expiring", "--data", origin.dir, "--within", "60")
	cli("measures", "expiring", "--data", recv.dir, "--within", "60")
	cli("transfer", "show", "--data", origin.dir, id)
	cli("transfer", "list", "--data", dec.dir)
	cli("case", "show", "--data", recv.dir, newCase)
	cli("case", "list", "--data", recv.dir)
	// The receiver's authorised view: the names arrived with the dossier.
	if got := findCanaries(cc.tokens, []byte(e.must(t, "case", "show", "--reveal", "--purpose", purpose, "--data", recv.dir, newCase))); len(got) == 0 {
		t.Errorf("positive control: case show --reveal on the receiver shows no canary")
	}

	// Alerts: the freeze expiring within the guard raises measure alerts, while the transfer is open,
	// on the origin and the receiver, which reach the webhook.
	nodetest.PollUntil(t, 30*time.Second, "a webhook body", func() bool { return ch.count("webhook body") > 0 })

	refused(exitInvalid, "transfer", "progress", "--data", recv.dir, "--recovered-fen", "1000000", "--status", cc.token("respondent's name")+"已部分履行", id)
	cli("transfer", "progress", "--data", recv.dir, "--recovered-fen", "1000000", "--status", "已冻结存款，房产待评估", id)
	cli("transfer", "close", "--data", recv.dir, "--outcome", "concluded", "--recovered-fen", "2000000", id)
	e.waitState(t, id, "closed", courts...)

	// The party service: the respondent signs in at the origin with the
	// old number and sees the move; the page shows parties by role and
	// masked name only. A complaint whose text holds a phone number is
	// filed: the text travels sealed, so it reaches no log, gossip or
	// audit entry in clear.
	pp := newPartyBrowser(t, "http://"+partyAddr)
	_, page, tok := pp.get("/")
	ch.add("party page: sign-in", []byte(page))
	id1 := cc.token("resident identity number")
	if st, body := pp.post("/signin", url.Values{"csrf": {tok}, "case": {cc.number}, "code": {respondentCode}, "id4": {id1[len(id1)-4:]}}); st != http.StatusSeeOther {
		t.Fatalf("party sign-in: %d %.300s", st, body)
	}
	st, page, tok := pp.get("/case")
	if st != 200 || !strings.Contains(page, newCase) {
		t.Fatalf("party case page: %d, want the new number %s in it:\n%.500s", st, newCase, page)
	}
	ch.add("party page: the case", []byte(page))
	if st, body := pp.post("/complaints", url.Values{"csrf": {tok}, "target": {"京0108"}, "category": {"no_progress"},
		"text": {"移送后没有进展，请回电" + cc.token("second phone") + "。"}}); st != http.StatusSeeOther && st != 200 {
		t.Fatalf("party complaint: %d %.300s", st, body)
	}
	_, page, _ = pp.get("/case")
	ch.add("party page: after the complaint", []byte(page))

	// Heartbeats of every court reach the tap.
	nodetest.PollUntil(t, 30*time.Second, "heartbeats and records on the tap", func() bool {
		tp := gt.byTopic()
		return tp["/courtmesh/transfers/1"] > 0 && len(tp) >= 3
	})

	// Collect the rest.
	for _, c := range courts {
		h := newHTTPCourt(t, c, false)
		ch.add("metrics of "+c.code, getRaw(t, h, "/v1/metrics"))
		ch.add("mesh view (heartbeats) on "+c.code, getRaw(t, h, "/v1/mesh"))
		ch.add("dashboard JSON of "+c.code, getRaw(t, h, "/v1/dashboard"))
		ch.add("dashboard page of "+c.code, getRaw(t, h, "/dashboard"))
		ch.add("alerts of "+c.code, getRaw(t, h, "/v1/alerts"))
		ch.add("transfer view of "+c.code, getRaw(t, h, "/v1/transfers/"+id))
		ch.add("status of "+c.code, getRaw(t, h, "/v1/status"))
		exp := filepath.Join(base, "audit-"+c.code+".jsonl")
		e.must(t, "audit", "export", "--data", c.dir, "--out", exp)
		b, err := os.ReadFile(exp)
		if err != nil || len(b) == 0 && (c == origin || c == recv) {
			t.Fatalf("audit export of %s: %v, %d bytes", c.code, err, len(b))
		}
		ch.add("audit export of "+c.code, b)
	}
	for _, c := range []*e2eCourt{origin, recv} {
		bk := filepath.Join(base, "backup-"+c.code+".cmbk")
		e.must(t, "backup", "--data", c.dir, "--out", bk)
		b, err := os.ReadFile(bk)
		if err != nil || len(b) == 0 {
			t.Fatalf("backup of %s: %v", c.code, err)
		}
		ch.add("backup of "+c.code, b)
	}
	// The logs, last: every line each process wrote, at debug level.
	for _, c := range courts {
		b, err := os.ReadFile(c.log)
		if err != nil || len(b) == 0 {
			t.Fatalf("log of %s: %v", c.code, err)
		}
		if !bytes.Contains(b, []byte("level=DEBUG")) {
			t.Errorf("the log of %s has no debug line: is it at debug level?", c.code)
		}
		ch.add("log of "+c.code, b)
	}
	ch.add("log of the tap node", tapLog.Bytes())

	// The audit log names each reveal with its purpose.
	var audit bytes.Buffer
	for _, b := range ch.data["audit export of 京0105"] {
		audit.Write(b)
	}
	if !strings.Contains(audit.String(), "revealed") || !strings.Contains(audit.String(), purpose) {
		t.Errorf("the origin's audit export has no case.shown entry of the reveal with its purpose")
	}

	// The search.
	names := make([]string, 0, len(ch.data))
	for name := range ch.data {
		names = append(names, name)
	}
	slices.Sort(names)
	var leaks []string
	total := 0
	for _, name := range names {
		n := 0
		for _, b := range ch.data[name] {
			n += len(b)
			for _, f := range findCanaries(cc.tokens, b) {
				leaks = append(leaks, name+": "+f)
			}
		}
		total += n
		t.Logf("channel %-45s %4d items, %8d bytes", name, len(ch.data[name]), n)
	}
	for _, want := range []string{"party page: the case", "party page: after the complaint", "gossip /courtmesh/transfers/1", "gossip /courtmesh/heartbeat/京/1", "webhook body", "backup of 京0105", "log of 京0105", "audit export of 京0105", "metrics of 京0105", "dashboard page of 最高法"} {
		if ch.count(want) == 0 {
			t.Errorf("channel %q carried nothing: the canary cannot judge it", want)
		}
	}
	t.Logf("searched %d channels, %d bytes, for %d canaries; gossip by topic: %v", len(names), total, len(cc.tokens), gt.byTopic())
	if len(leaks) > 0 {
		t.Errorf("personal data in clear in %d place(s):\n%s", len(leaks), strings.Join(leaks, "\n"))
	}
}

// freeLoopbackAddr is a loopback TCP address free at the time of the call
// (for a listener of the node under test, which is configured by address).
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// partyBrowser is a party's browser on the party service: cookies, no
// redirects followed.
type partyBrowser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newPartyBrowser(t *testing.T, base string) *partyBrowser {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	t.Cleanup(c.CloseIdleConnections)
	return &partyBrowser{t: t, base: base, c: c}
}

var partyCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// get returns the status, the page and its CSRF token.
func (p *partyBrowser) get(path string) (int, string, string) {
	p.t.Helper()
	resp, err := p.c.Get(p.base + path)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	tok := ""
	if m := partyCSRF.FindSubmatch(b); m != nil {
		tok = string(m[1])
	}
	return resp.StatusCode, string(b), tok
}

func (p *partyBrowser) post(path string, form url.Values) (int, string) {
	p.t.Helper()
	resp, err := p.c.PostForm(p.base+path, form)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// exitCode is the exit status of a command's error (0 for nil, -1 if it
// did not exit).
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}
