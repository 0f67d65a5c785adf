package engine

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/stack-tools/stack/definition"

	"github.com/stack-tools/stack/stack"
)

// gate is how far an upstream step must have got before a dependent may start.
type gate int

const (
	// gateOutputs: the upstream module's outputs are known; its completion
	// handlers may still be running.
	gateOutputs gate = 1
	// gateDone: all the upstream's outputs are known, its handlers' included.
	// What is left of it (record writes, log and module uploads) does not hold
	// dependents back.
	gateDone gate = 2
)

// flow runs fn for each step once each dep among steps has reached the gate
// the step needs from it (needs; gateDone by default), at most par at a time,
// picking ready steps in definition order. fn calls release as its step passes
// a gate; a step frees its slot at gateDone, so its tail (record writes,
// uploads) runs alongside the next steps. After a failure flow starts nothing
// new and waits for running steps. It returns the failures.
func flow(ctx context.Context, steps []*definition.Step, par int, needs func(*definition.Step) map[string]gate,
	fn func(ctx context.Context, s *definition.Step, release func(gate)) error) map[string]string {
	in := map[string]bool{}
	need := map[string]map[string]gate{}
	for _, s := range steps {
		in[s.Name] = true
		need[s.Name] = needs(s)
	}
	type msg struct {
		name string
		gate gate
		end  bool
		err  error
	}
	msgs := make(chan msg)
	reached := map[string]gate{}
	started := map[string]bool{}
	slot := map[string]bool{} // steps holding a slot
	failed := map[string]string{}
	busy, alive := 0, 0
	for {
		for busy < par && len(failed) == 0 && ctx.Err() == nil {
			var next *definition.Step
			for _, s := range steps {
				if started[s.Name] {
					continue
				}
				ready := true
				for d, g := range need[s.Name] {
					if in[d] && reached[d] < g {
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
			started[next.Name], slot[next.Name] = true, true
			busy++
			alive++
			go func(s *definition.Step) {
				var err error
				defer func() {
					// A bug in a kind or handler fails its step, not the whole command.
					if p := recover(); p != nil {
						err = fmt.Errorf("internal error (please report it): %v", p)
					}
					msgs <- msg{name: s.Name, end: true, err: err}
				}()
				err = fn(ctx, s, func(g gate) { msgs <- msg{name: s.Name, gate: g} })
			}(next)
		}
		if alive == 0 {
			return failed
		}
		m := <-msgs
		switch {
		case m.end && m.err != nil:
			failed[m.name] = m.err.Error()
		case m.end:
			m.gate = gateDone
		}
		if m.end {
			alive--
		}
		if m.err == nil && m.gate > reached[m.name] {
			reached[m.name] = m.gate
		}
		if slot[m.name] && (m.end || m.gate == gateDone) {
			slot[m.name] = false
			busy--
		}
	}
}

// needs says which gate a step waits for on each of its deps. A dep it
// follows with "after", or whose handler outputs it references, must be done;
// a dep with handlers whose module outputs alone it references only needs
// those outputs known: it starts while the dep's handlers run.
func (r *runner) needs(s *definition.Step) map[string]gate {
	out := map[string]gate{}
	for _, d := range s.Deps {
		out[d] = gateDone
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
			out[d] = gateOutputs
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
func (r *runner) release(s *definition.Step, outs stack.Outputs, g gate, release func(gate)) {
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
