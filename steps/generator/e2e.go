package generator

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/stack-tools/stack/load"
	"github.com/stack-tools/stack/load/e2e"
	"github.com/stack-tools/stack/stack"
)

// checkE2E validates the e2e field as far as it can before the run: probe
// URLs given as references are checked once resolved, and without the
// scenario's types (types nil) so is what expect names. The run checks the
// rest (that a regexp can match an id of the scenario, that probes answer).
func (c *Config) checkE2E(types []string) error {
	if c.E2E == nil {
		return nil
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
	return e.Check(types, nil)
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
	at, err := run.Artifacts.PutArtifact(ctx, e2e.TraceFile, buf.Bytes())
	if err != nil {
		return fmt.Errorf("generator step: storing the e2e trace: %w", err)
	}
	fmt.Fprintf(run.Log, "load: trace %s\n", at)
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
