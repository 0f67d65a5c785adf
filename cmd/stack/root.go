package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/stack-tools/stack/engine"
)

// globalOptions are the flags every command shares.
type globalOptions struct {
	state     string
	cacheDir  string
	output    string
	zookeeper string
	// verbose: plain progress also shows what each step's tool prints (-v).
	verbose bool
}

func newRootCmd() *cobra.Command {
	g := &globalOptions{}
	root := &cobra.Command{
		Use:   "stack",
		Short: "Stand up synthetic environments, drive load at them, tear them down",
		Long: `stack brings up a stack of steps (Terraform modules, load generators) defined in
JSON, keeps its state in a shared store so any workstation can pick it up, and
tears it down again.

Start with the demo: stack up stacks/demo.json, then stack status demo.`,
		Example: `  stack up stacks/demo.json
  stack status demo
  stack down demo
  source <(stack completion bash)   # complete stack names, steps and flag values`,
		Version:       version(),
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if g.output != "text" && g.output != "json" {
				return &usageError{fmt.Errorf("--output %q: use text or json", g.output)}
			}
			return nil
		},
	}
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &usageError{fmt.Errorf("%w (see `%s --help`)", err, cmd.CommandPath())}
	})
	pf := root.PersistentFlags()
	pf.StringVar(&g.state, "state", os.Getenv("STACK_STATE"), "where stack state lives: a directory or s3://BUCKET/PREFIX (env STACK_STATE; default a per-user directory)")
	pf.StringVar(&g.cacheDir, "cache-dir", os.Getenv("STACK_CACHE"), "this workstation's scratch space for working copies and plugins (env STACK_CACHE)")
	pf.StringVarP(&g.output, "output", "o", "text", "output format: text or json")
	pf.StringVar(&g.zookeeper, "zookeeper", os.Getenv("STACK_ZOOKEEPER"), "ZooKeeper hosts (host:port,...) for the zookeeper handler and load fleets (env STACK_ZOOKEEPER)")
	pf.BoolVarP(&g.verbose, "verbose", "v", false, "without a terminal: also print what each step's tool prints (Terraform's lines, load windows); the step's log always has them")

	root.AddCommand(
		newUpCmd(g),
		newDownCmd(g),
		newRerunCmd(g),
		newStatusCmd(g),
		newListCmd(g),
		newOutputsCmd(g),
		newValidateCmd(g),
		newUnlockCmd(g),
		newLoadCmd(g),
		newLoadWorkerCmd(g),
		newGeneratorRunCmd(g),
		newDumpsterCmd(),
		newTraceCmd(g),
		newPlanCmd(g),
		newGraphCmd(g),
		newReapCmd(g),
		newReportCmd(g),
	)
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	addBuiltinExamples(root)
	registerCompletions(root, g)
	return root
}

func (g *globalOptions) cache() string {
	if g.cacheDir != "" {
		return g.cacheDir
	}
	d, err := os.UserCacheDir()
	if err != nil {
		d = os.TempDir()
	}
	return filepath.Join(d, "stack")
}

// engine opens the store and builds an engine with every kind registered.
func (g *globalOptions) engine(ctx context.Context) (*engine.Engine, error) {
	st, err := openStore(ctx, g.state)
	if err != nil {
		return nil, err
	}
	e := &engine.Engine{Store: st, Registry: newRegistry(g), CacheDir: g.cache()}
	if v := os.Getenv("STACK_LEASE_TTL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return nil, &usageError{fmt.Errorf("STACK_LEASE_TTL=%q: %w (use a Go duration such as 30s)", v, err)}
		}
		e.LeaseTTL = d
	}
	return e, nil
}

// addBuiltinExamples gives cobra's own commands (help, completion and its
// shells) examples like every other command.
func addBuiltinExamples(root *cobra.Command) {
	for _, c := range root.Commands() {
		switch c.Name() {
		case "help":
			c.Example = "  stack help up\n  stack up --help"
		case "completion":
			c.Example = "  source <(stack completion bash)\n  stack completion zsh > \"${fpath[1]}/_stack\""
			for _, sh := range c.Commands() {
				sh.Example = fmt.Sprintf("  stack completion %s --help   # where to put the script for %s", sh.Name(), sh.Name())
			}
		}
	}
}
