package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/stack-tools/stack/load"
	"github.com/stack-tools/stack/load/dumpster"
	"github.com/stack-tools/stack/load/pace"
	"github.com/stack-tools/stack/load/report"
	"github.com/stack-tools/stack/load/scenario"
	"github.com/stack-tools/stack/steps/generator"
)

// loadOptions are the inputs of `stack load`.
type loadOptions struct {
	runEnv
	// Run is the load as a generator step would give it: the flags fill it,
	// and the generator's builder turns it into the run's configuration.
	Run  generator.Config
	Rate pace.Spec
	// Stop applies when --stop-success or --stop-latency is given.
	Stop          load.StopPolicy
	ReportDir     string
	VegetaTargets uint64
	// Kafka holds the --kafka-* flags (load_more.go).
	Kafka load.KafkaOptions
	// TargetsFile and TargetsLoop replay recorded requests (load_more.go).
	TargetsFile string
	TargetsLoop bool
	// Forever is --duration 0: run until stopped (load_more.go).
	Forever   bool
	RollEvery time.Duration
	// A fleet (fleet.go).
	ZooKeeper, WorkersGroup string
	WorkersCount            int
	WorkersWait             time.Duration
	// E2E is the "e2e" block as JSON, or @FILE holding it; StopLost is
	// --stop-lost when StopLostSet.
	E2E         string
	StopLost    int
	StopLostSet bool
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
			o.runEnv, o.ZooKeeper = g.env(cmd), g.zookeeper
			o.Run.AuthToken = os.Getenv("STACK_AUTH_TOKEN")
			o.Forever = cmd.Flags().Changed("duration") && o.Run.Duration == 0
			o.StopLostSet = cmd.Flags().Changed("stop-lost")
			return runLoad(cmd.Context(), o)
		},
	}
	addLoadFlags(cmd, o)
	return cmd
}

// dur lets a duration flag fill a pace.Duration field.
func dur(d *pace.Duration) *time.Duration { return (*time.Duration)(d) }

func addLoadFlags(cmd *cobra.Command, o *loadOptions) {
	f, r, m := cmd.Flags(), &o.Run, &o.Run.Options
	f.StringVar(&r.Scenario, "scenario", "", "scenario folder, or a built-in scenario: sms-inbound, track-events")
	f.StringVar(&r.Target, "target", "", "base URL to send to (each message type's path is appended), or a broker: sqs://QUEUE_URL, nsq://NSQD:4150/TOPIC, kafka://BROKER:9092,.../TOPIC (see docs/load-targets.md)")
	f.StringVar(&o.Rate.Shape, "shape", "constant", "rate shape: constant, steps, ramp or trickle")
	f.Float64Var(&o.Rate.Rate, "rate", 0, "requests per second (constant, trickle)")
	f.Float64Var(&o.Rate.Start, "start", 0, "steps/ramp: starting requests per second")
	f.Float64Var(&o.Rate.Step, "step", 0, "steps: requests per second added at each step")
	f.DurationVar(dur(&o.Rate.Every), "every", 0, "steps: time between steps; trickle: time between requests")
	f.Float64Var(&o.Rate.Max, "max", 0, "steps/ramp: highest requests per second")
	f.DurationVar(dur(&o.Rate.Over), "over", 0, "ramp: time to reach --max (default --duration)")
	f.DurationVar(dur(&r.Duration), "duration", 0, "how long to send; 0 runs until stopped (SIGTERM, Ctrl-C), rolling the report out hourly")
	f.Uint64Var(&r.Requests, "requests", 0, "how many requests to send")
	f.IntVar(&m.Senders, "senders", 0, "size of the pool of synthetic senders (default 100)")
	f.StringVar(&m.Order, "order", "random", "message type order: random or grouped")
	f.IntVar(&m.Group, "group", 0, "grouped order: messages per cycle over all types (default 1000)")
	f.StringSliceVar(&m.Skip, "skip", nil, "message types not to send (comma-separated)")
	f.StringSliceVar(&m.Companies, "companies", nil, "tenant/company ids to address messages to")
	f.Float64Var(&m.Reuse, "reuse", 0, "share of messages that resend the previous body of their type with a fresh message id")
	f.Float64Var(&m.Duplicate, "duplicate", 0, "share of messages resent exactly, message id included")
	f.Uint64Var(&m.Seed, "seed", 0, "seed that makes the generated sequence reproducible, at most 2^53 (default random, reported)")
	f.BoolVar(&r.Insecure, "insecure", false, "do not verify the target's TLS certificate")
	f.StringVar(&r.MetricsAddr, "metrics-addr", "", "serve Prometheus /metrics here while running (e.g. 127.0.0.1:9464)")
	f.StringVar(&o.ReportDir, "report-dir", ".", "folder for load-report.json and load-report.html (\"\" = none)")
	f.DurationVar(dur(&r.Timeout), "timeout", 10*time.Second, "per-request timeout")
	f.DurationVar(dur(&r.LateAfter), "late-after", 10*time.Millisecond, "a request leaving later than this after its intended time counts as late")
	f.DurationVar(dur(&r.Window), "window", 0, "reporting window (default 1s, or the stop window)")
	f.IntVar(&r.MaxWorkers, "max-connections", 0, "most concurrent requests, one connection each (default sized to the rate)")
	// --max-workers was its first name; "workers" now means fleet machines only.
	f.IntVar(&r.MaxWorkers, "max-workers", 0, "old name of --max-connections")
	f.MarkHidden("max-workers")
	f.MarkDeprecated("max-workers", "use --max-connections (--workers-* flags are about fleet machines)")
	f.Float64Var(&o.Stop.MinSuccess, "stop-success", 0, "vote to stop when a window's success ratio is below this (e.g. 0.98)")
	f.DurationVar(dur(&o.Stop.MaxLatency), "stop-latency", 0, "vote to stop when a window's latency percentile is above this (e.g. 250ms)")
	f.Float64Var(&o.Stop.Percentile, "stop-percentile", 99, "latency percentile the stop vote looks at")
	f.IntVar(&o.Stop.Votes, "stop-votes", 3, "votes that stop the run (a healthy window removes one)")
	f.DurationVar(dur(&o.Stop.Window), "stop-window", time.Second, "window over which each vote is taken")
	f.Uint64Var(&o.VegetaTargets, "vegeta-targets", 0, "print this many generated requests as vegeta JSON targets and send nothing (for comparisons)")
	f.MarkHidden("vegeta-targets")
	f.StringVar(&o.WorkersGroup, "workers-group", "", "split the run among the fleet machines that joined this group (stack load-worker --group), coordinated through --zookeeper")
	f.IntVar(&o.WorkersCount, "workers-count", 0, "how many fleet machines of --workers-group take part (each sends rate/N)")
	f.DurationVar(&o.WorkersWait, "workers-timeout", 5*time.Minute, "how long to wait for --workers-count fleet machines to register")
	f.IntVar(&r.Batch, "batch", 0, "sqs:// targets: messages per SendMessageBatch, 1..10 (default 10)")
	f.DurationVar(dur(&r.BatchWait), "batch-wait", 0, "sqs:// targets: how long a batch waits to fill (default 5ms)")
	addMoreLoadFlags(f, o)
	f.DurationVar(dur(&r.Reload), "reload", 0, "re-read the scenario folder this often during the run (e.g. 30s); a bad template keeps the old one")
	f.StringVar(&o.E2E, "e2e", "", "trace every message to probes at the far end: the generator step's \"e2e\" block as JSON, or @FILE (writes load-trace.jsonl.gz for stack trace --report-dir)")
	f.DurationVar(dur(&o.Stop.MaxE2ELatency), "stop-e2e-latency", 0, "with --e2e: vote to stop when messages take longer than this end to end (or have not arrived after it)")
	f.IntVar(&o.StopLost, "stop-lost", 0, "with --e2e: fail the run when more than this many arrivals are lost")
}

func loadUsage(format string, args ...any) error { return &usageError{fmt.Errorf(format, args...)} }

func runLoad(ctx context.Context, o *loadOptions) error {
	if o.Run.Target == "" && o.TargetsFile == "" {
		return loadUsage("--target is required: the URL to send to (or --targets-file to replay recorded requests)")
	}
	if o.Run.Options.Seed > scenario.MaxSeed {
		return loadUsage("--seed: at most %d (2^53, so that the report gives it back exactly), got %d", uint64(scenario.MaxSeed), o.Run.Options.Seed)
	}
	if o.VegetaTargets > 0 {
		sc, err := generator.Resolve(ctx, "", o.Run.Scenario)
		if err != nil {
			return loadUsage("--scenario: %w", err)
		}
		return load.WriteVegetaTargets(o.Out, sc, o.Run.Target, o.Run.ScenarioOptions(), o.VegetaTargets)
	}
	cfg, err := o.loadConfig(ctx)
	if err != nil {
		return err
	}
	tty := isTerminal(o.ErrOut)
	cfg.Progress = func(p load.Progress) {
		if tty {
			fmt.Fprintf(o.ErrOut, "\r\033[K%s", p)
		} else {
			fmt.Fprintln(o.ErrOut, p)
		}
	}
	rep, err := o.drive(ctx, cfg)
	if tty {
		fmt.Fprintln(o.ErrOut)
	}
	if err != nil {
		return loadUsage("%w", err)
	}
	if o.ReportDir != "" {
		if err := writeLoadReports(o.ReportDir, rep, o.ErrOut); err != nil {
			return err
		}
		if err := writeTrace(o.ReportDir, rep, o.ErrOut); err != nil {
			return err
		}
	}
	if o.JSON {
		if err := report.JSON(o.Out, rep); err != nil {
			return err
		}
	} else {
		printSummary(o.Out, rep)
	}
	if rep.Verdict != load.Passed {
		return fmt.Errorf("load %s: %s", rep.Verdict, rep.Reason)
	}
	return nil
}

// loadConfig checks the flags that end and pace the run, reads the scenario
// and builds the run's configuration, as a generator step does.
func (o *loadOptions) loadConfig(ctx context.Context) (load.Config, error) {
	if err := o.checkSigns(); err != nil {
		return load.Config{}, err
	}
	if o.TargetsFile != "" {
		return o.cannedConfig(ctx)
	}
	if o.Run.Duration == 0 && o.Run.Requests == 0 && !o.Forever {
		return load.Config{}, loadUsage("give --duration (such as 1m) and/or --requests, so the run ends by itself (--duration 0: until stopped)")
	}
	if (o.Rate.Shape == "constant" || o.Rate.Shape == "") && o.Rate.Rate <= 0 {
		return load.Config{}, loadUsage("--rate is required: requests per second (or choose --shape steps|ramp|trickle)")
	}
	if err := o.kafkaOptions(); err != nil {
		return load.Config{}, err
	}
	if err := o.senders(ctx); err != nil {
		return load.Config{}, err
	}
	sc, err := generator.Resolve(ctx, "", o.Run.Scenario)
	if err != nil {
		return load.Config{}, loadUsage("--scenario: %w", err)
	}
	run := o.Run
	rate := o.Rate
	run.Rate = &rate
	if err := o.e2eFlags(&run); err != nil {
		return load.Config{}, err
	}
	if o.Stop.MinSuccess > 0 || o.Stop.MaxLatency > 0 || o.Stop.MaxE2ELatency > 0 || o.Stop.MaxLost != nil {
		stop := o.Stop
		run.Stop = &stop
	}
	cfg := run.LoadConfig(sc)
	if err := o.persist(&cfg); err != nil {
		return load.Config{}, err
	}
	return cfg, nil
}

// checkSigns refuses negative rates and times, naming the flag, before
// anything asks for a missing one.
func (o *loadOptions) checkSigns() error {
	for _, f := range []struct {
		name string
		v    float64
	}{{"--rate", o.Rate.Rate}, {"--start", o.Rate.Start}, {"--step", o.Rate.Step}, {"--max", o.Rate.Max}} {
		if f.v < 0 {
			return loadUsage("%s %g: must be positive (requests per second)", f.name, f.v)
		}
	}
	for _, f := range []struct {
		name string
		d    pace.Duration
	}{{"--duration", o.Run.Duration}, {"--every", o.Rate.Every}, {"--over", o.Rate.Over}, {"--timeout", o.Run.Timeout}, {"--window", o.Run.Window}} {
		if f.d < 0 {
			return loadUsage("%s %s: must be positive (such as 30s)", f.name, time.Duration(f.d))
		}
	}
	return nil
}

// isTerminal says whether w is a terminal, where progress redraws one line.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// writeLoadReports writes load-report.json and load-report.html into dir.
func writeLoadReports(dir string, rep *load.Report, log io.Writer) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, r := range []struct {
		name  string
		write func(io.Writer, *load.Report) error
	}{{"load-report.json", report.JSON}, {"load-report.html", report.HTML}} {
		path := filepath.Join(dir, r.name)
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
		fmt.Fprintln(log, "report:", path)
	}
	return nil
}

func printSummary(w io.Writer, rep *load.Report) {
	fmt.Fprintf(w, "%s: %s%s\n", rep.Scenario, rep.Verdict, map[bool]string{true: " (" + rep.Reason + ")", false: ""}[rep.Reason != ""])
	fmt.Fprintf(w, "seed %d (--seed %d repeats the same sequence of messages)\n", rep.Seed, rep.Seed)
	fmt.Fprintf(w, "%-16s %9s %9s %8s %7s %6s %9s %9s %9s %9s  %s\n", "type", "sent", "rate/s", "success", "errors", "late", "p50 ms", "p99 ms", "p99.9 ms", "max ms", "codes")
	row := func(name string, s load.Stats) {
		fmt.Fprintf(w, "%-16s %9d %9.1f %7.2f%% %7d %6d %9s %9s %9s %9s  %s\n", name, s.Sent, s.Rate, 100*s.SuccessRatio,
			s.Errors, s.Late, latText(s, s.Latency.P50), latText(s, s.Latency.P99), latText(s, s.Latency.P999), latText(s, s.Latency.Max), codesText(s.Codes))
	}
	for _, t := range rep.Types {
		row(t.Name, t.Stats)
	}
	row("all", rep.Total)
	printE2E(w, rep) // loade2e.go
	printShares(w, rep)
}

// latText is a latency figure of s in ms, or "-" when s had no response to
// measure (a 0.00 would claim an instant answer).
func latText(s load.Stats, ms float64) string { return msText(ms, s.Responses > 0) }

func msText(ms float64, measured bool) string {
	if !measured {
		return "-"
	}
	return fmt.Sprintf("%.2f", ms)
}

// round rounds v to digits decimals.
func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

// codesText is the codes column: each status code and its count, by code.
func codesText(codes map[string]uint64) string {
	var out []string
	for _, c := range slices.Sorted(maps.Keys(codes)) {
		out = append(out, fmt.Sprintf("%s×%d", c, codes[c]))
	}
	return strings.Join(out, " ")
}

// dumpsterOptions are the inputs of `stack dumpster`.
type dumpsterOptions struct {
	runEnv
	dumpster.Options
	Background bool
	Stop       bool
}

// newDumpsterCmd is the demo's local webhook sink, and a target for trying
// stack load by hand.
func newDumpsterCmd() *cobra.Command {
	d := &dumpsterOptions{}
	cmd := &cobra.Command{
		Use:   "dumpster",
		Short: "Run a webhook sink that accepts and discards every request (a target for stack load)",
		Long: `Serve HTTP on --addr and answer every request with 200, discarding it: the demo's
sink step runs one, and it is a quick local target for stack load.`,
		Example: `  stack dumpster --addr 127.0.0.1:8080
  stack load --scenario sms-inbound --target http://127.0.0.1:8080/webhooks/sms --rate 200 --duration 30s`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			d.Out, d.ErrOut = cmd.OutOrStdout(), cmd.ErrOrStderr()
			return runDumpster(cmd.Context(), d)
		},
	}
	f := cmd.Flags()
	f.StringVar(&d.Addr, "addr", "127.0.0.1:0", "listen address (port 0 picks a free one)")
	f.StringVar(&d.Path, "path", "/webhooks/sms", "path of the webhook URL to report")
	f.StringVar(&d.URLFile, "url-file", "", "write the webhook URL here once listening")
	f.StringVar(&d.PIDFile, "pid-file", "", "write the process id here")
	f.StringVar(&d.LogFile, "log-file", "", "with --background: the detached sink's log")
	f.BoolVar(&d.Background, "background", false, "start detached, print the URL when it listens, and return")
	f.BoolVar(&d.Stop, "stop", false, "stop the sink named by --pid-file")
	f.StringVar(&d.Probe.Journal, "journal", "", "be an e2e probe: record every arrival in this journal file (kept across restarts) and serve it to --e2e runs; the pull endpoint wants $STACK_PROBE_TOKEN when set")
	f.StringVar(&d.Probe.Name, "name", "", "with --journal: the probe's name in reports (default its address)")
	f.StringVar(&d.Probe.SMTP, "smtp", "", "with --journal: also accept mail on this address (e.g. 127.0.0.1:2525)")
	f.StringVar(&d.Probe.SMTPFile, "smtp-file", "", "with --smtp: write the mail sink's address here once listening")
	f.StringVar(&d.Probe.Queue, "sqs-queue", "", "with --journal: also drain this SQS queue URL, recording each message")
	f.StringVar(&d.Pipeline, "pipeline", "", "be the demo's platform instead of a sink: process each inbound-SMS webhook after its type's time (custom keywords slowest) and post the reply to this URL")
	f.BoolVar(&d.Raw, "raw", false, "serve with a minimal HTTP/1.1 sink (Content-Length bodies only) that costs far less per request than net/http: for benchmarks")
	return cmd
}

func runDumpster(ctx context.Context, d *dumpsterOptions) error {
	switch {
	case d.Stop:
		if d.PIDFile == "" {
			return &usageError{fmt.Errorf("--stop needs --pid-file")}
		}
		if err := dumpster.Stop(d.PIDFile); err != nil {
			return err
		}
		// Leave nothing behind: the log, then the folder if now empty.
		if d.LogFile != "" {
			os.Remove(d.LogFile)
		}
		if d.Probe.Journal != "" {
			os.Remove(d.Probe.Journal)
		}
		os.Remove(filepath.Dir(d.PIDFile))
		return nil
	case d.Background:
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		args := []string{"dumpster", "--addr", d.Addr, "--path", d.Path, "--url-file", d.URLFile, "--pid-file", d.PIDFile}
		if d.Pipeline != "" {
			args = append(args, "--pipeline", d.Pipeline)
		}
		if p := d.Probe; p.Journal != "" {
			args = append(args, "--journal", p.Journal, "--name", p.Name, "--smtp", p.SMTP, "--smtp-file", p.SMTPFile, "--sqs-queue", p.Queue)
		}
		url, err := dumpster.StartBackground(ctx, exe, args, d.Options)
		if err != nil {
			return err
		}
		fmt.Fprintln(d.Out, url)
		return nil
	}
	return dumpster.Run(ctx, d.Options)
}
