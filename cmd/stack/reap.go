package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/stack-tools/stack/engine"
)

// reapOptions are the inputs of `stack reap`.
type reapOptions struct {
	runEnv
	lockOptions
	DryRun bool
	// Stacks is how many expired stacks are torn down at once (--parallelism);
	// each tears down its steps at the engine's default parallelism.
	Stacks int
}

func newReapCmd(g *globalOptions) *cobra.Command {
	o := &reapOptions{}
	cmd := &cobra.Command{
		Use:   "reap",
		Short: "Destroy every stack whose TTL ran out",
		Long: `Destroy every stack in the store whose TTL expired (set with ` + "`up --ttl 8h`" + ` or the
definition's "ttl"; every up and rerun-step extends it). Each stack is torn down
like ` + "`stack down`" + `, under its own lock, --parallelism stacks at a time; a stack
that fails does not stop the others. A summary ends the run; the exit status is 1
if any stack could not be destroyed.
Stacks without a TTL are never reaped.`,
		Example: `  stack reap --dry-run     # list what would be destroyed
  stack reap               # e.g. hourly from cron, with STACK_STATE set`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.runEnv = g.env(cmd)
			return runReap(cmd.Context(), o)
		},
	}
	cmd.Flags().BoolVar(&o.DryRun, "dry-run", false, "only list the expired stacks; change nothing")
	addLockTimeout(cmd.Flags(), &o.LockTimeout, "an expired stack's lock")
	cmd.Flags().IntVar(&o.Stacks, "parallelism", 4, "how many expired stacks are torn down at once (each under its own lock)")
	return cmd
}

func runReap(ctx context.Context, o *reapOptions) error {
	if o.Stacks < 1 {
		return &usageError{fmt.Errorf("--parallelism %d: use 1 or more (how many expired stacks are torn down at once)", o.Stacks)}
	}
	defer lessGC()()
	var results []engine.ReapResult
	err := o.mutate(ctx, o.lockOptions, func(e *engine.Engine) error {
		var err error
		results, err = e.Reap(ctx, engine.ReapOptions{DryRun: o.DryRun, Parallelism: o.Stacks})
		return err
	})
	if err != nil {
		return err
	}
	failed := 0
	for _, r := range results {
		if r.Outcome == engine.ReapFailed {
			failed++
		}
	}
	if o.JSON {
		if results == nil {
			results = []engine.ReapResult{}
		}
		if err := writeJSON(o.Out, results); err != nil {
			return err
		}
	} else {
		printReap(o.Out, o.ErrOut, results, o.DryRun)
	}
	if failed > 0 {
		return &exitError{code: exitFailed, msg: fmt.Sprintf("%d of %d expired stack(s) could not be destroyed; see above, fix the cause and run `stack reap` again", failed, len(results))}
	}
	return nil
}

func printReap(w, errw io.Writer, results []engine.ReapResult, dryRun bool) {
	if len(results) == 0 {
		fmt.Fprintln(errw, "no expired stacks")
		return
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STACK\tOWNER\tPROFILE\tEXPIRED\tOUTCOME")
	counts := map[string]int{}
	for _, r := range results {
		outcome := r.Outcome
		if r.Error != "" {
			outcome += ": " + r.Error
		}
		if r.Outcome == engine.ReapKept {
			outcome += " (used again since; its TTL was extended)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s ago\t%s\n", r.Stack, r.Owner, r.Profile, ago(r.ExpiredAt), outcome)
		counts[r.Outcome]++
	}
	tw.Flush()
	if dryRun {
		fmt.Fprintf(w, "\n%d expired stack(s) would be destroyed (dry run: nothing changed)\n", len(results))
		return
	}
	fmt.Fprintf(w, "\n%d expired stack(s): %d destroyed, %d failed, %d kept\n", len(results), counts[engine.ReapDestroyed], counts[engine.ReapFailed], counts[engine.ReapKept])
}
