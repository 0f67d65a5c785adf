package terraform

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/stack-tools/stack/stack"
)

// ReadOutputs reads a finished step's outputs again, sensitive values included.
func (k *Kind) ReadOutputs(ctx context.Context, run *stack.StepRun) (stack.Outputs, error) {
	if outs, ok := (&session{run: run}).stateOutputs(ctx); ok {
		return outs, nil
	}
	s, err := k.prepare(ctx, run)
	if err != nil {
		return nil, err
	}
	if ok, err := s.selectWorkspace(ctx, false); err != nil || !ok {
		return nil, fmt.Errorf("workspace %q does not exist: %w", workspace(run), err)
	}
	return s.outputs(ctx)
}

// outputs runs `terraform output`. It prints sensitive values, so its output
// goes nowhere but the returned outputs.
func (s *session) outputs(ctx context.Context) (stack.Outputs, error) {
	meta, err := s.tf.Output(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading outputs: %w", err)
	}
	outs := stack.Outputs{}
	for name, m := range meta {
		var v any
		if err := json.Unmarshal(m.Value, &v); err != nil {
			return nil, fmt.Errorf("output %q: %w", name, err)
		}
		outs[name] = stack.Output{Value: v, Sensitive: m.Sensitive}
	}
	return outs, nil
}
