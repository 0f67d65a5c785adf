package main

import (
	"context"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stack-tools/stack/definition"
	"github.com/stack-tools/stack/engine"
	"github.com/stack-tools/stack/load/scenario"
	"github.com/stack-tools/stack/stacks/scenarios"
	"github.com/stack-tools/stack/state"
)

// Shell completion: stack names come from the store, step names from the
// stack's record or the definition file on the command line, and flags with
// a closed set of values complete those values. Completion never fails
// loudly: what cannot be read completes nothing.

const (
	noFiles   = cobra.ShellCompDirectiveNoFileComp
	jsonFiles = cobra.ShellCompDirectiveFilterFileExt
)

// completeTimeout bounds a completion's reads (an S3 store may be slow).
const completeTimeout = 5 * time.Second

func registerCompletions(root *cobra.Command, g *globalOptions) {
	c := &completer{g: g}
	for _, cmd := range root.Commands() {
		switch cmd.Name() {
		case "status", "outputs", "rerun-step":
			cmd.ValidArgsFunction = c.args(c.stacks, c.recordSteps)
		case "down", "unlock":
			cmd.ValidArgsFunction = c.args(c.stacks)
		case "plan":
			cmd.ValidArgsFunction = c.args(c.stacks, definitionFiles)
		case "graph":
			cmd.ValidArgsFunction = func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
				if len(args) > 0 {
					return nil, noFiles
				}
				names, _ := c.run(cmd, args, toComplete, c.stacks)
				return names, cobra.ShellCompDirectiveDefault // and definition files
			}
		case "trace":
			cmd.ValidArgsFunction = c.args(c.stacks, c.loadSteps)
		case "report":
			cmd.ValidArgsFunction = c.args(c.stacks, c.loadSteps, c.runs)
			_ = cmd.RegisterFlagCompletionFunc("compare", c.flag(func(ctx context.Context, args []string) []string {
				if len(args) < 2 {
					return nil
				}
				return c.runs(ctx, args[:2])
			}))
		case "up", "validate":
			cmd.ValidArgsFunction = c.args(definitionFiles)
			for _, f := range []string{"only", "skip"} {
				_ = cmd.RegisterFlagCompletionFunc(f, c.listFlag(fileSteps))
			}
		case "load":
			_ = cmd.RegisterFlagCompletionFunc("shape", fixed("constant", "steps", "ramp", "trickle"))
			_ = cmd.RegisterFlagCompletionFunc("order", fixed("random", "grouped"))
			_ = cmd.RegisterFlagCompletionFunc("scenario", completeScenario)
		}
		if cmd.Flags().Lookup("profile") != nil {
			_ = cmd.RegisterFlagCompletionFunc("profile", c.flag(c.profiles))
		}
		if cmd.Flags().Lookup("var") != nil {
			registerVarCompletions(cmd)
		}
	}
	if cmd, _, err := root.Find([]string{"graph"}); err == nil {
		_ = cmd.RegisterFlagCompletionFunc("format", fixed(GraphDOT, GraphMermaid))
	}
	_ = root.RegisterFlagCompletionFunc("output", fixed("text", "json"))
}

// completer reads what completion offers.
type completer struct{ g *globalOptions }

// lister lists the candidates for one position, given the arguments before it.
type lister func(ctx context.Context, args []string) []string

// fileLister completes a position with files instead of a list.
type fileLister struct{ exts []string }

// definitionFiles completes a definition file argument.
var definitionFiles = fileLister{exts: []string{"json"}}

// args completes positional arguments: the i-th lister for argument i.
func (c *completer) args(pos ...any) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) >= len(pos) {
			return nil, noFiles
		}
		switch p := pos[len(args)].(type) {
		case fileLister:
			return p.exts, jsonFiles
		case func(context.Context, []string) []string:
			return c.run(cmd, args, toComplete, p)
		}
		return nil, noFiles
	}
}

func (c *completer) run(cmd *cobra.Command, args []string, toComplete string, l lister) ([]cobra.Completion, cobra.ShellCompDirective) {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, completeTimeout)
	defer cancel()
	var out []string
	for _, s := range l(ctx, args) {
		if strings.HasPrefix(s, toComplete) {
			out = append(out, s)
		}
	}
	return out, noFiles
}

// flag completes a flag's value with a lister given the command's arguments.
func (c *completer) flag(l lister) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return c.run(cmd, args, toComplete, l)
	}
}

// listFlag completes a comma-separated list flag: each item after the last comma.
func (c *completer) listFlag(l lister) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		i := strings.LastIndex(toComplete, ",")
		done, last := toComplete[:i+1], toComplete[i+1:]
		items, dir := c.run(cmd, args, last, l)
		for j := range items {
			items[j] = done + items[j]
		}
		return items, dir | cobra.ShellCompDirectiveNoSpace
	}
}

// fixed completes a closed set of values.
func fixed(values ...string) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		var out []string
		for _, v := range values {
			if strings.HasPrefix(v, toComplete) {
				out = append(out, v)
			}
		}
		return out, noFiles
	}
}

func (c *completer) engine(ctx context.Context) *engine.Engine {
	e, err := c.g.engine(ctx)
	if err != nil {
		return nil
	}
	return e
}

// stacks lists the stacks in the store: their names alone, one listing, so
// completion stays quick in a team's bucket.
func (c *completer) stacks(ctx context.Context, _ []string) []string {
	e := c.engine(ctx)
	if e == nil {
		return nil
	}
	names, err := e.Names(ctx)
	if err != nil {
		return nil
	}
	return names
}

// record reads the record of the stack named by args[0].
func (c *completer) record(ctx context.Context, args []string) *state.Record {
	e := c.engine(ctx)
	if e == nil || len(args) == 0 {
		return nil
	}
	rec, err := e.Status(ctx, args[0])
	if err != nil {
		return nil
	}
	return rec
}

// recordSteps lists the steps of the stack named by args[0].
func (c *completer) recordSteps(ctx context.Context, args []string) []string {
	if rec := c.record(ctx, args); rec != nil {
		return rec.StepOrder()
	}
	return nil
}

// loadSteps lists the generator steps of the stack named by args[0].
func (c *completer) loadSteps(ctx context.Context, args []string) []string {
	rec := c.record(ctx, args)
	if rec == nil {
		return nil
	}
	var out []string
	for _, n := range rec.StepOrder() {
		if rec.Steps[n].Kind == "generator" {
			out = append(out, n)
		}
	}
	return out
}

// runs lists the kept load runs of stack args[0]'s step args[1].
func (c *completer) runs(ctx context.Context, args []string) []string {
	e := c.engine(ctx)
	if e == nil || len(args) < 2 {
		return nil
	}
	ids, err := runIDs(ctx, e.Store, args[0], args[1])
	if err != nil {
		return nil
	}
	return ids
}

// profiles lists the profiles of the definition file in args[0], or of the
// definition stored with the stack args[0] names.
func (c *completer) profiles(ctx context.Context, args []string) []string {
	if len(args) == 0 {
		return nil
	}
	var def *definition.Definition
	if isDefinitionFile(args[0]) {
		d, err := definition.LoadDefinition(args[0])
		if err != nil {
			return nil
		}
		def = d
	} else {
		e := c.engine(ctx)
		if e == nil {
			return nil
		}
		plan, _, err := e.StoredGraph(ctx, args[0])
		if err != nil {
			return nil
		}
		def = plan.Def
	}
	set := map[string]bool{}
	for _, s := range def.Steps {
		for p := range s.Profiles {
			set[p] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// fileSteps lists the steps of the definition file in args[0].
func fileSteps(_ context.Context, args []string) []string {
	if len(args) == 0 {
		return nil
	}
	def, err := definition.LoadDefinition(args[0])
	if err != nil {
		return nil
	}
	var out []string
	for _, s := range def.Steps {
		out = append(out, s.Name)
	}
	return out
}

// completeScenario offers the built-in scenarios, and folders.
func completeScenario(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	var out []string
	for _, n := range scenario.BuiltinNames(scenarios.Builtin()) {
		if strings.HasPrefix(n, toComplete) {
			out = append(out, n)
		}
	}
	if len(out) > 0 {
		return out, noFiles
	}
	return nil, cobra.ShellCompDirectiveFilterDirs
}
