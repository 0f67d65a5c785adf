package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/stack-tools/stack/load"
	"github.com/stack-tools/stack/load/report"
	"github.com/stack-tools/stack/load/scenario/s3scenario"
)

// addMoreLoadFlags adds the flags of kafka:// targets (they fill
// o.Run.Kafka) and of sender lists.
func addMoreLoadFlags(f *pflag.FlagSet, o *loadOptions) {
	f.StringVar(&o.TargetsFile, "targets-file", "", "replay recorded requests instead of a scenario: Vegeta's http format or JSON lines (a path or s3://BUCKET/KEY), once unless --targets-loop")
	f.BoolVar(&o.TargetsLoop, "targets-loop", false, "replay --targets-file again and again until --duration or --requests")
	f.StringVar(&o.Run.Senders.File, "senders-file", "", "a CSV of real senders instead of a synthetic pool: a header row (phone, and any columns: {{.Sender.Columns.NAME}}), one sender per row; a path or s3://BUCKET/KEY")
	f.DurationVar(&o.RollEvery, "roll-every", load.DefaultRollEvery, "--duration 0: how often the report rolls out to a file of its own")
	_ = f.MarkHidden("roll-every")
	k := &o.Kafka
	f.StringToStringVar(&k.Topics, "kafka-topic", nil, "kafka:// targets: a message type's topic, TYPE=TOPIC (repeatable; default the target's topic, where {type} is the type)")
	f.StringVar(&k.Key, "kafka-key", "", "kafka:// targets: template of each record's key, such as '{{.Sender.Phone}}' (default none: spread over partitions)")
	f.StringVar(&k.Acks, "kafka-acks", "all", "kafka:// targets: all (idempotent: no duplicates on retry), leader or none")
	f.DurationVar(dur(&k.Linger), "kafka-linger", 0, "kafka:// targets: how long a batch waits to fill")
	f.Int32Var(&k.BatchBytes, "kafka-batch-bytes", 0, "kafka:// targets: largest batch in bytes (default 1MB)")
	f.StringVar(&k.Compression, "kafka-compression", "none", "kafka:// targets: none, gzip, snappy, lz4 or zstd")
}

var kafkaField = regexp.MustCompile(`kafka "([a-z_]+)"`)

// cannedConfig is the run of --targets-file: its requests on the schedule
// of the rate flags, once (the default) or looping.
func (o *loadOptions) cannedConfig(ctx context.Context) (load.Config, error) {
	switch {
	case o.Run.Target != "":
		return load.Config{}, loadUsage("give --target or --targets-file, not both: a targets file names its URLs")
	case o.Run.Scenario != "":
		return load.Config{}, loadUsage("give --scenario or --targets-file, not both")
	case o.TargetsLoop && o.Run.Duration == 0 && o.Run.Requests == 0:
		return load.Config{}, loadUsage("--targets-loop needs --duration (such as 1m) and/or --requests, so the run ends by itself")
	case (o.Rate.Shape == "constant" || o.Rate.Shape == "") && o.Rate.Rate <= 0:
		return load.Config{}, loadUsage("--rate is required: requests per second (or choose --shape steps|ramp|trickle)")
	}
	var data []byte
	var err error
	if s3scenario.Is(o.TargetsFile) {
		data, err = s3scenario.ReadObject(ctx, o.TargetsFile, 256<<20)
	} else {
		data, err = os.ReadFile(o.TargetsFile)
	}
	if err != nil {
		return load.Config{}, loadUsage("--targets-file: %w", err)
	}
	t, err := load.ReadTargets(data, o.TargetsFile, filepath.Dir(o.TargetsFile))
	if err != nil {
		return load.Config{}, loadUsage("--targets-file %w", err)
	}
	t.Loop = o.TargetsLoop
	run := o.Run
	rate := o.Rate
	run.Rate = &rate
	if o.Stop.MinSuccess > 0 || o.Stop.MaxLatency > 0 {
		stop := o.Stop
		run.Stop = &stop
	}
	cfg := run.LoadConfig(nil)
	cfg.UseTargets(t)
	return cfg, nil
}

// persist makes --duration 0 a run until stopped: every --roll-every the
// windows so far go to load-report-TIME.json in --report-dir, and
// load-summary.json holds the totals so far; the end writes the usual
// reports (runLoad), the windows since the last roll in them.
func (o *loadOptions) persist(cfg *load.Config) error {
	if !o.Forever {
		return nil
	}
	if o.Run.Requests > 0 {
		return loadUsage("--duration 0 runs until stopped: drop --requests")
	}
	if o.RollEvery <= 0 {
		return loadUsage("--roll-every must be positive")
	}
	dir, errOut := o.ReportDir, o.ErrOut
	cfg.Forever = &load.Persistent{RollEvery: o.RollEvery, Roll: func(rep *load.Report) {
		if dir == "" {
			return
		}
		name := "load-report-" + time.Now().UTC().Format("2006-01-02T150405") + ".json"
		if err := writeReportFile(filepath.Join(dir, name), rep, true); err != nil {
			fmt.Fprintf(errOut, "rolling the report: %v\n", err)
		}
		if err := writeReportFile(filepath.Join(dir, "load-summary.json"), rep, false); err != nil {
			fmt.Fprintf(errOut, "writing the summary: %v\n", err)
		}
	}}
	return nil
}

// writeReportFile writes rep as JSON (without its windows unless asked)
// through a temporary file, so a reader never sees half of it.
func writeReportFile(path string, rep *load.Report, windows bool) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	r := *rep
	if !windows {
		r.Windows = nil
	}
	var b bytes.Buffer
	if err := report.JSON(&b, &r); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b.Bytes(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// senders reads --senders-file, naming the flag and the bad lines.
func (o *loadOptions) senders(ctx context.Context) error {
	if err := o.Run.LoadSenders(ctx, ""); err != nil {
		return loadUsage("--senders-file: %w", err)
	}
	return nil
}

// kafkaOptions gives the run the Kafka flags when the target is Kafka's, and
// names the flag that is wrong.
func (o *loadOptions) kafkaOptions() error {
	if !load.IsKafka(o.Run.Target) {
		return nil
	}
	if err := o.Kafka.Check(); err != nil {
		// `kafka "batch_bytes" ...` -> `--kafka-batch-bytes ...`
		msg := kafkaField.ReplaceAllStringFunc(err.Error(), func(m string) string {
			return "--kafka-" + strings.ReplaceAll(kafkaField.FindStringSubmatch(m)[1], "_", "-")
		})
		return loadUsage("%s", msg)
	}
	k := o.Kafka
	o.Run.Kafka = &k
	return nil
}
