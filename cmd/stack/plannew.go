package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/stack-tools/stack/definition"
	"github.com/stack-tools/stack/engine"
	"github.com/stack-tools/stack/state"
)

// planNewStack is `stack plan NAME FILE` for a stack that does not exist
// yet: what the first up would create. done is false for a stack that
// exists, which plan compares with FILE as usual. Like a drift, a plan that
// creates something exits 2.
func planNewStack(ctx context.Context, o *planOptions, def *definition.Definition, vars map[string]definition.VarSetting) (done bool, err error) {
	var p *engine.NewStackPlan
	err = o.withEngine(ctx, func(e *engine.Engine) error {
		if _, err := e.Status(ctx, o.Name); !errors.Is(err, state.ErrNoStack) {
			return err
		}
		done = true
		p, err = e.PlanNew(ctx, o.Name, def, o.Profile, vars)
		return err
	})
	if err != nil {
		return true, err
	}
	if !done {
		return false, nil
	}
	if o.JSON {
		if err := writeJSON(o.Out, p); err != nil {
			return true, err
		}
	} else {
		printNewStackPlan(o.Out, p)
	}
	return true, &exitError{code: exitInvalid}
}

func printNewStackPlan(w io.Writer, p *engine.NewStackPlan) {
	profile := p.Profile
	if profile == "" {
		profile = "(none)"
	}
	fmt.Fprintf(w, "Stack %s does not exist yet: the first `stack up %s --name %s` would create, profile %s:\n", p.Stack, p.Definition, p.Stack, profile)
	for _, s := range p.Steps {
		fmt.Fprintf(w, "\n+ %s (%s", s.Step, s.Kind)
		if s.Module != "" {
			fmt.Fprintf(w, ", module %s", s.Module)
		}
		fmt.Fprint(w, ")")
		if len(s.After) > 0 {
			fmt.Fprintf(w, " after %s", strings.Join(s.After, ", "))
		}
		fmt.Fprintln(w)
		for _, r := range s.Resources {
			fmt.Fprintf(w, "    + %s\n", r)
		}
		for _, k := range slices.Sorted(maps.Keys(s.Vars)) {
			fmt.Fprintf(w, "    var %s = %s\n", k, s.Vars[k])
		}
		for _, h := range s.Handlers {
			fmt.Fprintf(w, "    then handler %s\n", h)
		}
	}
	fmt.Fprintf(w, "\n%d step(s) to create; values marked %s come from upstream steps.\n", len(p.Steps), engine.KnownAfterApply)
}
