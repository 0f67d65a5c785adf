package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stack-tools/stack/load"
	"github.com/stack-tools/stack/load/dumpster"
	"github.com/stack-tools/stack/load/live"
	"github.com/stack-tools/stack/load/pace"
	"github.com/stack-tools/stack/load/report"
	"github.com/stack-tools/stack/load/scenario"
	"github.com/stack-tools/stack/stacks/scenarios"
)

type loadOptions struct {
	scenario, target, shape, order string
	rate, start, step, maxRate     float64
	every, over, duration          time.Duration
	requests, vegetaTargets        uint64
	senders, group, maxWorkers     int
	skip, companies                []string
	reuse, duplicate               float64
	seed                           uint64
	insecure                       bool
	metricsAddr, reportDir         string
	timeout, lateAfter, window     time.Duration
	stopSuccess, stopPercentile    float64
	stopLatency, stopWindow        time.Duration
	stopVotes                      int
	// A fleet (fleet.go), SQS batching and reloading.
	zookeeper, workersGroup string
	workersCount, batch     int
	workersWait, batchWait  time.Duration
	reload                  time.Duration
}

func newLoadCmd(g *globalOptions) *cobra.Command {
	o := &loadOptions{}
	cmd := &cobra.Command{
		Use:   "load --scenario DIR|NAME --target URL --rate R (--duration D | --requests N)",
		Short: "Drive open-model load from a scenario at a URL, without a stack",
		Long: `Send a scenario's messages at a target on a fixed schedule (whatever the target
does), and report per message type: rate, success, status codes, errors and
latency measured from each request's intended send time. Writes load-report.json
and load-report.html into --report-dir. Exits 1 when the run was stopped by vote
or errored. The auth token of signed scenarios comes from STACK_AUTH_TOKEN.`,
		Example: `  stack load --scenario sms-inbound --target http://127.0.0.1:8080/webhooks/sms --rate 200 --duration 1m
  stack load --scenario stacks/scenarios/track-events --target http://127.0.0.1:8080 --shape steps --start 50 --step 50 --every 30s --max 250 --duration 3m
  stack load --scenario sms-inbound --target http://127.0.0.1:8080 --rate 100 --duration 10m --stop-success 0.98 --stop-latency 250ms`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.zookeeper = g.zookeeper
			return runLoad(cmd.Context(), o, g.output, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.scenario, "scenario", "", "scenario folder, or a built-in scenario: sms-inbound, track-events")
	f.StringVar(&o.target, "target", "", "base URL to send to (each message type's path is appended)")
	f.StringVar(&o.shape, "shape", "constant", "rate shape: constant, steps, ramp or trickle")
	f.Float64Var(&o.rate, "rate", 0, "requests per second (constant, trickle)")
	f.Float64Var(&o.start, "start", 0, "steps/ramp: starting requests per second")
	f.Float64Var(&o.step, "step", 0, "steps: requests per second added at each step")
	f.DurationVar(&o.every, "every", 0, "steps: time between steps; trickle: time between requests")
	f.Float64Var(&o.maxRate, "max", 0, "steps/ramp: highest requests per second")
	f.DurationVar(&o.over, "over", 0, "ramp: time to reach --max (default --duration)")
	f.DurationVar(&o.duration, "duration", 0, "how long to send")
	f.Uint64Var(&o.requests, "requests", 0, "how many requests to send")
	f.IntVar(&o.senders, "senders", 0, "size of the pool of synthetic senders (default 100)")
	f.StringVar(&o.order, "order", "random", "message type order: random or grouped")
	f.IntVar(&o.group, "group", 0, "grouped order: messages per cycle over all types (default 1000)")
	f.StringSliceVar(&o.skip, "skip", nil, "message types not to send (comma-separated)")
	f.StringSliceVar(&o.companies, "companies", nil, "tenant/company ids to address messages to")
	f.Float64Var(&o.reuse, "reuse", 0, "share of messages that resend the previous body of their type with a fresh message id")
	f.Float64Var(&o.duplicate, "duplicate", 0, "share of messages resent exactly, message id included")
	f.Uint64Var(&o.seed, "seed", 0, "seed that makes the generated sequence reproducible (default random, reported)")
	f.BoolVar(&o.insecure, "insecure", false, "do not verify the target's TLS certificate")
	f.StringVar(&o.metricsAddr, "metrics-addr", "", "serve Prometheus /metrics here while running (e.g. 127.0.0.1:9464)")
	f.StringVar(&o.reportDir, "report-dir", ".", "folder for load-report.json and load-report.html (\"\" = none)")
	f.DurationVar(&o.timeout, "timeout", 10*time.Second, "per-request timeout")
	f.DurationVar(&o.lateAfter, "late-after", 10*time.Millisecond, "a request leaving later than this after its intended time counts as late")
	f.DurationVar(&o.window, "window", 0, "reporting window (default 1s, or the stop window)")
	f.IntVar(&o.maxWorkers, "max-workers", 0, "most concurrent requests/connections (default sized to the rate)")
	f.Float64Var(&o.stopSuccess, "stop-success", 0, "vote to stop when a window's success ratio is below this (e.g. 0.98)")
	f.DurationVar(&o.stopLatency, "stop-latency", 0, "vote to stop when a window's latency percentile is above this (e.g. 250ms)")
	f.Float64Var(&o.stopPercentile, "stop-percentile", 99, "latency percentile the stop vote looks at")
	f.IntVar(&o.stopVotes, "stop-votes", 3, "votes that stop the run (a healthy window removes one)")
	f.DurationVar(&o.stopWindow, "stop-window", time.Second, "window over which each vote is taken")
	f.Uint64Var(&o.vegetaTargets, "vegeta-targets", 0, "print this many generated requests as vegeta JSON targets and send nothing (for comparisons)")
	f.MarkHidden("vegeta-targets")
	f.StringVar(&o.workersGroup, "workers-group", "", "split the run among the workers of this group (`stack load-worker --group`), coordinated through --zookeeper")
	f.IntVar(&o.workersCount, "workers-count", 0, "how many workers of --workers-group take part (each sends rate/N)")
	f.DurationVar(&o.workersWait, "workers-timeout", 5*time.Minute, "how long to wait for --workers-count workers to register")
	f.IntVar(&o.batch, "batch", 0, "sqs:// targets: messages per SendMessageBatch, 1..10 (default 10)")
	f.DurationVar(&o.batchWait, "batch-wait", 0, "sqs:// targets: how long a batch waits to fill (default 5ms)")
	f.DurationVar(&o.reload, "reload", 0, "re-read the scenario folder this often during the run (e.g. 30s); a bad template keeps the old one")
	return cmd
}

func runLoad(ctx context.Context, o *loadOptions, output string, stdout, stderr io.Writer) error {
	usage := func(format string, args ...any) error { return &usageError{fmt.Errorf(format, args...)} }
	if o.target == "" {
		return usage("--target is required: the URL to send to")
	}
	if o.vegetaTargets > 0 {
		sc, err := scenario.Resolve("", o.scenario, scenarios.Builtin())
		if err != nil {
			return usage("--scenario: %w", err)
		}
		opts := scenario.Options{Order: o.order, Group: o.group, Skip: o.skip, Senders: o.senders, Companies: o.companies,
			Reuse: o.reuse, Duplicate: o.duplicate, Seed: o.seed, AuthToken: os.Getenv("STACK_AUTH_TOKEN")}
		return load.WriteVegetaTargets(stdout, sc, o.target, opts, o.vegetaTargets)
	}
	if o.duration == 0 && o.requests == 0 {
		return usage("give --duration (such as 1m) and/or --requests, so the run ends by itself")
	}
	if (o.shape == "constant" || o.shape == "") && o.rate <= 0 {
		return usage("--rate is required: requests per second (or choose --shape steps|ramp|trickle)")
	}
	sc, err := resolveScenario(ctx, "", o.scenario)
	if err != nil {
		return usage("--scenario: %w", err)
	}
	cfg := load.Config{
		Scenario: sc, Target: o.target,
		Rate: pace.Spec{Shape: o.shape, Rate: o.rate, Start: o.start, Step: o.step, Max: o.maxRate,
			Every: pace.Duration(o.every), Over: pace.Duration(o.over)},
		Duration: o.duration, Requests: o.requests,
		Options: scenario.Options{Order: o.order, Group: o.group, Skip: o.skip, Senders: o.senders, Companies: o.companies,
			Reuse: o.reuse, Duplicate: o.duplicate, Seed: o.seed, AuthToken: os.Getenv("STACK_AUTH_TOKEN")},
		Timeout: o.timeout, LateAfter: o.lateAfter, Window: o.window, MaxWorkers: o.maxWorkers, Insecure: o.insecure,
		Batch: o.batch, BatchWait: o.batchWait,
	}
	if o.reload > 0 {
		cfg.Reload = scenarioReload(o.scenario, "", o.reload, stderr)
	}
	if o.stopSuccess > 0 || o.stopLatency > 0 {
		cfg.Stop = &load.StopPolicy{MinSuccess: o.stopSuccess, MaxLatency: pace.Duration(o.stopLatency),
			Percentile: o.stopPercentile, Votes: o.stopVotes, Window: pace.Duration(o.stopWindow)}
	}
	tty := false
	if f, ok := stderr.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	cfg.Progress = func(p load.Progress) {
		if tty {
			fmt.Fprintf(stderr, "\r\033[K%s", p)
		} else {
			fmt.Fprintln(stderr, p)
		}
	}
	if o.metricsAddr != "" {
		m := live.New()
		mctx, cancel := context.WithCancel(ctx)
		defer cancel()
		addr, err := m.Serve(mctx, o.metricsAddr)
		if err != nil {
			return usage("%w", err)
		}
		fmt.Fprintf(stderr, "metrics: http://%s/metrics\n", addr)
		cfg.Observer = m
	}
	rep, err := runMaybeFleet(ctx, cfg, o.zookeeper, o.workersGroup, o.workersCount, o.workersWait, stderr)
	if tty {
		fmt.Fprintln(stderr)
	}
	if err != nil {
		return usage("%w", err)
	}
	if o.reportDir != "" {
		if err := os.MkdirAll(o.reportDir, 0o755); err != nil {
			return err
		}
		for _, r := range []struct {
			name  string
			write func(io.Writer, *load.Report) error
		}{{"load-report.json", report.JSON}, {"load-report.html", report.HTML}} {
			path := filepath.Join(o.reportDir, r.name)
			f, err := os.Create(path)
			if err != nil {
				return err
			}
			err = r.write(f, rep)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("writing %s: %w", path, err)
			}
			fmt.Fprintln(stderr, "report:", path)
		}
	}
	if output == "json" {
		if err := report.JSON(stdout, rep); err != nil {
			return err
		}
	} else {
		printSummary(stdout, rep)
	}
	if rep.Verdict != load.Passed {
		return fmt.Errorf("load %s: %s", rep.Verdict, rep.Reason)
	}
	return nil
}

func printSummary(w io.Writer, rep *load.Report) {
	fmt.Fprintf(w, "%s: %s%s\n", rep.Scenario, rep.Verdict, map[bool]string{true: " (" + rep.Reason + ")", false: ""}[rep.Reason != ""])
	fmt.Fprintf(w, "%-16s %9s %9s %8s %7s %6s %9s %9s %9s %9s  %s\n", "type", "sent", "rate/s", "success", "errors", "late", "p50 ms", "p99 ms", "p99.9 ms", "max ms", "codes")
	row := func(name string, s load.Stats) {
		var codes []string
		for c, n := range s.Codes {
			codes = append(codes, fmt.Sprintf("%s×%d", c, n))
		}
		fmt.Fprintf(w, "%-16s %9d %9.1f %7.2f%% %7d %6d %9.2f %9.2f %9.2f %9.2f  %s\n", name, s.Sent, s.Rate, 100*s.SuccessRatio,
			s.Errors, s.Late, s.Latency.P50, s.Latency.P99, s.Latency.P999, s.Latency.Max, strings.Join(codes, " "))
	}
	for _, t := range rep.Types {
		row(t.Name, t.Stats)
	}
	row("all", rep.Total)
	printShares(w, rep)
}

type dumpsterOptions struct {
	o          dumpster.Options
	background bool
	stop       bool
}

// newDumpsterCmd is the demo's local webhook sink (hidden: modules call it).
func newDumpsterCmd() *cobra.Command {
	d := &dumpsterOptions{}
	cmd := &cobra.Command{
		Use:    "dumpster",
		Short:  "Run a webhook sink that accepts and discards every request",
		Hidden: true,
		Args:   exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case d.stop:
				if d.o.PIDFile == "" {
					return &usageError{fmt.Errorf("--stop needs --pid-file")}
				}
				if err := dumpster.Stop(d.o.PIDFile); err != nil {
					return err
				}
				// Leave nothing behind: the log, then the folder if now empty.
				if d.o.LogFile != "" {
					os.Remove(d.o.LogFile)
				}
				os.Remove(filepath.Dir(d.o.PIDFile))
				return nil
			case d.background:
				exe, err := os.Executable()
				if err != nil {
					return err
				}
				args := []string{"dumpster", "--addr", d.o.Addr, "--path", d.o.Path, "--url-file", d.o.URLFile, "--pid-file", d.o.PIDFile}
				url, err := dumpster.StartBackground(cmd.Context(), exe, args, d.o)
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), url)
				return nil
			}
			return dumpster.Run(cmd.Context(), d.o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&d.o.Addr, "addr", "127.0.0.1:0", "listen address (port 0 picks a free one)")
	f.StringVar(&d.o.Path, "path", "/webhooks/sms", "path of the webhook URL to report")
	f.StringVar(&d.o.URLFile, "url-file", "", "write the webhook URL here once listening")
	f.StringVar(&d.o.PIDFile, "pid-file", "", "write the process id here")
	f.StringVar(&d.o.LogFile, "log-file", "", "with --background: the detached sink's log")
	f.BoolVar(&d.background, "background", false, "start detached, print the URL when it listens, and return")
	f.BoolVar(&d.stop, "stop", false, "stop the sink named by --pid-file")
	f.BoolVar(&d.o.Raw, "raw", false, "serve with a minimal HTTP/1.1 sink (Content-Length bodies only) that costs far less per request than net/http: for benchmarks")
	return cmd
}
