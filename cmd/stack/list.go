package main

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/stack-tools/stack/engine"
)

// listOptions are the inputs of `stack list`.
type listOptions struct {
	runEnv
	engine.ListFilter
	// OwnerSet and ProfileSet say the flag was given, so that an empty value
	// is refused instead of quietly listing everything.
	OwnerSet, ProfileSet bool
}

func newListCmd(g *globalOptions) *cobra.Command {
	o := &listOptions{}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List every stack in the store with owner, profile, age, state, expiry and cost",
		Long: `List the stacks in the store, sorted by name. The filters combine: only the
stacks that pass every one given are shown.`,
		Example: `  stack list --owner alice            # alice's stacks, from any host
  stack list --expired                # what stack reap would destroy
  stack list --locked --output json   # stacks a command is changing now`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.runEnv = g.env(cmd)
			o.OwnerSet, o.ProfileSet = cmd.Flags().Changed("owner"), cmd.Flags().Changed("profile")
			return runList(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Owner, "owner", "", "only stacks created by this user (alice) or user@host")
	f.StringVar(&o.Profile, "profile", "", "only stacks brought up with this profile")
	f.BoolVar(&o.Expired, "expired", false, "only stacks whose TTL ran out (those that stack reap destroys)")
	f.BoolVar(&o.Locked, "locked", false, "only stacks a command holds the lock of now")
	return cmd
}

// lessGC lets the heap grow further between collections while a command reads
// every stack's record: each request allocates in the AWS SDK, and with 1,000
// stacks this cut list's CPU time by 10-15% (bench/store), on a machine where
// CPU, not latency, is what list waits for. The heap stays small (a few MB of
// records). It returns the undo.
func lessGC() func() {
	old := debug.SetGCPercent(400)
	return func() { debug.SetGCPercent(old) }
}

// check refuses flags that were given but say nothing.
func (o *listOptions) check() error {
	if o.OwnerSet && strings.TrimSpace(o.Owner) == "" {
		return &usageError{fmt.Errorf("--owner is empty: give a user (alice) or user@host, or leave the flag out to list every owner")}
	}
	if o.ProfileSet && strings.TrimSpace(o.Profile) == "" {
		return &usageError{fmt.Errorf("--profile is empty: give a profile name, or leave the flag out to list every profile")}
	}
	return nil
}

func runList(ctx context.Context, o *listOptions) error {
	if err := o.check(); err != nil {
		return err
	}
	defer lessGC()()
	e, err := o.Engine(ctx)
	if err != nil {
		return err
	}
	list, err := e.ListMatching(ctx, o.ListFilter)
	if err != nil {
		return err
	}
	if o.JSON {
		if list == nil {
			list = []engine.Summary{}
		}
		return writeJSON(o.Out, list)
	}
	if len(list) == 0 {
		if o.ListFilter != (engine.ListFilter{}) {
			fmt.Fprintf(o.ErrOut, "no stacks in %s match the filters given\n", e.Store)
			return nil
		}
		fmt.Fprintf(o.ErrOut, "no stacks in %s\n", e.Store)
		return nil
	}
	tw := tabwriter.NewWriter(o.Out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tOWNER\tPROFILE\tAGE\tSTATUS\tSTEPS\tEXPIRES\tCOST\tLOCKED BY")
	for _, s := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d/%d applied\t%s\t%s\t%s\n", s.Name, s.Owner, s.Profile, ago(s.CreatedAt), s.Status, s.Applied, s.Steps,
			expiry(s.ExpiresAt), costText(s.Cost), s.Locked)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range list {
		if s.Error != "" {
			fmt.Fprintf(o.ErrOut, "stack %s: %s\n", s.Name, s.Error)
		}
	}
	return nil
}
