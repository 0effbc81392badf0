package dashboard

import (
	"fmt"
	"html"
	"html/template"
	"strings"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/api"
)

// JurisdictionRow is one court (or, for the Supreme People's Court, one
// province) of a superior court's jurisdiction on the dashboard: its
// transfers by state and overdue (GET /v1/jurisdiction's row) and, for a
// court, its standard indicators as receiver (GET
// /v1/indicators?court=C: the same sums).
type JurisdictionRow struct {
	api.JurisdictionRow
	Indicators *Indicators `json:"indicators,omitempty"`
}

// Supervision is what a superior court's dashboard shows of its
// jurisdiction beyond the transfers it takes part in; the health room
// assembles it from the workflow's jurisdiction and check-backs and the
// party room's complaint counts.
type Supervision struct {
	// Jurisdiction lists the courts under this one, this court first;
	// empty on a court with none under it.
	Jurisdiction []JurisdictionRow
	// Complaints counts, per court complained of, the parties'
	// complaints this court supervises.
	Complaints []api.ComplaintIndicator
	// CheckBacks counts the transfers of courts under this one flagged
	// for a check back on the origin (倒查) and not yet reviewed.
	CheckBacks int
}

// MonthIndicators are the main standard indicators of the cases filed
// (accepted by the receiver) in one month, from the scope's sums
// (ind/t/<month>/): the dashboard's monthly trend.
type MonthIndicators struct {
	Month         string `json:"month"` // YYYY-MM
	Filed         int64  `json:"filed"`
	Closed        int64  `json:"closed"`
	FullyEnforced Ratio  `json:"fully_enforced_rate"`
	Recovery      Ratio  `json:"recovery_rate"`
	Within6Months Ratio  `json:"closed_within_6_months"`
	Resumption    Ratio  `json:"resumption_rate"`
}

// indicatorTrend reads the last TrendMonths months' indicators from stats.
func indicatorTrend(stats map[string]int64, now time.Time) []MonthIndicators {
	today := court.DateOf(now)
	first := court.Date{Year: today.Year, Month: today.Month, Day: 1}
	out := make([]MonthIndicators, 0, TrendMonths)
	for i := TrendMonths - 1; i >= 0; i-- {
		m := first.AddDate(0, -i, 0).String()[:7]
		x := ComputeIndicators(stats, indPrefix+"t/"+m+"/")
		out = append(out, MonthIndicators{Month: m, Filed: x.Filed, Closed: x.Closed, FullyEnforced: x.FullyEnforced, Recovery: x.Recovery,
			Within6Months: x.Within6Months, Resumption: x.Resumption})
	}
	return out
}

// Percent formats a ratio as the page shows it: 37.7%, or – without a
// denominator.
func Percent(r Ratio) string {
	if r.Den == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f%%", r.Value*100)
}

// trendChart draws the monthly trend as inline SVG: filed and closed
// cases as paired bars (left scale, counts) and the recovery rate
// (执行到位率) as a line (right scale, 0-100%). Labels are escaped.
func trendChart(title string, ms []MonthIndicators, filedL, closedL, rateL string) template.HTML {
	const left, right, top, plotH, colW, bottom = 44, 48, 26, 160, 54, 28
	w := left + right + colW*len(ms)
	h := top + plotH + bottom
	maxN := int64(1)
	for _, m := range ms {
		maxN = max(maxN, m.Filed, m.Closed)
	}
	y := func(v, of float64) float64 { return top + plotH - v/of*plotH }
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg class="chart trend-chart" role="img" aria-label="%s" viewBox="0 0 %d %d" width="%d" height="%d" xmlns="http://www.w3.org/2000/svg">`,
		html.EscapeString(title), w, h, w, h)
	fmt.Fprintf(&sb, `<title>%s</title>`, html.EscapeString(title))
	// Axes and legend.
	fmt.Fprintf(&sb, `<line x1="%d" y1="%d" x2="%d" y2="%d" class="axis"/>`, left, top+plotH, w-right, top+plotH)
	fmt.Fprintf(&sb, `<text x="%d" y="%.0f" class="value" text-anchor="end">%d</text><text x="%d" y="%d" class="value" text-anchor="end">0</text>`,
		left-4, y(float64(maxN), float64(maxN))+4, maxN, left-4, top+plotH+4)
	fmt.Fprintf(&sb, `<text x="%d" y="%d" class="value">100%%</text><text x="%d" y="%d" class="value">0%%</text>`, w-right+4, top+4, w-right+4, top+plotH+4)
	fmt.Fprintf(&sb, `<rect x="%d" y="4" width="10" height="10" class="bar-filed"/><text x="%d" y="13" class="label">%s</text>`, left, left+14, html.EscapeString(filedL))
	fmt.Fprintf(&sb, `<rect x="%d" y="4" width="10" height="10" class="bar-closed"/><text x="%d" y="13" class="label">%s</text>`, left+120, left+134, html.EscapeString(closedL))
	fmt.Fprintf(&sb, `<line x1="%d" y1="9" x2="%d" y2="9" class="rate-line"/><text x="%d" y="13" class="label">%s</text>`, left+240, left+256, left+260, html.EscapeString(rateL))
	var pts []string
	for i, m := range ms {
		x := left + i*colW
		for j, v := range []int64{m.Filed, m.Closed} {
			cls := []string{"bar-filed", "bar-closed"}[j]
			yy := y(float64(v), float64(maxN))
			fmt.Fprintf(&sb, `<rect x="%d" y="%.1f" width="18" height="%.1f" class="%s"><title>%s %s: %d</title></rect>`,
				x+8+j*20, yy, float64(top+plotH)-yy, cls, m.Month, html.EscapeString([]string{filedL, closedL}[j]), v)
		}
		fmt.Fprintf(&sb, `<text x="%d" y="%d" class="value" text-anchor="middle">%s</text>`, x+colW/2, top+plotH+16, m.Month[2:])
		if m.Recovery.Den > 0 {
			pts = append(pts, fmt.Sprintf("%d,%.1f", x+colW/2, y(min(1, m.Recovery.Value), 1)))
			fmt.Fprintf(&sb, `<circle cx="%d" cy="%.1f" r="3" class="rate-dot"><title>%s %s: %s</title></circle>`,
				x+colW/2, y(min(1, m.Recovery.Value), 1), m.Month, html.EscapeString(rateL), Percent(m.Recovery))
		}
	}
	if len(pts) > 1 {
		fmt.Fprintf(&sb, `<polyline points="%s" class="rate-line"/>`, strings.Join(pts, " "))
	}
	sb.WriteString(`</svg>`)
	return template.HTML(sb.String())
}
