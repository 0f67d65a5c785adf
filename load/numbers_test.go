package load

import (
	"strings"
	"testing"
	"time"
)

// A histogram answers with the top of a value's bucket, which can lie above
// the largest value recorded: no percentile may be reported above the max.
func TestPercentilesNeverAboveMax(t *testing.T) {
	h := newHist()
	var maxUs, sumUs int64
	for _, us := range []int64{10001, 10001, 10001, 20001} {
		_ = h.RecordValue(us)
		maxUs, sumUs = max(maxUs, us), sumUs+us
	}
	if raw := float64(h.ValueAtQuantile(99.9)) / 1e3; raw <= 20.001 {
		t.Skipf("the histogram's p99.9 (%v ms) is not above the max here: nothing to cap", raw)
	}
	check := func(what string, l Latency) {
		t.Helper()
		for name, p := range map[string]float64{"p50": l.P50, "p90": l.P90, "p99": l.P99, "p99.9": l.P999} {
			if p > l.Max {
				t.Errorf("%s: %s %.3f ms above max %.3f ms", what, name, p, l.Max)
			}
		}
	}
	l := latencyOf(h, maxUs, sumUs)
	if l.Max != 20.001 {
		t.Fatalf("max %v, want the exact 20.001 ms", l.Max)
	}
	check("one process", l)
	check("merged", mergedLatency(h, 20.001, float64(sumUs)/1e3))
}

// The progress line says which figures are the last window's and which are
// the run's totals, and shows no p99 for a window without responses.
func TestProgressLineLabelsWindowAndTotals(t *testing.T) {
	p := Progress{Elapsed: 3 * time.Second, Sent: 300, Responses: 290, Success: 290, WindowRate: 150, WindowP99: 1234 * time.Microsecond, InFlight: 10}
	got := p.String()
	for _, want := range []string{"window: 150.0/s p99 1.234ms", "total: sent 300 ok 100.00% late 0 in flight 10"} {
		if !strings.Contains(got, want) {
			t.Errorf("progress %q lacks %q", got, want)
		}
	}
	p.WindowP99 = 0
	if got := p.String(); !strings.Contains(got, "p99 -") {
		t.Errorf("a window without responses: %q", got)
	}
}
