package engine

import (
	"context"

	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/state"
)

// processRecorder stores the process group running a step in its record.
func (r *runner) processRecorder(ctx context.Context, step string) func(*stack.Process) {
	return func(p *stack.Process) {
		_ = r.w.UpdateStep(context.WithoutCancel(ctx), step, func(st *state.StepState) { st.Process = p })
	}
}

// interruptedBefore reports whether a step's last run did not finish: it was
// stopped (Ctrl-C), or it is still marked running although this command holds
// the lease, so its command died.
func interruptedBefore(prev *state.StepState) bool {
	return prev != nil && (prev.Interrupted || prev.Status == state.StatusRunning || prev.Status == state.StatusDestroying)
}
