package engine

import (
	"context"

	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/state"
)

// processRecorder stores the process group running a step in its record,
// behind the step's other writes: it is for people reading status (the shim's
// process file is what a later command on this host waits on, the lease what
// one on another host waits on), so it must not cost the step a round trip.
func (r *runner) processRecorder(ctx context.Context, step string) func(*stack.Process) {
	return func(p *stack.Process) {
		_ = r.bg.UpdateStep(context.WithoutCancel(ctx), r.w, step, func(st *state.StepState) { st.Process = p })
	}
}

// interruptedBefore reports whether a step's last run did not finish: it was
// stopped (Ctrl-C), or it is still marked running although this command holds
// the lease, so its command died.
func interruptedBefore(prev *state.StepState) bool {
	return prev != nil && (prev.Interrupted || prev.Status == state.StatusRunning || prev.Status == state.StatusDestroying)
}
