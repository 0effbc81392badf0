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
