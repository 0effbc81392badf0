package dashboard

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"courtmesh.dev/courtmesh/node/api"
)

// LangCookie remembers the page language a browser chose.
const LangCookie = "courtmesh_lang"

// Refresh is how often the page reloads itself.
const Refresh = 10 * time.Second

//go:embed templates/*.html
var templateFS embed.FS

var pageTemplate = template.Must(template.New("dashboard.html").Funcs(template.FuncMap{"days": Days, "yuan": Yuan, "percent": Percent}).ParseFS(templateFS, "templates/dashboard.html"))

// Handler serves the dashboard page. The data function is called once per
// request; the handler sits behind the API's authentication.
type Handler struct {
	data func(context.Context) (Dashboard, error)
	log  *slog.Logger
}

// NewHandler returns a handler that renders what data returns.
func NewHandler(data func(context.Context) (Dashboard, error), log *slog.Logger) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{data: data, log: log}
}

// ServeHTTP renders the page in the language asked for (?lang=zh|en, then
// remembered in LangCookie), Chinese by default.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	lang, ok := pageLang(w, r)
	if !ok {
		return
	}
	ctx, err := api.ParseTrendsOf(r)
	if err != nil {
		api.WriteError(w, api.Errorf(http.StatusBadRequest, api.CodeInvalid, "%v", err))
		return
	}
	d, err := h.data(ctx)
	if err != nil {
		h.log.Warn("dashboard unavailable", "reason", err)
		api.WriteError(w, api.Errorf(http.StatusServiceUnavailable, api.CodeUnavailable, "the dashboard could not be computed: %v; try again shortly", err))
		return
	}
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, newPage(d, lang)); err != nil {
		h.log.Error("dashboard template", "reason", err)
		api.WriteError(w, api.Errorf(http.StatusInternalServerError, api.CodeInternal, "the dashboard page could not be rendered"))
		return
	}
	writePage(w, buf.Bytes())
}

// pageLang is the language a page is asked for (?lang=zh|en, then
// remembered in LangCookie), Chinese by default; false when the request
// was answered (a bad lang).
func pageLang(w http.ResponseWriter, r *http.Request) (string, bool) {
	lang := LangZH
	if c, err := r.Cookie(LangCookie); err == nil && (c.Value == LangZH || c.Value == LangEN) {
		lang = c.Value
	}
	switch q := r.URL.Query().Get("lang"); q {
	case "":
	case LangZH, LangEN:
		lang = q
		http.SetCookie(w, &http.Cookie{Name: LangCookie, Value: q, Path: "/dashboard", MaxAge: 365 * 24 * 3600,
			HttpOnly: true, SameSite: http.SameSiteStrictMode})
	default:
		api.WriteError(w, api.Errorf(http.StatusBadRequest, api.CodeInvalid, "lang=%q: want zh or en", q))
		return "", false
	}
	return lang, true
}

// writePage sends a rendered page with the headers every page carries.
func writePage(w http.ResponseWriter, b []byte) {
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	// Nothing is loaded from anywhere: inline styles and SVG only.
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

// page is the template's view of a Dashboard in one language.
type page struct {
	D             Dashboard
	Lang          string
	Other         string
	RefreshSec    int
	Generated     string
	PipelineChart template.HTML
	ModeChart     template.HTML
	ProvinceChart template.HTML
	Pipeline      []stateRow
	Courts        []courtRow
	MeshRows      []meshRow
	Alerts        []alertRow
	TrendChart    template.HTML
	Jurisdiction  []jurisdictionRow
}

type jurisdictionRow struct {
	JurisdictionRow
	Total                                                 uint64
	Done, Recovery, Terminated, Resumption, Within6, Days string
}

type stateRow struct {
	State, Label string
	Count        int
}

type courtRow struct {
	CourtIndicators
	Recovered, Origin string
	Chart             template.HTML
}

type meshRow struct {
	api.CourtHealth
	Last  string
	Flags []string
}

type alertRow struct {
	api.Alert
	KindLabel, SeverityLabel, Text, SinceText string
}

// T translates a key into the page's language.
func (p page) T(key string) string { return translate(p.Lang, key) }

func newPage(d Dashboard, lang string) page {
	p := page{D: d, Lang: lang, Other: LangEN, RefreshSec: int(Refresh / time.Second), Generated: stamp(d.GeneratedAt)}
	if lang == LangEN {
		p.Other = LangZH
	}
	var bars []bar
	for _, s := range d.Pipeline.States {
		l := translate(lang, "state."+s.State)
		p.Pipeline = append(p.Pipeline, stateRow{State: s.State, Label: l, Count: s.Count})
		bars = append(bars, bar{Label: l, Value: float64(s.Count), Text: strconv.Itoa(s.Count), Class: "bar-" + s.State})
	}
	p.PipelineChart = barChart(translate(lang, "pipeline"), bars, 0)
	bars = nil
	for _, m := range d.Modes {
		bars = append(bars, bar{Label: translate(lang, "mode."+m.Mode), Value: float64(m.Count), Text: strconv.Itoa(m.Count), Class: "bar-mode"})
	}
	p.ModeChart = barChart(translate(lang, "modes"), bars, 0)
	bars = nil
	for _, pc := range d.Mesh.Provinces {
		share := 0.0
		if pc.Total > 0 {
			share = float64(pc.Online) / float64(pc.Total)
		}
		bars = append(bars, bar{Label: pc.Province, Value: share, Text: fmt.Sprintf("%d / %d", pc.Online, pc.Total), Class: "bar-online"})
	}
	p.ProvinceChart = barChart(translate(lang, "mesh.by_province"), bars, 1)
	maxFen := int64(0)
	for _, c := range d.Courts {
		maxFen = max(maxFen, c.RecoveredFen, c.OriginFen)
	}
	for _, c := range d.Courts {
		title := fmt.Sprintf("%s: %s %s, %s %s", c.Court, translate(lang, "recovered"), Yuan(c.RecoveredFen), translate(lang, "origin_recovered"), Yuan(c.OriginFen))
		p.Courts = append(p.Courts, courtRow{CourtIndicators: c, Recovered: Yuan(c.RecoveredFen), Origin: Yuan(c.OriginFen),
			Chart: pairBars(title, float64(c.RecoveredFen), float64(c.OriginFen), float64(maxFen))})
	}
	p.TrendChart = trendChart(translate(lang, "trend.chart"), d.IndicatorTrend, translate(lang, "trend.filed"), translate(lang, "trend.closed"), translate(lang, "ind.recovery"))
	for _, r := range d.Jurisdiction {
		jr := jurisdictionRow{JurisdictionRow: r, Done: "–", Recovery: "–", Terminated: "–", Resumption: "–", Within6: "–", Days: "–"}
		for _, n := range r.States {
			jr.Total += n
		}
		if x := r.Indicators; x != nil {
			jr.Done, jr.Recovery, jr.Terminated, jr.Resumption, jr.Within6 = Percent(x.FullyEnforced), Percent(x.Recovery), Percent(x.Terminated), Percent(x.Resumption), Percent(x.Within6Months)
			if x.DaysToClose.Den > 0 {
				jr.Days = Days(x.DaysToClose.Value)
			}
		}
		p.Jurisdiction = append(p.Jurisdiction, jr)
	}
	for _, ch := range d.Mesh.Courts {
		row := meshRow{CourtHealth: ch, Last: translate(lang, "never")}
		if !ch.LastHeartbeat.IsZero() {
			row.Last = stamp(ch.LastHeartbeat)
		}
		for _, f := range ch.Flags {
			row.Flags = append(row.Flags, translate(lang, "flag."+f))
		}
		p.MeshRows = append(p.MeshRows, row)
	}
	for _, a := range d.Alerts {
		row := alertRow{Alert: a, KindLabel: translate(lang, "alert."+a.Kind), SeverityLabel: translate(lang, a.Severity), Text: messageIn(lang, a.Message)}
		if !a.Since.IsZero() {
			row.SinceText = stamp(a.Since)
		}
		p.Alerts = append(p.Alerts, row)
	}
	return p
}

// china is the civil time zone of the courts (UTC+8, no daylight saving).
var china = time.FixedZone("CST", 8*3600)

func stamp(t time.Time) string { return t.In(china).Format("2006-01-02 15:04:05") }

// Yuan formats an amount in fen as yuan with thousands separators:
// ¥1,250,000.00.
func Yuan(fen int64) string {
	sign := ""
	if fen < 0 {
		sign, fen = "-", -fen
	}
	whole := strconv.FormatInt(fen/100, 10)
	var sb strings.Builder
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			sb.WriteByte(',')
		}
		sb.WriteRune(c)
	}
	return fmt.Sprintf("%s¥%s.%02d", sign, sb.String(), fen%100)
}

// Days formats a mean number of days as the page shows it.
func Days(d float64) string { return strconv.FormatFloat(d, 'f', 1, 64) }
