package engine

import (
	"context"
	"io"
	"sort"
	"sync"

	"github.com/stack-tools/stack/definition"

	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/state"
)

// preparation tracks one step's early set-up.
type preparation struct {
	mu      sync.Mutex
	started bool          // set-up began: a claim waits for it to end
	claimed bool          // the step is being applied: do not start preparing
	done    chan struct{} // closed when a started set-up ends
}

// claim stops a preparation that has not started, or waits for one that has.
func (p *preparation) claim() {
	p.mu.Lock()
	p.claimed = true
	started := p.started
	p.mu.Unlock()
	if started {
		<-p.done
	}
}

// prepare starts the set-up of steps that wait for others and will certainly
// run (never applied, or failed), while their upstream steps run, those needed
// soonest (fewest steps upstream) first. Errors are left for Apply to report.
func (r *runner) prepare(ctx context.Context, steps []*definition.Step) map[string]*preparation {
	out := map[string]*preparation{}
	rec := r.w.Snapshot()
	var queue []*definition.Step
	for _, s := range steps {
		kind := s.Impl
		_, ok := kind.(stack.Preparer)
		if st := rec.Steps[s.Name]; !ok || len(s.Deps) == 0 || (st != nil && st.Status == state.StatusApplied) {
			continue
		}
		out[s.Name] = &preparation{done: make(chan struct{})}
		queue = append(queue, s)
	}
	depth := r.plan.Depths()
	// The steps that start first set themselves up; preparing waits for them.
	for _, s := range steps {
		if _, ok := out[s.Name]; !ok && len(s.Deps) == 0 {
			if _, ok := s.Impl.(stack.Preparer); ok {
				r.timing.enter(s.Name)
			}
		}
	}
	sort.SliceStable(queue, func(i, j int) bool { return depth[queue[i].Name] < depth[queue[j].Name] })
	next := make(chan *definition.Step, len(queue))
	for _, s := range queue {
		next <- s
	}
	close(next)
	// Half the slots: preparation must not slow the steps that are running.
	for range min(len(queue), max(1, r.e.parallelism()/2)) {
		go func() {
			for s := range next {
				r.timing.settled(ctx)
				p := out[s.Name]
				p.mu.Lock()
				if p.claimed || ctx.Err() != nil {
					p.mu.Unlock()
					continue
				}
				p.started = true
				p.mu.Unlock()
				kind := s.Impl
				clock := r.timing.aheadOf(s.Name)
				_ = kind.(stack.Preparer).Prepare(ctx, &stack.StepRun{
					Stack: r.w.Name(), Step: s.Name, Profile: r.plan.Profile, Owner: rec.CreatedBy,
					Dir: r.plan.Def.Dir, Module: s.Module,
					WorkDir:  r.workDir(s.Name),
					Store:    r.e.Store,
					Log:      io.Discard,
					Progress: func(string, ...any) {},
					OnPhase:  clock.kindMark,
				})
				clock.lap("")
				close(p.done)
			}
		}()
	}
	return out
}
