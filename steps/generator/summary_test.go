package generator

import (
	"encoding/json"
	"testing"

	"github.com/stack-tools/stack/load"
	"github.com/stack-tools/stack/stack"
)

// The line `stack up` prints for a load step, from the outputs as Apply
// returns them and as they read back from the store (JSON numbers).
func TestSummarizeOutputs(t *testing.T) {
	rep := &load.Report{Verdict: load.Passed, Seed: 7, Total: load.Stats{Sent: 1_500_000, Rate: 2500.04, SuccessRatio: 0.99875, Late: 3,
		Latency: load.Latency{P99: 12.5}}}
	fresh := outputs(rep, "s3://b/load-report.json", "s3://b/load-report.html")
	b, err := json.Marshal(fresh)
	if err != nil {
		t.Fatal(err)
	}
	var stored stack.Outputs
	if err := json.Unmarshal(b, &stored); err != nil {
		t.Fatal(err)
	}
	want := "passed, 1500000 requests at 2500.0/s, success 99.88%, p99 12.5ms, 3 late\n  report: s3://b/load-report.html"
	for name, o := range map[string]stack.Outputs{"fresh": fresh, "stored": stored} {
		s, ok := Summarize(o)
		if !ok {
			t.Fatalf("%s: Summarize does not see a generator's outputs", name)
		}
		if got := s.String(); got != want {
			t.Errorf("%s: summary\n%s\nwant\n%s", name, got, want)
		}
		if s.ReportJSON != "s3://b/load-report.json" || s.Verdict != load.Passed {
			t.Errorf("%s: summary %+v", name, s)
		}
	}
	if _, ok := Summarize(stack.Outputs{"vpc_id": {Value: "vpc-1"}}); ok {
		t.Error("Summarize took a Terraform step's outputs for a generator's")
	}
}

// A definition's message fields keep their JSON names now that Config embeds
// scenario.Options, and reach the run's configuration with the auth token.
func TestConfigFieldsReachTheRun(t *testing.T) {
	raw := `{"scenario": "sms-inbound", "target": "http://127.0.0.1:1/x", "rate": 5, "duration": "1s", "requests": 9,
		"order": "grouped", "group": 40, "skip": ["a"], "senders": 3, "companies": ["c1", "c2"], "reuse": 0.25, "duplicate": 0.5,
		"seed": 11, "vars": {"k": "v"}, "auth_token": "tok", "timeout": "2s", "late_after": "3ms", "window": "4s",
		"max_workers": 6, "insecure": true, "batch": 7, "batch_wait": "8ms", "stop": {"min_success": 0.9}}`
	c, err := decode([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.check(); err != nil {
		t.Fatal(err)
	}
	cfg := c.LoadConfig(nil)
	o := cfg.Options
	if o.Order != "grouped" || o.Group != 40 || len(o.Skip) != 1 || o.Senders != 3 || len(o.Companies) != 2 || o.Reuse != 0.25 ||
		o.Duplicate != 0.5 || o.Seed != 11 || o.Vars["k"] != "v" || o.AuthToken != "tok" {
		t.Errorf("scenario options: %+v", o)
	}
	if cfg.Target != "http://127.0.0.1:1/x" || cfg.Rate.Rate != 5 || cfg.Duration.String() != "1s" || cfg.Requests != 9 ||
		cfg.Timeout.String() != "2s" || cfg.LateAfter.String() != "3ms" || cfg.Window.String() != "4s" || cfg.MaxWorkers != 6 ||
		!cfg.Insecure || cfg.Batch != 7 || cfg.BatchWait.String() != "8ms" || cfg.Stop == nil || cfg.Stop.MinSuccess != 0.9 {
		t.Errorf("load config: %+v", cfg)
	}
	// Fields Options keeps out of JSON stay out of definitions.
	for _, bad := range []string{`{"part": 1}`, `{"parts": 2}`, `{"AuthToken": "x"}`} {
		if _, err := decode([]byte(bad)); err == nil {
			t.Errorf("decode(%s) accepted a field definitions do not have", bad)
		}
	}
}
