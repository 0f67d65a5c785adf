package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/stack-tools/stack/engine"
	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/state"
)

// alwaysKind is fakeKind with the two optional parts a test step kind
// uses: "always" runs a step on every up (stack.AlwaysRunner), "fail_with"
// fails it with outputs that say why (stack.FailedRun).
type alwaysKind struct{ *fakeKind }

type alwaysConfig struct {
	Value    any    `json:"value"`
	Always   bool   `json:"always"`
	FailWith string `json:"fail_with"`
}

func (k alwaysKind) Validate(cfg json.RawMessage) error {
	return stack.DecodeStrict(cfg, &alwaysConfig{})
}

func (k alwaysKind) RunsAlways(cfg json.RawMessage) bool {
	var c alwaysConfig
	return json.Unmarshal(cfg, &c) == nil && c.Always
}

func (k alwaysKind) Apply(ctx context.Context, run *stack.StepRun) (stack.Outputs, error) {
	var c alwaysConfig
	if err := json.Unmarshal(run.Config, &c); err != nil {
		return nil, err
	}
	k.mu.Lock()
	k.applied = append(k.applied, run.Step)
	k.mu.Unlock()
	if c.FailWith != "" {
		return nil, &stack.FailedRun{Err: errors.New("tests failed"), Outputs: stack.Outputs{"failed": {Value: c.FailWith}}}
	}
	return stack.Outputs{"value": {Value: c.Value}}, nil
}

const alwaysDef = `{"name": %q, "steps": [
 {"name": "infra", "kind": "fake", "value": "x"},
 {"name": "tests", "kind": "fake", "always": true, "value": "${steps.infra.outputs.value}", "fail_with": %q}]}`

// A step whose kind says it runs always runs on every up while its
// unchanged neighbour does not; a FailedRun's outputs are kept with the
// failed step.
func TestAlwaysRunsAndFailedRunKeepsOutputs(t *testing.T) {
	ctx, dir, k := context.Background(), t.TempDir(), newFakeKind()
	e := fakeEngine(t, dir, k)
	e.Registry.RegisterStep("fake", alwaysKind{k})
	e.Parallelism = 1
	for range 2 {
		if err := e.Up(ctx, engine.UpOptions{Def: writeDef(t, dir, fmt.Sprintf(alwaysDef, "al", ""))}); err != nil {
			t.Fatal(err)
		}
	}
	if got := k.order(&k.applied); got != "infra,tests,tests" {
		t.Errorf("two ups applied %s, want infra,tests,tests", got)
	}
	err := e.Up(ctx, engine.UpOptions{Def: writeDef(t, dir, fmt.Sprintf(alwaysDef, "al", "login"))})
	if err == nil {
		t.Fatal("the failing step did not fail up")
	}
	rec, _ := e.Status(ctx, "al")
	st := rec.Steps["tests"]
	if st.Status != state.StatusFailed || st.Outputs["failed"].Value != "login" || st.Outputs["value"].Value != nil {
		t.Errorf("failed step: %s, outputs %v", st.Status, st.Outputs)
	}
}
