package report_test

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stack-tools/stack/load"
	"github.com/stack-tools/stack/load/report"
)

func sample() *load.Report {
	lat := func(p99 float64) load.Latency {
		return load.Latency{P50: p99 / 4, P90: p99 / 2, P99: p99, P999: p99, Max: p99}
	}
	dist := []load.Quantile{{Percentile: 0, Ms: 1}, {Percentile: 50, Ms: 2}, {Percentile: 90, Ms: 5}, {Percentile: 99, Ms: 90}, {Percentile: 100, Ms: 300}}
	rep := &load.Report{Scenario: "sms-inbound", Target: "http://127.0.0.1:1/sms", Shape: "constant 10/s", Verdict: load.Stopped,
		Reason: "stopped by vote after 3s", WindowSeconds: 1, Seconds: 3,
		Total: load.Stats{Sent: 30, Responses: 28, Errors: 2, ErrorTexts: map[string]uint64{"connection reset <by peer>": 2}, Distribution: dist},
		Types: []load.TypeStats{{Name: "subscribe", Stats: load.Stats{Sent: 15, Responses: 15, Distribution: dist}},
			{Name: "custom_keyword", Stats: load.Stats{Sent: 15, Responses: 13, Distribution: dist}}}}
	for i := 1; i <= 3; i++ {
		rep.Windows = append(rep.Windows, load.Window{Start: float64(i - 1), End: float64(i),
			Total: load.WindowStats{Sent: 10, Responses: 10, Rate: 10, Throughput: 9, Late: uint64(i), Latency: lat(float64(i))},
			Types: map[string]load.WindowStats{
				"subscribe":      {Sent: 5, Responses: 5, Rate: 5, Latency: lat(1)},
				"custom_keyword": {Sent: 5, Responses: 5, Rate: 5, Latency: lat(float64(100 * i))},
			}})
	}
	return rep
}

func TestHTMLIsSelfContainedWithChartsPerType(t *testing.T) {
	var b bytes.Buffer
	if err := report.HTML(&b, sample()); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if n := strings.Count(page, "<svg"); n != 5 {
		t.Errorf("%d charts, want 5 (p99, p50, rates, late and errors, latency by percentile)", n)
	}
	// Each type has a line in each chart by type, and a legend entry; so has "all".
	if n := strings.Count(page, `class="legend">custom_keyword</text>`); n != 4 {
		t.Errorf("custom_keyword appears in %d chart legends, want 4", n)
	}
	if n := strings.Count(page, `class="legend">all</text>`); n != 4 {
		t.Errorf("the all-types line is in %d charts, want 4", n)
	}
	if strings.Contains(page, "<script") || regexp.MustCompile(`(src|href)="https?:`).MatchString(page) {
		t.Error("the page loads scripts or external assets")
	}
	if !strings.Contains(page, `class="verdict stopped"`) || !strings.Contains(page, "stopped by vote after 3s") {
		t.Error("verdict and reason not shown")
	}
	if !strings.Contains(page, "connection reset &lt;by peer&gt;") {
		t.Error("error texts are not listed (escaped)")
	}
	// custom_keyword's p99 rises from 100 to 300ms: its line must climb,
	// from the chart's left edge (t = 0) on.
	d := regexp.MustCompile(`<path class="series" data-series="custom_keyword" d="([^"]+)"`).FindStringSubmatch(page)
	if d == nil {
		t.Fatal("no custom_keyword line")
	}
	xy := regexp.MustCompile(`[ML]([\d.]+) ([\d.]+)`).FindAllStringSubmatch(d[1], -1)
	f := func(s string) float64 { v, _ := strconv.ParseFloat(s, 64); return v }
	if len(xy) != 6 || f(xy[0][1]) != 70 || !(f(xy[0][2]) > f(xy[2][2]) && f(xy[2][2]) > f(xy[4][2])) {
		t.Errorf("custom_keyword p99 line %q should start at x=70 (t = 0) and rise (smaller y) window by window", d[1])
	}
	// Hovering a point shows its value.
	if !strings.Contains(page, "<title>custom_keyword: 300 ms, 2s to 3s</title>") {
		t.Error("no hover value for custom_keyword's last window")
	}
	// Late requests per window, and the distribution on its log axis.
	if !strings.Contains(page, "<title>late: 3 late, 2s to 3s</title>") {
		t.Error("late requests per window are not charted")
	}
	for _, want := range []string{`class="xlabel">90%</text>`, `class="xlabel">99%</text>`, "<title>all: 300 ms at max</title>"} {
		if !strings.Contains(page, want) {
			t.Errorf("the latency distribution lacks %s", want)
		}
	}
}

// A run that got no answer draws sane axes (0 to 1, not 0 to 1e-09), says
// so, and shows "-" for its latencies.
func TestHTMLWithoutResponses(t *testing.T) {
	rep := &load.Report{Scenario: "s", Verdict: load.Errored, Seconds: 2, WindowSeconds: 1,
		Total: load.Stats{Sent: 4, Errors: 4}, Types: []load.TypeStats{{Name: "a", Stats: load.Stats{Sent: 4, Errors: 4}}},
		Windows: []load.Window{{Start: 0, End: 1, Total: load.WindowStats{Sent: 2, Errors: 2}}, {Start: 1, End: 2, Total: load.WindowStats{Sent: 2, Errors: 2}}}}
	var b bytes.Buffer
	if err := report.HTML(&b, rep); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if strings.Contains(page, "e-0") || strings.Contains(page, "NaN") || strings.Contains(page, "Inf") {
		t.Error("axes with float noise, NaN or Inf")
	}
	if !strings.Contains(page, "no data: nothing was measured") {
		t.Error("empty latency charts do not say so")
	}
	if !strings.Contains(page, "<td>-</td><td>-</td><td>-</td><td>-</td><td>-</td>") {
		t.Error("latencies without responses are not shown as -")
	}
}

// Two runs side by side: both named, one table, overlaid charts.
func TestCompareHTMLOverlaysTwoRuns(t *testing.T) {
	a, b := sample(), sample()
	a.Run, b.Run = "r-20261206T100000.000Z", "r-20261205T100000.000Z"
	var w bytes.Buffer
	if err := report.CompareHTML(&w, a, b); err != nil {
		t.Fatal(err)
	}
	page := w.String()
	if n := strings.Count(page, "<svg"); n != 5 {
		t.Errorf("%d charts, want 5", n)
	}
	if n := strings.Count(page, `class="legend">B</text>`); n != 5 {
		t.Errorf("run B is in %d chart legends, want 5", n)
	}
	if !strings.Contains(page, "<td>B (dashed)</td><td>r-20261205T100000.000Z</td>") {
		t.Error("the page does not say which run B is")
	}
	if !strings.Contains(page, "<td>custom_keyword</td><td>15</td><td>15</td>") {
		t.Error("the table does not put the runs side by side")
	}
}

func TestJSONRoundTrips(t *testing.T) {
	var b bytes.Buffer
	if err := report.JSON(&b, sample()); err != nil {
		t.Fatal(err)
	}
	var back load.Report
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Verdict != load.Stopped || len(back.Windows) != 3 || back.Windows[2].Types["custom_keyword"].Latency.P99 != 300 {
		t.Errorf("round trip lost data: %+v", back)
	}
}
