package dashboard

import (
	"fmt"
	"html"
	"html/template"
	"strings"
)

// bar is one bar of a horizontal bar chart.
type bar struct {
	Label string
	Value float64
	Text  string // the value as shown
	Class string // CSS class of the bar
}

// barChart draws horizontal bars as inline SVG, scaled to the largest
// value, or to scale if it is positive. Labels are escaped; the result is
// safe to embed.
func barChart(title string, bars []bar, scale float64) template.HTML {
	const barW, valueW, rowH, pad = 360, 90, 24, 6
	labelW := 60
	maxV := scale
	for _, b := range bars {
		if scale <= 0 {
			maxV = max(maxV, b.Value)
		}
		labelW = max(labelW, textWidth(b.Label)+16)
	}
	h := len(bars)*rowH + 2*pad
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg class="chart" role="img" aria-label="%s" viewBox="0 0 %d %d" width="%d" height="%d" xmlns="http://www.w3.org/2000/svg">`,
		html.EscapeString(title), labelW+barW+valueW, h, labelW+barW+valueW, h)
	fmt.Fprintf(&sb, `<title>%s</title>`, html.EscapeString(title))
	for i, b := range bars {
		y := pad + i*rowH
		w := 0.0
		if maxV > 0 {
			w = b.Value / maxV * barW
		}
		if b.Value > 0 && w < 2 {
			w = 2
		}
		fmt.Fprintf(&sb, `<text x="%d" y="%d" class="label" text-anchor="end">%s</text>`, labelW-8, y+rowH/2+5, html.EscapeString(b.Label))
		fmt.Fprintf(&sb, `<rect x="%d" y="%d" width="%d" height="%d" class="track"/>`, labelW, y+3, barW, rowH-6)
		fmt.Fprintf(&sb, `<rect x="%d" y="%d" width="%.1f" height="%d" class="%s"/>`, labelW, y+3, w, rowH-6, html.EscapeString(b.Class))
		fmt.Fprintf(&sb, `<text x="%d" y="%d" class="value">%s</text>`, labelW+barW+8, y+rowH/2+5, html.EscapeString(b.Text))
	}
	sb.WriteString(`</svg>`)
	return template.HTML(sb.String())
}

// textWidth estimates the width in pixels of s at 12px: CJK characters
// are square, Latin ones about half as wide.
func textWidth(s string) int {
	w := 0
	for _, r := range s {
		if r >= 0x2E80 {
			w += 12
		} else {
			w += 7
		}
	}
	return w
}

// pairBars draws two thin bars, a (top) and b (bottom), scaled to maxV,
// for a table cell: the receiver's recovery against the origin's.
func pairBars(title string, a, b, maxV float64) template.HTML {
	const w, h = 160, 22
	scale := func(v float64) float64 {
		if maxV <= 0 || v <= 0 {
			return 0
		}
		return max(2, v/maxV*w)
	}
	return template.HTML(fmt.Sprintf(`<svg class="pair" role="img" aria-label="%s" viewBox="0 0 %d %d" width="%d" height="%d" xmlns="http://www.w3.org/2000/svg">`+
		`<title>%s</title><rect x="0" y="1" width="%d" height="9" class="track"/><rect x="0" y="1" width="%.1f" height="9" class="bar-recv"/>`+
		`<rect x="0" y="12" width="%d" height="9" class="track"/><rect x="0" y="12" width="%.1f" height="9" class="bar-origin"/></svg>`,
		html.EscapeString(title), w, h, w, h, html.EscapeString(title), w, scale(a), w, scale(b)))
}
