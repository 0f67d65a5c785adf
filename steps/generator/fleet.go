package generator

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/stack-tools/stack/load"
	"github.com/stack-tools/stack/load/fleet"
	"github.com/stack-tools/stack/load/live"
	"github.com/stack-tools/stack/load/pace"
	"github.com/stack-tools/stack/load/scenario"
	"github.com/stack-tools/stack/load/scenario/s3scenario"
	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/stacks/scenarios"
)

// Workers splits a generator step's load among a fleet of `stack load-worker`
// processes registered in Group (the generator_fleet module starts them).
type Workers struct {
	Group string `json:"group"`
	Count int    `json:"count"`
	// ZooKeeper is the connect string (default: --zookeeper / STACK_ZOOKEEPER).
	ZooKeeper string `json:"zookeeper,omitempty"`
	// Timeout bounds the wait for Count workers to register (default 5m).
	Timeout pace.Duration `json:"timeout,omitempty"`
}

// checkExtras validates the fleet, metrics, reload and batching fields.
func (c *Config) checkExtras() error {
	if w := c.Workers; w != nil {
		if w.Group == "" {
			return errors.New("workers.group is required: the group the workers joined with `stack load-worker --group`")
		}
		if !hasRef(w.Group) && strings.ContainsAny(w.Group, "/ ") {
			return fmt.Errorf("workers.group %q: want a name without slashes or spaces", w.Group)
		}
		if w.Count < 1 {
			return fmt.Errorf("workers.count %d: want at least 1 worker", w.Count)
		}
		if w.Timeout < 0 {
			return errors.New("workers.timeout must be positive")
		}
		if c.Reload != 0 {
			return errors.New("\"reload\" is not available with \"workers\": workers get the templates once, with the run's plan")
		}
	}
	if c.Reload < 0 {
		return errors.New("\"reload\" must be positive, such as \"30s\"")
	}
	if c.Batch < 0 || c.Batch > 10 {
		return fmt.Errorf("\"batch\" %d: SQS takes 1 to 10 messages per SendMessageBatch", c.Batch)
	}
	if c.BatchWait < 0 {
		return errors.New("\"batch_wait\" must be positive")
	}
	return nil
}

// run drives the load in this process or through the fleet, with live
// metrics and reloading when asked.
func (k *Kind) run(ctx context.Context, run *stack.StepRun, c *Config, cfg load.Config) (*load.Report, error) {
	if addr := firstNonEmpty(c.MetricsAddr, k.MetricsAddr); addr != "" {
		m := live.New()
		mctx, cancel := context.WithCancel(ctx)
		defer cancel()
		at, err := m.Serve(mctx, addr)
		if err != nil {
			return nil, fmt.Errorf("generator step: metrics_addr: %w", err)
		}
		fmt.Fprintf(run.Log, "load: metrics on http://%s/metrics\n", at)
		if run.Progress != nil {
			run.Progress("metrics on http://%s/metrics", at)
		}
		cfg.Observer = m
	}
	if c.Reload > 0 {
		cfg.Reload = &load.Reload{Every: time.Duration(c.Reload),
			Load: func(ctx context.Context) (*scenario.Scenario, error) {
				return Resolve(ctx, run.Dir, c.Scenario)
			},
			Log: func(format string, args ...any) { fmt.Fprintf(run.Log, "load: "+format+"\n", args...) }}
	}
	if c.Workers == nil {
		return load.Run(ctx, cfg)
	}
	servers := firstNonEmpty(c.Workers.ZooKeeper, k.ZooKeeper)
	if servers == "" {
		return nil, errors.New("generator step: workers: no ZooKeeper to find them in: give workers.zookeeper, --zookeeper or STACK_ZOOKEEPER")
	}
	co := &fleet.Coordinator{Conn: fleet.Conn{Servers: servers, Group: c.Workers.Group, Log: run.Log},
		Count: c.Workers.Count, WaitTimeout: time.Duration(c.Workers.Timeout),
		Progress: func(line string) {
			fmt.Fprintln(run.Log, "load: "+line)
			if run.Progress != nil {
				run.Progress("%s", line)
			}
		}}
	return co.Run(ctx, cfg)
}

// Resolve reads a scenario folder (relative to base), a built-in scenario or
// an s3://BUCKET/PREFIX.
func Resolve(ctx context.Context, base, nameOrDir string) (*scenario.Scenario, error) {
	if s3scenario.Is(nameOrDir) {
		return s3scenario.Load(ctx, nameOrDir)
	}
	return scenario.Resolve(base, nameOrDir, scenarios.Builtin())
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
