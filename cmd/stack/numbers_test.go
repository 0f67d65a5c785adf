package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/stack-tools/stack/load"
	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/state"
)

// Negative rates and times are refused as such, naming the flag, and not
// reported as missing.
func TestLoadRefusesNegativeRates(t *testing.T) {
	_, _, err := runRoot(t, "load", "--scenario", "sms-inbound", "--target", "http://127.0.0.1:1", "--rate", "-5", "--duration", "1s")
	wantUsage(t, "--rate -5", err, "--rate -5: must be positive")
	_, _, err = runRoot(t, "load", "--scenario", "sms-inbound", "--target", "http://127.0.0.1:1", "--shape", "steps",
		"--start", "10", "--step", "-1", "--every", "1s", "--duration", "1s")
	wantUsage(t, "--step -1", err, "--step -1: must be positive")
	_, _, err = runRoot(t, "load", "--scenario", "sms-inbound", "--target", "http://127.0.0.1:1", "--rate", "5", "--duration", "-1s")
	wantUsage(t, "--duration -1s", err, "--duration -1s: must be positive")
}

// A run's text output names its seed, and a type that got no response
// shows "-" for its latencies instead of 0.00 ms.
func TestLoadTextShowsSeedAndNoLatencyWithoutResponses(t *testing.T) {
	srv := httptest.NewServer(&recorder{})
	defer srv.Close()
	ctx := context.Background()
	te := newTestEnv(t)
	o := &loadOptions{runEnv: te.runEnv}
	o.Run.Scenario, o.Run.Target, o.Run.Requests = "sms-inbound", srv.URL, 40
	o.Rate.Rate, o.Run.Options.Seed = 400, 42
	if err := runLoad(ctx, o); err != nil {
		t.Fatalf("load: %v\n%s", err, te.errOut)
	}
	if !strings.Contains(te.out.String(), "seed 42 (--seed 42 repeats") {
		t.Errorf("the text output does not name the seed:\n%s", te.out)
	}
	var b bytes.Buffer
	printSummary(&b, &load.Report{Scenario: "s", Verdict: load.Errored, Seed: 7,
		Types: []load.TypeStats{{Name: "silent", Stats: load.Stats{Sent: 5, Errors: 5}}}, Total: load.Stats{Sent: 5, Errors: 5}})
	if !regexp.MustCompile(`(?m)^silent +5 .* - +- +- +-  $`).MatchString(b.String()) {
		t.Errorf("a type without responses shows latencies:\n%s", b.String())
	}
	if strings.Contains(b.String(), "0.00 ") {
		t.Errorf("0.00 ms latency for no responses:\n%s", b.String())
	}
}

// stack status shows figures rounded, as people read them.
func TestStatusRoundsFigures(t *testing.T) {
	var b bytes.Buffer
	printStepDetail(&b, "load", &state.StepState{Status: state.StatusApplied, Outputs: stack.Outputs{
		"rate": {Value: 100.20551255455693}, "success_ratio": {Value: 0.99871234}, "sent": {Value: float64(300)},
		"p99_ms": {Value: 2.3456789}}}, "")
	for _, want := range []string{"output rate = 100.21\n", "output success_ratio = 0.9987\n", "output sent = 300\n", "output p99_ms = 2.35\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, b.String())
		}
	}
}
