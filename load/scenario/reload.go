package scenario

import (
	"fmt"
	"slices"
	"strings"
	"text/template"
)

// templates are reloaded bodies waiting for the generator to pick them up.
type templates struct {
	tmpl []*template.Template
	fast [][]op
	vars map[string]string
}

// Reload checks sc (a re-read of the scenario the generator was made from)
// and has the generator use its body templates and vars from the next
// message on. Message types, their weights, paths and headers stay as the run
// began: sc must list the same types. On error nothing changes. Reload may be
// called from any goroutine.
func (g *Generator) Reload(sc *Scenario, target string) error {
	skip := map[string]bool{}
	for _, s := range g.opts.Skip {
		skip[s] = true
	}
	var kept []Type
	for _, t := range sc.Types {
		if !skip[t.Name] {
			kept = append(kept, t)
		}
	}
	names := make([]string, len(g.Types))
	for i, t := range g.Types {
		names[i] = t.Name
	}
	got := make([]string, len(kept))
	for i, t := range kept {
		got[i] = t.Name
	}
	if !slices.Equal(names, got) {
		return fmt.Errorf("message types changed (%s, was %s): a run keeps its types; templates and vars reload, types do not",
			strings.Join(got, ", "), strings.Join(names, ", "))
	}
	// A throwaway generator renders every type once: a template that fails at
	// run time fails here, and the run keeps its old templates.
	o := g.opts
	o.Seed = g.Seed
	if _, err := NewGenerator(sc, target, o); err != nil {
		return err
	}
	vars := map[string]string{}
	for k, v := range sc.Vars {
		vars[k] = v
	}
	for k, v := range g.opts.Vars {
		vars[k] = v
	}
	funcs := funcMap(g.faker, nil)
	set, err := sc.parse(funcs)
	if err != nil {
		return err
	}
	p := &templates{vars: vars}
	for _, t := range kept {
		var tm *template.Template
		var ops []op
		if t.Body != "" {
			tm = set.Lookup(t.Body)
			c := compiler{set: set, funcs: funcs, vars: vars}
			ops, _ = c.compile(t.Body)
		}
		p.tmpl = append(p.tmpl, tm)
		p.fast = append(p.fast, ops)
	}
	g.pending.Store(p)
	return nil
}

// apply switches to reloaded templates; called by Next.
func (g *Generator) apply(p *templates) {
	if !g.pending.CompareAndSwap(p, nil) {
		return
	}
	g.tmpl, g.fast, g.data.Vars = p.tmpl, p.fast, p.vars
}
