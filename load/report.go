package load

import (
	"io"
	"math"
	"time"

	"github.com/stack-tools/stack/load/e2e"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Verdicts of a run.
const (
	Passed  = "passed"  // ran to its end
	Stopped = "stopped" // stopped by vote: the target left the configured bounds
	Errored = "errored" // interrupted, or no request could be sent at all
	// Incomplete: a worker of a fleet run was lost; its share is missing from the report.
	Incomplete = "incomplete"
)

// Report is the result of a run, written as JSON and rendered as HTML.
type Report struct {
	// Run names the run among the runs of one load step (generator.RunID).
	Run      string    `json:"run,omitempty"`
	Scenario string    `json:"scenario"`
	Target   string    `json:"target"`
	Shape    string    `json:"shape"`
	Seed     uint64    `json:"seed"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// Seconds is how long requests were being sent.
	Seconds float64 `json:"seconds"`
	Verdict string  `json:"verdict"`
	Reason  string  `json:"reason,omitempty"`
	// LateAfterMs: a request that left more than this after its intended time is late.
	LateAfterMs   float64     `json:"late_after_ms"`
	WindowSeconds float64     `json:"window_seconds"`
	Stop          *StopPolicy `json:"stop,omitempty"`
	Total         Stats       `json:"total"`
	Types         []TypeStats `json:"types"`
	Windows       []Window    `json:"windows"`
	// Workers are the shares of a run split among several processes (fleet).
	Workers []WorkerShare `json:"workers,omitempty"`
	// Hist holds the run's histograms when Config.Histograms asks for them.
	Hist *Histograms `json:"-"`
	// E2E is what arrived at the far end, when the run had probes.
	E2E *e2e.Report `json:"e2e,omitempty"`
	// Trace writes where each message went (WriteTrace).
	Trace func(io.Writer) error `json:"-"`
}

// TypeStats are the results of one message type.
type TypeStats struct {
	Name string `json:"name"`
	Stats
}

// Stats count requests and summarize their latency. Latency runs from each
// request's intended send time to the end of its response.
type Stats struct {
	Sent      uint64 `json:"sent"`
	Responses uint64 `json:"responses"`
	Success   uint64 `json:"success"`
	Errors    uint64 `json:"errors"`
	// Late requests left more than late_after_ms after their intended time.
	Late         uint64            `json:"late"`
	MaxLagMs     float64           `json:"max_lag_ms"`
	Rate         float64           `json:"rate"`       // requests sent per second
	Throughput   float64           `json:"throughput"` // successful responses per second
	SuccessRatio float64           `json:"success_ratio"`
	Codes        map[string]uint64 `json:"codes,omitempty"`
	ErrorTexts   map[string]uint64 `json:"error_texts,omitempty"`
	Bodies       map[string]uint64 `json:"bodies,omitempty"` // fresh, reused, duplicate
	BytesOut     uint64            `json:"bytes_out"`
	BytesIn      uint64            `json:"bytes_in"`
	Latency      Latency           `json:"latency_ms"`
	// Distribution is the latency at percentiles from 0 to 100, as
	// HdrHistogram's percentile distribution lists them (closer together
	// towards 100), for the report's latency-by-percentile chart.
	Distribution []Quantile `json:"distribution,omitempty"`
}

// Quantile is one point of a latency distribution.
type Quantile struct {
	Percentile float64 `json:"percentile"`
	Ms         float64 `json:"ms"`
}

// Latency percentiles in milliseconds.
type Latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// Window is one time slice of the run; responses count in the window they
// arrived in, requests in the window they were sent in.
type Window struct {
	Start float64                `json:"start"` // seconds since the start
	End   float64                `json:"end"`
	Total WindowStats            `json:"total"`
	Types map[string]WindowStats `json:"types"`
	// Votes is the stop-vote count after this window; Unhealthy says why it voted.
	Votes     int    `json:"votes"`
	Unhealthy string `json:"unhealthy,omitempty"`
	// Hist holds the window's histograms when Config.Histograms asks for them.
	Hist *Histograms `json:"-"`
}

// WindowStats summarize one type (or all) in one window.
type WindowStats struct {
	Sent         uint64  `json:"sent"`
	Responses    uint64  `json:"responses"`
	Success      uint64  `json:"success"`
	Errors       uint64  `json:"errors,omitempty"`
	Late         uint64  `json:"late,omitempty"`
	Rate         float64 `json:"rate"`
	Throughput   float64 `json:"throughput"`
	SuccessRatio float64 `json:"success_ratio"`
	Latency      Latency `json:"latency_ms"`
}

const (
	histMin = 1                      // µs
	histMax = int64(time.Hour / 1e3) // µs
)

func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(histMin, histMax, 3) }

// latencyOf summarizes a histogram whose exact max and sum (µs) were tracked
// alongside: Max and Mean of hdrhistogram walk every bucket, which would stall
// the single collector goroutine (and with it, on one core, the sending).
func latencyOf(h *hdrhistogram.Histogram, maxUs, sumUs int64) Latency {
	n := h.TotalCount()
	if n == 0 {
		return Latency{}
	}
	ms := func(us int64) float64 { return float64(us) / 1e3 }
	p := h.ValueAtPercentiles([]float64{50, 90, 99, 99.9})
	return Latency{
		P50:  ms(p[50]),
		P90:  ms(p[90]),
		P99:  ms(p[99]),
		P999: ms(p[99.9]),
		Max:  ms(maxUs),
		Mean: float64(sumUs) / float64(n) / 1e3,
	}.capped()
}

// capped keeps every percentile at or below the exact maximum: a histogram
// reports the top of a value's bucket (3 significant digits), which can lie
// above the largest value recorded. No max (0) caps nothing.
func (l Latency) capped() Latency {
	if l.Max <= 0 {
		return l
	}
	for _, p := range []*float64{&l.P50, &l.P90, &l.P99, &l.P999} {
		*p = min(*p, l.Max)
	}
	return l
}

// distribution lists h's latency at percentiles that halve the distance to
// 100 every five steps (HdrHistogram's ticks per half distance), as far as
// h's count resolves them, then the exact max (maxMs) at 100.
func distribution(h *hdrhistogram.Histogram, maxMs float64) []Quantile {
	n := h.TotalCount()
	if n == 0 {
		return nil
	}
	var out []Quantile
	for i := 0; ; i++ {
		p := 100 * (1 - math.Pow(2, -float64(i)/5))
		if 1/(1-p/100) > float64(n) || p >= 99.9999 {
			break
		}
		out = append(out, Quantile{Percentile: math.Round(p*1e4) / 1e4, Ms: min(float64(h.ValueAtQuantile(p))/1e3, maxMs)})
	}
	return append(out, Quantile{Percentile: 100, Ms: maxMs})
}

func ratio(a, b uint64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
