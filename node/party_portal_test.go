package node_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/datadir"
	"courtmesh.dev/courtmesh/node/devmesh"
	"courtmesh.dev/courtmesh/node/nodetest"
	"courtmesh.dev/courtmesh/node/party"
	"courtmesh.dev/courtmesh/storage"
	"courtmesh.dev/courtmesh/storage/gen"
	"courtmesh.dev/courtmesh/storage/importer"
)

// portalFixture is one court's node (京0105) serving the party service on
// loopback, with two cases whose parties hold query codes.
type portalFixture struct {
	t     *testing.T
	n     *node.Node
	base  string
	skew  *atomic.Int64 // added to the node's clock, in nanoseconds
	cases []court.CaseNumber
	code  map[court.CaseNumber]string // the applicant's code
	last4 map[court.CaseNumber]string
}

func startPortal(t *testing.T) *portalFixture {
	t.Helper()
	m, err := devmesh.Build(t.TempDir(), scenarioCourts(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var d datadir.Dir
	for i, c := range m.Courts {
		if c.Code == "京0105" {
			d = m.Dirs[i]
		}
	}
	nodetest.WriteLoopbackConfig(t, d)
	f, err := os.OpenFile(d.Path(datadir.ConfigFile), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, `party_listen = "127.0.0.1:0"`)
	f.Close()
	skew := new(atomic.Int64)
	n := startNode(t, node.Options{Dir: d, Logger: testLogger(t), Now: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }})
	if n.PartyAddr() == "" {
		t.Fatal("party_listen is set but the party service does not listen")
	}
	pf := &portalFixture{t: t, n: n, base: "http://" + n.PartyAddr(), skew: skew, code: map[court.CaseNumber]string{}, last4: map[court.CaseNumber]string{}}
	cs, err := gen.Generate(filepath.Join(t.TempDir(), "cases"), gen.Options{Cases: 2, Seed: 11, Court: "京0105"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if _, err := importer.Import(context.Background(), n.Store(), c.Dir, importer.Options{}); err != nil {
			t.Fatal(err)
		}
		res, err := n.Party().Codes(context.Background(), c.Number, false)
		if err != nil {
			t.Fatal(err)
		}
		for _, is := range res.Codes {
			if is.Role == court.RoleApplicant && is.Code != "" {
				id, err := n.Store().PartyID(c.Number, is.Party)
				if err != nil {
					t.Fatal(err)
				}
				pf.code[c.Number], pf.last4[c.Number] = is.Code, id[len(id)-4:]
			}
		}
		if pf.code[c.Number] == "" {
			t.Fatalf("case %s: no applicant code", c.Number)
		}
		pf.cases = append(pf.cases, c.Number)
	}
	return pf
}

// browser is an HTTP client with cookies that does not follow redirects.
func (pf *portalFixture) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	pf.t.Cleanup(c.CloseIdleConnections)
	return c
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// get fetches path and returns the status, the body and the page's CSRF
// token.
func (pf *portalFixture) get(c *http.Client, path string) (int, string, string) {
	pf.t.Helper()
	resp, err := c.Get(pf.base + path)
	if err != nil {
		pf.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	tok := ""
	if m := csrfRE.FindStringSubmatch(string(b)); m != nil {
		tok = m[1]
	}
	return resp.StatusCode, string(b), tok
}

func (pf *portalFixture) post(c *http.Client, path, ctype, body string) (int, string) {
	pf.t.Helper()
	req, err := http.NewRequest("POST", pf.base+path, strings.NewReader(body))
	if err != nil {
		pf.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := c.Do(req)
	if err != nil {
		pf.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

const formType = "application/x-www-form-urlencoded"

// signIn signs in c as the applicant of case n and returns the case
// page's CSRF token.
func (pf *portalFixture) signIn(c *http.Client, n court.CaseNumber) string {
	pf.t.Helper()
	_, _, tok := pf.get(c, "/")
	st, body := pf.post(c, "/signin", formType, url.Values{"csrf": {tok}, "case": {n.String()}, "code": {pf.code[n]}, "id4": {pf.last4[n]}}.Encode())
	if st != http.StatusSeeOther {
		pf.t.Fatalf("sign in as the applicant of %s: %d %s", n, st, body)
	}
	st, body, tok = pf.get(c, "/case")
	if st != 200 || tok == "" {
		pf.t.Fatalf("case page: %d %.300s", st, body)
	}
	return tok
}

func (pf *portalFixture) complaints() int {
	pf.t.Helper()
	raws, _, err := pf.n.Store().Complaints(storage.ComplaintsBySupervisor, "京01", "", 1000)
	if err != nil {
		pf.t.Fatal(err)
	}
	return len(raws)
}

// TestQueryCodeGuessing runs a bounded brute-force loop against the
// party service on loopback: a case number is locked out after
// party.CaseLimits.MaxFailures wrong tries (even the right code is then
// refused), a source after party.SourceLimits.MaxFailures; every sign-in
// costs exactly one argon2id whatever was wrong. It logs the median times
// of wrong-case, wrong-code and wrong-digits answers (measured, not
// asserted: timing belongs to benchmarks).
func TestQueryCodeGuessing(t *testing.T) {
	pf := startPortal(t)
	target := pf.cases[0]
	c := pf.browser()
	_, _, tok := pf.get(c, "/")
	try := func(caseText, code, id4 string) int {
		st, body := pf.post(c, "/signin", formType, url.Values{"csrf": {tok}, "case": {caseText}, "code": {code}, "id4": {id4}}.Encode())
		if st == http.StatusSeeOther {
			t.Fatalf("a guess signed in: %s %s", caseText, code)
		}
		if st != http.StatusUnauthorized && st != http.StatusTooManyRequests {
			t.Fatalf("sign-in answered %d: %.200s", st, body)
		}
		return st
	}

	// The guessing loop: random codes against one case number.
	max := party.CaseLimits.MaxFailures
	lockedAt := 0
	for i := 1; i <= 50; i++ {
		st := try(target.String(), party.NewCode(), pf.last4[target])
		if st == http.StatusTooManyRequests {
			lockedAt = i
			break
		}
	}
	if lockedAt != max {
		t.Fatalf("the case number was locked out after %d tries; documented: %d", lockedAt, max)
	}
	for range 3 {
		if st := try(target.String(), pf.code[target], pf.last4[target]); st != http.StatusTooManyRequests {
			t.Fatalf("the right code during the lockout: %d, want 429", st)
		}
	}
	// The lockout ends (the clock moves past it); the next failure starts
	// a lockout twice as long.
	pf.skew.Add(int64(party.CaseLimits.FirstLockout + time.Second))
	for i := 1; i < max; i++ {
		if st := try(target.String(), party.NewCode(), pf.last4[target]); st != http.StatusUnauthorized {
			t.Fatalf("try %d after the first lockout: %d", i, st)
		}
	}
	if st := try(target.String(), party.NewCode(), pf.last4[target]); st != http.StatusTooManyRequests {
		t.Fatalf("the %dth failure after the first lockout: %d, want 429", max, st)
	}
	pf.skew.Add(int64(party.CaseLimits.FirstLockout + time.Second))
	if st := try(target.String(), pf.code[target], pf.last4[target]); st != http.StatusTooManyRequests {
		t.Fatalf("one minute into the second (2-minute) lockout: %d, want 429", st)
	}

	// The source: failures across many case numbers lock it out too.
	srcMax := party.SourceLimits.MaxFailures
	locked := false
	for i := 1; i <= 3*srcMax && !locked; i++ {
		other := fmt.Sprintf("（2024）京0105执%d号", 90000+i)
		locked = try(other, party.NewCode(), "1234") == http.StatusTooManyRequests
	}
	if !locked {
		t.Fatalf("the source was not locked out after %d failures", 3*srcMax)
	}
	if st := try(pf.cases[1].String(), pf.code[pf.cases[1]], pf.last4[pf.cases[1]]); st != http.StatusTooManyRequests {
		t.Fatalf("a locked-out source signs in with a right code: %d", st)
	}

	// One argon2id per sign-in whatever is wrong; the medians.
	svc := pf.n.Party()
	other := pf.cases[1]
	kinds := []struct {
		name           string
		caseText, code string
		id4            string
	}{
		{"wrong case", "（2024）京0105执99999号", pf.code[other], pf.last4[other]},
		{"wrong code", other.String(), party.NewCode(), pf.last4[other]},
		{"wrong digits", other.String(), pf.code[other], "0000"},
		{"malformed code", other.String(), "<script>", pf.last4[other]},
	}
	times := make([][]time.Duration, len(kinds))
	const rounds = 15
	for range rounds {
		for i, k := range kinds {
			before := svc.Hashes()
			start := time.Now()
			_, err := svc.SignIn(k.caseText, k.code, k.id4)
			times[i] = append(times[i], time.Since(start))
			if err != party.ErrSignIn {
				t.Fatalf("%s: %v", k.name, err)
			}
			if d := svc.Hashes() - before; d != 1 {
				t.Fatalf("%s: %d argon2id hashes, want exactly 1", k.name, d)
			}
		}
	}
	for i, k := range kinds {
		slices.Sort(times[i])
		t.Logf("median time of a %s answer: %v (min %v, max %v, %d samples)", k.name, times[i][rounds/2], times[i][0], times[i][rounds-1], rounds)
	}
}

// TestPartyHostileRequests sends malformed and hostile requests to the
// party service: each is answered with the 4xx named, nothing is stored,
// and nothing sent is reflected unescaped.
func TestPartyHostileRequests(t *testing.T) {
	pf := startPortal(t)
	a, b := pf.cases[0], pf.cases[1]
	anon := pf.browser()
	_, _, anonTok := pf.get(anon, "/")
	user := pf.browser()
	tok := pf.signIn(user, a)
	const marker = "<script>alert(1)</script>"
	form := func(kv ...string) string {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return v.Encode()
	}
	signin := func(csrf, cs, code, id4 string) string {
		return form("csrf", csrf, "case", cs, "code", code, "id4", id4)
	}
	complaint := func(csrf, target, cat, text string) string {
		return form("csrf", csrf, "target", target, "category", cat, "text", text)
	}
	good := complaint(tok, "京0105", "no_progress", "两个月没有进展。")
	type req struct {
		name         string
		client       *http.Client
		method, path string
		ctype, body  string
		want         int
	}
	big := strings.Repeat("x", 2001)
	reqs := []req{
		{"unknown language", anon, "GET", "/?lang=" + url.QueryEscape(marker), "", "", 400},
		{"unknown query parameter", anon, "GET", "/?q=" + url.QueryEscape(marker), "", "", 400},
		{"query parameter twice", anon, "GET", "/?lang=en&lang=zh", "", "", 400},
		{"bad query encoding", anon, "GET", "/?lang=%zz", "", "", 400},
		{"URI too long", anon, "GET", "/?lang=" + strings.Repeat("a", 400), "", "", 414},
		{"unknown path", anon, "GET", "/admin", "", "", 404},
		{"wrong method", anon, "PUT", "/", "", "", 405},
		{"stylesheet with a query", anon, "GET", "/party.css?x=" + url.QueryEscape(marker), "", "", 400},
		{"case page without a session", anon, "GET", "/case", "", "", 401},
		{"sign-in with an empty CSRF token", anon, "POST", "/signin", formType, signin("", a.String(), pf.code[a], pf.last4[a]), 403},
		{"sign-in without the CSRF field", anon, "POST", "/signin", formType, form("case", a.String(), "code", pf.code[a], "id4", pf.last4[a]), 400},
		{"sign-in with a forged CSRF token", anon, "POST", "/signin", formType, signin(strings.Repeat("A", 43), a.String(), pf.code[a], pf.last4[a]), 403},
		{"sign-in as JSON", anon, "POST", "/signin", "application/json", `{"case":"x"}`, 415},
		{"sign-in as multipart", anon, "POST", "/signin", "multipart/form-data; boundary=x", "--x--", 415},
		{"sign-in in GBK", anon, "POST", "/signin", formType + "; charset=gbk", signin(anonTok, a.String(), pf.code[a], pf.last4[a]), 415},
		{"sign-in without a content type", anon, "POST", "/signin", "", signin(anonTok, a.String(), pf.code[a], pf.last4[a]), 415},
		{"oversized sign-in", anon, "POST", "/signin", formType, signin(anonTok, strings.Repeat("9", 3000), "x", "1234"), 413},
		{"sign-in field twice", anon, "POST", "/signin", formType, signin(anonTok, a.String(), pf.code[a], pf.last4[a]) + "&case=x", 400},
		{"sign-in unknown field", anon, "POST", "/signin", formType, signin(anonTok, a.String(), pf.code[a], pf.last4[a]) + "&admin=1", 400},
		{"sign-in missing field", anon, "POST", "/signin", formType, form("csrf", anonTok, "case", a.String()), 400},
		{"sign-in with a query string", anon, "POST", "/signin?x=1", formType, signin(anonTok, a.String(), pf.code[a], pf.last4[a]), 400},
		{"sign-in bad body encoding", anon, "POST", "/signin", formType, "csrf=%zz", 400},
		{"sign-in with invalid UTF-8", anon, "POST", "/signin", formType, "csrf=" + anonTok + "&case=%ff%fe&code=x&id4=1234", 401},
		{"sign-in with script in the case number", anon, "POST", "/signin", formType, signin(anonTok, marker, pf.code[a], pf.last4[a]), 401},
		{"another party's case with this code", anon, "POST", "/signin", formType, signin(anonTok, b.String(), pf.code[a], pf.last4[a]), 401},
		{"full-width code", anon, "POST", "/signin", formType, signin(anonTok, a.String(), "ＡＢＣＤ-ＥＦＧＨ-ＪＫＭＮ", pf.last4[a]), 401},
		{"complaint without a session", anon, "POST", "/complaints", formType, complaint(anonTok, "京0105", "no_progress", "x"), 401},
		{"complaint with a forged CSRF token", user, "POST", "/complaints", formType, complaint(anonTok, "京0105", "no_progress", "x"), 403},
		{"complaint without the CSRF token", user, "POST", "/complaints", formType, form("target", "京0105", "category", "no_progress", "text", "x"), 400},
		{"complaint with script in the text", user, "POST", "/complaints", formType, complaint(tok, "京0105", "no_progress", marker), 422},
		{"complaint too long", user, "POST", "/complaints", formType, complaint(tok, "京0105", "no_progress", big), 422},
		{"complaint body too large", user, "POST", "/complaints", formType, complaint(tok, "京0105", "no_progress", strings.Repeat("x", 20<<10)), 413},
		{"complaint in invalid UTF-8", user, "POST", "/complaints", formType, "csrf=" + tok + "&target=%E4%BA%AC0105&category=other&text=%ff%fe", 422},
		{"complaint with control characters", user, "POST", "/complaints", formType, complaint(tok, "京0105", "other", "a\x00b\x1b[2J"), 422},
		{"complaint empty", user, "POST", "/complaints", formType, complaint(tok, "京0105", "other", "   "), 422},
		{"complaint unknown category", user, "POST", "/complaints", formType, complaint(tok, "京0105", marker, "x"), 422},
		{"complaint about a court that never had the case", user, "POST", "/complaints", formType, complaint(tok, "京02", "other", "x"), 422},
		{"complaint about a malformed court", user, "POST", "/complaints", formType, complaint(tok, marker, "other", "x"), 422},
		{"complaint field twice", user, "POST", "/complaints", formType, good + "&text=again", 400},
		{"complaint as JSON", user, "POST", "/complaints", "application/json", `{"text":"x"}`, 415},
		{"acknowledgement of a complaint not of this case", user, "GET", "/case?filed=" + url.QueryEscape(marker), "", "", 404},
		{"sign-out with a forged CSRF token", user, "POST", "/signout", formType, form("csrf", anonTok), 403},
	}
	if len(reqs) < 30 {
		t.Fatalf("%d hostile requests; the issue asks for at least 30", len(reqs))
	}
	before := pf.complaints()
	for _, r := range reqs {
		req, err := http.NewRequest(r.method, pf.base+r.path, strings.NewReader(r.body))
		if err != nil {
			t.Fatal(err)
		}
		if r.ctype != "" {
			req.Header.Set("Content-Type", r.ctype)
		}
		resp, err := r.client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", r.name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != r.want {
			t.Errorf("%s: %d, want %d (%.200s)", r.name, resp.StatusCode, r.want, body)
		}
		if strings.Contains(string(body), "<script") || strings.Contains(string(body), "alert(1)") {
			t.Errorf("%s: the answer reflects the script", r.name)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); csp != party.ContentSecurityPolicy {
			t.Errorf("%s: CSP %q", r.name, csp)
		}
		t.Logf("%-50s %d", r.name, resp.StatusCode)
	}
	if n := pf.complaints(); n != before {
		t.Errorf("the hostile requests stored %d complaints", n-before)
	}

	// The session still works (no hostile request broke it), files one
	// complaint, and expires after SessionIdle.
	if st, body := pf.post(user, "/complaints", formType, good); st != http.StatusSeeOther {
		t.Fatalf("the good complaint: %d %.300s", st, body)
	}
	if n := pf.complaints(); n != before+1 {
		t.Errorf("after one complaint, %d stored", n-before)
	}
	pf.skew.Add(int64(party.SessionIdle + time.Minute))
	if st, _, _ := pf.get(user, "/case"); st != http.StatusUnauthorized {
		t.Errorf("the case page after the session expired: %d, want 401", st)
	}
	if st, _ := pf.post(user, "/complaints", formType, good); st != http.StatusUnauthorized {
		t.Errorf("a complaint after the session expired: %d, want 401", st)
	}
	if n := pf.complaints(); n != before+1 {
		t.Errorf("an expired session stored a complaint")
	}

	// Unanswered past its answer-by date, the complaint raises an alert
	// (webhook and dashboard) on the court complained of.
	ctx := context.Background()
	if a := complaintAlerts(pf.n.Health().AllAlerts(ctx)); len(a) != 0 {
		t.Fatalf("complaint alerts before the deadline: %+v", a)
	}
	pf.skew.Add(int64(16 * 24 * time.Hour))
	overdue := complaintAlerts(pf.n.Health().AllAlerts(ctx))
	if len(overdue) != 1 || overdue[0].Court != "京01" || !strings.Contains(overdue[0].Message, "京0105") {
		t.Errorf("complaint alerts past the deadline: %+v", overdue)
	}
	if l, err := pf.n.Party().List(ctx, "about", "", 10); err != nil || len(l.Complaints) != 1 || !l.Complaints[0].Overdue {
		t.Errorf("the complaint about 京0105, overdue: %+v, %v", l, err)
	}
}

func complaintAlerts(as []api.Alert) []api.Alert {
	var out []api.Alert
	for _, a := range as {
		if a.Kind == "complaint_overdue" {
			out = append(out, a)
		}
	}
	return out
}
