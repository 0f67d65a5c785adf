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
	if o.StopLost >= 0 {
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
