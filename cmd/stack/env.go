package main

import (
	"context"
	"io"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/stack-tools/stack/engine"
	"github.com/stack-tools/stack/stack"
)

// runEnv is what a command's run function needs besides its own options:
// where to write, in which format, and how to reach the store and the step
// kinds (the role of cli/cli's Factory and IOStreams). The cobra command fills
// it (globalOptions.env); tests fill it directly.
type runEnv struct {
	Out, ErrOut io.Writer
	JSON        bool // --output json
	// Progress shows engine events while the engine works: a live table on a
	// terminal, plain lines otherwise, JSON lines with JSON. nil shows none.
	Progress io.Writer
	// Verbose (-v): plain progress also shows what each step's tool prints.
	Verbose  bool
	Engine   func(context.Context) (*engine.Engine, error)
	Registry func() *stack.Registry
	// CacheDir is this workstation's cache, for commands that need no store
	// (validate fetches remote modules there).
	CacheDir string
}

// env is the runEnv of cmd: results on stdout, messages and progress on stderr.
func (g *globalOptions) env(cmd *cobra.Command) runEnv {
	return runEnv{Out: cmd.OutOrStdout(), ErrOut: cmd.ErrOrStderr(), JSON: g.output == "json", Progress: cmd.ErrOrStderr(), Verbose: g.verbose,
		Engine: g.engine, Registry: func() *stack.Registry { return newRegistry(g) }, CacheDir: g.cache()}
}

// mutatingEnv is env for commands that change a stack: their JSON event
// lines are their machine-readable output, so they go to stdout.
func (g *globalOptions) mutatingEnv(cmd *cobra.Command) runEnv {
	env := g.env(cmd)
	if env.JSON {
		env.Progress = env.Out
	}
	return env
}

func (env *runEnv) output() string {
	if env.JSON {
		return "json"
	}
	return "text"
}

// withEngine opens the engine and runs fn showing its events. The display
// ends before withEngine returns, so what the command prints next is not
// drawn over by the live table.
func (env *runEnv) withEngine(ctx context.Context, fn func(e *engine.Engine) error) error {
	e, err := env.Engine(ctx)
	if err != nil {
		return err
	}
	if env.Progress != nil {
		v := newProgress(env.Progress, env.output(), env.Verbose)
		defer v.close()
		e.Events = v.event
	}
	return fn(e)
}

// addLockTimeout adds --lock-timeout, which waits for the holder of lock.
func addLockTimeout(f *pflag.FlagSet, d *time.Duration, lock string) {
	f.DurationVar(d, "lock-timeout", 0, "wait this long for another command holding "+lock+", e.g. 10m (default 0: fail at once, naming the holder)")
}

// lockOptions are the flags of commands that change stacks under their lock.
type lockOptions struct {
	LockTimeout time.Duration // wait this long for another holder; 0 fails at once
	Parallelism int           // steps at once; 0 is the engine's default
}

// mutate runs fn, a change to a stack, with the engine's lock and
// parallelism set from l and its progress shown.
func (env *runEnv) mutate(ctx context.Context, l lockOptions, fn func(e *engine.Engine) error) error {
	return env.withEngine(ctx, func(e *engine.Engine) error {
		e.LockTimeout, e.Parallelism = l.LockTimeout, l.Parallelism
		return fn(e)
	})
}
