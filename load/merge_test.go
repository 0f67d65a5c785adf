package load_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stack-tools/stack/load"
	"github.com/stack-tools/stack/load/pace"
)

// Merging two runs' histograms gives the percentiles of all their requests
// together: here half the requests waited 50ms at the target, so the merged
// p90 is at least 50ms although one of the runs never saw such a latency.
func TestMergeCombinesHistogramsNotAverages(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { time.Sleep(50 * time.Millisecond) }))
	defer slow.Close()
	fast := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer fast.Close()
	var reps []*load.Report
	for _, target := range []string{fast.URL, slow.URL} {
		reps = append(reps, run(t, load.Config{Scenario: smsInbound(t), Target: target, Rate: pace.Spec{Rate: 200}, Requests: 200,
			Timeout: time.Minute, Histograms: true}))
	}
	m, err := load.Merge(append(reps, nil)) // a missing share is skipped
	if err != nil {
		t.Fatal(err)
	}
	a, b := reps[0].Total, reps[1].Total
	if m.Total.Sent != 400 || m.Total.Responses != a.Responses+b.Responses || m.Total.Success != 400 {
		t.Errorf("merged counts %+v", m.Total)
	}
	if m.Total.Latency.P90 < 50 || m.Total.Latency.Max != max(a.Latency.Max, b.Latency.Max) {
		t.Errorf("merged latency %+v; the slow run's %+v", m.Total.Latency, b.Latency)
	}
	if m.Total.Latency.P50 > b.Latency.P50 || m.Total.Latency.P50 < a.Latency.P50 {
		t.Errorf("merged p50 %g outside the runs' p50s %g..%g", m.Total.Latency.P50, a.Latency.P50, b.Latency.P50)
	}
	var perType, perWindow uint64
	for _, ty := range m.Types {
		perType += ty.Responses
	}
	for _, w := range m.Windows {
		perWindow += w.Total.Responses
	}
	if perType != m.Total.Responses || perWindow != m.Total.Responses {
		t.Errorf("responses: total %d, per type %d, per window %d", m.Total.Responses, perType, perWindow)
	}
	if _, err := load.Merge([]*load.Report{nil}); err == nil {
		t.Error("merging no share at all must fail")
	}
}
