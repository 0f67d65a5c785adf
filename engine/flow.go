package engine

import (
	"context"
	"encoding/json"

	"github.com/stack-tools/stack/definition"
	"github.com/stack-tools/stack/engine/flow"

	"github.com/stack-tools/stack/stack"
)

// walk runs fn for each step with the one scheduler (engine/flow): a step
// starts once each of its deps among steps has reached the gate the step
// needs from it (needs), at most par at a time, in definition order. It
// returns the failures.
func walk(ctx context.Context, steps []*definition.Step, par int, needs func(*definition.Step) map[string]flow.Gate,
	fn func(ctx context.Context, s *definition.Step, release func(flow.Gate)) error) map[string]string {
	byName := make(map[string]*definition.Step, len(steps))
	tasks := make([]flow.Task, len(steps))
	for i, s := range steps {
		byName[s.Name] = s
		tasks[i] = flow.Task{Name: s.Name, Needs: needs(s)}
	}
	return flow.Run(ctx, tasks, par, func(ctx context.Context, name string, release func(flow.Gate)) error {
		return fn(ctx, byName[name], release)
	})
}

// doneFirst needs each of deps(s) done before s starts: down walks the graph
// with the dependents as deps.
func doneFirst(deps func(*definition.Step) []string) func(*definition.Step) map[string]flow.Gate {
	return func(s *definition.Step) map[string]flow.Gate {
		out := map[string]flow.Gate{}
		for _, d := range deps(s) {
			out[d] = flow.Done
		}
		return out
	}
}

// whole adapts a step function that passes no gate before it ends.
func whole(fn func(context.Context, *definition.Step) error) func(context.Context, *definition.Step, func(flow.Gate)) error {
	return func(ctx context.Context, s *definition.Step, _ func(flow.Gate)) error { return fn(ctx, s) }
}

// needs says which gate a step waits for on each of its deps. A dep it
// follows with "after", or whose handler outputs it references, must be done;
// a dep with handlers whose module outputs alone it references only needs
// those outputs known: it starts while the dep's handlers run.
func (r *runner) needs(s *definition.Step) map[string]flow.Gate {
	out := map[string]flow.Gate{}
	for _, d := range s.Deps {
		out[d] = flow.Done
	}
	// Names referenced per upstream step.
	refs := map[string]map[string]bool{}
	all := []any{s.Vars, s.Config}
	for _, hd := range s.Handlers {
		var v any
		_ = json.Unmarshal(hd.Config, &v)
		all = append(all, v)
	}
	for _, v := range all {
		stack.FindRefs(v, "", func(rf stack.Ref, _ string, err error) {
			if err == nil && rf.Kind == "step" {
				if refs[rf.Step] == nil {
					refs[rf.Step] = map[string]bool{}
				}
				refs[rf.Step][rf.Name] = true
			}
		})
	}
	after := map[string]bool{}
	for _, a := range s.After {
		after[a] = true
	}
	for d, names := range refs {
		up := r.plan.ByName[d]
		if up == nil || after[d] || len(up.Handlers) == 0 {
			continue
		}
		if handled, ok := r.handlerOutputNames(up); ok && !overlaps(names, handled) {
			out[d] = flow.Outputs
		}
	}
	return out
}

// handlerOutputNames returns the outputs a step's handlers add; ok is false
// when a handler cannot say.
func (r *runner) handlerOutputNames(s *definition.Step) (map[string]bool, bool) {
	names := map[string]bool{}
	for _, hd := range s.Handlers {
		h, _ := r.e.Registry.Handler(hd.Handler)
		ho, ok := h.(stack.HandlerOutputs)
		if !ok {
			return nil, false
		}
		for _, n := range ho.OutputNames(hd.Config) {
			names[n] = true
		}
	}
	return names, true
}

func overlaps(a, b map[string]bool) bool {
	for k := range a {
		if b[k] {
			return true
		}
	}
	return false
}

// release makes a step's outputs so far visible to its dependents and lets
// those waiting for gate g start.
func (r *runner) release(s *definition.Step, outs stack.Outputs, g flow.Gate, release func(flow.Gate)) {
	cp := make(stack.Outputs, len(outs))
	for k, v := range outs {
		cp[k] = v
	}
	r.mu.Lock()
	r.live[s.Name] = cp
	r.mu.Unlock()
	if release != nil {
		release(g)
	}
}

// claim takes a step's preparation over before it is applied, waiting for one
// under way.
func (r *runner) claim(step string, clock *phaseClock) {
	p := r.prepared[step]
	if p == nil {
		return
	}
	p.mu.Lock()
	waiting := p.started
	p.mu.Unlock()
	if waiting {
		select {
		case <-p.done:
			waiting = false
		default:
		}
	}
	if waiting {
		clock.lap("prepare-wait")
	}
	p.claim()
}
