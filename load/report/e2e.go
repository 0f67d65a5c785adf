package report

import (
	"bytes"
	"fmt"
	"html/template"

	"github.com/stack-tools/stack/load"
	"github.com/stack-tools/stack/load/e2e"
)

// e2eCharts are the far end's charts: per type, the end-to-end latency over
// time (the chart a team otherwise looks for in its own dashboards) and
// arrivals per window.
func e2eCharts(rep *load.Report) []plot {
	if rep.E2E == nil {
		return nil
	}
	var names []string
	for _, t := range rep.E2E.Types {
		if t.Expect > 0 {
			names = append(names, t.Name)
		}
	}
	end := runEnd(rep)
	for _, w := range rep.E2E.Windows {
		end = max(end, w.End)
	}
	over := func(id, title, unit string, pick func(e2e.WindowStats) (float64, bool)) plot {
		p := plot{ID: id, Title: title, XMax: end, XTicks: timeTicks(end), XLabel: "seconds since the start"}
		for i, n := range names {
			var pts []pt
			for _, w := range rep.E2E.Windows {
				if v, ok := pick(w.Types[n]); ok {
					pts = append(pts, pt{X0: w.Start, X1: w.End, Y: v, Tip: fmt.Sprintf("%s%s, %s to %s", num(v), unit, timeLabel(w.Start, end), timeLabel(w.End, end))})
				}
			}
			p.Series = append(p.Series, series{Name: n, Color: palette[i%len(palette)], Pts: pts})
		}
		return p
	}
	arrived := func(f func(e2e.Latency) float64) func(e2e.WindowStats) (float64, bool) {
		return func(s e2e.WindowStats) (float64, bool) { return f(s.Latency), s.Arrived > 0 }
	}
	return []plot{
		over("e2e-p99", "End-to-end latency p99 (ms) by message type: intended send → arrival at a probe", " ms", arrived(func(l e2e.Latency) float64 { return l.P99 })),
		over("e2e-p50", "End-to-end latency p50 (ms) by message type", " ms", arrived(func(l e2e.Latency) float64 { return l.P50 })),
		over("e2e-arrivals", "Arrivals at the probes per window by message type", " arrivals", func(s e2e.WindowStats) (float64, bool) { return float64(s.Arrived), true }),
	}
}

// e2eTables is the far end's section: probes, per-type counts and latency,
// lost and duplicated ids.
func e2eTables(rep *load.Report) template.HTML {
	if rep.E2E == nil {
		return ""
	}
	var b bytes.Buffer
	if err := e2ePage.Execute(&b, rep.E2E); err != nil {
		return template.HTML(template.HTMLEscapeString("e2e section: " + err.Error()))
	}
	return template.HTML(b.String())
}

var e2ePage = template.Must(template.New("e2e").Funcs(template.FuncMap{
	"f2": func(f float64) string { return template.HTMLEscapeString(fmtF2(f)) },
}).Parse(`<h2>End to end: what arrived at the far end</h2>
{{if .Incomplete}}<p class="verdict" style="background:#ffd">incomplete: {{.Incomplete}}</p>{{end}}
<p>Each message carries a run-unique id; the probes record what arrives and the run matched every arrival to its message.
Latency runs from each message's intended send time to its arrival at a probe. Lost: not arrived within the wait ({{.Wait}}s after the last send); duplicated: arrived more often than expected.</p>
<table><tr><th>type</th><th>expect</th><th>messages</th><th>not accepted</th><th>arrived</th><th>lost</th><th>duplicated</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th><th>p99.9 ms</th><th>max ms</th></tr>
{{range .Types}}<tr><td>{{.Name}}</td><td>{{.Expect}}</td><td>{{.Messages}}</td><td>{{.NotAccepted}}</td><td>{{.Arrived}}</td><td>{{if .Lost}}<b>{{.Lost}}</b>{{else}}0{{end}}</td><td>{{if .Duplicated}}<b>{{.Duplicated}}</b>{{else}}0{{end}}</td><td>{{f2 .Latency.P50}}</td><td>{{f2 .Latency.P90}}</td><td>{{f2 .Latency.P99}}</td><td>{{f2 .Latency.P999}}</td><td>{{f2 .Latency.Max}}</td></tr>
{{end}}{{with .Total}}<tr><th>all</th><th></th><th>{{.Messages}}</th><th>{{.NotAccepted}}</th><th>{{.Arrived}}</th><th>{{.Lost}}</th><th>{{.Duplicated}}</th><th>{{f2 .Latency.P50}}</th><th>{{f2 .Latency.P90}}</th><th>{{f2 .Latency.P99}}</th><th>{{f2 .Latency.P999}}</th><th>{{f2 .Latency.Max}}</th></tr>{{end}}
</table>
<table><tr><th>probe</th><th>url</th><th>arrivals pulled</th><th>last answer</th><th>error</th></tr>
{{range .Probes}}<tr><td>{{.Name}}</td><td>{{.URL}}</td><td>{{.Arrivals}}</td><td>{{.LastPull.Format "15:04:05"}}</td><td>{{.Error}}</td></tr>
{{end}}</table>
{{range .Types}}{{if .LostIDs}}<p>{{.Name}}: lost ids (<code>stack trace</code> one of them):<br><code>{{range .LostIDs}}{{.}} {{end}}</code></p>{{end}}
{{if .DupIDs}}<p>{{.Name}}: duplicated ids:<br><code>{{range .DupIDs}}{{.}} {{end}}</code></p>{{end}}{{end}}
{{if .Unexpected}}<p>{{.Unexpected}} arrivals matched no message of this run:<br>{{range .UnexpectedSamples}}{{.}}<br>{{end}}</p>{{end}}
`))

func fmtF2(f float64) string { return fmt.Sprintf("%.2f", f) }
