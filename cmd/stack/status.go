package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stack-tools/stack/engine"
	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/state"
)

// statusOptions are the inputs of `stack status`.
type statusOptions struct {
	runEnv
	Name string
	Step string // "" for the whole stack
}

func newStatusCmd(g *globalOptions) *cobra.Command {
	o := &statusOptions{}
	return &cobra.Command{
		Use:   "status NAME [STEP]",
		Short: "Show a stack's steps, outputs, handlers and logs (from any workstation); with STEP, where the step's time went",
		Example: `  stack status demo
  stack status demo web        # one step, phase by phase
  stack status demo -o json`,
		Args: statusArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.runEnv, o.Name, o.Step = g.env(cmd), args[0], optionalArg(args, 1)
			return runStatus(cmd.Context(), o)
		},
	}
}

// optionalArg is args[i], or "" when not given.
func optionalArg(args []string, i int) string {
	if len(args) > i {
		return args[i]
	}
	return ""
}

func runStatus(ctx context.Context, o *statusOptions) error {
	e, rec, err := o.record(ctx, o.Name)
	if err != nil {
		return err
	}
	if o.Step != "" {
		return printStepStatus(o.Out, o.output(), rec, o.Step)
	}
	lock, _ := e.Lock(ctx, o.Name)
	loc := e.Store.Location("stacks/" + rec.Name + "/stack.json")
	stopped := e.Stopped(ctx, rec)
	if o.JSON {
		return writeJSON(o.Out, struct {
			*state.Record
			Lock      *state.Lease `json:"lock,omitempty"`
			LockState string       `json:"lock_state,omitempty"`
			Location  string       `json:"location"`
			Cost      *state.Cost  `json:"cost,omitempty"`
			// Stopped: applied steps whose process no longer runs, and why.
			Stopped map[string]string `json:"stopped,omitempty"`
		}{rec, lock, lockState(lock), loc, rec.Cost(time.Now()), stopped})
	}
	printStatus(o.Out, rec, lock, loc, stopped)
	return nil
}

// printStatus is `stack status NAME`; stopped names the applied steps whose
// process no longer runs (Engine.Stopped).
func printStatus(w io.Writer, rec *state.Record, lock *state.Lease, loc string, stopped map[string]string) {
	fmt.Fprintf(w, "Stack %s: %s\n", rec.Name, rec.Status)
	profile := rec.Profile
	if profile == "" {
		profile = "(none)"
	}
	fmt.Fprintf(w, "  profile %s · created by %s %s ago · last %q by %s %s ago\n", profile, rec.CreatedBy,
		ago(rec.CreatedAt), rec.Command, rec.UpdatedBy, ago(rec.UpdatedAt))
	fmt.Fprintf(w, "  definition %s · state %s\n", rec.Source, loc)
	printVars(w, rec)
	if line := lockLine(lock); line != "" {
		fmt.Fprintln(w, line)
	}
	if line := expiryAndCost(rec.TTL, rec.ExpiresAt, rec.Cost(time.Now())); line != "" {
		fmt.Fprintf(w, "  %s\n", line)
	}
	fmt.Fprintln(w)
	names := rec.StepOrder()
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tKIND\tSTATUS\tTIME\tAPPLIES")
	for _, n := range names {
		s := rec.Steps[n]
		t := ""
		switch {
		case s.Status == state.StatusRunning && s.StartedAt != nil:
			t = ago(*s.StartedAt) + " so far"
		case s.Seconds > 0:
			t = fmt.Sprintf("%.1fs", s.Seconds)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", n, s.Kind, s.Status, t, s.Applies)
	}
	tw.Flush()
	for _, n := range names {
		printStepDetail(w, n, rec.Steps[n], stopped[n])
	}
	var orphans []stack.Orphan
	for _, n := range names {
		orphans = append(orphans, rec.Steps[n].Orphans...)
	}
	printOrphans(w, orphans)
}

// printOrphans lists the resources interrupted runs left outside the steps'
// states, with their ids and where each is kept.
func printOrphans(w io.Writer, orphans []stack.Orphan) {
	if len(orphans) == 0 {
		return
	}
	fmt.Fprintf(w, "\nOrphans: %d resource(s) an interrupted run created that no step's state knows:\n", len(orphans))
	for _, o := range orphans {
		fmt.Fprintf(w, "  step %s: %s id %s: %s\n", o.Step, o.Address, o.ID, o.Where())
	}
}

// printStepDetail is a step's part of `stack status`: whether the process it
// left still runs (stopped says why not), what it is doing, its outputs,
// handlers, phases and log.
func printStepDetail(w io.Writer, name string, s *state.StepState, stopped string) {
	fmt.Fprintf(w, "\n%s (%s)\n", name, s.Status)
	if stopped != "" {
		fmt.Fprintf(w, "  stopped: %s; `stack up` starts it again\n", stopped)
	}
	if s.Progress != "" {
		fmt.Fprintf(w, "  now: %s\n", s.Progress)
	}
	if s.Process != nil {
		fmt.Fprintf(w, "  process: %s\n", s.Process)
	}
	if s.Error != "" {
		fmt.Fprintf(w, "  error: %s\n", s.Error)
	}
	if s.ModuleRevision != "" {
		fmt.Fprintf(w, "  module commit: %s\n", s.ModuleRevision)
	}
	for _, k := range sortedOutputNames(s.Outputs) {
		fmt.Fprintf(w, "  output %s = %s\n", k, outputText(s.Outputs[k]))
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

// outputText is an output's value for people: never a sensitive one.
func outputText(o stack.Output) string {
	if o.Sensitive {
		return "(sensitive)"
	}
	if f, ok := o.Value.(float64); ok {
		return figure(f)
	}
	return jsonText(o.Value)
}

// figure is a number for people: whole numbers as they are, others rounded
// to two decimals, or four significant digits below 1 (a ratio such as
// 0.9987), never 100.20551255455693.
func figure(f float64) string {
	switch {
	case f == math.Trunc(f) && math.Abs(f) < 1e15:
		return strconv.FormatFloat(f, 'f', 0, 64)
	case math.Abs(f) >= 1:
		return strconv.FormatFloat(round(f, 2), 'f', -1, 64)
	}
	return strconv.FormatFloat(f, 'g', 4, 64)
}

func sortedOutputNames(o stack.Outputs) []string { return slices.Sorted(maps.Keys(o)) }

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

// outputsOptions are the inputs of `stack outputs`.
type outputsOptions struct {
	runEnv
	Name string
	Step string // "" for every step
}

func newOutputsCmd(g *globalOptions) *cobra.Command {
	o := &outputsOptions{}
	return &cobra.Command{
		Use:   "outputs NAME [STEP]",
		Short: "Show a stack's outputs (sensitive values are never shown)",
		Example: `  stack outputs demo
  stack outputs demo web -o json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return &usageError{fmt.Errorf("outputs takes NAME and optionally STEP; see `stack outputs --help`")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.runEnv, o.Name, o.Step = g.env(cmd), args[0], optionalArg(args, 1)
			return runOutputs(cmd.Context(), o)
		},
	}
}

func runOutputs(ctx context.Context, o *outputsOptions) error {
	_, rec, err := o.record(ctx, o.Name)
	if err != nil {
		return err
	}
	if o.Step != "" {
		s, ok := rec.Steps[o.Step]
		if !ok {
			return &usageError{fmt.Errorf("stack %q has no step %q", o.Name, o.Step)}
		}
		if o.JSON {
			return writeJSON(o.Out, s.Outputs)
		}
	}
	if o.JSON {
		all := map[string]stack.Outputs{}
		for n, s := range rec.Steps {
			all[n] = s.Outputs
		}
		return writeJSON(o.Out, all)
	}
	for _, n := range rec.StepOrder() {
		if o.Step != "" && n != o.Step {
			continue
		}
		outs := rec.Steps[n].Outputs
		for _, k := range sortedOutputNames(outs) {
			fmt.Fprintf(o.Out, "%s.%s = %s\n", n, k, outputText(outs[k]))
		}
	}
	return nil
}

// record opens the engine and reads stack name's record.
func (env runEnv) record(ctx context.Context, name string) (*engine.Engine, *state.Record, error) {
	e, err := env.Engine(ctx)
	if err != nil {
		return nil, nil, err
	}
	rec, err := e.Status(ctx, name)
	return e, rec, err
}
