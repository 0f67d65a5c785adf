package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stack-tools/stack/load"
	"github.com/stack-tools/stack/load/e2e"
)

func TestHTMLHasTheE2ESection(t *testing.T) {
	rep := &load.Report{Scenario: "s", Verdict: load.Passed, E2E: &e2e.Report{Wait: 30,
		Types: []e2e.TypeStats{{Name: "help", Stats: e2e.Stats{Expect: 1, Messages: 3, Arrived: 2, Lost: 1, LostIDs: []string{"SMlost1"}}},
			{Name: "custom_keyword", Stats: e2e.Stats{Expect: 1, Messages: 2, Arrived: 2, Duplicated: 1, DupIDs: []string{"SMdup1"}}}},
		Windows: []e2e.Window{{Start: 0, End: 1, Types: map[string]e2e.WindowStats{"help": {Arrived: 2, Latency: e2e.Latency{P99: 40}},
			"custom_keyword": {Arrived: 2, Latency: e2e.Latency{P99: 900}}}}},
		Probes: []e2e.ProbeStats{{Name: "sink", URL: "http://127.0.0.1:9"}}}}
	var b bytes.Buffer
	if err := HTML(&b, rep); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"End-to-end latency p99 (ms) by message type", "SMlost1", "SMdup1", "<td>sink</td>", "End to end: what arrived"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	b.Reset()
	if err := HTML(&b, &load.Report{Verdict: load.Passed}); err != nil || strings.Contains(b.String(), "End to end") {
		t.Errorf("a run without probes shows an e2e section (%v)", err)
	}
}
