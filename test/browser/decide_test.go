package browser_test

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"courtmesh.dev/courtmesh/node/advice"
	"courtmesh.dev/courtmesh/node/dashboard"
)

// TestDecideViewInBrowser opens the decide view of the story's offered
// transfer D on 京01's node, the superior asked to decide, in headless
// Chromium; compares every rank, score and factor shown with GET
// /v1/transfers/{id}/recommendation; switches to English; and saves
// screenshots (decide-zh.png, decide-en.png) as artifacts.
func TestDecideViewInBrowser(t *testing.T) {
	bin := chromiumPath()
	if bin == "" {
		if os.Getenv("COURTMESH_REQUIRE_BROWSER") != "" {
			t.Fatal("COURTMESH_REQUIRE_BROWSER is set but no chromium binary was found (apt-get install chromium, or set COURTMESH_CHROMIUM)")
		}
		t.Skip("no chromium binary found: install the Debian package chromium (or set COURTMESH_CHROMIUM) to run the browser test; COURTMESH_REQUIRE_BROWSER=1 makes this a failure")
	}
	st := startStory(t)
	base := "http://" + st.nodes["京01"].APIAddr()
	out := artifactsDir(t)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.WindowSize(1440, 900),
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

	var rec advice.Recommendation
	st.do("京01", "GET", "/v1/transfers/"+st.offered+"/recommendation", nil, &rec)
	if len(rec.Ranking) < 2 {
		t.Fatalf("the recommendation for D ranks %d courts: %+v", len(rec.Ranking), rec)
	}
	check := func(lang string) {
		t.Helper()
		got, err := chromedp.Run(bctx, chromedp.Evaluate[map[string]string](pageNumbers))
		if err != nil {
			t.Fatalf("read the page: %v", err)
		}
		want := map[string]string{"inputs-hash": rec.InputsHash, "transfer": st.offered, "decider": "京01", "origin": "京0105"}
		for _, e := range rec.Ranking {
			c := string(e.Court)
			want["rank-"+c] = strconv.Itoa(e.Rank)
			want["score-"+c] = fmt.Sprintf("%.3f", e.Score)
			want["share-"+c] = fmt.Sprintf("%.2f / %.2f", e.Factors.AssetShareDistrict, e.Factors.AssetShareCity)
			want["distance-"+c] = fmt.Sprintf("%d / %d", e.Factors.DistanceOrigin, e.Factors.DistanceDebtor)
			want["load-"+c] = fmt.Sprintf("%d / %d", e.Factors.Open, e.Factors.Overdue)
			want["track-"+c] = fmt.Sprintf("%.2f / %.2f / %.2f", e.Factors.InTimeRate, e.Factors.Concluded6mRate, e.Factors.RecoveryRate)
			want["lapsed-"+c] = strconv.Itoa(e.Factors.Lapsed)
		}
		for id, w := range want {
			if g, ok := got[id]; !ok {
				t.Errorf("%s: no element with data-testid %q", lang, id)
			} else if g != w {
				t.Errorf("%s: %s shows %q, the API says %q", lang, id, g, w)
			}
		}
		rows, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="rank-row"]').length`))
		if err != nil || rows != len(rec.Ranking) {
			t.Errorf("%s: %d ranking rows, the API has %d (%v)", lang, rows, len(rec.Ranking), err)
		}
		// The story's own facts, so that an empty page and an empty API
		// cannot agree: the origin is listed last, excluded; 京0108, which
		// took transfers A and C, is eligible with its record.
		if e := rec.Ranking[len(rec.Ranking)-1]; e.Court != "京0105" || e.Eligible {
			t.Errorf("the origin is not last and excluded: %+v", e)
		}
		for _, e := range rec.Ranking {
			if e.Court == "京0108" && (!e.Eligible || e.Factors.Cases != 2) {
				t.Errorf("京0108: %+v; want eligible with 2 cases designated", e)
			}
		}
	}
	shoot := func(name string) string {
		t.Helper()
		buf, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		if _, err := png.Decode(bytes.NewReader(buf)); err != nil {
			t.Fatalf("screenshot %s is not a PNG: %v", name, err)
		}
		p := filepath.Join(out, name)
		if err := os.WriteFile(p, buf, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", p)
		return p
	}
	title := func() string {
		l, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.documentElement.dataset.lang + " " + document.querySelector("h1").textContent`))
		if err != nil {
			t.Fatal(err)
		}
		return l
	}

	// Log in with 京01's token, then open the decide view of D.
	if err := chromedp.Do(bctx,
		chromedp.Navigate(base+"/dashboard?token="+st.token("京01")),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="pipeline-total"]`)),
		chromedp.Navigate(base+dashboard.DecidePath+"?transfer="+st.offered+"&lang=zh"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="rank-row"]`)),
	); err != nil {
		t.Fatalf("load the decide view: %v", err)
	}
	if l := title(); l != "zh 受理法院推荐" {
		t.Errorf("page language and title: %q", l)
	}
	check("zh")
	zh := shoot("decide-zh.png")

	if err := chromedp.Do(bctx,
		chromedp.Click(chromedp.CSS(`[data-testid="lang-switch"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-lang="en"] [data-testid="rank-row"]`)),
	); err != nil {
		t.Fatalf("switch to English: %v", err)
	}
	if l := title(); l != "en Which court should take the case" {
		t.Errorf("after the switch: %q", l)
	}
	check("en")
	en := shoot("decide-en.png")
	fmt.Fprintf(os.Stderr, "decide view screenshots: %s %s\n", zh, en)
}
