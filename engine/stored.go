package engine

import (
	"context"

	"github.com/stack-tools/stack/definition"
	"github.com/stack-tools/stack/state"
)

// StoredGraph returns a stack's record and the plan of the definition stored with it.
func (e *Engine) StoredGraph(ctx context.Context, name string) (*definition.Graph, *state.Record, error) {
	rec, _, err := state.LoadRecord(ctx, e.Store, name)
	if err != nil {
		return nil, nil, err
	}
	plan, err := e.storedGraph(ctx, rec)
	if err != nil {
		return nil, nil, err
	}
	return plan, rec, nil
}
