package engine

import (
	"context"

	"github.com/stack-tools/stack/definition"
)

// StoredGraph returns a stack's record and the plan of the definition stored with it.
func (e *Engine) StoredGraph(ctx context.Context, name string) (*definition.Graph, *Record, error) {
	rec, _, err := LoadRecord(ctx, e.Store, name)
	if err != nil {
		return nil, nil, err
	}
	plan, err := e.storedGraph(ctx, rec)
	if err != nil {
		return nil, nil, err
	}
	return plan, rec, nil
}
