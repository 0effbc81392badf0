package browser_test

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/dashboard"
)

// chromiumPath finds a Chromium binary: $COURTMESH_CHROMIUM, then the
// Debian package's chromium, then other usual names.
func chromiumPath() string {
	if p := os.Getenv("COURTMESH_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// artifactsDir is where screenshots go: $COURTMESH_ARTIFACTS (CI sets
// .ci/artifacts), else a temporary directory of the test.
func artifactsDir(t *testing.T) string {
	dir := os.Getenv("COURTMESH_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		t.Fatal(err)
	}
	return abs
}

// pageNumbers reads every element with a data-testid: its text.
const pageNumbers = `Object.fromEntries(Array.from(document.querySelectorAll('[data-testid]'), e => [e.dataset.testid, e.textContent.trim()]))`

// expectedNumbers is what the page must show for d, by test id, formatted
// as the page formats them.
func expectedNumbers(d dashboard.Dashboard) map[string]string {
	want := map[string]string{
		"pipeline-total":   strconv.Itoa(d.Pipeline.Total),
		"pipeline-overdue": strconv.Itoa(d.Pipeline.Overdue),
		"avg-accept-days":  dashboard.Days(d.Pipeline.AvgDaysDecisionToAcceptance),
		"avg-receipt-days": dashboard.Days(d.Pipeline.AvgDaysDecisionToReceipt),
		"accept-samples":   strconv.Itoa(d.Pipeline.AcceptanceSamples),
		"receipt-samples":  strconv.Itoa(d.Pipeline.ReceiptSamples),
		"mesh-online":      strconv.Itoa(d.Mesh.Online),
		"mesh-total":       strconv.Itoa(d.Mesh.Total),
		"alerts-count":     strconv.Itoa(len(d.Alerts)),
		"as-of":            d.AsOf,
	}
	for _, s := range d.Pipeline.States {
		want["state-"+s.State] = strconv.Itoa(s.Count)
	}
	for _, m := range d.Modes {
		want["mode-"+m.Mode] = strconv.Itoa(m.Count)
	}
	for _, p := range d.Mesh.Provinces {
		want["province-"+p.Province+"-online"] = strconv.Itoa(p.Online)
		want["province-"+p.Province+"-total"] = strconv.Itoa(p.Total)
	}
	for _, c := range d.Courts {
		pre := "court-" + c.Court + "-"
		want[pre+"designated"] = strconv.Itoa(c.Designated)
		want[pre+"accepted"] = strconv.Itoa(c.Accepted)
		want[pre+"accepted_in_time"] = strconv.Itoa(c.AcceptedInTime)
		want[pre+"received"] = strconv.Itoa(c.Received)
		want[pre+"concluded"] = strconv.Itoa(c.Concluded)
		want[pre+"recovered_fen"] = dashboard.Yuan(c.RecoveredFen)
		want[pre+"origin_recovered_fen"] = dashboard.Yuan(c.OriginFen)
		want[pre+"measures_lapsed"] = strconv.Itoa(c.MeasuresLapsed)
		want[pre+"sanctions_lapsed"] = strconv.Itoa(c.SanctionsLapsed)
	}
	for _, tr := range d.Trends {
		for _, m := range tr.Months {
			pre := "trend-" + tr.Superior + "-" + m.Month + "-"
			want[pre+"designated"] = strconv.Itoa(m.Modes["指令执行"])
			want[pre+"elevated"] = strconv.Itoa(m.Modes["提级执行"])
			want[pre+"concluded"] = strconv.Itoa(m.Outcomes["concluded"])
			want[pre+"withdrawn"] = strconv.Itoa(m.Outcomes["withdrawn"])
		}
		for _, r := range tr.Recovery {
			want["trend-"+tr.Superior+"-recovered-"+r.Court] = dashboard.Yuan(r.RecoveredFen)
		}
	}
	return want
}

// TestDashboardInBrowser loads the operator's dashboard of a running mesh
// after the story in headless Chromium, compares every number shown with
// GET /v1/dashboard, switches to English, and saves full-page screenshots
// (zh and en) as artifacts.
func TestDashboardInBrowser(t *testing.T) {
	bin := chromiumPath()
	if bin == "" {
		if os.Getenv("COURTMESH_REQUIRE_BROWSER") != "" {
			t.Fatal("COURTMESH_REQUIRE_BROWSER is set but no chromium binary was found (apt-get install chromium, or set COURTMESH_CHROMIUM)")
		}
		t.Skip("no chromium binary found: install the Debian package chromium (or set COURTMESH_CHROMIUM) to run the browser test; COURTMESH_REQUIRE_BROWSER=1 makes this a failure")
	}
	st := startStory(t)
	base := "http://" + st.nodes[court.Supreme].APIAddr()
	out := artifactsDir(t)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.WindowSize(1440, 1000),
		chromedp.Flag("lang", "zh-CN"),
		chromedp.Flag("disable-gpu", true),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses to run as root with its sandbox
	}
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()

	numbers := func(lang string) {
		t.Helper()
		got, err := chromedp.Run(bctx, chromedp.Evaluate[map[string]string](pageNumbers))
		if err != nil {
			t.Fatalf("read the page: %v", err)
		}
		d := st.dashboardJSON(court.Supreme)
		want := expectedNumbers(d)
		for id, w := range want {
			if g, ok := got[id]; !ok {
				t.Errorf("%s: no element with data-testid %q", lang, id)
			} else if g != w {
				t.Errorf("%s: %s shows %q, GET /v1/dashboard says %q", lang, id, g, w)
			}
		}
		rows, err := chromedp.Run(bctx, chromedp.Evaluate[[]int](`[document.querySelectorAll('[data-testid="alert"]').length, document.querySelectorAll('[data-testid="mesh-row"]').length, document.querySelectorAll('[data-testid="court-row"]').length]`))
		if err != nil {
			t.Fatal(err)
		}
		if rows[0] != len(d.Alerts) || rows[1] != len(d.Mesh.Courts) || rows[2] != len(d.Courts) {
			t.Errorf("%s: %v alert, mesh and court rows; the API has %d, %d, %d", lang, rows, len(d.Alerts), len(d.Mesh.Courts), len(d.Courts))
		}
		// The story's own numbers, so that an empty page and an empty API
		// cannot agree.
		// The story's trend: 京01 decided A and C (指令执行) and B (提级执行).
		if len(d.Trends) != 1 || d.Trends[0].Superior != "京01" {
			t.Errorf("trends: %+v", d.Trends)
		} else {
			designated, elevated := 0, 0
			for _, m := range d.Trends[0].Months {
				designated, elevated = designated+m.Modes["指令执行"], elevated+m.Modes["提级执行"]
			}
			if designated != 2 || elevated != 1 {
				t.Errorf("京01's trend counts %d 指令执行 and %d 提级执行, want 2 and 1", designated, elevated)
			}
		}
		if want["pipeline-total"] != "4" || want["court-京0108-recovered_fen"] != dashboard.Yuan(storyRecoveredFen) || want["pipeline-overdue"] != "1" {
			t.Errorf("the API does not show the story: %v", want)
		}
	}
	shoot := func(name string) string {
		t.Helper()
		buf, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		img, err := png.Decode(bytes.NewReader(buf))
		if err != nil {
			t.Fatalf("screenshot %s is not a PNG: %v", name, err)
		}
		if b := img.Bounds(); b.Dx() < 1000 || b.Dy() < 800 {
			t.Errorf("screenshot %s is %v, want the full page", name, b)
		}
		p := filepath.Join(out, name)
		if err := os.WriteFile(p, buf, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", p)
		return p
	}
	lang := func() string {
		l, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.documentElement.dataset.lang + " " + document.querySelector("h1").textContent`))
		if err != nil {
			t.Fatal(err)
		}
		return l
	}

	// Log in with the token: the node sets the session cookie and
	// redirects to the page without the token.
	tok := st.token(court.Supreme)
	if err := chromedp.Do(bctx,
		chromedp.Navigate(base+"/dashboard?token="+tok),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="pipeline-total"]`)),
	); err != nil {
		t.Fatalf("load the dashboard: %v", err)
	}
	loc, err := chromedp.Run(bctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(loc, tok) || !strings.HasSuffix(loc, "/dashboard") {
		t.Errorf("after login the browser is at %q: want /dashboard without the token", loc)
	}
	if l := lang(); l != "zh 交叉执行监管看板" {
		t.Errorf("default page language and title: %q", l)
	}
	numbers("zh")
	zh := shoot("dashboard-zh.png")

	// Switch to English with the page's own link.
	if err := chromedp.Do(bctx,
		chromedp.Click(chromedp.CSS(`[data-testid="lang-switch"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-lang="en"] [data-testid="pipeline-total"]`)),
	); err != nil {
		t.Fatalf("switch to English: %v", err)
	}
	if l := lang(); l != "en Cross-execution supervision dashboard" {
		t.Errorf("after the switch: %q", l)
	}
	numbers("en")
	en := shoot("dashboard-en.png")

	// The choice is remembered.
	if err := chromedp.Do(bctx,
		chromedp.Navigate(base+"/dashboard"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="pipeline-total"]`)),
	); err != nil {
		t.Fatal(err)
	}
	if l := lang(); !strings.HasPrefix(l, "en ") {
		t.Errorf("the language was not remembered: %q", l)
	}
	fmt.Fprintf(os.Stderr, "dashboard screenshots: %s %s\n", zh, en)
}
