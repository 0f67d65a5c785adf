package generator

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/stack-tools/stack/load"
	"github.com/stack-tools/stack/stack"
)

// outputs are what a passed run leaves in its step's outputs; Summarize
// reads them back, so the two name the same keys.
func outputs(rep *load.Report, jsonAt, htmlAt string) stack.Outputs {
	t := rep.Total
	return stack.Outputs{
		"verdict":       {Value: rep.Verdict},
		"report_json":   {Value: jsonAt},
		"report_html":   {Value: htmlAt},
		"sent":          {Value: t.Sent},
		"success_ratio": {Value: round(t.SuccessRatio, 6)},
		"rate":          {Value: round(t.Rate, 2)},
		"late":          {Value: t.Late},
		"p99_ms":        {Value: round(t.Latency.P99, 3)},
		"run":           {Value: rep.Run},
		"seed":          {Value: rep.Seed},
	}
}

// Summary is what a generator step's outputs say about its run.
type Summary struct {
	Verdict      string
	Sent         uint64
	Rate         float64 // requests sent per second
	SuccessRatio float64
	P99Ms        float64
	Late         uint64
	ReportJSON   string
	ReportHTML   string
}

// Summarize reads a step's outputs as a generator run's; ok is false for
// the outputs of other kinds of steps (no report). Outputs read back from a
// store hold JSON numbers (float64); fresh ones hold Go's own types.
func Summarize(o stack.Outputs) (s Summary, ok bool) {
	if _, ok := o["report_html"]; !ok {
		return Summary{}, false
	}
	str := func(k string) string { v, _ := o[k].Value.(string); return v }
	s = Summary{
		Verdict: str("verdict"), ReportJSON: str("report_json"), ReportHTML: str("report_html"),
		Sent: uint64(number(o["sent"].Value)), Late: uint64(number(o["late"].Value)),
		Rate: number(o["rate"].Value), SuccessRatio: number(o["success_ratio"].Value), P99Ms: number(o["p99_ms"].Value),
	}
	return s, true
}

// String is the line `stack up` ends with for each load step (after its name).
func (s Summary) String() string {
	return fmt.Sprintf("%s, %d requests at %.1f/s, success %.2f%%, p99 %vms, %d late\n  report: %s",
		s.Verdict, s.Sent, s.Rate, 100*s.SuccessRatio, s.P99Ms, s.Late, s.ReportHTML)
}

// round keeps digits decimals: outputs are read by people (stack status).
func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

func number(v any) float64 {
	switch n := v.(type) {
	case float64:
		return n
	case uint64:
		return float64(n)
	case int:
		return float64(n)
	case int64:
		return float64(n)
	case json.Number:
		f, _ := n.Float64()
		return f
	}
	return 0
}
