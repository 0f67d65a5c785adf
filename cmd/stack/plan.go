package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/stack-tools/stack/definition"
	"github.com/stack-tools/stack/engine"
)

// planOptions are the inputs of `stack plan`.
type planOptions struct {
	runEnv
	varOptions
	Name        string
	File        string // "" compares with the definition stored with the stack
	Profile     string
	ProfileSet  bool
	Parallelism int
}

func newPlanCmd(g *globalOptions) *cobra.Command {
	o := &planOptions{}
	cmd := &cobra.Command{
		Annotations: map[string]string{driftExit: "2"},
		Use:         "plan NAME [FILE]",
		Short:       "Show which steps drifted from their code or their infrastructure (read-only)",
		Long: `For every applied step, compare its fingerprint with the definition (FILE, or the
one stored with the stack) and run terraform plan against its workspace with the
inputs it would get now. Each step is reported as unchanged, code changed (up
would re-apply it; its dependents too), infrastructure drifted (same code, but
the resources differ: up --refresh or rerun-step puts them back), stopped (a
persistent generator run whose process on this workstation died: up starts it
again), error, or not applicable (generators).

For a stack that does not exist yet, plan NAME FILE shows what the first up
would create, step by step; values from upstream outputs are known after apply.

plan changes nothing and takes no lock: it runs while another workstation holds
the stack. Exit status: 0 nothing drifted, 2 something did, 1 a step could not be
checked or the command line or definition is wrong.`,
		Example: `  stack plan bfcm                          # against the definition stored with the stack
  stack plan bfcm stacks/sms-inbound.json  # against the definition you are about to apply
  stack plan bfcm --output json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return &usageError{fmt.Errorf("plan takes NAME and optionally FILE (got %d arguments); see `stack plan --help`", len(args))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.runEnv, o.Name, o.File = g.env(cmd), args[0], optionalArg(args, 1)
			o.ProfileSet = cmd.Flags().Changed("profile")
			return runPlan(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.Profile, "profile", "", "compare under this profile (default: the stack's)")
	cmd.Flags().IntVar(&o.Parallelism, "parallelism", 4, "how many steps to plan at once")
	addVarFlags(cmd.Flags(), &o.varOptions)
	return cmd
}

// runPlan prints the drift report; the error carries exit 2 when something drifted.
func runPlan(ctx context.Context, o *planOptions) error {
	if o.Parallelism < 1 {
		return &usageError{fmt.Errorf("--parallelism %d: use 1 or more", o.Parallelism)}
	}
	var def *definition.Definition
	var vars map[string]definition.VarSetting
	if o.File != "" {
		var err error
		if def, err = loadDefinition(o.File); err != nil {
			return err
		}
		if vars, err = o.settings(def); err != nil {
			return err
		}
		if done, err := planNewStack(ctx, o, def, vars); done {
			return err
		}
	}
	var rep *engine.DriftReport
	err := o.withEngine(ctx, func(e *engine.Engine) error {
		e.Parallelism = o.Parallelism
		var err error
		rep, err = e.Drift(ctx, engine.DriftOptions{Name: o.Name, Def: def, Profile: o.Profile, ProfileSet: o.ProfileSet, Vars: vars})
		return err
	})
	if err != nil {
		return err
	}
	if o.JSON {
		if err := writeJSON(o.Out, rep); err != nil {
			return err
		}
	} else {
		printDrift(o.Out, rep)
	}
	switch {
	case rep.Errors > 0:
		return &exitError{code: exitFailed, msg: fmt.Sprintf("%d step(s) of stack %q could not be checked; see the errors above and the plan logs", rep.Errors, o.Name)}
	case rep.Drifted:
		return &exitError{code: exitInvalid}
	}
	return nil
}

func printDrift(w io.Writer, rep *engine.DriftReport) {
	profile := rep.Profile
	if profile == "" {
		profile = "(none)"
	}
	fmt.Fprintf(w, "Stack %s, profile %s, compared with %s\n\n", rep.Stack, profile, rep.Definition)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tKIND\tSTATUS\tADD\tCHANGE\tDESTROY\tDETAIL")
	var code, infra, stopped []string
	for _, l := range rep.Steps {
		add, change, destroy := "", "", ""
		var detail []string
		if l.Reason != "" && l.Status != engine.DriftNotApplicable {
			detail = append(detail, l.Reason)
		}
		if l.Plan != nil {
			add, change, destroy = fmt.Sprint(l.Plan.Add), fmt.Sprint(l.Plan.Change), fmt.Sprint(l.Plan.Destroy)
			detail = append(detail, l.Plan.Resources...)
			if l.Plan.Changes && len(l.Plan.Resources) == 0 {
				detail = append(detail, "outputs change")
			}
		}
		if l.Error != "" {
			detail = append(detail, l.Error)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l.Step, l.Kind, l.Status, add, change, destroy, strings.Join(detail, "; "))
		switch l.Status {
		case engine.DriftCodeChanged:
			code = append(code, l.Step)
		case engine.DriftInfrastructure:
			infra = append(infra, l.Step)
		case engine.DriftStopped:
			stopped = append(stopped, l.Step)
		}
	}
	tw.Flush()
	fmt.Fprintf(w, "\n%s\n", rep.Summary())
	if len(code) > 0 {
		fmt.Fprintf(w, "code changed (%s): `stack up` with this definition re-applies them\n", strings.Join(code, ", "))
	}
	for _, s := range infra {
		fmt.Fprintf(w, "infrastructure drifted (%s): `stack up FILE --refresh` or `stack rerun-step %s %s` puts it back as its code says\n", s, rep.Stack, s)
	}
	if len(stopped) > 0 {
		fmt.Fprintf(w, "stopped (%s): `stack up` starts them again\n", strings.Join(stopped, ", "))
	}
	printOrphans(w, rep.Orphans)
}
