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
	rep := &load.Report{Scenario: "sms-inbound", Target: "http://127.0.0.1:1/sms", Shape: "constant 10/s", Verdict: load.Stopped,
		Reason: "stopped by vote after 3s", WindowSeconds: 1,
		Total: load.Stats{Sent: 30, ErrorTexts: map[string]uint64{"connection reset <by peer>": 2}},
		Types: []load.TypeStats{{Name: "subscribe"}, {Name: "custom_keyword"}}}
	for i := 1; i <= 3; i++ {
		rep.Windows = append(rep.Windows, load.Window{Start: float64(i - 1), End: float64(i),
			Total: load.WindowStats{Sent: 10, Rate: 10, Latency: lat(float64(i))},
			Types: map[string]load.WindowStats{
				"subscribe":      {Sent: 5, Rate: 5, Latency: lat(1)},
				"custom_keyword": {Sent: 5, Rate: 5, Latency: lat(float64(100 * i))},
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
	if n := strings.Count(page, "<svg"); n != 4 {
		t.Errorf("%d charts, want 4 (p99, p50, throughput, send rate)", n)
	}
	// Each type has a line in each chart, and a legend entry.
	if n := strings.Count(page, ">custom_keyword</text>"); n != 4 {
		t.Errorf("custom_keyword appears in %d chart legends, want 4", n)
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
	// custom_keyword's p99 rises from 100 to 300ms: its line must climb.
	paths := regexp.MustCompile(`<path d="([^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(paths) < 2 {
		t.Fatal("no lines")
	}
	ys := regexp.MustCompile(`[ML][\d.]+ ([\d.]+)`).FindAllStringSubmatch(paths[1][1], -1)
	y := func(i int) float64 { f, _ := strconv.ParseFloat(ys[i][1], 64); return f }
	if len(ys) != 3 || !(y(0) > y(1) && y(1) > y(2)) {
		t.Errorf("custom_keyword p99 line %q should rise (smaller y) over time", paths[1][1])
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
