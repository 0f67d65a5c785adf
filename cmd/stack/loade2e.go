package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/stack-tools/stack/load"
	"github.com/stack-tools/stack/load/e2e"
	"github.com/stack-tools/stack/steps/generator"
)

// e2eFlags reads --e2e (JSON or @FILE) and --stop-lost into run.
func (o *loadOptions) e2eFlags(run *generator.Config) error {
	if o.StopLostSet {
		if o.StopLost < 0 {
			return loadUsage("--stop-lost %d: want 0 or more lost arrivals", o.StopLost)
		}
		n := o.StopLost
		o.Stop.MaxLost = &n
	}
	if o.E2E == "" {
		if o.Stop.MaxE2ELatency > 0 || o.Stop.MaxLost != nil {
			return loadUsage("--stop-e2e-latency and --stop-lost need --e2e: the probes to trace messages to")
		}
		return nil
	}
	raw := []byte(o.E2E)
	if name, ok := strings.CutPrefix(o.E2E, "@"); ok {
		b, err := os.ReadFile(name)
		if err != nil {
			return loadUsage("--e2e: %w", err)
		}
		raw = b
	}
	var c e2e.Config
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return loadUsage("--e2e: %w (want {\"probes\": [{\"url\": ..., \"match\": [...]}], \"expect\": {\"TYPE\": N}, \"wait\": \"30s\"})", err)
	}
	run.E2E = &c
	return nil
}

// writeTrace writes the run's e2e trace into dir, when it has one.
func writeTrace(dir string, rep *load.Report, log io.Writer) error {
	if rep.Trace == nil {
		return nil
	}
	path := filepath.Join(dir, e2e.TraceFile)
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	err = rep.WriteTrace(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	fmt.Fprintln(log, "trace:", path)
	return nil
}

// printE2E is the far end's table under the front door's.
func printE2E(w io.Writer, rep *load.Report) {
	e := rep.E2E
	if e == nil {
		return
	}
	fmt.Fprintf(w, "\nend to end (wait %gs)%s\n", e.Wait, map[bool]string{true: ": INCOMPLETE: " + e.Incomplete, false: ""}[e.Incomplete != ""])
	fmt.Fprintf(w, "%-16s %6s %9s %9s %7s %7s %9s %9s %9s %9s\n", "type", "expect", "messages", "arrived", "lost", "dup", "p50 ms", "p99 ms", "p99.9 ms", "max ms")
	row := func(name, expect string, s e2e.Stats) {
		fmt.Fprintf(w, "%-16s %6s %9d %9d %7d %7d %9.2f %9.2f %9.2f %9.2f\n", name, expect, s.Messages, s.Arrived, s.Lost, s.Duplicated,
			s.Latency.P50, s.Latency.P99, s.Latency.P999, s.Latency.Max)
	}
	for _, t := range e.Types {
		row(t.Name, fmt.Sprint(t.Expect), t.Stats)
	}
	row("all", "", e.Total)
	for _, t := range e.Types {
		if len(t.LostIDs) > 0 {
			fmt.Fprintf(w, "lost %s: %s\n", t.Name, strings.Join(t.LostIDs, " "))
		}
		if len(t.DupIDs) > 0 {
			fmt.Fprintf(w, "duplicated %s: %s\n", t.Name, strings.Join(t.DupIDs, " "))
		}
	}
	if e.Unexpected > 0 {
		fmt.Fprintf(w, "unexpected arrivals: %d (%s)\n", e.Unexpected, strings.Join(e.UnexpectedSamples, "; "))
	}
}
