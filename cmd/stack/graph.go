package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/stack-tools/stack/definition"
	"github.com/stack-tools/stack/engine"
	"github.com/stack-tools/stack/state"
)

// graphOptions are the inputs of `stack graph`.
type graphOptions struct {
	runEnv
	Target     string // a definition file, or the name of a stack in the store
	Format     string
	Profile    string
	ProfileSet bool
}

func newGraphCmd(g *globalOptions) *cobra.Command {
	o := &graphOptions{}
	cmd := &cobra.Command{
		Use:   "graph FILE|NAME",
		Short: "Print the step graph as Graphviz dot or Mermaid, with status colours for a stack",
		Long: `Print the steps and their dependencies (from "after" and ${steps...} references),
with the profile applied. Given a definition FILE, the graph is the definition's;
given the NAME of a stack, it is the stack's stored definition under its profile,
each step coloured by its status (applied green, running yellow, failed red,
pending grey).`,
		Example: `  stack graph stacks/demo.json --profile production | dot -Tsvg > demo.svg
  stack graph bfcm --format mermaid        # paste into a Markdown file`,
		Args: exactArgs(1, "FILE or NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.runEnv, o.Target = g.env(cmd), args[0]
			o.ProfileSet = cmd.Flags().Changed("profile")
			return runGraph(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.Format, "format", "dot", "dot (Graphviz) or mermaid")
	cmd.Flags().StringVar(&o.Profile, "profile", "", "apply this profile (default: a stack's own; none for a file)")
	return cmd
}

// isDefinitionFile tells a definition file from a stack name: names cannot
// contain dots or slashes, so anything that does, or exists as a file, is a file.
func isDefinitionFile(arg string) bool {
	if strings.ContainsAny(arg, "./\\") {
		return true
	}
	st, err := os.Stat(arg)
	return err == nil && !st.IsDir()
}

func runGraph(ctx context.Context, o *graphOptions) error {
	if o.Format != GraphDOT && o.Format != GraphMermaid {
		return &usageError{fmt.Errorf("--format %q: use dot or mermaid", o.Format)}
	}
	var plan *definition.Graph
	var status map[string]string
	if isDefinitionFile(o.Target) {
		def, err := definition.LoadDefinition(o.Target)
		if err != nil {
			return err
		}
		e := &engine.Engine{Registry: o.Registry()}
		if plan, err = e.Validate(def, definition.GraphOptions{Profile: o.Profile}); err != nil {
			return err
		}
	} else {
		e, err := o.Engine(ctx)
		if err != nil {
			return err
		}
		var rec *state.Record
		if plan, rec, err = e.StoredGraph(ctx, o.Target); err != nil {
			return err
		}
		if o.ProfileSet && o.Profile != rec.Profile {
			// Another profile's graph: validate the stored definition under it.
			if plan, err = e.Validate(plan.Def, definition.GraphOptions{Profile: o.Profile}); err != nil {
				return err
			}
		}
		status = map[string]string{}
		for n, st := range rec.Steps {
			status[n] = st.Status
		}
	}
	return WriteGraph(o.Out, plan, o.Format, status)
}
