package report

import (
	"html/template"
	"io"
	"math"

	"github.com/stack-tools/stack/load"
)

// CompareHTML writes two runs of one load step side by side: a table per
// message type with both runs' figures, and charts with both runs overlaid
// (A solid, B dashed), time measured from each run's own start.
func CompareHTML(w io.Writer, a, b *load.Report) error {
	type row struct {
		Name string
		A, B *load.Stats
	}
	var rows []row
	byName := map[string]*load.Stats{}
	for i := range b.Types {
		byName[b.Types[i].Name] = &b.Types[i].Stats
	}
	for i := range a.Types {
		rows = append(rows, row{a.Types[i].Name, &a.Types[i].Stats, byName[a.Types[i].Name]})
	}
	rows = append(rows, row{"all", &a.Total, &b.Total})
	return comparePage.Execute(w, struct {
		A, B   *load.Report
		Rows   []row
		Charts []plot
	}{a, b, rows, compareCharts(a, b)})
}

// compareCharts overlay the "all types" lines of the two runs.
func compareCharts(a, b *load.Report) []plot {
	end := math.Max(runEnd(a), runEnd(b))
	reps := []*load.Report{a, b}
	over := func(id, title, unit string, pick func(load.WindowStats) (float64, bool)) plot {
		p := plot{ID: id, Title: title, XMax: end, XTicks: timeTicks(end), XLabel: "seconds since each run's start"}
		for i, r := range reps {
			p.Series = append(p.Series, series{Name: runName(i), Color: palette[i], Dash: i > 0, Pts: windowPts(r, "", pick, unit)})
		}
		return p
	}
	lat := func(f func(load.Latency) float64) func(load.WindowStats) (float64, bool) {
		return func(s load.WindowStats) (float64, bool) { return f(s.Latency), s.Responses > 0 }
	}
	val := func(f func(load.WindowStats) float64) func(load.WindowStats) (float64, bool) {
		return func(s load.WindowStats) (float64, bool) { return f(s), true }
	}
	dist := distributionPlot(a, b)
	for i := range dist.Series {
		dist.Series[i].Color = palette[i]
	}
	return []plot{
		over("p99", "Latency p99 (ms) per window, all types", " ms", lat(func(l load.Latency) float64 { return l.P99 })),
		over("p50", "Latency p50 (ms) per window, all types", " ms", lat(func(l load.Latency) float64 { return l.P50 })),
		over("rate", "Requests sent per second, all types", "/s", val(func(s load.WindowStats) float64 { return s.Rate })),
		over("late-errors", "Late requests, errors and non-2xx responses per window (their sum), all types", "", val(func(s load.WindowStats) float64 {
			return float64(s.Late + s.Errors + s.Responses - s.Success)
		})),
		dist,
	}
}

var comparePage = template.Must(template.New("compare").Funcs(funcs).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Load runs compared: {{.A.Run}} and {{.B.Run}}</title>
` + style + `</head><body>
<h1>Load runs compared: {{.A.Scenario}}</h1>
<table><tr><th></th><th>run</th><th>verdict</th><th>started</th><th>shape</th><th>seed</th><th>target</th></tr>
{{range $i, $r := (list .A .B)}}<tr><td>{{if eq $i 0}}A (solid){{else}}B (dashed){{end}}</td><td>{{$r.Run}}</td><td class="{{$r.Verdict}}">{{$r.Verdict}}{{if $r.Reason}}: {{$r.Reason}}{{end}}</td><td>{{$r.Started.Format "2006-01-02 15:04:05 MST"}}</td><td>{{$r.Shape}}</td><td>{{$r.Seed}}</td><td>{{$r.Target}}</td></tr>
{{end}}</table>
<table><tr><th>type</th><th>sent A</th><th>sent B</th><th>rate/s A</th><th>rate/s B</th><th>success A</th><th>success B</th><th>late A</th><th>late B</th><th>p50 ms A</th><th>p50 ms B</th><th>p99 ms A</th><th>p99 ms B</th><th>p99.9 ms A</th><th>p99.9 ms B</th><th>max ms A</th><th>max ms B</th></tr>
{{range .Rows}}<tr><td>{{.Name}}</td><td>{{.A.Sent}}</td><td>{{with .B}}{{.Sent}}{{else}}-{{end}}</td><td>{{f1 .A.Rate}}</td><td>{{with .B}}{{f1 .Rate}}{{else}}-{{end}}</td><td>{{pct .A.SuccessRatio}}</td><td>{{with .B}}{{pct .SuccessRatio}}{{else}}-{{end}}</td><td>{{.A.Late}}</td><td>{{with .B}}{{.Late}}{{else}}-{{end}}</td><td>{{ms .A .A.Latency.P50}}</td><td>{{with .B}}{{ms . .Latency.P50}}{{else}}-{{end}}</td><td>{{ms .A .A.Latency.P99}}</td><td>{{with .B}}{{ms . .Latency.P99}}{{else}}-{{end}}</td><td>{{ms .A .A.Latency.P999}}</td><td>{{with .B}}{{ms . .Latency.P999}}{{else}}-{{end}}</td><td>{{ms .A .A.Latency.Max}}</td><td>{{with .B}}{{ms . .Latency.Max}}{{else}}-{{end}}</td></tr>
{{end}}</table>
{{range .Charts}}<h3>{{.Title}}</h3>
{{.SVG}}
{{end}}
</body></html>
`))
