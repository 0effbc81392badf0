package browser_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/dashboard"
)

// jurisdictionNumbers is what the page must show of a superior court's
// jurisdiction, its indicators and its monthly trend, by test id.
func jurisdictionNumbers(d dashboard.Dashboard) map[string]string {
	want := map[string]string{"checkbacks": strconv.Itoa(d.CheckBacks)}
	for _, r := range d.Jurisdiction {
		pre := "juris-" + r.Court + "-"
		total := uint64(0)
		for _, n := range r.States {
			total += n
		}
		want[pre+"total"] = strconv.FormatUint(total, 10)
		want[pre+"overdue"] = strconv.Itoa(r.Overdue)
		if x := r.Indicators; x != nil {
			want[pre+"filed"] = strconv.FormatInt(x.Filed, 10)
			want[pre+"done"] = dashboard.Percent(x.FullyEnforced)
			want[pre+"recovery"] = dashboard.Percent(x.Recovery)
			want[pre+"terminated"] = dashboard.Percent(x.Terminated)
			want[pre+"resumption"] = dashboard.Percent(x.Resumption)
			want[pre+"within6"] = dashboard.Percent(x.Within6Months)
		}
	}
	for _, m := range d.IndicatorTrend {
		pre := "itrend-" + m.Month + "-"
		want[pre+"filed"] = strconv.FormatInt(m.Filed, 10)
		want[pre+"closed"] = strconv.FormatInt(m.Closed, 10)
		want[pre+"recovery"] = dashboard.Percent(m.Recovery)
	}
	return want
}

// TestJurisdictionDashboardInBrowser opens the dashboard of 京01, the
// superior court of the story, in headless Chromium: its jurisdiction
// (京01, 京0105, 京0108) with the transfers, the overdue one and each
// court's standard indicators, and the monthly trend chart of the main
// indicators; compares every figure with GET /v1/dashboard, follows a
// court's link to the counts behind its figures (GET /v1/indicators),
// switches to English, and saves screenshots (supervision-zh.png,
// supervision-en.png) as artifacts.
func TestJurisdictionDashboardInBrowser(t *testing.T) {
	bin := chromiumPath()
	if bin == "" {
		if os.Getenv("COURTMESH_REQUIRE_BROWSER") != "" {
			t.Fatal("COURTMESH_REQUIRE_BROWSER is set but no chromium binary was found (apt-get install chromium, or set COURTMESH_CHROMIUM)")
		}
		t.Skip("no chromium binary found: install the Debian package chromium (or set COURTMESH_CHROMIUM) to run the browser test; COURTMESH_REQUIRE_BROWSER=1 makes this a failure")
	}
	st := startStory(t)
	const sup = court.CourtCode("京01")
	base := "http://" + st.nodes[sup].APIAddr()
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
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()

	// The API's view, with the story's own numbers, so that an empty page
	// and an empty API cannot agree: 京0108 filed A (received, with
	// progress); 京01 filed B itself; C is overdue at 京0108; A, C and D
	// came from 京0105.
	d := st.dashboardJSON(sup)
	rows := map[string]dashboard.JurisdictionRow{}
	for _, r := range d.Jurisdiction {
		rows[r.Court] = r
	}
	if len(d.Jurisdiction) != 3 || d.Jurisdiction[0].Court != string(sup) || rows["京0105"].Indicators == nil || rows["京0108"].Indicators == nil {
		t.Fatalf("京01's jurisdiction: %+v", d.Jurisdiction)
	}
	if rows["京0108"].Indicators.Filed != 1 || rows["京01"].Indicators.Filed != 1 || rows["京0108"].Overdue != 1 || rows["京0105"].States["offered"] != 1 {
		t.Errorf("the jurisdiction does not show the story: %+v", d.Jurisdiction)
	}
	filed := int64(0)
	for _, m := range d.IndicatorTrend {
		filed += m.Filed
	}
	if len(d.IndicatorTrend) != dashboard.TrendMonths || filed != 2 {
		t.Errorf("the trend shows %d filed over %d months, want A and B over %d", filed, len(d.IndicatorTrend), dashboard.TrendMonths)
	}

	numbers := func(lang string) {
		t.Helper()
		got, err := chromedp.Run(bctx, chromedp.Evaluate[map[string]string](pageNumbers))
		if err != nil {
			t.Fatalf("read the page: %v", err)
		}
		d := st.dashboardJSON(sup)
		for id, w := range jurisdictionNumbers(d) {
			if g, ok := got[id]; !ok {
				t.Errorf("%s: no element with data-testid %q", lang, id)
			} else if g != w {
				t.Errorf("%s: %s shows %q, GET /v1/dashboard says %q", lang, id, g, w)
			}
		}
		n, err := chromedp.Run(bctx, chromedp.Evaluate[[]int](`[document.querySelectorAll('[data-testid="juris-row"]').length, document.querySelectorAll('svg.trend-chart rect.bar-filed').length, document.querySelectorAll('svg.trend-chart circle.rate-dot').length]`))
		if err != nil {
			t.Fatal(err)
		}
		// Bars: one filed bar per month plus the legend's; a rate point
		// for each month with a claim filed (A's and B's month).
		if n[0] != len(d.Jurisdiction) || n[1] != dashboard.TrendMonths+1 || n[2] < 1 {
			t.Errorf("%s: %d jurisdiction rows, %d filed bars, %d rate points; want %d, %d, at least 1", lang, n[0], n[1], n[2], len(d.Jurisdiction), dashboard.TrendMonths+1)
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

	tok := st.token(sup)
	if err := chromedp.Do(bctx,
		chromedp.Navigate(base+"/dashboard?token="+tok),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="jurisdiction"]`)),
	); err != nil {
		t.Fatalf("load the dashboard: %v", err)
	}
	numbers("zh")
	head, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector('[data-testid="jurisdiction"] h2').textContent + "|" + document.querySelector('[data-testid="indicator-trend"] h2').textContent`))
	if err != nil || !strings.Contains(head, "辖区") || !strings.Contains(head, "月度趋势") {
		t.Errorf("zh headings: %q, %v", head, err)
	}
	zh := shoot("supervision-zh.png")

	// A court's figures lead to the counts behind them.
	if err := chromedp.Do(bctx,
		chromedp.Click(chromedp.CSS(`[data-testid="juris-row"][data-court="京0108"] a.trace`)),
		chromedp.WaitVisible(chromedp.CSS(`body`)),
	); err != nil {
		t.Fatalf("follow 京0108's link: %v", err)
	}
	body, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.body.innerText`))
	if err != nil {
		t.Fatal(err)
	}
	var ind dashboard.Indicators
	if err := json.Unmarshal([]byte(body), &ind); err != nil || ind.Filed != rows["京0108"].Indicators.Filed || ind.Slice != "r/京0108" {
		t.Errorf("GET /v1/indicators?court=京0108 in the browser: %q (%v)", body, err)
	}

	// English, with the page's own link.
	if err := chromedp.Do(bctx,
		chromedp.Navigate(base+"/dashboard?lang=en"),
		chromedp.WaitVisible(chromedp.CSS(`[data-lang="en"] [data-testid="jurisdiction"]`)),
	); err != nil {
		t.Fatalf("switch to English: %v", err)
	}
	numbers("en")
	head, err = chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector('[data-testid="jurisdiction"] h2').textContent`))
	if err != nil || !strings.HasPrefix(head, "Jurisdiction") {
		t.Errorf("en heading: %q, %v", head, err)
	}
	en := shoot("supervision-en.png")
	fmt.Fprintf(os.Stderr, "supervision dashboard screenshots: %s %s\n", zh, en)
}
