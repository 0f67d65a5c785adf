package main

import (
	"context"
	"fmt"
	"io"
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
		Short: "Print the step graph as Graphviz dot, Mermaid or JSON, with status colours for a stack",
		Long: `Print the steps and their dependencies (from "after" and ${steps...} references),
with the profile applied. Given a definition FILE, the graph is the definition's;
given the NAME of a stack, it is the stack's stored definition under its profile,
each step coloured by its status (applied green, running yellow, failed red,
pending grey). With -o json it prints the steps, their dependencies and statuses
as JSON instead.`,
		Example: `  stack graph stacks/demo.json --profile production | dot -Tsvg > demo.svg
  stack graph bfcm --format mermaid        # paste into a Markdown file
  stack graph bfcm -o json`,
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
		def, err := loadDefinition(o.Target)
		if err != nil {
			return err
		}
		e := &engine.Engine{Registry: o.Registry(), CacheDir: o.CacheDir}
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
	if o.JSON {
		return writeGraphJSON(o.Out, plan, status)
	}
	return WriteGraph(o.Out, plan, o.Format, status)
}

// writeGraphJSON is graph -o json: the steps in order, each with its kind,
// the steps it depends on, and for a stack its status.
func writeGraphJSON(w io.Writer, plan *definition.Graph, status map[string]string) error {
	type node struct {
		Name   string   `json:"name"`
		Kind   string   `json:"kind"`
		After  []string `json:"after"`
		Status string   `json:"status,omitempty"`
	}
	nodes := []node{}
	for _, s := range plan.Order() {
		n := node{Name: s.Name, Kind: s.Kind, After: append([]string{}, s.Deps...)}
		if status != nil {
			n.Status = status[s.Name]
			if n.Status == "" {
				n.Status = state.StatusPending
			}
		}
		nodes = append(nodes, n)
	}
	return writeJSON(w, map[string]any{"name": plan.Def.Name, "profile": plan.Profile, "steps": nodes})
}
