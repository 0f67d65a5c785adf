package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stack-tools/stack/stack"
)

type upOptions struct {
	name        string
	profile     string
	only, skip  []string
	prune       bool
	parallelism int
	lockTimeout time.Duration
	ttl         string
	refresh     bool
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
			def, err := stack.LoadDefinition(args[0])
			if err != nil {
				return err
			}
			if o.parallelism < 1 {
				return &usageError{fmt.Errorf("--parallelism %d: use 1 or more", o.parallelism)}
			}
			name := o.name
			if name == "" {
				name = def.Name
			}
			ttl, err := ttlFlag(cmd, o.ttl)
			if err != nil {
				return err
			}
			start := time.Now()
			err = g.mutate(cmd, o.lockTimeout, o.parallelism, func(e *stack.Engine) error {
				return e.Up(cmd.Context(), stack.UpOptions{Def: def, Name: name, Profile: o.profile, Only: o.only, Skip: o.skip, Prune: o.prune,
					ProfileSet: cmd.Flags().Changed("profile"), TTL: ttl, Refresh: o.refresh})
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "stack %q is up (%s). See `stack status %s`.\n", name, time.Since(start).Round(10*time.Millisecond), name)
			printExpiry(cmd, g, name)
			printLoadReports(cmd, g, name)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.name, "name", "", "stack name (default: the definition's name)")
	f.StringVar(&o.profile, "profile", "", "profile to apply to each step, e.g. minimal or production (default: the stack's own, for an existing stack)")
	f.StringVar(&o.ttl, "ttl", "", "destroy the stack with `stack reap` once it is unused this long, e.g. 8h (default: the definition's \"ttl\", else the stack's; 0: never)")
	f.StringSliceVar(&o.only, "only", nil, "run only these steps (comma-separated)")
	f.StringSliceVar(&o.skip, "skip", nil, "leave these steps out (comma-separated)")
	f.BoolVar(&o.refresh, "refresh", false, "also run terraform plan for unchanged steps and apply again those whose infrastructure drifted (see `stack plan`)")
	f.BoolVar(&o.prune, "prune", false, "destroy applied steps the definition no longer has, once the rest is up")
	f.IntVar(&o.parallelism, "parallelism", 4, "how many steps may run at once; 1 follows the definition's order")
	f.DurationVar(&o.lockTimeout, "lock-timeout", 0, "wait this long for another command holding the stack's lock (default: fail at once)")
	f.StringVar(&g.metricsAddr, "metrics-addr", "", "generator steps serve live Prometheus /metrics here while they run (a step's \"metrics_addr\" wins)")
	return cmd
}

// printLoadReports ends `up` with what the load steps found and where their
// reports are.
func printLoadReports(cmd *cobra.Command, g *globalOptions, name string) {
	e, err := g.engine(cmd.Context())
	if err != nil {
		return
	}
	rec, err := e.Status(cmd.Context(), name)
	if err != nil {
		return
	}
	for _, n := range stepOrder(rec) {
		o := rec.Steps[n].Outputs
		if _, ok := o["report_html"]; !ok {
			continue
		}
		val := func(k string) any { return o[k].Value }
		fmt.Fprintf(cmd.ErrOrStderr(), "load step %s: %v, %v requests at %.1f/s, success %.2f%%, p99 %vms, %v late\n  report: %v\n",
			n, val("verdict"), val("sent"), val("rate"), 100*toFloat(val("success_ratio")), val("p99_ms"), val("late"), val("report_html"))
	}
}

func toFloat(v any) float64 {
	f, _ := v.(float64)
	return f
}

// mutate runs a command that changes a stack, showing its progress.
func (g *globalOptions) mutate(cmd *cobra.Command, lockTimeout time.Duration, parallelism int, fn func(e *stack.Engine) error) error {
	e, err := g.engine(cmd.Context())
	if err != nil {
		return err
	}
	e.LockTimeout, e.Parallelism = lockTimeout, parallelism
	// JSON event lines are the command's machine-readable output: stdout.
	out := cmd.ErrOrStderr()
	if g.output == "json" {
		out = cmd.OutOrStdout()
	}
	v := newProgress(out, g.output)
	e.Events = v.event
	err = fn(e)
	v.close()
	return err
}

func exactArgs(n int, names string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return &usageError{fmt.Errorf("%s takes %s (got %d arguments); see `%s --help`", cmd.Name(), names, len(args), cmd.CommandPath())}
		}
		return nil
	}
}

func newDownCmd(g *globalOptions) *cobra.Command {
	var lockTimeout time.Duration
	var parallelism int
	cmd := &cobra.Command{
		Use:   "down NAME",
		Short: "Tear a stack down and delete its state",
		Args:  exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			err := g.mutate(cmd, lockTimeout, parallelism, func(e *stack.Engine) error {
				return e.Down(cmd.Context(), args[0])
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "stack %q is down and its state deleted.\n", args[0])
			return nil
		},
	}
	cmd.Flags().DurationVar(&lockTimeout, "lock-timeout", 0, "wait this long for another command holding the stack's lock")
	cmd.Flags().IntVar(&parallelism, "parallelism", 4, "how many steps may be torn down at once")
	return cmd
}

func newRerunCmd(g *globalOptions) *cobra.Command {
	var lockTimeout time.Duration
	var replace bool
	cmd := &cobra.Command{
		Use:   "rerun-step NAME STEP",
		Short: "Re-apply one step and its handlers, then the dependents whose inputs changed",
		Args:  exactArgs(2, "NAME and STEP"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.mutate(cmd, lockTimeout, 0, func(e *stack.Engine) error {
				return e.RerunStep(cmd.Context(), args[0], args[1], stack.RerunOptions{Replace: replace})
			})
		},
	}
	cmd.Flags().DurationVar(&lockTimeout, "lock-timeout", 0, "wait this long for another command holding the stack's lock")
	cmd.Flags().BoolVar(&replace, "replace", false, "let handlers replace what they made (e.g. restore a different snapshot) instead of adopting it")
	return cmd
}

func newStatusCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "status NAME [STEP]",
		Short: "Show a stack's steps, outputs, handlers and logs (from any workstation); with STEP, where the step's time went",
		Args:  statusArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.engine(cmd.Context())
			if err != nil {
				return err
			}
			rec, err := e.Status(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if len(args) == 2 {
				return printStepStatus(cmd.OutOrStdout(), g.output, rec, args[1])
			}
			lock, _ := e.Lock(cmd.Context(), args[0])
			if g.output == "json" {
				return writeJSON(cmd.OutOrStdout(), struct {
					*stack.Record
					Lock      *stack.Lease `json:"lock,omitempty"`
					LockState string       `json:"lock_state,omitempty"`
					Location  string       `json:"location"`
					Cost      *stack.Cost  `json:"cost,omitempty"`
				}{rec, lock, lockState(lock), e.Store.Location("stacks/" + rec.Name + "/stack.json"), rec.Cost(time.Now())})
			}
			printStatus(cmd.OutOrStdout(), rec, lock, e.Store.Location("stacks/"+rec.Name+"/stack.json"))
			return nil
		},
	}
}

func printStatus(w io.Writer, rec *stack.Record, lock *stack.Lease, loc string) {
	fmt.Fprintf(w, "Stack %s: %s\n", rec.Name, rec.Status)
	profile := rec.Profile
	if profile == "" {
		profile = "(none)"
	}
	fmt.Fprintf(w, "  profile %s · created by %s %s ago · last %q by %s %s ago\n", profile, rec.CreatedBy,
		ago(rec.CreatedAt), rec.Command, rec.UpdatedBy, ago(rec.UpdatedAt))
	fmt.Fprintf(w, "  definition %s · state %s\n", rec.Source, loc)
	if line := lockLine(lock); line != "" {
		fmt.Fprintln(w, line)
	}
	if line := expiryAndCost(rec.TTL, rec.ExpiresAt, rec.Cost(time.Now())); line != "" {
		fmt.Fprintf(w, "  %s\n", line)
	}
	fmt.Fprintln(w)
	names := stepOrder(rec)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tKIND\tSTATUS\tTIME\tAPPLIES")
	for _, n := range names {
		s := rec.Steps[n]
		t := ""
		switch {
		case s.Status == stack.StatusRunning && s.StartedAt != nil:
			t = ago(*s.StartedAt) + " so far"
		case s.Seconds > 0:
			t = fmt.Sprintf("%.1fs", s.Seconds)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", n, s.Kind, s.Status, t, s.Applies)
	}
	tw.Flush()
	for _, n := range names {
		s := rec.Steps[n]
		fmt.Fprintf(w, "\n%s (%s)\n", n, s.Status)
		if s.Progress != "" {
			fmt.Fprintf(w, "  now: %s\n", s.Progress)
		}
		if s.Process != nil {
			fmt.Fprintf(w, "  process: %s\n", s.Process)
		}
		if s.Error != "" {
			fmt.Fprintf(w, "  error: %s\n", s.Error)
		}
		for _, k := range sortedOutputNames(s.Outputs) {
			o := s.Outputs[k]
			if o.Sensitive {
				fmt.Fprintf(w, "  output %s = (sensitive)\n", k)
				continue
			}
			fmt.Fprintf(w, "  output %s = %s\n", k, jsonText(o.Value))
		}
		for _, h := range s.Handlers {
			line := fmt.Sprintf("  handler %s: %s", h.Handler, h.Status)
			if h.Reason != "" {
				line += " — " + h.Reason
			}
			if h.Error != "" {
				line += " — " + h.Error
			}
			fmt.Fprintln(w, line)
		}
		if p := phaseLine(s); p != "" {
			fmt.Fprintf(w, "  phases: %s\n", p)
		}
		if s.Log != "" {
			fmt.Fprintf(w, "  log: %s\n", s.Log)
		}
	}
}

func stepOrder(rec *stack.Record) []string {
	// The stored definition gives the order steps were written in.
	var def struct {
		Steps []struct {
			Name string `json:"name"`
		} `json:"steps"`
	}
	_ = json.Unmarshal(rec.Definition, &def)
	var out []string
	seen := map[string]bool{}
	for _, s := range def.Steps {
		if _, ok := rec.Steps[s.Name]; ok && !seen[s.Name] {
			out = append(out, s.Name)
			seen[s.Name] = true
		}
	}
	var rest []string
	for n := range rec.Steps {
		if !seen[n] {
			rest = append(rest, n)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

func sortedOutputNames(o stack.Outputs) []string {
	out := make([]string, 0, len(o))
	for k := range o {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func ago(t time.Time) string {
	if t.IsZero() {
		return "?"
	}
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < time.Hour:
		return d.Round(time.Minute).String()
	default:
		return d.Round(time.Hour).String()
	}
}

func newListCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List every stack in the store with owner, profile, age, state, expiry and cost",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.engine(cmd.Context())
			if err != nil {
				return err
			}
			list, err := e.List(cmd.Context())
			if err != nil {
				return err
			}
			if g.output == "json" {
				if list == nil {
					list = []stack.Summary{}
				}
				return writeJSON(cmd.OutOrStdout(), list)
			}
			if len(list) == 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "no stacks in %s\n", e.Store)
				return nil
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tOWNER\tPROFILE\tAGE\tSTATUS\tSTEPS\tEXPIRES\tCOST\tLOCKED BY")
			for _, s := range list {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d/%d applied\t%s\t%s\t%s\n", s.Name, s.Owner, s.Profile, ago(s.CreatedAt), s.Status, s.Applied, s.Steps,
					expiry(s.ExpiresAt), costText(s.Cost), s.Locked)
			}
			return tw.Flush()
		},
	}
}

func newOutputsCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "outputs NAME [STEP]",
		Short: "Show a stack's outputs (sensitive values are never shown)",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return &usageError{fmt.Errorf("outputs takes NAME and optionally STEP; see `stack outputs --help`")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.engine(cmd.Context())
			if err != nil {
				return err
			}
			rec, err := e.Status(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			all := map[string]stack.Outputs{}
			for n, s := range rec.Steps {
				if len(args) == 2 && n != args[1] {
					continue
				}
				all[n] = s.Outputs
			}
			if len(args) == 2 {
				if _, ok := rec.Steps[args[1]]; !ok {
					return &usageError{fmt.Errorf("stack %q has no step %q", args[0], args[1])}
				}
				if g.output == "json" {
					return writeJSON(cmd.OutOrStdout(), all[args[1]])
				}
			}
			if g.output == "json" {
				return writeJSON(cmd.OutOrStdout(), all)
			}
			for _, n := range stepOrder(rec) {
				outs, ok := all[n]
				if !ok {
					continue
				}
				for _, k := range sortedOutputNames(outs) {
					o := outs[k]
					val := "(sensitive)"
					if !o.Sensitive {
						val = jsonText(o.Value)
					}
					fmt.Fprintf(cmd.OutOrStdout(), "%s.%s = %s\n", n, k, val)
				}
			}
			return nil
		},
	}
}

func newValidateCmd(g *globalOptions) *cobra.Command {
	var profile string
	var only, skip []string
	cmd := &cobra.Command{
		Use:   "validate FILE",
		Short: "Check a definition completely without running anything",
		Args:  exactArgs(1, "FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			def, err := stack.LoadDefinition(args[0])
			if err != nil {
				return err
			}
			e := &stack.Engine{Registry: newRegistry(g)}
			plan, err := e.Validate(def, stack.PlanOptions{Profile: profile, Only: only, Skip: skip})
			if err != nil {
				return err
			}
			order := plan.Order()
			if g.output == "json" {
				type step struct {
					Name string   `json:"name"`
					Kind string   `json:"kind"`
					Deps []string `json:"deps"`
				}
				var steps []step
				for _, s := range order {
					steps = append(steps, step{s.Name, s.Kind, append([]string{}, s.Deps...)})
				}
				return writeJSON(cmd.OutOrStdout(), map[string]any{"valid": true, "name": def.Name, "profile": profile, "steps": steps})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: stack %q is valid (%d steps", args[0], def.Name, len(order))
			if profile != "" {
				fmt.Fprintf(cmd.OutOrStdout(), ", profile %s", profile)
			}
			fmt.Fprintln(cmd.OutOrStdout(), ")")
			for _, s := range order {
				deps := ""
				if len(s.Deps) > 0 {
					deps = " after " + strings.Join(s.Deps, ", ")
				}
				fmt.Fprintf(cmd.OutOrStdout(), "  %s (%s)%s\n", s.Name, s.Kind, deps)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&profile, "profile", "", "validate under this profile")
	cmd.Flags().StringSliceVar(&only, "only", nil, "check a selection of steps")
	cmd.Flags().StringSliceVar(&skip, "skip", nil, "check a selection without these steps")
	return cmd
}

func newUnlockCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "unlock NAME",
		Short: "Break a stack's lock on purpose (when its holder is gone)",
		Args:  exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.engine(cmd.Context())
			if err != nil {
				return err
			}
			l, err := stack.Unlock(cmd.Context(), e.Store, args[0])
			if err != nil {
				return err
			}
			if l == nil {
				// Nothing to unlock: say so plainly when the stack does not exist at all.
				if _, err := e.Status(cmd.Context(), args[0]); errors.Is(err, stack.ErrNoStack) {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "stack %q was not locked\n", args[0])
				return nil
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "removed the lock of stack %q held by %s running %q since %s ago\n", args[0], l.Holder(), l.Command, ago(l.Started))
			return nil
		},
	}
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
