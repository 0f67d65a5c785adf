package live_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"testing"

	"github.com/stack-tools/stack/load"
	"github.com/stack-tools/stack/load/live"
	"github.com/stack-tools/stack/load/pace"
	"github.com/stack-tools/stack/load/scenario"
	"github.com/stack-tools/stack/stacks/scenarios"
)

func TestMetricsEndpointCountsResponsesPerType(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer target.Close()
	m := live.New()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, err := m.Serve(ctx, ":0")
	if err != nil {
		t.Fatal(err)
	}
	if host := addr[:len("127.0.0.1")]; host != "127.0.0.1" {
		t.Errorf("an address without host must listen on loopback only, got %s", addr)
	}
	sc, _ := scenario.Resolve("", "track-events", scenarios.Builtin())
	if _, err := load.Run(ctx, load.Config{Scenario: sc, Target: target.URL, Rate: pace.Spec{Rate: 500}, Requests: 200, Observer: m}); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	total := 0
	for _, match := range regexp.MustCompile(`stack_load_responses_total\{code="200",type="(\w+)"\} (\d+)`).FindAllStringSubmatch(string(body), -1) {
		n, _ := strconv.Atoi(match[2])
		total += n
	}
	if total != 200 {
		t.Errorf("/metrics counts %d responses with code 200, want 200:\n%s", total, body)
	}
	if !regexp.MustCompile(`stack_load_latency_seconds_count\{type="batch"\} \d+`).Match(body) {
		t.Errorf("no latency histogram for type batch")
	}
}
