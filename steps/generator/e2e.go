package generator

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"path"
	"slices"

	"github.com/stack-tools/stack/load"
	"github.com/stack-tools/stack/load/e2e"
	"github.com/stack-tools/stack/load/scenario"
	"github.com/stack-tools/stack/stack"
)

// checkE2E validates the e2e field as far as it can before the run: probe
// URLs given as references are checked once resolved; with the scenario
// (sc not nil) so are the types expect names and that each regexp can match
// an id of the scenario's format (or a phone number, an email). The run
// checks that the probes answer.
func (c *Config) checkE2E(sc *scenario.Scenario) error {
	if c.E2E == nil {
		return nil
	}
	var types []string
	var sample map[string]string
	if sc != nil {
		types = sc.TypeNames()
		sample = map[string]string{"id": scenario.IDCodec{Format: sc.MessageID, Run: scenario.NewRun()}.RunID(0, 0),
			"sender.phone": "+15555550100", "sender.email": "ada.lovelace.0@example.com"}
	}
	e := *c.E2E
	e.Probes = slices.Clone(e.Probes)
	for i := range e.Probes {
		if hasRef(e.Probes[i].URL) {
			e.Probes[i].URL = "http://resolved.when.the.step.runs"
		}
	}
	if types == nil {
		types = slices.Collect(maps.Keys(e.Expect))
	}
	return e.Check(types, sample)
}

// storeTrace stores where each message went (stack trace NAME STEP ID).
func storeTrace(ctx context.Context, run *stack.StepRun, rep *load.Report) error {
	if rep.Trace == nil {
		return nil
	}
	var buf bytes.Buffer
	if err := rep.WriteTrace(&buf); err != nil {
		return fmt.Errorf("generator step: writing the e2e trace: %w", err)
	}
	// Kept with the run's reports (stack trace --run) and as the latest.
	for _, name := range []string{path.Join(RunsFolder, rep.Run, e2e.TraceFile), e2e.TraceFile} {
		at, err := run.Artifacts.PutArtifact(ctx, name, buf.Bytes())
		if err != nil {
			return fmt.Errorf("generator step: storing the e2e trace: %w", err)
		}
		fmt.Fprintf(run.Log, "load: trace %s\n", at)
	}
	return nil
}

// withE2E adds the far end's totals to a run's outputs, for steps after it.
func withE2E(o stack.Outputs, rep *load.Report) stack.Outputs {
	if e := rep.E2E; e != nil {
		o["e2e_arrived"] = stack.Output{Value: e.Total.Arrived}
		o["e2e_lost"] = stack.Output{Value: e.Total.Lost}
		o["e2e_duplicated"] = stack.Output{Value: e.Total.Duplicated}
		o["e2e_p99_ms"] = stack.Output{Value: e.Total.Latency.P99}
	}
	return o
}
