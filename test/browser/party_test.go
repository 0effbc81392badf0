package browser_test

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/devmesh"
	"courtmesh.dev/courtmesh/node/nodetest"
	"courtmesh.dev/courtmesh/storage/gen"
)

// complaint is the part of GET /v1/complaints the test reads.
type complaintList struct {
	Complaints []struct {
		Ref      string `json:"ref"`
		Answered string `json:"answered"`
	} `json:"complaints"`
}

// TestPartyPortalBrowser: in headless Chromium at phone width (390 px)
// and desktop width, in Chinese and English, the applicant of a case
// 京0105 handed to 京0108 (decided by 京01) signs in at 京0105's party
// service with the old number, sees the receiving court and the new
// number, files a complaint and sees it acknowledged; 京01 answers through
// its API; the party sees the answer. Screenshots go to the artifacts.
//
// It is long on purpose: one story in one browser session, a party's
// visit from sign-in to sign-out, switching width and language on the
// way.
func TestPartyPortalBrowser(t *testing.T) {
	bin := chromiumPath()
	if bin == "" {
		if os.Getenv("COURTMESH_REQUIRE_BROWSER") != "" {
			t.Fatal("COURTMESH_REQUIRE_BROWSER is set but no chromium binary was found (apt-get install chromium, or set COURTMESH_CHROMIUM)")
		}
		t.Skip("no chromium binary found: install the Debian package chromium (or set COURTMESH_CHROMIUM); COURTMESH_REQUIRE_BROWSER=1 makes this a failure")
	}
	c := func(code string) devmesh.Court {
		return devmesh.Court{Code: court.CourtCode(code), Roles: []crypto.Role{crypto.RoleCourt}}
	}
	s := startCourts(t, []devmesh.Court{c("京"), c("京01"), c("京0105"), c("京0108")}, func(code court.CourtCode) string {
		if code == "京0105" {
			return "party_listen = \"127.0.0.1:0\"\nparty_contact = \"执行局 010-00000000\"\n"
		}
		return ""
	})
	portal := "http://" + s.nodes["京0105"].PartyAddr()
	if portal == "http://" {
		t.Fatal("京0105's party service does not listen")
	}
	for code, n := range s.nodes {
		if code != "京0105" && n.PartyAddr() != "" {
			t.Errorf("%s serves a party service it was not configured for", code)
		}
	}

	// The case, its codes, its move.
	cs, err := gen.Generate(filepath.Join(t.TempDir(), "cases"), gen.Options{Cases: 1, Seed: 5, Court: "京0105"})
	if err != nil {
		t.Fatal(err)
	}
	s.do("京0105", "POST", "/v1/cases/import", api.ImportRequest{Path: cs[0].Dir}, nil)
	caseNo := cs[0].Number.String()
	var codes api.CodesResult
	s.do("京0105", "POST", "/v1/cases/"+url.PathEscape(caseNo)+"/codes", api.CodesRequest{}, &codes)
	var detail api.CaseDetail
	s.do("京0105", "GET", "/v1/cases/"+url.PathEscape(caseNo)+"?reveal=1&purpose="+url.QueryEscape("浏览器测试"), nil, &detail)
	var code, last4 string
	for _, is := range codes.Codes {
		if is.Role != court.RoleApplicant || is.Code == "" {
			continue
		}
		for _, p := range detail.Parties {
			if p.ID == is.Party {
				code, last4 = is.Code, p.IDNumber[len(p.IDNumber)-4:]
			}
		}
	}
	if code == "" || last4 == "" {
		t.Fatalf("no applicant code: %+v", codes)
	}
	var tr transfer
	s.do("京0105", "POST", "/v1/transfers", api.OfferRequest{CaseNumber: caseNo, Superior: "京01", Grounds: []string{"long_unexecuted"}}, &tr)
	s.expectEverywhere(tr.ID, "offered")
	s.do("京01", "POST", "/v1/transfers/"+tr.ID+"/decide", api.DecideRequest{Mode: "designated", Receiver: "京0108", DecisionNumber: "（2026）京01执监41号"}, nil)
	s.expectEverywhere(tr.ID, "decided")
	newNo := nodetest.CaseNo(time.Now(), "京0108", court.TypeEnforcement, 4101)
	s.do("京0108", "POST", "/v1/transfers/"+tr.ID+"/accept", api.AcceptRequest{NewCaseNumber: newNo}, nil)
	s.expectEverywhere(tr.ID, "accepted")
	var recv api.Status
	s.do("京0108", "GET", "/v1/status", nil, &recv)

	out := artifactsDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.WindowSize(390, 844),
		chromedp.Flag("lang", "zh-CN"),
		chromedp.Flag("disable-gpu", true),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()

	phone := chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateScale(2))
	desktop := chromedp.EmulateViewport(1280, 900)
	shoot := func(name string, minWidth int) {
		t.Helper()
		buf, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		img, err := png.Decode(bytes.NewReader(buf))
		if err != nil {
			t.Fatalf("screenshot %s is not a PNG: %v", name, err)
		}
		if b := img.Bounds(); b.Dx() < minWidth || b.Dy() < 400 {
			t.Errorf("screenshot %s is %v", name, b)
		}
		p := filepath.Join(out, name)
		if err := os.WriteFile(p, buf, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", p)
	}
	eval := func(js string) string {
		t.Helper()
		v, err := chromedp.Run(bctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return v
	}
	text := func(id string) string {
		return eval(fmt.Sprintf(`(document.querySelector('[data-testid=%q]') || {textContent: ""}).textContent.trim()`, id))
	}
	// fits checks the page has no horizontal scroll at the viewport's
	// width, that its stylesheet applied (the CSP let it in) and that
	// every form control is labelled.
	fits := func(what string, width int) {
		t.Helper()
		if w := eval(`String(document.documentElement.scrollWidth)`); w != fmt.Sprint(width) {
			t.Errorf("%s: the page is %s px wide in a %d px viewport", what, w, width)
		}
		if bg := eval(`getComputedStyle(document.querySelector("header")).backgroundColor`); bg != "rgb(122, 31, 31)" {
			t.Errorf("%s: header background %q: the stylesheet did not apply", what, bg)
		}
		if n := eval(`String(Array.from(document.querySelectorAll("input:not([type=hidden]), select, textarea")).filter(e => !document.querySelector('label[for="' + e.id + '"]')).length)`); n != "0" {
			t.Errorf("%s: %s form controls without a label", what, n)
		}
	}

	// Phone, Chinese: sign in with the old number.
	if err := chromedp.Do(bctx, phone,
		chromedp.Navigate(portal+"/"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="signin-form"]`)),
	); err != nil {
		t.Fatalf("load the sign-in page: %v", err)
	}
	if l := eval(`document.documentElement.dataset.lang + " " + document.querySelector("h1").textContent`); l != "zh 执行案件当事人查询" {
		t.Errorf("default language and title: %q", l)
	}
	fits("sign-in, phone", 390)
	shoot("party-signin-zh-phone.png", 390)
	// A wrong code first: the one answer.
	if err := chromedp.Do(bctx,
		chromedp.SendKeys(chromedp.CSS(`#case`), caseNo),
		chromedp.SendKeys(chromedp.CSS(`#code`), "0000-0000-0000"),
		chromedp.SendKeys(chromedp.CSS(`#id4`), last4),
		chromedp.Submit(chromedp.CSS(`#id4`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="error"]`)),
	); err != nil {
		t.Fatalf("a wrong sign-in: %v", err)
	}
	if e := text("error"); e != "案号、查询码或证件号码后4位不正确。" {
		t.Errorf("a wrong sign-in says %q", e)
	}
	eval(`document.querySelectorAll("#case, #code, #id4").forEach(e => e.value = ""); ""`)
	if err := chromedp.Do(bctx,
		chromedp.SendKeys(chromedp.CSS(`#case`), caseNo),
		chromedp.SendKeys(chromedp.CSS(`#code`), strings.ToLower(code)),
		chromedp.SendKeys(chromedp.CSS(`#id4`), last4),
		chromedp.Submit(chromedp.CSS(`#id4`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="court-now"]`)),
	); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	if got := text("court-now"); got != recv.CourtName {
		t.Errorf("court handling the case: %q, want %q", got, recv.CourtName)
	}
	if got := text("number-now"); got != newNo {
		t.Errorf("case number now: %q, want %q", got, newNo)
	}
	if text("moved") == "" || !strings.Contains(text("contact"), "12368") {
		t.Errorf("moved %q, contact %q", text("moved"), text("contact"))
	}
	for _, st := range []string{"stage-filed", "stage-offered", "stage-decided", "stage-accepted"} {
		if text(st) == "" {
			t.Errorf("no %s", st)
		}
	}
	fits("case page, phone", 390)
	shoot("party-case-zh-phone.png", 390)

	// A complaint about 京0108 (the first choice), acknowledged.
	const complaintText = "案件移送后一直没有进展，请上级法院督促。"
	eval(`document.querySelector("#category").value = "no_progress"; ""`)
	if err := chromedp.Do(bctx,
		chromedp.SendKeys(chromedp.CSS(`#text`), complaintText),
		chromedp.Submit(chromedp.CSS(`#text`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="complaint-ack"]`)),
	); err != nil {
		t.Fatalf("file a complaint: %v", err)
	}
	ref := text("complaint-ref")
	if len(ref) != 32 || text("complaint-state") != "待答复" {
		t.Fatalf("acknowledged %q, state %q", ref, text("complaint-state"))
	}
	shoot("party-complaint-ack-zh-phone.png", 390)

	// 京01, the supervising court, answers through its API.
	nodetest.PollUntil(t, 30*time.Second, "the complaint at 京01", func() bool {
		var l complaintList
		return s.call("京01", "GET", "/v1/complaints", nil, &l) == nil && len(l.Complaints) == 1 && l.Complaints[0].Ref == ref
	})
	var shown api.ComplaintInfo
	s.do("京01", "GET", "/v1/complaints/"+ref+"?purpose="+url.QueryEscape("督办"), nil, &shown)
	if shown.Text != complaintText || shown.Complained != "京0108" || shown.Supervisor != "京01" {
		t.Errorf("京01 reads %+v", shown)
	}
	const answer = "已督促京0108在十日内向您告知执行进展。"
	s.do("京01", "POST", "/v1/complaints/"+ref+"/answer", api.AnswerRequest{Text: answer}, nil)

	// The party sees the answer.
	nodetest.PollUntil(t, 30*time.Second, "the answer on the party's page", func() bool {
		if err := chromedp.Do(bctx, chromedp.Navigate(portal+"/case"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="court-now"]`))); err != nil {
			return false
		}
		return text("complaint-answer") == answer
	})
	if st := text("complaint-state"); !strings.HasPrefix(st, "已答复") {
		t.Errorf("complaint state after the answer: %q", st)
	}
	shoot("party-answer-zh-phone.png", 390)

	// English, with the page's own link, then desktop width.
	if err := chromedp.Do(bctx,
		chromedp.Click(chromedp.CSS(`[data-testid="lang-switch"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-lang="en"] [data-testid="court-now"]`)),
	); err != nil {
		t.Fatalf("switch to English: %v", err)
	}
	if h := eval(`document.querySelector("h1").textContent`); h != "Enforcement case: party enquiry" {
		t.Errorf("English title %q", h)
	}
	if st := text("complaint-state"); !strings.HasPrefix(st, "Answered") {
		t.Errorf("English complaint state %q", st)
	}
	fits("case page, phone, English", 390)
	shoot("party-answer-en-phone.png", 390)
	if err := chromedp.Do(bctx, desktop, chromedp.Navigate(portal+"/case"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="court-now"]`))); err != nil {
		t.Fatal(err)
	}
	fits("case page, desktop, English", 1280)
	shoot("party-case-en-desktop.png", 1000)
	if err := chromedp.Do(bctx, chromedp.Navigate(portal+"/case?lang=zh"), chromedp.WaitVisible(chromedp.CSS(`[data-lang="zh"] [data-testid="court-now"]`))); err != nil {
		t.Fatal(err)
	}
	fits("case page, desktop", 1280)
	shoot("party-case-zh-desktop.png", 1000)

	// Signing out ends the session: the case page asks to sign in again.
	if err := chromedp.Do(bctx,
		chromedp.Click(chromedp.CSS(`[data-testid="signout"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="signin-form"]`)),
		chromedp.Navigate(portal+"/case"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="signin-form"]`)),
	); err != nil {
		t.Fatalf("sign out: %v", err)
	}
	shoot("party-signin-zh-desktop.png", 1000)
}
