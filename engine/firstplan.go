package engine

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/stack-tools/stack/definition"
	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/state"
)

// KnownAfterApply stands for an upstream output in the plan of a new stack.
const KnownAfterApply = "(known after apply)"

// NewStackPlan is what the first `up` of a stack would create, step by step
// in the order it would run them.
type NewStackPlan struct {
	Stack      string    `json:"stack"`
	Profile    string    `json:"profile,omitempty"`
	Definition string    `json:"definition"`
	New        bool      `json:"new"` // always true: the stack does not exist yet
	Steps      []NewStep `json:"steps"`
}

// NewStep is one step of a NewStackPlan.
type NewStep struct {
	Step   string   `json:"step"`
	Kind   string   `json:"kind"`
	Module string   `json:"module,omitempty"`
	After  []string `json:"after,omitempty"`
	// Vars are the values the step would get, as JSON text; a value that
	// needs an upstream output reads KnownAfterApply, a sensitive one "(sensitive)".
	Vars map[string]string `json:"vars,omitempty"`
	// Resources are what the module manages, all to be created.
	Resources []string `json:"resources,omitempty"`
	Handlers  []string `json:"handlers,omitempty"`
}

// PlanNew says what the first `up` of stack name from def would create. It
// reads no state but the stack's absence, fetches remote modules, and runs
// nothing. A stack that exists is refused: Drift plans that.
func (e *Engine) PlanNew(ctx context.Context, name string, def *definition.Definition, profile string, vars map[string]definition.VarSetting) (*NewStackPlan, error) {
	if _, _, err := state.LoadRecord(ctx, e.Store, name); err == nil {
		return nil, fmt.Errorf("stack %q exists; `stack plan %s FILE` compares it with FILE", name, name)
	}
	def = givenValues(def, vars)
	g, err := e.graph(ctx, def, definition.GraphOptions{Profile: profile})
	if err != nil {
		return nil, err
	}
	res := &stack.Resolver{
		Vars: def.Variables, SensitiveVars: def.Sensitive,
		Stack: map[string]string{"name": name, "profile": profile, "owner": state.Me()},
	}
	p := &NewStackPlan{Stack: name, Profile: profile, Definition: def.File, New: true}
	for _, s := range g.Order() {
		ns := NewStep{Step: s.Name, Kind: s.Kind, Module: s.ModuleSource(), After: s.Deps, Vars: map[string]string{}}
		for _, k := range slices.Sorted(maps.Keys(s.Vars)) {
			ns.Vars[k] = planValue(res, s.Vars[k])
		}
		if insp, ok := s.Impl.(stack.ModuleInspector); ok && s.Module != "" {
			if info, err := insp.InspectModule(s.Module); err == nil {
				ns.Resources = info.Resources
			}
		}
		for _, h := range s.Handlers {
			ns.Handlers = append(ns.Handlers, h.Handler)
		}
		p.Steps = append(p.Steps, ns)
	}
	return p, nil
}

// planValue is a var's value for the plan of a new stack: variables and
// stack attributes resolved, upstream outputs not yet known.
func planValue(res *stack.Resolver, v any) string {
	upstream := false
	stack.FindRefs(v, "", func(r stack.Ref, _ string, err error) {
		upstream = upstream || err != nil || r.Kind == "step" || r.Kind == "own"
	})
	if upstream {
		return valueText(v) + " " + KnownAfterApply
	}
	val, sensitive, err := res.Resolve(v, "")
	switch {
	case err != nil:
		return KnownAfterApply
	case sensitive:
		return "(sensitive)"
	}
	return valueText(val)
}
