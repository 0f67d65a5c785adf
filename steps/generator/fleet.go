package generator

import (
	"context"
	"errors"
	"fmt"
	"io"
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

// Drive says how a load run is driven: in this process or split among a
// fleet of `stack load-worker`s, with live metrics and template reloading when
// asked. Generator steps and `stack load` both run their load through it.
type Drive struct {
	// MetricsAddr, if set, serves Prometheus /metrics there while the run lasts.
	MetricsAddr string
	// Reload re-reads Scenario (a folder relative to Base, a built-in name or
	// s3://) every Reload, when positive; not with a fleet.
	Reload         time.Duration
	Scenario, Base string
	// Count > 0 splits the run among Count workers of Group, found in the
	// ZooKeeper at Servers, waiting up to Wait for them to register.
	Count          int
	Servers, Group string
	Wait           time.Duration
	// Log takes detailed lines; Progress, if set, short ones for people;
	// Window, if set, a fleet's totals every few seconds (else Progress).
	Log      io.Writer
	Progress func(line string)
	Window   func(line string)
}

// Run runs cfg as d says.
func (d Drive) Run(ctx context.Context, cfg load.Config) (*load.Report, error) {
	if d.MetricsAddr != "" {
		m := live.New()
		mctx, cancel := context.WithCancel(ctx)
		defer cancel()
		at, err := m.Serve(mctx, d.MetricsAddr)
		if err != nil {
			return nil, &MetricsError{Err: err}
		}
		d.say("metrics on http://%s/metrics", at)
		cfg.Observer = m
	}
	if d.Reload > 0 {
		cfg.Reload = &load.Reload{Every: d.Reload,
			Load: func(ctx context.Context) (*scenario.Scenario, error) {
				return Resolve(ctx, d.Base, d.Scenario)
			},
			Log: func(format string, args ...any) { fmt.Fprintf(d.Log, "load: "+format+"\n", args...) }}
	}
	if d.Count == 0 {
		return load.Run(ctx, cfg)
	}
	if d.Group == "" || d.Servers == "" {
		return nil, errors.New("a fleet run needs the workers' group and the ZooKeeper they registered in")
	}
	co := &fleet.Coordinator{Conn: fleet.Conn{Servers: d.Servers, Group: d.Group, Log: d.Log},
		Count: d.Count, WaitTimeout: d.Wait, Progress: func(line string) { d.say("%s", line) }}
	if d.Window != nil {
		co.Window = func(line string) {
			fmt.Fprintln(d.Log, "load: "+line)
			d.Window(line)
		}
	}
	return co.Run(ctx, cfg)
}

// say writes a line to the log and to Progress.
func (d Drive) say(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	fmt.Fprintln(d.Log, "load: "+line)
	if d.Progress != nil {
		d.Progress(line)
	}
}

// run drives a step's load as its config says.
func (k *Kind) run(ctx context.Context, run *stack.StepRun, c *Config, cfg load.Config) (*load.Report, error) {
	d := Drive{MetricsAddr: firstNonEmpty(c.MetricsAddr, k.MetricsAddr), Reload: time.Duration(c.Reload),
		Scenario: c.Scenario, Base: run.Dir, Log: run.Log}
	if run.Progress != nil {
		d.Progress = func(line string) { run.Progress("%s", line) }
	}
	// Like a local run's window lines: in the live table's row, and in plain
	// mode only with -v.
	d.Window = func(line string) { run.ToolOutput("%s", line) }
	if c.Workers != nil {
		d.Count, d.Group, d.Wait = c.Workers.Count, c.Workers.Group, time.Duration(c.Workers.Timeout)
		d.Servers = firstNonEmpty(c.Workers.ZooKeeper, k.ZooKeeper)
		if d.Servers == "" {
			return nil, errors.New("generator step: workers: no ZooKeeper to find them in: give workers.zookeeper, --zookeeper or STACK_ZOOKEEPER")
		}
	}
	rep, err := d.Run(ctx, cfg)
	var me *MetricsError
	if errors.As(err, &me) {
		return nil, fmt.Errorf("generator step: metrics_addr: %w", me.Err)
	}
	return rep, err
}

// MetricsError says the metrics address could not be served (in use, or
// not an address): a usage problem, not a load failure.
type MetricsError struct{ Err error }

func (e *MetricsError) Error() string { return e.Err.Error() }
func (e *MetricsError) Unwrap() error { return e.Err }

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
