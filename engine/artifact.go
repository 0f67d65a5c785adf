package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/state"
)

// Artifact reads a file a step stored with its stack (StepRun.Artifacts).
func (e *Engine) Artifact(ctx context.Context, name, step, file string) ([]byte, error) {
	data, _, err := e.Store.Get(ctx, state.ArtifactKey(name, step, file))
	if errors.Is(err, stack.ErrNotFound) {
		return nil, fmt.Errorf("stack %s, step %s stored no %s: %w", name, step, file, err)
	}
	return data, err
}
