// Package report renders a load.Report as a self-contained HTML page: tables
// per message type and inline SVG charts over time and by percentile (no
// scripts, no external assets, so it opens anywhere and can be archived).
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
	return page.Execute(w, struct {
		R      *load.Report
		Charts []plot
		E2E    template.HTML
	}{rep, append(charts(rep), e2eCharts(rep)...), e2eTables(rep)}) // e2e.go
}

var palette = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"}

const allColor = "#222"

// charts are one run's charts: latency p99 and p50, rates, late requests and
// errors per window, and latency by percentile; each with an "all" line.
func charts(rep *load.Report) []plot {
	end := runEnd(rep)
	typed := func(id, title string, pick func(load.WindowStats) (float64, bool), unit string) plot {
		p := plot{ID: id, Title: title, XMax: end, XTicks: timeTicks(end), XLabel: "seconds since the start"}
		p.Series = append(p.Series, series{Name: "all", Color: allColor, Pts: windowPts(rep, "", pick, unit)})
		for i, t := range rep.Types {
			p.Series = append(p.Series, series{Name: t.Name, Color: palette[i%len(palette)], Pts: windowPts(rep, t.Name, pick, unit)})
		}
		return p
	}
	measured := func(f func(load.Latency) float64) func(load.WindowStats) (float64, bool) {
		return func(s load.WindowStats) (float64, bool) { return f(s.Latency), s.Responses > 0 }
	}
	always := func(f func(load.WindowStats) float64) func(load.WindowStats) (float64, bool) {
		return func(s load.WindowStats) (float64, bool) { return f(s), true }
	}
	rates := typed("rate", "Requests sent per second (dashed: 2xx responses per second, all types)", always(func(s load.WindowStats) float64 { return s.Rate }), "/s")
	rates.Series = slices.Insert(rates.Series, 1, series{Name: "all 2xx", Color: allColor, Dash: true,
		Pts: windowPts(rep, "", always(func(s load.WindowStats) float64 { return s.Throughput }), "/s")})
	trouble := plot{ID: "late-errors", Title: "Late requests, errors and non-2xx responses per window (all types)", XMax: end, XTicks: timeTicks(end), XLabel: "seconds since the start",
		Series: []series{
			{Name: "late", Color: "#ff7f0e", Pts: windowPts(rep, "", always(func(s load.WindowStats) float64 { return float64(s.Late) }), " late")},
			{Name: "errors", Color: "#d62728", Pts: windowPts(rep, "", always(func(s load.WindowStats) float64 { return float64(s.Errors) }), " errors")},
			{Name: "non-2xx", Color: "#9467bd", Pts: windowPts(rep, "", always(func(s load.WindowStats) float64 { return float64(s.Responses - s.Success) }), " non-2xx")},
		}}
	return []plot{
		typed("p99", "Latency p99 (ms) per window", measured(func(l load.Latency) float64 { return l.P99 }), " ms"),
		typed("p50", "Latency p50 (ms) per window", measured(func(l load.Latency) float64 { return l.P50 }), " ms"),
		rates, trouble, distributionPlot(rep),
	}
}

// runEnd is the x axis' end: the last window's end, or how long it sent.
func runEnd(rep *load.Report) float64 {
	end := rep.Seconds
	for _, w := range rep.Windows {
		end = math.Max(end, w.End)
	}
	return end
}

// windowPts are a type's values per window ("" for all types), over each
// window from its start to its end; windows pick rejects are left out.
func windowPts(rep *load.Report, typ string, pick func(load.WindowStats) (float64, bool), unit string) []pt {
	var out []pt
	for _, w := range rep.Windows {
		if w.End-w.Start < rep.WindowSeconds/10 {
			continue // the run's last moments: too short for a rate (the table has them)
		}
		s := w.Total
		if typ != "" {
			var ok bool
			if s, ok = w.Types[typ]; !ok {
				continue
			}
		}
		v, ok := pick(s)
		if !ok {
			continue
		}
		out = append(out, pt{X0: w.Start, X1: w.End, Y: v, Tip: fmt.Sprintf("%s%s, %s to %s", num(v), unit, timeLabel(w.Start, w.End), timeLabel(w.End, w.End))})
	}
	return out
}

// distributionPlot is latency by percentile, as HdrHistogram plots it: the
// x axis is log10(1/(1-p)), so 90%, 99%, 99.9% are equally far apart.
func distributionPlot(reps ...*load.Report) plot {
	p := plot{ID: "distribution", Title: "Latency (ms) by percentile, whole run (log axis: each step right is ten times rarer)", XLabel: "percentile"}
	add := func(name, color string, dash bool, d []load.Quantile) {
		pts := quantilePts(d)
		for _, q := range pts {
			p.XMax = math.Max(p.XMax, q.X0)
		}
		p.Series = append(p.Series, series{Name: name, Color: color, Dash: dash, Pts: pts})
	}
	if len(reps) == 1 {
		add("all", allColor, false, reps[0].Total.Distribution)
		for i, t := range reps[0].Types {
			add(t.Name, palette[i%len(palette)], false, t.Distribution)
		}
	} else {
		for i, r := range reps {
			add(runName(i), allColor, i > 0, r.Total.Distribution)
		}
	}
	p.XMax = math.Max(1, math.Ceil(p.XMax))
	for i := 0; float64(i) <= p.XMax; i++ {
		p.XTicks = append(p.XTicks, tick{float64(i), percentLabel(100 * (1 - math.Pow(10, -float64(i))))})
	}
	return p
}

// quantilePts places a distribution on the log axis; the max (100%) goes
// one tick-half past the last percentile the count resolved.
func quantilePts(d []load.Quantile) []pt {
	var out []pt
	last := 0.0
	for _, q := range d {
		x := last + 0.5
		if q.Percentile < 100 {
			x = math.Log10(1 / (1 - q.Percentile/100))
			last = x
		}
		out = append(out, pt{X0: x, X1: x, Y: q.Ms, Tip: fmt.Sprintf("%s ms at %s", num(q.Ms), percentLabel(q.Percentile))})
	}
	return out
}

func percentLabel(p float64) string {
	if p >= 100 {
		return "max"
	}
	return fmt.Sprintf("%s%%", strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.4f", p), "0"), "."))
}

// runName is a run's name in a comparison's legends: A, B (the page's first
// table says which run each is).
func runName(i int) string { return string(rune('A' + i)) }

func codes(m map[string]uint64) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s×%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

// ms is a latency for the tables, or "-" when nothing answered.
func ms(s load.Stats, v float64) string {
	if s.Responses == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", v)
}

var funcs = template.FuncMap{
	"pct": func(f float64) string { return fmt.Sprintf("%.2f%%", 100*f) },
	"f1":  func(f float64) string { return fmt.Sprintf("%.1f", f) },
	"f2":  func(f float64) string { return fmt.Sprintf("%.2f", f) },
	"ms": func(s any, v float64) string {
		if p, ok := s.(*load.Stats); ok {
			return ms(*p, v)
		}
		st, _ := s.(load.Stats)
		return ms(st, v)
	},
	"wms":   func(s load.WindowStats, v float64) string { return ms(load.Stats{Responses: s.Responses}, v) },
	"codes": codes,
	"keys":  func(m map[string]uint64) []string { return slices.Sorted(maps.Keys(m)) },
	"add":   func(a, b int) int { return a + b },
	"list":  func(rs ...*load.Report) []*load.Report { return rs },
}

const style = `<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}
.verdict{font-size:1.3em;padding:.4em .8em;display:inline-block;border-radius:4px}
.passed{background:#dfd}.stopped{background:#fdb}.errored,.incomplete{background:#fcc}
svg.chart{display:block;width:100%;height:auto;background:#fff;border:1px solid #ddd;margin:.5em 0}
svg text{font-size:12px;fill:#333}.grid{stroke:#eee}.ylabel{text-anchor:end;dominant-baseline:middle}
.xlabel,.xtitle,.empty{text-anchor:middle}.empty{font-size:16px;fill:#999}
.pt{fill-opacity:0;stroke:none;cursor:crosshair}.pt:hover{fill-opacity:1}
</style>`

var page = template.Must(template.New("report").Funcs(funcs).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Load report: {{.R.Scenario}} → {{.R.Target}}</title>
` + style + `</head><body>
<h1>Load report: {{.R.Scenario}}{{with .R.Run}} · run {{.}}{{end}}</h1>
<p class="verdict {{.R.Verdict}}">{{.R.Verdict}}{{if .R.Reason}}: {{.R.Reason}}{{end}}</p>
<p>Target {{.R.Target}} · {{.R.Shape}} · seed {{.R.Seed}} · started {{.R.Started.Format "2006-01-02 15:04:05 MST"}} · sent for {{f1 .R.Seconds}}s ·
windows of {{.R.WindowSeconds}}s · late = left more than {{.R.LateAfterMs}}ms after its intended time.
Latency runs from each request's intended send time to the end of its response; "-" means no response to measure.
Hover a chart's line for its values.</p>
<table><tr><th>type</th><th>sent</th><th>rate/s</th><th>responses</th><th>success</th><th>errors</th><th>late</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th><th>p99.9 ms</th><th>max ms</th><th>codes</th></tr>
{{range .R.Types}}<tr><td>{{.Name}}</td><td>{{.Sent}}</td><td>{{f1 .Rate}}</td><td>{{.Responses}}</td><td>{{pct .SuccessRatio}}</td><td>{{.Errors}}</td><td>{{.Late}}</td><td>{{ms .Stats .Latency.P50}}</td><td>{{ms .Stats .Latency.P90}}</td><td>{{ms .Stats .Latency.P99}}</td><td>{{ms .Stats .Latency.P999}}</td><td>{{ms .Stats .Latency.Max}}</td><td>{{codes .Codes}}</td></tr>
{{end}}{{with .R.Total}}<tr><th>all</th><th>{{.Sent}}</th><th>{{f1 .Rate}}</th><th>{{.Responses}}</th><th>{{pct .SuccessRatio}}</th><th>{{.Errors}}</th><th>{{.Late}}</th><th>{{ms . .Latency.P50}}</th><th>{{ms . .Latency.P90}}</th><th>{{ms . .Latency.P99}}</th><th>{{ms . .Latency.P999}}</th><th>{{ms . .Latency.Max}}</th><th>{{codes .Codes}}</th></tr>{{end}}
</table>
{{with .R.Workers}}<h3>Workers</h3><table><tr><th>share</th><th>worker</th><th>host</th><th>pid</th><th>sent</th><th>verdict</th><th>reason</th></tr>
{{range .}}<tr><td>{{add .Part 1}} of {{.Parts}}</td><td>{{.Name}}</td><td>{{.Host}}</td><td>{{.PID}}</td><td>{{.Sent}}</td><td>{{if .Missing}}<b>missing</b>{{else}}{{.Verdict}}{{end}}</td><td>{{.Reason}}</td></tr>
{{end}}</table>{{end}}
{{.E2E}}
{{with .R.Total.ErrorTexts}}{{$m := .}}<h3>Errors</h3><table>{{range $k := keys .}}<tr><td>{{$k}}</td><td>{{index $m $k}}</td></tr>{{end}}</table>{{end}}
{{range .Charts}}<h3>{{.Title}}</h3>
{{.SVG}}
{{end}}
<h3>Windows</h3>
<table><tr><th>from s</th><th>to s</th><th>sent</th><th>rate/s</th><th>2xx/s</th><th>success</th><th>errors</th><th>late</th><th>p50 ms</th><th>p99 ms</th><th>votes</th><th>unhealthy</th></tr>
{{range .R.Windows}}<tr><td>{{f1 .Start}}</td><td>{{f1 .End}}</td><td>{{.Total.Sent}}</td><td>{{f1 .Total.Rate}}</td><td>{{f1 .Total.Throughput}}</td><td>{{pct .Total.SuccessRatio}}</td><td>{{.Total.Errors}}</td><td>{{.Total.Late}}</td><td>{{wms .Total .Total.Latency.P50}}</td><td>{{wms .Total .Total.Latency.P99}}</td><td>{{.Votes}}</td><td>{{.Unhealthy}}</td></tr>
{{end}}</table>
</body></html>
`))
