package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/stack-tools/stack/load"
	"github.com/stack-tools/stack/load/fleet"
	"github.com/stack-tools/stack/load/live"
	"github.com/stack-tools/stack/steps/generator"
)

// workerOptions are the inputs of `stack load-worker`.
type workerOptions struct {
	runEnv
	Group, MetricsAddr string
	ZooKeeper          string
	SessionTimeout     time.Duration
	AuthToken          string // STACK_AUTH_TOKEN: signs the messages of signed scenarios
}

// newLoadWorkerCmd runs one worker of a generator fleet.
func newLoadWorkerCmd(g *globalOptions) *cobra.Command {
	o := &workerOptions{}
	cmd := &cobra.Command{
		Use:   "load-worker --zookeeper HOST:PORT --group NAME",
		Short: "Join a fleet of load generators coordinated through ZooKeeper and run its shares of load",
		Long: `Register in a group of load generators (an ephemeral sequential znode under
/stack/load/GROUP/workers) and run, until stopped, each share of load a
coordinator gives this worker: ` + "`stack load`" + ` with --workers-count, or a generator
step with "workers": {"group": ..., "count": N}. The coordinator splits the rate
evenly, starts every worker at one barrier time and merges their histograms
into one report. Signed scenarios need the coordinator's STACK_AUTH_TOKEN.`,
		Example: `  stack load-worker --zookeeper 10.0.3.7:2181 --group bfcm
  STACK_ZOOKEEPER=10.0.3.7:2181 stack load-worker --group bfcm --metrics-addr :9464`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.runEnv, o.ZooKeeper, o.AuthToken = g.env(cmd), g.zookeeper, os.Getenv("STACK_AUTH_TOKEN")
			return runLoadWorker(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Group, "group", "", "the fleet's group name (the coordinator names the same)")
	f.StringVar(&o.MetricsAddr, "metrics-addr", "", "serve Prometheus /metrics here while running (e.g. :9464)")
	f.DurationVar(&o.SessionTimeout, "session-timeout", 6*time.Second, "ZooKeeper session timeout: how soon a dead worker leaves the group")
	return cmd
}

func runLoadWorker(ctx context.Context, o *workerOptions) error {
	if o.Group == "" {
		return &usageError{fmt.Errorf("--group is required: the name the coordinator gives in \"workers\": {\"group\": ...}")}
	}
	if o.ZooKeeper == "" {
		return &usageError{fmt.Errorf("--zookeeper is required (or STACK_ZOOKEEPER): the ZooKeeper the coordinator uses, HOST:PORT")}
	}
	w := &fleet.Worker{Conn: fleet.Conn{Servers: o.ZooKeeper, Group: o.Group, SessionTimeout: o.SessionTimeout, Log: o.ErrOut},
		AuthToken: o.AuthToken, Out: o.Out}
	if o.MetricsAddr != "" {
		m := live.New()
		addr, err := m.Serve(ctx, o.MetricsAddr)
		if err != nil {
			return &usageError{err}
		}
		fmt.Fprintf(o.ErrOut, "metrics: http://%s/metrics\n", addr)
		w.Identity.Metrics = addr
		w.Observer = m
	}
	return w.Work(ctx)
}

// drive runs cfg in this process or split among a fleet's workers, with
// live metrics and reloading as the flags say.
func (o *loadOptions) drive(ctx context.Context, cfg load.Config) (*load.Report, error) {
	d := generator.Drive{MetricsAddr: o.Run.MetricsAddr, Reload: time.Duration(o.Run.Reload), Scenario: o.Run.Scenario,
		Count: o.WorkersCount, Servers: o.ZooKeeper, Group: o.WorkersGroup, Wait: o.WorkersWait,
		Log: o.ErrOut, Progress: func(line string) {}}
	if d.Count > 0 && d.Group == "" {
		return nil, &usageError{fmt.Errorf("--workers-count needs --workers-group: the group the workers joined with `stack load-worker --group`")}
	}
	if d.Count > 0 && d.Servers == "" {
		return nil, &usageError{fmt.Errorf("--workers-count needs --zookeeper (or STACK_ZOOKEEPER): where the workers registered")}
	}
	return d.Run(ctx, cfg)
}

// printShares lists the workers of a fleet run, missing ones first in mind.
func printShares(w io.Writer, rep *load.Report) {
	for _, sh := range rep.Workers {
		state := sh.Verdict
		if sh.Missing {
			state = "MISSING"
		}
		fmt.Fprintf(w, "share %d/%d  %-12s %-20s pid %-7d sent %-9d %s", sh.Part+1, sh.Parts, sh.Name, sh.Host, sh.PID, sh.Sent, state)
		if sh.Reason != "" {
			fmt.Fprintf(w, " (%s)", sh.Reason)
		}
		fmt.Fprintln(w)
	}
}
