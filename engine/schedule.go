package engine

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"sync"

	"github.com/stack-tools/stack/definition"

	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/state"
)

// schedule runs fn for each step once its deps among steps have succeeded, at
// most par at a time, picking ready steps in definition order. After a failure
// it starts nothing new and waits for running steps. It returns the failures.
func schedule(ctx context.Context, steps []*definition.Step, par int, deps func(*definition.Step) []string, fn func(context.Context, *definition.Step) error) map[string]string {
	in := map[string]bool{}
	for _, s := range steps {
		in[s.Name] = true
	}
	state := map[string]int{} // 0 waiting, 1 running, 2 done
	failed := map[string]string{}
	type result struct {
		name string
		err  error
	}
	results := make(chan result)
	running := 0
	for {
		for running < par && len(failed) == 0 && ctx.Err() == nil {
			var next *definition.Step
			for _, s := range steps {
				if state[s.Name] != 0 {
					continue
				}
				ready := true
				for _, d := range deps(s) {
					if in[d] && state[d] != 2 {
						ready = false
						break
					}
				}
				if ready {
					next = s
					break
				}
			}
			if next == nil {
				break
			}
			state[next.Name] = 1
			running++
			go func(s *definition.Step) {
				var err error
				defer func() {
					// A bug in a kind or handler fails its step, not the whole command.
					if p := recover(); p != nil {
						err = fmt.Errorf("internal error (please report it): %v", p)
					}
					results <- result{s.Name, err}
				}()
				err = fn(ctx, s)
			}(next)
		}
		if running == 0 {
			return failed
		}
		res := <-results
		running--
		if res.err != nil {
			failed[res.name] = res.err.Error()
			state[res.name] = 3
			continue
		}
		state[res.name] = 2
	}
}

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
		kind, _ := r.e.Registry.Step(s.Kind)
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
			if _, ok := kindOf(r, s).(stack.Preparer); ok {
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
				kind, _ := r.e.Registry.Step(s.Kind)
				clock := r.timing.aheadOf(s.Name)
				_ = kind.(stack.Preparer).Prepare(ctx, &stack.StepRun{
					Stack: r.w.Name(), Step: s.Name, Profile: r.plan.Profile, Owner: rec.CreatedBy,
					Dir: r.plan.Def.Dir, Module: s.Module,
					WorkDir:  filepath.Join(r.e.CacheDir, "work", r.w.Name(), s.Name),
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

func kindOf(r *runner, s *definition.Step) stack.StepKind {
	k, _ := r.e.Registry.Step(s.Kind)
	return k
}
