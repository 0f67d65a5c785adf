// Package generator is the "generator" step kind: it drives load from a
// scenario at a target (usually another step's output), stores a JSON and an
// HTML report with the stack, and fails the step when the run was stopped by
// vote or errored, so `stack up` exits 1.
package generator

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/stack-tools/stack/load"
	"github.com/stack-tools/stack/load/e2e"
	"github.com/stack-tools/stack/load/pace"
	"github.com/stack-tools/stack/load/scenario"
	"github.com/stack-tools/stack/load/scenario/s3scenario"
	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/stacks/scenarios"
)

// PathFields are the step fields that name a file or folder relative to the
// definition (definition.LoadOptions.PathFields): the scenario folder, the
// targets file and the senders file.
func PathFields() []string { return []string{"scenario", "targets_file", "senders.file"} }

// Config is the kind-specific part of a generator step.
type Config struct {
	// Scenario is a folder relative to the definition's folder, or a built-in
	// scenario's name (sms-inbound, track-events).
	Scenario string `json:"scenario"`
	// Target is the base URL, usually "${steps.web.outputs.webhook_url}".
	Target string `json:"target"`
	// Rate is requests per second, or a shape: {"shape": "steps", "start": 50,
	// "step": 50, "every": "5m", "max": 250}.
	Rate     *pace.Spec    `json:"rate"`
	Duration pace.Duration `json:"duration,omitempty"`
	Requests uint64        `json:"requests,omitempty"`

	// Options are the message fields: order, group, skip, senders, companies,
	// reuse, duplicate, seed and vars, under their own JSON names.
	scenario.Options
	// Senders is a synthetic pool's size or {"file": "numbers.csv"}, a list
	// of real senders (senders.go); it stands in for Options.Senders in JSON.
	Senders scenario.SenderPool `json:"senders,omitempty"`
	// AuthToken signs requests of signed scenarios; pass it from a variable.
	// (Options keeps its token out of JSON; a definition names it here.)
	AuthToken string `json:"auth_token,omitempty"`

	Stop      *load.StopPolicy `json:"stop,omitempty"`
	Timeout   pace.Duration    `json:"timeout,omitempty"`
	LateAfter pace.Duration    `json:"late_after,omitempty"`
	Window    pace.Duration    `json:"window,omitempty"`
	// MaxConnections caps concurrent requests, one connection each;
	// max_workers is its old name ("workers" are fleet machines).
	MaxConnections int  `json:"max_connections,omitempty"`
	MaxWorkers     int  `json:"max_workers,omitempty"`
	Insecure       bool `json:"insecure,omitempty"`

	// Workers splits the load among `stack load-worker` processes (fleet.go).
	Workers *Workers `json:"workers,omitempty"`
	// MetricsAddr serves live Prometheus metrics while the step runs.
	MetricsAddr string `json:"metrics_addr,omitempty"`
	// Reload re-reads the scenario folder this often during the run.
	Reload pace.Duration `json:"reload,omitempty"`
	// Batch and BatchWait shape SendMessageBatch calls for sqs:// targets.
	Batch     int           `json:"batch,omitempty"`
	BatchWait pace.Duration `json:"batch_wait,omitempty"`
	// Kafka shapes producing to kafka:// targets: per-type topics, key
	// template, acks, linger, batch_bytes, compression.
	Kafka *load.KafkaOptions `json:"kafka,omitempty"`
	// TargetsFile replays recorded requests instead of the scenario (Vegeta's
	// http format or JSON lines, relative to the definition or s3://), once
	// or, with TargetsLoop, until duration/requests (targets.go).
	TargetsFile string `json:"targets_file,omitempty"`
	TargetsLoop bool   `json:"targets_loop,omitempty"`
	// E2E traces each message to its arrivals at probes at the far end of
	// the pipeline: {"probes": [...], "expect": {"TYPE": N}, "wait": "2m"}.
	E2E *e2e.Config `json:"e2e,omitempty"`

	// refs names fields given as unresolved references (validation only).
	refs map[string]bool
	// senderList is what LoadSenders read.
	senderList []scenario.Sender
	// Forever is "duration": "forever": a persistent run (persistent.go).
	Forever bool `json:"-"`
}

// Kind implements stack.StepKind.
type Kind struct {
	// ZooKeeper is the connect string of fleets whose step names none
	// (--zookeeper, STACK_ZOOKEEPER).
	ZooKeeper string
	// MetricsAddr serves Prometheus metrics of steps that name no
	// metrics_addr (`stack up --metrics-addr`).
	MetricsAddr string
	// Exe is the stack executable, which runs persistent steps
	// (`stack generator-run`, persistent.go).
	Exe string
	// State names the stack's store as --state does and OpenStore opens
	// it: a persistent run reopens the store to keep its mark there, which
	// lets a `down` on any workstation stop it (watch.go). CheckEvery is how
	// often it reads the mark (DefaultCheckEvery if 0).
	State      string
	OpenStore  func(ctx context.Context, state string) (stack.Store, error)
	CheckEvery time.Duration
}

// New returns the generator step kind.
func New() *Kind { return &Kind{} }

// NeedsModule implements stack.StepKind: a generator has no Terraform module.
func (*Kind) NeedsModule() bool { return false }

func hasRef(s string) bool { return strings.Contains(s, "${") }

func decode(raw json.RawMessage) (*Config, error) {
	var c Config
	raw, c.Forever = stripForever(raw)
	if err := stack.DecodeStrict(raw, &c); err != nil {
		return nil, fmt.Errorf("generator step: %w (fields: scenario, target, rate, duration, requests, order, group, skip, senders, companies, reuse, duplicate, seed, vars, auth_token, stop, timeout, late_after, window, max_connections, insecure, workers, metrics_addr, reload, batch, batch_wait, kafka, e2e)", err)
	}
	switch {
	case c.MaxConnections != 0 && c.MaxWorkers != 0:
		return nil, fmt.Errorf("generator step: \"max_connections\" and \"max_workers\" (its old name) are both given: keep \"max_connections\"")
	case c.MaxConnections != 0:
		c.MaxWorkers = c.MaxConnections
	}
	return &c, nil
}

// Validate implements stack.StepKind. References are not resolved yet: a
// field given as a "${...}" string is checked at apply time, once resolved.
func (k *Kind) Validate(raw json.RawMessage) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return fmt.Errorf("generator step: %w", err)
	}
	refs := map[string]bool{}
	for name, v := range fields {
		var s string
		if json.Unmarshal(v, &s) == nil && hasRef(s) {
			refs[name] = true
			delete(fields, name)
		}
	}
	stripped, err := json.Marshal(fields)
	if err != nil {
		return err
	}
	c, err := decode(stripped)
	if err != nil {
		return err
	}
	c.refs = refs
	return c.check()
}

// ValidateIn implements stack.DirValidator: besides Validate, a scenario given
// literally must exist (a folder relative to the definition, or a built-in).
func (k *Kind) ValidateIn(dir string, raw json.RawMessage) error {
	if err := k.Validate(raw); err != nil {
		return err
	}
	var c struct {
		Scenario    string              `json:"scenario"`
		Senders     scenario.SenderPool `json:"senders"`
		TargetsFile string              `json:"targets_file"`
	}
	_ = json.Unmarshal(raw, &c)
	if err := validateTargetsFile(dir, c.TargetsFile); err != nil {
		return err
	}
	if f := c.Senders.File; f != "" && !hasRef(f) && !s3scenario.Is(f) {
		list := Config{Senders: c.Senders}
		if err := list.LoadSenders(context.Background(), dir); err != nil {
			return err
		}
	}
	if c.Scenario == "" || hasRef(c.Scenario) || s3scenario.Is(c.Scenario) {
		return nil // an s3:// scenario is read when the step runs
	}
	sc, err := scenario.Resolve(dir, c.Scenario, scenarios.Builtin())
	if err != nil {
		return fmt.Errorf("scenario: %w", err)
	}
	full, err := decode(raw)
	if err != nil {
		return err
	}
	return full.checkE2E(sc)
}

// check validates c; fields given as references (c.refs) are checked once resolved.
func (c *Config) check() error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("generator step: "+format, args...)
	}
	if err := c.checkTargets(); err != nil {
		return fail("%w", err)
	}
	if c.Scenario == "" && !c.refs["scenario"] && c.TargetsFile == "" {
		return fail("\"scenario\" is required: a scenario folder (relative to the definition) or a built-in name (%s)",
			strings.Join(scenario.BuiltinNames(scenarios.Builtin()), ", "))
	}
	if c.Target == "" && !c.refs["target"] && c.TargetsFile == "" {
		return fail("\"target\" is required: the URL to send to, such as \"${steps.web.outputs.webhook_url}\"")
	}
	if c.Target != "" && !hasRef(c.Target) && !strings.HasPrefix(c.Target, "http://") && !strings.HasPrefix(c.Target, "https://") && !load.IsBroker(c.Target) {
		return fail("\"target\" %q must be an http:// or https:// URL, sqs://QUEUE_URL, nsq://NSQD:4150/TOPIC or kafka://BROKER:9092/TOPIC", c.Target)
	}
	if err := c.checkExtras(); err != nil {
		return fail("%w", err)
	}
	if err := c.checkE2E(nil); err != nil {
		return fail("%w", err)
	}
	if c.Rate == nil && c.refs["rate"] {
		c.Rate = &pace.Spec{Rate: 1} // checked once resolved
	}
	if c.Rate == nil {
		return fail("\"rate\" is required: requests per second (50) or a shape ({\"shape\": \"steps\", \"start\": 50, \"step\": 50, \"every\": \"5m\", \"max\": 250})")
	}
	if err := c.checkForever(); err != nil {
		return fail("%w", err)
	}
	if c.Duration == 0 && c.Requests == 0 && !c.refs["duration"] && !c.refs["requests"] && !c.Forever && !c.once() {
		return fail("give \"duration\" (such as \"5m\") and/or \"requests\", so the load ends by itself, or \"duration\": \"forever\" (until `stack down`)")
	}
	if c.Duration < 0 {
		return fail("\"duration\" must be positive")
	}
	if _, err := c.Rate.Build(time.Duration(c.Duration)); err != nil {
		return fail("%w", err)
	}
	if c.Order != "" && c.Order != "random" && c.Order != "grouped" {
		return fail("\"order\" %q: use random or grouped", c.Order)
	}
	if c.Reuse < 0 || c.Duplicate < 0 || c.Reuse+c.Duplicate > 1 {
		return fail("\"reuse\" (%g) and \"duplicate\" (%g) are shares of messages: each 0..1, together at most 1", c.Reuse, c.Duplicate)
	}
	if c.Seed > scenario.MaxSeed {
		return fail("\"seed\" %d: at most %d (2^53), so that the report and the step's outputs give it back exactly", c.Seed, uint64(scenario.MaxSeed))
	}
	if c.Senders.N < 0 || c.Senders.N > 1_000_000 {
		return fail("\"senders\" %d: want 1..1000000, or {\"file\": \"numbers.csv\"}", c.Senders.N)
	}
	if c.Senders.File != "" && c.Workers != nil {
		return fail("\"senders\": a sender file and \"workers\" together are not supported yet; use a synthetic pool with workers")
	}
	if c.Stop != nil {
		if err := c.Stop.Check(); err != nil {
			return fail("%w", err)
		}
	}
	for _, d := range []struct {
		name string
		v    pace.Duration
	}{{"timeout", c.Timeout}, {"late_after", c.LateAfter}, {"window", c.Window}} {
		if d.v < 0 {
			return fail("%q must be positive", d.name)
		}
	}
	if c.MaxWorkers < 0 {
		return fail("\"max_connections\" must be positive")
	}
	if err := c.Kafka.Check(); err != nil {
		return fail("%w", err)
	}
	return nil
}

// LoadConfig is the run c describes, of scenario sc: the one place a
// generator's fields become a load.Config, for generator steps and `stack
// load` alike. It does not validate c (each caller checks its own fields and
// names them its own way: JSON fields, flags) and leaves what is the caller's
// to say (progress, live metrics, reloading, a fleet) unset. c.Rate must be set.
func (c *Config) LoadConfig(sc *scenario.Scenario) load.Config {
	return load.Config{
		Scenario: sc, Options: c.ScenarioOptions(),
		Target: c.Target, Rate: *c.Rate, Duration: time.Duration(c.Duration), Requests: c.Requests,
		Timeout: time.Duration(c.Timeout), LateAfter: time.Duration(c.LateAfter), Window: time.Duration(c.Window),
		MaxWorkers: c.MaxWorkers, Insecure: c.Insecure, Stop: c.Stop,
		Batch: c.Batch, BatchWait: time.Duration(c.BatchWait), Kafka: c.Kafka, E2E: c.E2E,
	}
}

// ScenarioOptions are the options messages are generated with, the auth
// token included.
func (c *Config) ScenarioOptions() scenario.Options {
	o := c.Options
	o.AuthToken = c.AuthToken
	if c.Senders.N > 0 {
		o.Senders = c.Senders.N
	}
	o.SenderList = c.senderList
	return o
}

// Apply implements stack.StepKind: it runs the load and stores the reports.
func (k *Kind) Apply(ctx context.Context, run *stack.StepRun) (stack.Outputs, error) {
	c, err := decode(run.Config)
	if err != nil {
		return nil, err
	}
	sc, targets, err := c.source(ctx, run.Dir)
	if err != nil {
		return nil, fmt.Errorf("generator step: %w", err)
	}
	if err := c.LoadSenders(ctx, run.Dir); err != nil {
		return nil, fmt.Errorf("generator step: %w", err)
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	if c.Forever {
		return k.startPersistent(ctx, run)
	}
	cfg := c.LoadConfig(sc)
	if targets != nil {
		cfg.UseTargets(targets)
	}
	cfg.Progress = func(p load.Progress) {
		fmt.Fprintln(run.Log, p.String())
		run.ToolOutput("%s", p.String()) // every window: the live table's row follows the run
	}
	fmt.Fprintf(run.Log, "load: scenario %s (%s) -> %s\n", sc.Name, sc.Source, cfg.Target)
	rep, err := k.run(ctx, run, c, cfg)
	if err != nil {
		return nil, fmt.Errorf("generator step: %w", err)
	}
	fmt.Fprintf(run.Log, "load: %s %s\n", rep.Verdict, rep.Reason)

	jsonAt, htmlAt, err := storeReports(ctx, run, rep)
	if err != nil {
		return nil, err
	}
	if err := storeTrace(ctx, run, rep); err != nil {
		return nil, err
	}
	if rep.Verdict != load.Passed {
		return nil, fmt.Errorf("load %s: %s (report: %s)", rep.Verdict, rep.Reason, htmlAt)
	}
	return withE2E(outputs(rep, jsonAt, htmlAt), rep), nil
}

// Destroy implements stack.StepKind: load leaves nothing behind but a
// persistent run, which it stops.
func (k *Kind) Destroy(ctx context.Context, run *stack.StepRun) error {
	return k.stopPersistent(ctx, run)
}
