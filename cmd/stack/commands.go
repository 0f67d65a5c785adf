package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stack-tools/stack/engine"
	"github.com/stack-tools/stack/state"
	"github.com/stack-tools/stack/steps/exec"
	"github.com/stack-tools/stack/steps/generator"

	"github.com/stack-tools/stack/definition"
)

// upOptions are the inputs of `stack up`.
type upOptions struct {
	runEnv
	lockOptions
	varOptions
	File       string
	Name       string // "" is the definition's name
	Profile    string
	ProfileSet bool // --profile was given, even as ""
	Only, Skip []string
	Prune      bool
	TTL        string
	TTLSet     bool // --ttl was given
	Refresh    bool
	// MetricsAddr: generator steps serve live metrics here (a step's own wins).
	MetricsAddr string
}

func newUpCmd(g *globalOptions) *cobra.Command {
	o := &upOptions{}
	cmd := &cobra.Command{
		Use:   "up FILE",
		Short: "Bring a stack up, or bring it up to date",
		Long: `Validate the definition, then apply every step whose inputs changed or that has
not finished, in dependency order and in parallel. Unchanged steps are skipped.

A definition that drops a step the stack has applied is refused, unless --prune
is given: then the dropped steps are destroyed once the rest is up.`,
		Example: "  stack up stacks/demo.json --name bfcm --profile minimal\n  stack up stacks/demo.json --name bfcm --ttl 8h   # stack reap may destroy it after 8 idle hours",
		Args:    exactArgs(1, "FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.runEnv = g.mutatingEnv(cmd)
			o.File = args[0]
			o.ProfileSet, o.TTLSet = cmd.Flags().Changed("profile"), cmd.Flags().Changed("ttl")
			return runUp(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Name, "name", "", "stack name (default: the definition's name)")
	f.StringVar(&o.Profile, "profile", "", "profile to apply to each step, e.g. minimal or production (default: the stack's own, for an existing stack)")
	f.StringVar(&o.TTL, "ttl", "", "let stack reap destroy the stack once it is unused this long, e.g. 8h (default: the definition's \"ttl\", else the stack's; 0: never)")
	f.StringSliceVar(&o.Only, "only", nil, "run only these steps (comma-separated)")
	f.StringSliceVar(&o.Skip, "skip", nil, "leave these steps out (comma-separated)")
	f.BoolVar(&o.Refresh, "refresh", false, "also run terraform plan for unchanged steps and apply again those whose infrastructure drifted (as stack plan does)")
	f.BoolVar(&o.Prune, "prune", false, "destroy applied steps the definition no longer has, once the rest is up")
	f.IntVar(&o.Parallelism, "parallelism", 4, "how many steps may run at once; 1 follows the definition's order")
	addLockTimeout(f, &o.LockTimeout, "the stack's lock")
	f.StringVar(&o.MetricsAddr, "metrics-addr", "", "generator steps serve live Prometheus /metrics here while they run (a step's \"metrics_addr\" wins)")
	addVarFlags(f, &o.varOptions)
	return cmd
}

func runUp(ctx context.Context, o *upOptions) error {
	def, err := loadDefinition(o.File)
	if err != nil {
		return err
	}
	if o.Parallelism < 1 {
		return &usageError{fmt.Errorf("--parallelism %d: use 1 or more", o.Parallelism)}
	}
	name := o.Name
	if name == "" {
		name = def.Name
	}
	ttl, err := parseTTLFlag(o.TTL, o.TTLSet)
	if err != nil {
		return err
	}
	vars, err := o.settings(def)
	if err != nil {
		return err
	}
	start := time.Now()
	var rec *state.Record
	err = o.mutate(ctx, o.lockOptions, func(e *engine.Engine) error {
		setMetricsAddr(e.Registry, o.MetricsAddr)
		err := e.Up(ctx, engine.UpOptions{Def: def, Name: name, Profile: o.Profile, Only: o.Only, Skip: o.Skip, Prune: o.Prune,
			ProfileSet: o.ProfileSet, TTL: ttl, Refresh: o.Refresh, Vars: vars})
		if err == nil {
			// For the closing lines; they are left out if it cannot be read.
			rec, _ = e.Status(ctx, name)
		}
		return err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(o.ErrOut, "stack %q is up (%s). See `stack status %s`.\n", name, time.Since(start).Round(10*time.Millisecond), name)
	if rec != nil {
		printExpiry(o.ErrOut, rec)
		printLoadReports(o.ErrOut, rec)
	}
	return nil
}

// printLoadReports ends `up` with what the load steps found and where their
// reports are.
func printLoadReports(w io.Writer, rec *state.Record) {
	for _, n := range rec.StepOrder() {
		if s, ok := generator.Summarize(rec.Steps[n].Outputs); ok {
			fmt.Fprintf(w, "load step %s: %s\n", n, s)
		}
		if t, ok := exec.Summarize(rec.Steps[n].Outputs); ok && t.Tests > 0 {
			fmt.Fprintf(w, "test step %s: %d passed, %d failed, %d skipped (stack status %s %s)\n", n, t.Passed, t.Failed, t.Skipped, rec.Name, n)
		}
	}
}

func exactArgs(n int, names string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return &usageError{fmt.Errorf("%s takes %s (got %d arguments); see `%s --help`", cmd.Name(), names, len(args), cmd.CommandPath())}
		}
		return nil
	}
}

// downOptions are the inputs of `stack down`.
type downOptions struct {
	runEnv
	lockOptions
	Name string
}

func newDownCmd(g *globalOptions) *cobra.Command {
	o := &downOptions{}
	cmd := &cobra.Command{
		Use:   "down NAME",
		Short: "Tear a stack down and delete its state, logs and reports",
		Long: `Tear every step down, dependents first: completion handlers undo what they did,
Terraform destroys the resources, and the stack's record, logs and load reports are
deleted from the store.`,
		Example: `  stack down demo
  stack down bfcm --lock-timeout 10m   # wait for another workstation's command to finish`,
		Args: exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.runEnv, o.Name = g.mutatingEnv(cmd), args[0]
			return runDown(cmd.Context(), o)
		},
	}
	addLockTimeout(cmd.Flags(), &o.LockTimeout, "the stack's lock")
	cmd.Flags().IntVar(&o.Parallelism, "parallelism", 4, "how many steps may be torn down at once")
	return cmd
}

func runDown(ctx context.Context, o *downOptions) error {
	err := o.mutate(ctx, o.lockOptions, func(e *engine.Engine) error { return e.Down(ctx, o.Name) })
	if err != nil {
		return err
	}
	fmt.Fprintf(o.ErrOut, "stack %q is down and its state deleted, with its logs and load reports.\n", o.Name)
	return nil
}

// rerunOptions are the inputs of `stack rerun-step`.
type rerunOptions struct {
	runEnv
	lockOptions
	Name, Step string
	Replace    bool
}

func newRerunCmd(g *globalOptions) *cobra.Command {
	o := &rerunOptions{}
	cmd := &cobra.Command{
		Use:   "rerun-step NAME STEP",
		Short: "Re-apply one step and its handlers, then the dependents whose inputs changed",
		Example: `  stack rerun-step demo load        # run the load step again (its earlier reports are kept)
  stack rerun-step bfcm aurora --replace   # restore another snapshot instead of adopting the clone`,
		Args: exactArgs(2, "NAME and STEP"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.runEnv, o.Name, o.Step = g.mutatingEnv(cmd), args[0], args[1]
			return runRerun(cmd.Context(), o)
		},
	}
	addLockTimeout(cmd.Flags(), &o.LockTimeout, "the stack's lock")
	cmd.Flags().BoolVar(&o.Replace, "replace", false, "let handlers replace what they made (e.g. restore a different snapshot) instead of adopting it")
	return cmd
}

func runRerun(ctx context.Context, o *rerunOptions) error {
	start := time.Now()
	var rec *state.Record
	err := o.mutate(ctx, o.lockOptions, func(e *engine.Engine) error {
		err := e.RerunStep(ctx, o.Name, o.Step, engine.RerunOptions{Replace: o.Replace})
		if err == nil {
			rec, _ = e.Status(ctx, o.Name) // for the closing lines; left out if unreadable
		}
		return err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(o.ErrOut, "step %s of stack %q re-applied (%s). See `stack status %s`.\n", o.Step, o.Name, time.Since(start).Round(10*time.Millisecond), o.Name)
	if rec != nil {
		printExpiry(o.ErrOut, rec)
		printLoadReports(o.ErrOut, rec)
	}
	return nil
}

// validateOptions are the inputs of `stack validate`.
type validateOptions struct {
	runEnv
	varOptions
	Explain    bool
	File       string
	Profile    string
	Only, Skip []string
}

func newValidateCmd(g *globalOptions) *cobra.Command {
	o := &validateOptions{}
	cmd := &cobra.Command{
		Use:   "validate FILE",
		Short: "Check a definition completely without running anything",
		Example: `  stack validate stacks/demo.json
  stack validate stacks/sms-inbound.json --profile production -o json`,
		Args: exactArgs(1, "FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.runEnv, o.File = g.env(cmd), args[0]
			return runValidate(o)
		},
	}
	cmd.Flags().StringVar(&o.Profile, "profile", "", "validate under this profile")
	cmd.Flags().StringSliceVar(&o.Only, "only", nil, "check a selection of steps")
	cmd.Flags().StringSliceVar(&o.Skip, "skip", nil, "check a selection without these steps")
	addVarFlags(cmd.Flags(), &o.varOptions)
	addExplainFlag(cmd.Flags(), &o.Explain)
	return cmd
}

func runValidate(o *validateOptions) error {
	def, err := loadDefinition(o.File)
	if err != nil {
		return err
	}
	if o.Explain {
		explain(o.Out, def)
	}
	if def, err = o.withValues(def); err != nil {
		return err
	}
	e := &engine.Engine{Registry: o.Registry(), CacheDir: o.CacheDir}
	plan, err := e.Validate(def, definition.GraphOptions{Profile: o.Profile, Only: o.Only, Skip: o.Skip})
	if err != nil {
		return err
	}
	order := plan.Order()
	if o.JSON {
		type step struct {
			Name string   `json:"name"`
			Kind string   `json:"kind"`
			Deps []string `json:"deps"`
		}
		var steps []step
		for _, s := range order {
			steps = append(steps, step{s.Name, s.Kind, append([]string{}, s.Deps...)})
		}
		return writeJSON(o.Out, map[string]any{"valid": true, "name": def.Name, "profile": o.Profile, "steps": steps})
	}
	fmt.Fprintf(o.Out, "%s: stack %q is valid (%d steps", o.File, def.Name, len(order))
	if o.Profile != "" {
		fmt.Fprintf(o.Out, ", profile %s", o.Profile)
	}
	fmt.Fprintln(o.Out, ")")
	for _, s := range order {
		deps := ""
		if len(s.Deps) > 0 {
			deps = " after " + strings.Join(s.Deps, ", ")
		}
		fmt.Fprintf(o.Out, "  %s (%s)%s\n", s.Name, s.Kind, deps)
	}
	return nil
}

// unlockOptions are the inputs of `stack unlock`.
type unlockOptions struct {
	runEnv
	Name string
}

func newUnlockCmd(g *globalOptions) *cobra.Command {
	o := &unlockOptions{}
	return &cobra.Command{
		Use:   "unlock NAME",
		Short: "Break a stack's lock on purpose (when its holder is gone)",
		Example: `  stack status bfcm   # says who holds the lock, and whether the holder died
  stack unlock bfcm`,
		Args: exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.runEnv, o.Name = g.env(cmd), args[0]
			return runUnlock(cmd.Context(), o)
		},
	}
}

func runUnlock(ctx context.Context, o *unlockOptions) error {
	e, err := o.Engine(ctx)
	if err != nil {
		return err
	}
	l, err := state.Unlock(ctx, e.Store, o.Name)
	if err != nil {
		return err
	}
	if l == nil {
		// Nothing to unlock: say so plainly when the stack does not exist at all.
		if _, err := e.Status(ctx, o.Name); errors.Is(err, state.ErrNoStack) {
			return err
		}
		fmt.Fprintf(o.ErrOut, "stack %q was not locked\n", o.Name)
		return nil
	}
	fmt.Fprintf(o.ErrOut, "removed the lock of stack %q held by %s running %q since %s ago\n", o.Name, l.Holder(), l.Command, ago(l.Started))
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // "<" stays "<", not \u003c
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// jsonText is a value as compact JSON for people to read: without the HTML
// escapes (\u003c for "<") encoding/json adds by default.
func jsonText(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}
