package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/stack-tools/stack/engine"
	"github.com/stack-tools/stack/load/e2e"
	"github.com/stack-tools/stack/steps/generator"
)

// traceOptions are the inputs of `stack trace`.
type traceOptions struct {
	runEnv
	Name, Step, ID string
	// Run names one of the step's kept runs (stack report NAME STEP); "" is the latest.
	Run string
	// ReportDir reads the trace `stack load --e2e` wrote there instead.
	ReportDir string
}

func newTraceCmd(g *globalOptions) *cobra.Command {
	o := &traceOptions{}
	cmd := &cobra.Command{
		Use:   "trace NAME STEP ID | trace --report-dir DIR ID",
		Short: "Where did my message go: a traced message's send, the target's answer and each arrival at the probes",
		Example: `  stack trace demo load SMd3c1e0a27c4b4d2e8001000000000007
  stack trace --report-dir ./reports 3f2a9c1e-7b4d-4c2e-8001-00000000002a`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.runEnv = g.env(cmd)
			switch {
			case o.ReportDir != "" && len(args) == 1:
				o.ID = args[0]
			case o.ReportDir == "" && len(args) == 3:
				o.Name, o.Step, o.ID = args[0], args[1], args[2]
			default:
				return &usageError{fmt.Errorf("trace takes NAME STEP ID, or --report-dir DIR and ID (got %d arguments)", len(args))}
			}
			return runTrace(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.ReportDir, "report-dir", "", "read the trace of a stack load --e2e run from its --report-dir")
	cmd.Flags().StringVar(&o.Run, "run", "", "one of the step's earlier runs, as stack report NAME STEP lists them (default: the latest)")
	return cmd
}

func runTrace(ctx context.Context, o *traceOptions) error {
	data, err := o.trace(ctx)
	if err != nil {
		return err
	}
	head, line, err := e2e.Lookup(bytes.NewReader(data), o.ID)
	if errors.Is(err, e2e.ErrNotTraced) {
		return fmt.Errorf("message %s: %w (ids are in the report's lost_ids and duplicated_ids, and in the target's logs)", o.ID, err)
	}
	if err != nil {
		return err
	}
	if o.JSON {
		return writeJSON(o.Out, line)
	}
	printTrace(o.Out, head, line)
	return nil
}

// trace reads the stored trace of the step, or the one in --report-dir.
func (o *traceOptions) trace(ctx context.Context) ([]byte, error) {
	if o.ReportDir != "" {
		data, err := os.ReadFile(filepath.Join(o.ReportDir, e2e.TraceFile))
		if err != nil {
			return nil, fmt.Errorf("--report-dir: %w (a `stack load --e2e` run writes %s there)", err, e2e.TraceFile)
		}
		return data, nil
	}
	var data []byte
	err := o.withEngine(ctx, func(e *engine.Engine) error {
		var err error
		file := e2e.TraceFile
		if o.Run != "" {
			file = path.Join(generator.RunsFolder, o.Run, e2e.TraceFile)
		}
		data, err = e.Artifact(ctx, o.Name, o.Step, file)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%w (only generator steps with \"e2e\" keep a trace)", err)
	}
	return data, nil
}

func printTrace(w io.Writer, head e2e.TraceHead, l *e2e.TraceLine) {
	fmt.Fprintf(w, "message %s (%s)\n", l.ID, l.Type)
	fmt.Fprintf(w, "  due      %s\n", l.Intended.Format(time.RFC3339Nano))
	fmt.Fprintf(w, "  sent     %s (%s after due)\n", l.Sent.Format(time.RFC3339Nano), l.Sent.Sub(l.Intended))
	answer := fmt.Sprint(l.Code)
	if l.Code == 0 {
		answer = "no answer (the request failed)"
	}
	fmt.Fprintf(w, "  answer   %s\n", answer)
	if l.Resend {
		fmt.Fprintln(w, "  a duplicate resend of an earlier message: its arrivals count there")
	}
	fmt.Fprintf(w, "  expect   %d arrival(s)\n", l.Expect)
	for _, a := range l.Arrivals {
		fmt.Fprintf(w, "  arrived  at probe %s %s (%.1f ms after due)\n", a.Probe, a.At.Format(time.RFC3339Nano), a.LatencyMs)
	}
	switch n := len(l.Arrivals); {
	case n < l.Expect:
		fmt.Fprintf(w, "  not arrived after %s (the run's e2e wait): %d of %d missing\n", head.Wait, l.Expect-n, l.Expect)
	case n > l.Expect:
		fmt.Fprintf(w, "  duplicated: %d arrival(s) beyond the %d expected\n", n-l.Expect, l.Expect)
	}
}
