package dashboard

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/api"
)

func fixtureDashboard() Dashboard {
	return Compute(Input{
		Now: at("2026-06-30"), Self: court.Supreme, SelfName: "最高人民法院", Operator: true, GuardDays: 30, Transfers: pipelineFixture(),
		Mesh: []api.CourtHealth{{Court: "京0105", Province: "京", Online: true}, {Court: "京0108", Province: "京", Flags: []string{"silent"}}},
		Alerts: []api.Alert{{Kind: "acceptance_overdue", Severity: "warning", Court: "京0108", Transfer: "t3",
			Message: "京0108 未在 2026-06-27 前接受移送 t3 / 京0108 has not accepted transfer t3, due 2026-06-27"}},
	})
}

func get(t *testing.T, h http.Handler, target string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest("GET", target, nil)
	for _, c := range cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestPageLanguages(t *testing.T) {
	d := fixtureDashboard()
	h := NewHandler(func(context.Context) (Dashboard, error) { return d, nil }, nil)

	zh := get(t, h, "/dashboard")
	if zh.Code != 200 || !strings.Contains(zh.Body.String(), "交叉执行监管看板") || !strings.Contains(zh.Body.String(), `lang="zh-CN"`) {
		t.Fatalf("default page: %d, not Chinese:\n%.400s", zh.Code, zh.Body.String())
	}
	if !strings.Contains(zh.Body.String(), "未在 2026-06-27 前接受移送") || strings.Contains(zh.Body.String(), "has not accepted") {
		t.Error("the Chinese page does not show the alert's Chinese half only")
	}

	en := get(t, h, "/dashboard?lang=en")
	body := en.Body.String()
	if en.Code != 200 || !strings.Contains(body, "Cross-execution supervision dashboard") || !strings.Contains(body, `lang="en"`) {
		t.Fatalf("?lang=en: %d, not English", en.Code)
	}
	var remembered *http.Cookie
	for _, c := range en.Result().Cookies() {
		if c.Name == LangCookie {
			remembered = c
		}
	}
	if remembered == nil || remembered.Value != LangEN || !remembered.HttpOnly || remembered.SameSite != http.SameSiteStrictMode {
		t.Fatalf("language cookie %+v", remembered)
	}
	if again := get(t, h, "/dashboard", remembered); !strings.Contains(again.Body.String(), `lang="en"`) {
		t.Error("the language cookie is not honoured")
	}
	if bad := get(t, h, "/dashboard?lang=fr"); bad.Code != http.StatusBadRequest {
		t.Errorf("lang=fr: %d, want 400", bad.Code)
	}

	// Every number has its test id, with the JSON's value.
	for id, want := range map[string]string{
		"pipeline-total": "6", "pipeline-overdue": "1", "state-closed": "1", "avg-accept-days": "3.7", "avg-receipt-days": "12.5",
		"mode-指令执行": "3", "court-京0108-designated": "3", "court-京0108-recovered_fen": "¥50,001.00", "court-京0108-measures_lapsed": "1",
		"mesh-online": "1", "mesh-total": "2", "alerts-count": "1",
	} {
		re := regexp.MustCompile(`data-testid="` + regexp.QuoteMeta(id) + `"[^>]*>` + regexp.QuoteMeta(want) + `<`)
		if !re.MatchString(body) {
			t.Errorf("no %s showing %s", id, want)
		}
	}
	// Closed networks: nothing is loaded from anywhere.
	for _, bad := range []string{"<script", "src=", `href="http`, "@import", "url("} {
		if strings.Contains(body, bad) {
			t.Errorf("the page contains %q", bad)
		}
	}
	if csp := en.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q", csp)
	}
}

func TestPageDataError(t *testing.T) {
	h := NewHandler(func(context.Context) (Dashboard, error) { return Dashboard{}, errors.New("store closed") }, nil)
	if w := get(t, h, "/dashboard"); w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), `"unavailable"`) {
		t.Errorf("%d %s", w.Code, w.Body.String())
	}
}

func TestPageEscapes(t *testing.T) {
	d := fixtureDashboard()
	d.Alerts = []api.Alert{{Kind: "<b>x</b>", Severity: "warning", Message: `<img src=x onerror=alert(1)>`}}
	d.Courts[0].Name = `<script>alert(1)</script>`
	h := NewHandler(func(context.Context) (Dashboard, error) { return d, nil }, nil)
	body := get(t, h, "/dashboard").Body.String()
	if strings.Contains(body, "<script>") || strings.Contains(body, "<img") || strings.Contains(body, "<b>x") {
		t.Error("the page does not escape what it shows")
	}
}

// TestPageSupervision: a superior court's page shows its jurisdiction
// with the indicators, the complaints per court complained of (issue 19)
// and the check-backs flagged, in both languages; a court's text is
// escaped.
func TestPageSupervision(t *testing.T) {
	in := Input{Now: at("2026-06-30"), Self: "京01", SelfName: "北京市第一中级人民法院", GuardDays: 30, Transfers: pipelineFixture(),
		Supervision: &Supervision{
			Jurisdiction: []JurisdictionRow{
				{JurisdictionRow: api.JurisdictionRow{Court: "京01", Courts: 1, States: map[string]uint64{"decided": 1}}},
				{JurisdictionRow: api.JurisdictionRow{Court: "京0108", Name: "<b>海淀</b>", Courts: 1, States: map[string]uint64{"received": 3}, Overdue: 1},
					Indicators: &Indicators{Filed: 3, Closed: 2, FullyEnforced: ratio(1, 2), Recovery: ratio(377, 1000), Resumption: ratio(1, 3)}},
			},
			Complaints: []api.ComplaintIndicator{{Court: "京0108", Total: 4, Answered: 3, InTime: 2, Overdue: 1}},
			CheckBacks: 2,
		}}
	d := Compute(in)
	if len(d.Jurisdiction) != 2 || d.CheckBacks != 2 || len(d.Complaints) != 1 || len(d.IndicatorTrend) != TrendMonths {
		t.Fatalf("computed: %d rows, %d check-backs, %d complaint rows, %d months", len(d.Jurisdiction), d.CheckBacks, len(d.Complaints), len(d.IndicatorTrend))
	}
	h := NewHandler(func(context.Context) (Dashboard, error) { return d, nil }, nil)
	for lang, words := range map[string][]string{"zh": {"辖区法院", "当事人投诉", "执行到位率", "恢复执行率"}, "en": {"Jurisdiction", "Parties&#39; complaints", "Recovery rate", "Resumed"}} {
		body := get(t, h, "/dashboard?lang="+lang).Body.String()
		for _, w := range append(words,
			`data-testid="juris-京0108-total">3<`, `data-testid="juris-京0108-overdue">1<`, `data-testid="juris-京0108-recovery">37.7%<`,
			`data-testid="juris-京0108-resumption">33.3%<`, `data-testid="juris-京01-filed">–<`, `href="/v1/indicators?court=%e4%ba%ac0108"`,
			`data-testid="complaints-京0108-total">4<`, `data-testid="complaints-京0108-in_time">2<`, `data-testid="complaints-京0108-overdue">1<`,
			`data-testid="checkbacks">2<`, `class="chart trend-chart"`) {
			if !strings.Contains(body, w) {
				t.Errorf("%s page lacks %s", lang, w)
			}
		}
		if strings.Contains(body, "<b>海淀</b>") {
			t.Errorf("%s page shows a court's name unescaped", lang)
		}
	}
	// A court with none under it shows no jurisdiction section.
	in.Supervision.Jurisdiction = in.Supervision.Jurisdiction[:1]
	d = Compute(in)
	h = NewHandler(func(context.Context) (Dashboard, error) { return d, nil }, nil)
	if body := get(t, h, "/dashboard").Body.String(); strings.Contains(body, `data-testid="jurisdiction"`) {
		t.Error("a jurisdiction of one court is shown")
	}
}
