package browser_test

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/advice"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/dashboard"
)

// TestDecideViewInBrowser opens the decide view of the region story's
// offered transfer D on 京01's node, the superior asked to decide, in
// headless Chromium; compares every rank, score, factor and reason shown
// with GET /v1/transfers/{id}/recommendation (what `courtmesh transfer
// recommend` prints), and the region summary and the debtor's domicile
// with GET /v1/transfers/{id}; switches to English; and saves
// screenshots (decide-zh.png, decide-en.png) as artifacts. D's offer
// carries a region summary (startRegionStory), so the page shows real
// asset shares, a domicile, a court excluded for local ties and four
// candidates.
func TestDecideViewInBrowser(t *testing.T) {
	bin := chromiumPath()
	if bin == "" {
		if os.Getenv("COURTMESH_REQUIRE_BROWSER") != "" {
			t.Fatal("COURTMESH_REQUIRE_BROWSER is set but no chromium binary was found (apt-get install chromium, or set COURTMESH_CHROMIUM)")
		}
		t.Skip("no chromium binary found: install the Debian package chromium (or set COURTMESH_CHROMIUM) to run the browser test; COURTMESH_REQUIRE_BROWSER=1 makes this a failure")
	}
	st := startRegionStory(t)
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
	var tr api.Transfer
	st.do("京01", "GET", "/v1/transfers/"+st.offered, nil, &tr)
	checkRegionStory(t, tr, rec)
	check := func(lang string) {
		t.Helper()
		got, err := chromedp.Run(bctx, chromedp.Evaluate[map[string]string](pageNumbers))
		if err != nil {
			t.Fatalf("read the page: %v", err)
		}
		want := map[string]string{"inputs-hash": rec.InputsHash, "transfer": st.offered, "decider": "京01", "origin": "京0105",
			"debtor-region": tr.DebtorRegion}
		for _, h := range tr.RegionAssets {
			want["holding-count-"+h.Region+"-"+h.Class] = strconv.Itoa(int(h.Count))
			want["holding-band-"+h.Region+"-"+h.Class] = court.ValueBand(h.Band).String()
			// The class in the page's language: court's label in Chinese,
			// never the wire code.
			if lang == "zh" {
				want["holding-class-"+h.Region+"-"+h.Class] = court.AssetClass(h.Class).Label()
			} else if g := got["holding-class-"+h.Region+"-"+h.Class]; g == h.Class || g == court.AssetClass(h.Class).Label() {
				t.Errorf("en: holding-class-%s-%s shows %q, not English words", h.Region, h.Class, g)
			}
		}
		for _, e := range rec.Ranking {
			c := string(e.Court)
			want["rank-"+c] = strconv.Itoa(e.Rank)
			want["score-"+c] = fmt.Sprintf("%.3f", e.Score)
			want["share-"+c] = fmt.Sprintf("%.2f / %.2f", e.Factors.AssetShareDistrict, e.Factors.AssetShareCity)
			want["distance-"+c] = fmt.Sprintf("%d / %d", e.Factors.DistanceOrigin, e.Factors.DistanceDebtor)
			want["load-"+c] = fmt.Sprintf("%d / %d", e.Factors.Open, e.Factors.Overdue)
			want["track-"+c] = fmt.Sprintf("%.2f / %.2f / %.2f", e.Factors.InTimeRate, e.Factors.Concluded6mRate, e.Factors.RecoveryRate)
			want["lapsed-"+c] = strconv.Itoa(e.Factors.Lapsed)
			want["points-"+c] = fmt.Sprintf("%.2f / %.2f / %.2f / %.2f / %.2f", e.Points.Assets, e.Points.Near, e.Points.Load, e.Points.Track, e.Points.Lapse)
			if !e.Eligible {
				want["eligible-"+c] = exclusionWords[lang][e.ExcludedCode]
			}
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
		holdings, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="holding"]').length`))
		if err != nil || holdings != len(tr.RegionAssets) {
			t.Errorf("%s: %d rows of the region summary, the offer has %d (%v)", lang, holdings, len(tr.RegionAssets), err)
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

// exclusionWords are the reasons of exclusion as the decide view writes
// them, by language; the test writes them out rather than asking the
// dashboard, so that a lost translation shows.
var exclusionWords = map[string]map[advice.Exclusion]string{
	"zh": {advice.ExcludedOrigin: "原执行法院", advice.ExcludedDebtorDistrict: "位于被执行人住所地区县", advice.ExcludedOriginDistrict: "位于原执行法院所在区县",
		advice.ExcludedDecider: "决定法院本身（应为提级执行）", advice.ExcludedConfigured: "配置中排除"},
	"en": {advice.ExcludedOrigin: "the origin court", advice.ExcludedDebtorDistrict: "in the debtor's district", advice.ExcludedOriginDistrict: "in the origin's district",
		advice.ExcludedDecider: "the deciding court (that is 提级执行, not 指令执行)", advice.ExcludedConfigured: "excluded in the configuration"},
}

// checkRegionStory checks the region story's own facts in the API's
// answers, so that an empty page and an empty API cannot agree: D's offer
// carries the debtor's domicile and assets in several districts; 京01
// ranks four candidates; 京0108, which took transfers A and C, and
// 京0107 are eligible, 京0108 with its record; an eligible court has a
// share of the assets in its district; 京0106, the debtor's district,
// is excluded for it though assets lie there; the origin is excluded.
func checkRegionStory(t *testing.T, tr api.Transfer, rec advice.Recommendation) {
	t.Helper()
	if tr.DebtorRegion != string(storyDebtorRegion) {
		t.Errorf("D's debtor region %q, want %s", tr.DebtorRegion, storyDebtorRegion)
	}
	regions := map[string]bool{}
	for _, h := range tr.RegionAssets {
		regions[h.Region] = true
	}
	if len(regions) < 2 {
		t.Errorf("D's region summary %+v: want assets in two districts or more", tr.RegionAssets)
	}
	if len(rec.Ranking) != 4 {
		t.Fatalf("the recommendation for D ranks %d courts, want 4 (京0105 to 京0108): %+v", len(rec.Ranking), rec.Ranking)
	}
	by := map[court.CourtCode]advice.Entry{}
	var shares float64
	for _, e := range rec.Ranking {
		by[e.Court] = e
		shares += e.Factors.AssetShareDistrict
	}
	if math.Abs(shares-1) > 1e-5 {
		t.Errorf("the candidates' district shares sum to %v, want 1: every asset lies in a candidate's district", shares)
	}
	if e := by["京0105"]; e.Eligible || e.ExcludedCode != advice.ExcludedOrigin {
		t.Errorf("the origin: %+v", e)
	}
	if e := by["京0106"]; e.Eligible || e.ExcludedCode != advice.ExcludedDebtorDistrict || e.Factors.DistanceDebtor != 0 {
		t.Errorf("京0106, the debtor's district: %+v; want excluded for it", e)
	}
	if e := by["京0108"]; !e.Eligible || e.Factors.Cases != 2 || e.Factors.AssetShareDistrict <= 0 || e.Factors.DistanceDebtor != 1 || e.Points.Near != -2 {
		t.Errorf("京0108: %+v; want eligible, 2 cases designated, a share of the assets, penalised twice for the same city", e)
	}
	if e := by["京0107"]; !e.Eligible || e.Factors.AssetShareDistrict <= 0 {
		t.Errorf("京0107: %+v; want eligible with a share of the assets", e)
	}
	if !rec.Ranking[0].Eligible || !rec.Ranking[1].Eligible {
		t.Errorf("the eligible courts are not first: %+v", rec.Ranking)
	}
}
