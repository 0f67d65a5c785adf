package main

import (
	"github.com/spf13/cobra"

	"github.com/stack-tools/stack/steps/generator"
)

// newGeneratorRunCmd is `stack generator-run FILE`, hidden: the process a
// generator step with "duration": "forever" starts on `up` and `down` stops
// with SIGTERM (steps/generator/persistent.go).
func newGeneratorRunCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "generator-run FILE",
		Short:   "Run a persistent generator step (started by `stack up`, stopped by `stack down`)",
		Hidden:  true,
		Example: "  stack generator-run RUN.json   # stack up starts it for a generator step with \"duration\": \"forever\"; stack down stops it",
		Args:    exactArgs(1, "FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			k := generator.New()
			k.ZooKeeper = g.zookeeper
			k.OpenStore = openStore // the spec names the store
			return k.RunPersistent(cmd.Context(), args[0], cmd.ErrOrStderr())
		},
	}
}
