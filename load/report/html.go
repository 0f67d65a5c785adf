// Package report renders a load.Report as a self-contained HTML page: tables
// per message type and inline SVG charts of latency and throughput over time
// (no scripts, no external assets, so it opens anywhere and can be archived).
package report

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/stack-tools/stack/load"
)

// JSON writes the report as indented JSON.
func JSON(w io.Writer, rep *load.Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// HTML writes the report as one HTML page.
func HTML(w io.Writer, rep *load.Report) error {
	names := make([]string, 0, len(rep.Types))
	for _, t := range rep.Types {
		names = append(names, t.Name)
	}
	series := func(pick func(load.WindowStats) float64, withTotal bool) []line {
		var out []line
		if withTotal {
			out = append(out, line{Name: "all", Color: "#222", Points: points(rep.Windows, func(w load.Window) float64 { return pick(w.Total) })})
		}
		for i, n := range names {
			out = append(out, line{Name: n, Color: palette[i%len(palette)], Points: points(rep.Windows, func(w load.Window) float64 { return pick(w.Types[n]) })})
		}
		return out
	}
	charts := []chart{
		{Title: "Latency p99 (ms) by message type", Lines: series(func(s load.WindowStats) float64 { return s.Latency.P99 }, false)},
		{Title: "Latency p50 (ms) by message type", Lines: series(func(s load.WindowStats) float64 { return s.Latency.P50 }, false)},
		{Title: "Throughput (2xx responses/s) by message type", Lines: series(func(s load.WindowStats) float64 { return s.Throughput }, true)},
		{Title: "Send rate (requests/s) by message type", Lines: series(func(s load.WindowStats) float64 { return s.Rate }, true)},
	}
	charts = append(charts, e2eCharts(rep)...) // e2e.go
	for i := range charts {
		charts[i].render()
	}
	return page.Execute(w, struct {
		R      *load.Report
		Charts []chart
		E2E    template.HTML
	}{rep, charts, e2eTables(rep)})
}

var palette = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"}

type point struct{ X, Y float64 }

func points(ws []load.Window, f func(load.Window) float64) []point {
	out := make([]point, len(ws))
	for i, w := range ws {
		out[i] = point{w.End, f(w)}
	}
	return out
}

type line struct {
	Name   string
	Color  string
	Points []point
	Path   string
}

type chart struct {
	Title            string
	Lines            []line
	XTicks, YTicks   []tick
	Width, Height    int
	Left, Top, PlotW int
	PlotH, Bottom    int
}

type tick struct {
	Pos   float64
	Label string
}

func (c *chart) render() {
	c.Width, c.Height, c.Left, c.Top = 900, 260, 60, 10
	c.PlotW, c.PlotH = c.Width-c.Left-150, c.Height-c.Top-30
	c.Bottom = c.Top + c.PlotH
	maxX, maxY := 1e-9, 1e-9
	for _, l := range c.Lines {
		for _, p := range l.Points {
			maxX, maxY = math.Max(maxX, p.X), math.Max(maxY, p.Y)
		}
	}
	maxY = nice(maxY)
	for i := range c.Lines {
		var b strings.Builder
		for j, p := range c.Lines[i].Points {
			x := float64(c.Left) + p.X/maxX*float64(c.PlotW)
			y := float64(c.Bottom) - p.Y/maxY*float64(c.PlotH)
			if j == 0 {
				fmt.Fprintf(&b, "M%.1f %.1f", x, y)
			} else {
				fmt.Fprintf(&b, " L%.1f %.1f", x, y)
			}
		}
		c.Lines[i].Path = b.String()
	}
	for i := 0; i <= 4; i++ {
		v := maxY * float64(i) / 4
		c.YTicks = append(c.YTicks, tick{float64(c.Bottom) - float64(i)/4*float64(c.PlotH), fmt.Sprintf("%.4g", v)})
		s := maxX * float64(i) / 4
		c.XTicks = append(c.XTicks, tick{float64(c.Left) + float64(i)/4*float64(c.PlotW), timeLabel(s, maxX)})
	}
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
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func codes(m map[string]uint64) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s×%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"pct":   func(f float64) string { return fmt.Sprintf("%.2f%%", 100*f) },
	"f1":    func(f float64) string { return fmt.Sprintf("%.1f", f) },
	"f2":    func(f float64) string { return fmt.Sprintf("%.2f", f) },
	"codes": codes,
	"keys":  func(m map[string]uint64) []string { return slices.Sorted(maps.Keys(m)) },
	"add":   func(a, b int) int { return a + b },
	"mul":   func(a, b int) int { return a * b },
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Load report: {{.R.Scenario}} → {{.R.Target}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}
.verdict{font-size:1.3em;padding:.4em .8em;display:inline-block;border-radius:4px}
.passed{background:#dfd}.stopped{background:#fdb}.errored{background:#fcc}
svg{background:#fff;border:1px solid #ddd;margin:.5em 0}svg text{font-size:11px}
</style></head><body>
<h1>Load report: {{.R.Scenario}}</h1>
<p class="verdict {{.R.Verdict}}">{{.R.Verdict}}{{if .R.Reason}}: {{.R.Reason}}{{end}}</p>
<p>Target {{.R.Target}} · {{.R.Shape}} · seed {{.R.Seed}} · started {{.R.Started.Format "2006-01-02 15:04:05 MST"}} · sent for {{f1 .R.Seconds}}s ·
windows of {{.R.WindowSeconds}}s · late = left more than {{.R.LateAfterMs}}ms after its intended time.
Latency runs from each request's intended send time to the end of its response.</p>
<table><tr><th>type</th><th>sent</th><th>rate/s</th><th>responses</th><th>success</th><th>errors</th><th>late</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th><th>p99.9 ms</th><th>max ms</th><th>codes</th></tr>
{{range .R.Types}}<tr><td>{{.Name}}</td><td>{{.Sent}}</td><td>{{f1 .Rate}}</td><td>{{.Responses}}</td><td>{{pct .SuccessRatio}}</td><td>{{.Errors}}</td><td>{{.Late}}</td><td>{{f2 .Latency.P50}}</td><td>{{f2 .Latency.P90}}</td><td>{{f2 .Latency.P99}}</td><td>{{f2 .Latency.P999}}</td><td>{{f2 .Latency.Max}}</td><td>{{codes .Codes}}</td></tr>
{{end}}{{with .R.Total}}<tr><th>all</th><th>{{.Sent}}</th><th>{{f1 .Rate}}</th><th>{{.Responses}}</th><th>{{pct .SuccessRatio}}</th><th>{{.Errors}}</th><th>{{.Late}}</th><th>{{f2 .Latency.P50}}</th><th>{{f2 .Latency.P90}}</th><th>{{f2 .Latency.P99}}</th><th>{{f2 .Latency.P999}}</th><th>{{f2 .Latency.Max}}</th><th>{{codes .Codes}}</th></tr>{{end}}
</table>
{{with .R.Workers}}<h3>Workers</h3><table><tr><th>share</th><th>worker</th><th>host</th><th>pid</th><th>sent</th><th>verdict</th><th>reason</th></tr>
{{range .}}<tr><td>{{add .Part 1}} of {{.Parts}}</td><td>{{.Name}}</td><td>{{.Host}}</td><td>{{.PID}}</td><td>{{.Sent}}</td><td>{{if .Missing}}<b>missing</b>{{else}}{{.Verdict}}{{end}}</td><td>{{.Reason}}</td></tr>
{{end}}</table>{{end}}
{{.E2E}}
{{with .R.Total.ErrorTexts}}{{$m := .}}<h3>Errors</h3><table>{{range $k := keys .}}<tr><td>{{$k}}</td><td>{{index $m $k}}</td></tr>{{end}}</table>{{end}}
{{range .Charts}}<h3>{{.Title}}</h3>
<svg width="{{.Width}}" height="{{.Height}}" viewBox="0 0 {{.Width}} {{.Height}}" xmlns="http://www.w3.org/2000/svg">
{{$c := .}}{{range .YTicks}}<line x1="{{$c.Left}}" x2="{{add $c.Left $c.PlotW}}" y1="{{.Pos}}" y2="{{.Pos}}" stroke="#eee"/><text x="{{add $c.Left -5}}" y="{{.Pos}}" text-anchor="end" dominant-baseline="middle">{{.Label}}</text>
{{end}}{{range .XTicks}}<text x="{{.Pos}}" y="{{add $c.Bottom 15}}" text-anchor="middle">{{.Label}}</text>
{{end}}{{range $i, $l := .Lines}}<path d="{{.Path}}" fill="none" stroke="{{.Color}}" stroke-width="1.5"/>
<rect x="{{add (add $c.Left $c.PlotW) 10}}" y="{{add $c.Top (mul $i 16)}}" width="10" height="10" fill="{{.Color}}"/><text x="{{add (add $c.Left $c.PlotW) 25}}" y="{{add (add $c.Top (mul $i 16)) 9}}">{{.Name}}</text>
{{end}}</svg>
{{end}}
<h3>Windows</h3>
<table><tr><th>from s</th><th>to s</th><th>sent</th><th>rate/s</th><th>2xx/s</th><th>success</th><th>late</th><th>p50 ms</th><th>p99 ms</th><th>votes</th><th>unhealthy</th></tr>
{{range .R.Windows}}<tr><td>{{f1 .Start}}</td><td>{{f1 .End}}</td><td>{{.Total.Sent}}</td><td>{{f1 .Total.Rate}}</td><td>{{f1 .Total.Throughput}}</td><td>{{pct .Total.SuccessRatio}}</td><td>{{.Total.Late}}</td><td>{{f2 .Total.Latency.P50}}</td><td>{{f2 .Total.Latency.P99}}</td><td>{{.Votes}}</td><td>{{.Unhealthy}}</td></tr>
{{end}}</table>
</body></html>
`))
