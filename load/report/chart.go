package report

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strings"
)

// A chart is drawn as inline SVG, as wide as the page (the viewBox scales),
// with a native tooltip on every point: hovering shows its value without a
// script.

// Chart geometry in viewBox units.
const (
	chartW, chartH  = 1200, 300
	padL, padR      = 70, 190 // the legend sits right of the plot
	padT, padB      = 12, 42
	plotW, plotH    = chartW - padL - padR, chartH - padT - padB
	legendRowHeight = 17
)

// pt is one value: over [X0, X1] for a window (drawn as a step), or at X0
// when X1 == X0. Tip is what hovering shows.
type pt struct {
	X0, X1, Y float64
	Tip       string
}

type series struct {
	Name  string
	Color string
	Dash  bool // a second run, or a derived figure (2xx next to sent)
	Pts   []pt
}

type tick struct {
	Pos   float64 // in data units
	Label string
}

// plot is one chart: its series, its x range and ticks.
type plot struct {
	ID, Title  string
	XMin, XMax float64
	XTicks     []tick
	XLabel     string
	Series     []series
}

// SVG draws the chart. A chart without any value still draws its axes
// (0 to 1) and says it has no data, so it never shows 0...1e-09.
func (p plot) SVG() template.HTML {
	var b strings.Builder
	maxY := 0.0
	points := 0
	for _, s := range p.Series {
		for _, q := range s.Pts {
			maxY = math.Max(maxY, q.Y)
			points++
		}
	}
	top := 1.0
	if maxY > 0 {
		top = nice(maxY)
	}
	xMax := p.XMax
	if xMax <= p.XMin {
		xMax = p.XMin + 1
	}
	x := func(v float64) float64 { return padL + (v-p.XMin)/(xMax-p.XMin)*plotW }
	y := func(v float64) float64 { return padT + plotH - v/top*plotH }
	fmt.Fprintf(&b, `<svg class="chart" data-chart="%s" data-points="%d" viewBox="0 0 %d %d" preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="%s">`+"\n",
		html.EscapeString(p.ID), points, chartW, chartH, html.EscapeString(p.Title))
	for i := 0; i <= 4; i++ {
		v := top * float64(i) / 4
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" class="grid"/><text x="%d" y="%.1f" class="ylabel">%s</text>`+"\n",
			padL, padL+plotW, y(v), y(v), padL-6, y(v), num(v))
	}
	for _, t := range p.XTicks {
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" class="grid"/><text x="%.1f" y="%d" class="xlabel">%s</text>`+"\n",
			x(t.Pos), x(t.Pos), padT, padT+plotH, x(t.Pos), padT+plotH+16, html.EscapeString(t.Label))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" class="xtitle">%s</text>`+"\n", padL+plotW/2, chartH-6, html.EscapeString(p.XLabel))
	if points == 0 {
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="empty">no data: nothing was measured for this chart</text>`+"\n", padL+plotW/2, padT+plotH/2)
	}
	for i, s := range p.Series {
		drawSeries(&b, s, x, y)
		ly := padT + i*legendRowHeight
		dash := ""
		if s.Dash {
			dash = ` stroke-dasharray="6 4"`
		}
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="3"%s/><text x="%d" y="%d" class="legend">%s</text>`+"\n",
			padL+plotW+10, padL+plotW+30, ly+6, ly+6, s.Color, dash, padL+plotW+36, ly+10, html.EscapeString(s.Name))
	}
	b.WriteString("</svg>")
	return template.HTML(b.String())
}

// drawSeries draws one series as a path (steps over windows, or a line
// through points) and an invisible dot per value that shows its tooltip.
func drawSeries(b *strings.Builder, s series, x, y func(float64) float64) {
	if len(s.Pts) == 0 {
		return
	}
	var d strings.Builder
	for i, q := range s.Pts {
		cmd := "L"
		if i == 0 || q.X0 > s.Pts[i-1].X1+1e-9 && s.Pts[i-1].X1 != s.Pts[i-1].X0 {
			cmd = "M" // the first value, or after windows without one: a gap
		}
		fmt.Fprintf(&d, "%s%.1f %.1f ", cmd, x(q.X0), y(q.Y))
		if q.X1 != q.X0 {
			fmt.Fprintf(&d, "L%.1f %.1f ", x(q.X1), y(q.Y))
		}
	}
	dash := ""
	if s.Dash {
		dash = ` stroke-dasharray="6 4"`
	}
	fmt.Fprintf(b, `<path class="series" data-series="%s" d="%s" fill="none" stroke="%s" stroke-width="1.8"%s/>`+"\n",
		html.EscapeString(s.Name), strings.TrimSpace(d.String()), s.Color, dash)
	for _, q := range s.Pts {
		fmt.Fprintf(b, `<circle class="pt" cx="%.1f" cy="%.1f" r="5" fill="%s"><title>%s</title></circle>`+"\n",
			x((q.X0+q.X1)/2), y(q.Y), s.Color, html.EscapeString(s.Name+": "+q.Tip))
	}
}

// num is a tick label: short, and without float noise.
func num(v float64) string {
	return fmt.Sprintf("%.4g", v)
}

// timeTicks are ticks for a time axis from 0 to maxX seconds at a round step.
func timeTicks(maxX float64) []tick {
	if maxX <= 0 {
		maxX = 1
	}
	step := nice(maxX / 8)
	var out []tick
	for v := 0.0; v <= maxX+step/1000; v += step {
		out = append(out, tick{v, timeLabel(v, maxX)})
	}
	return out
}

// timeLabel writes an x-axis time so that ticks a fraction of a second apart
// stay distinct, and hours-long trickle runs read in minutes.
func timeLabel(s, maxX float64) string {
	switch {
	case maxX < 20:
		return fmt.Sprintf("%gs", math.Round(s*100)/100)
	case maxX < 1200:
		return fmt.Sprintf("%.0fs", s)
	default:
		return fmt.Sprintf("%gm", math.Round(s/6)/10)
	}
}

// nice rounds v up to 1, 2 or 5 times a power of ten.
func nice(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p*(1+1e-9) {
			return m * p
		}
	}
	return 10 * p
}
