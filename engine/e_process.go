package engine

import (
	"context"

	"github.com/stack-tools/stack/stack"
)

// processRecorder stores the process group running a step in its record.
func (r *runner) processRecorder(ctx context.Context, step string) func(*stack.Process) {
	return func(p *stack.Process) {
		_ = r.w.step(context.WithoutCancel(ctx), step, func(st *StepState) { st.Process = p })
	}
}

// interruptedBefore reports whether a step's last run did not finish: it was
// stopped (Ctrl-C), or it is still marked running although this command holds
// the lease, so its command died.
func interruptedBefore(prev *StepState) bool {
	return prev != nil && (prev.Interrupted || prev.Status == StatusRunning || prev.Status == StatusDestroying)
}
