package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/stack-tools/stack/load"
	"github.com/stack-tools/stack/load/report"
	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/steps/generator"
)

// reportOptions are the inputs of `stack report`.
type reportOptions struct {
	runEnv
	Name, Step string
	Run        string // "" is the latest
	Compare    string // another run to put beside Run
	HTMLOut    string // where the comparison's HTML goes
}

func newReportCmd(g *globalOptions) *cobra.Command {
	o := &reportOptions{}
	cmd := &cobra.Command{
		Use:   "report NAME STEP [RUN]",
		Short: "List a load step's runs, show one, or compare two side by side",
		Long: `Every run of a load (generator) step keeps its JSON and HTML reports, under a run
id, until stack down deletes the stack. Without RUN, list the step's runs, newest
first, with their verdicts and where their reports are. With RUN (default: the
latest), show that run; with --compare OTHER, compare it with another run: a table
per message type on stdout and an HTML page with both runs' charts overlaid.`,
		Example: `  stack report demo load
  stack report demo load --compare r-20261206T101500.000Z
  stack report bfcm load r-20261206T101500.000Z --compare r-20261205T090000.000Z --html compare.html`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 || len(args) > 3 {
				return &usageError{fmt.Errorf("report takes NAME, STEP and optionally RUN (got %d arguments); see `stack report --help`", len(args))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.runEnv, o.Name, o.Step, o.Run = g.env(cmd), args[0], args[1], optionalArg(args, 2)
			return runReport(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.Compare, "compare", "", "another run of the step to compare with (a run id from the list)")
	cmd.Flags().StringVar(&o.HTMLOut, "html", "", "with --compare: write the comparison page here (default load-compare-RUN-vs-OTHER.html in the current folder)")
	return cmd
}

// runsPrefix is where a load step's runs are kept in the store: the step's
// artifacts (as the engine keys them) under the generator's runs folder.
func runsPrefix(name, step string) string {
	return path.Join("stacks", name, "artifacts", step, generator.RunsFolder) + "/"
}

// runIDs lists a load step's kept runs, oldest first.
func runIDs(ctx context.Context, st stack.Store, name, step string) ([]string, error) {
	keys, err := st.List(ctx, runsPrefix(name, step))
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, k := range keys {
		id, file, ok := strings.Cut(strings.TrimPrefix(k, runsPrefix(name, step)), "/")
		if ok && file == generator.ReportJSON {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// loadRun reads a kept run's JSON report.
func loadRun(ctx context.Context, st stack.Store, name, step, id string) (*load.Report, error) {
	data, _, err := st.Get(ctx, runsPrefix(name, step)+id+"/"+generator.ReportJSON)
	if err != nil {
		return nil, fmt.Errorf("run %s of step %s: %w", id, step, err)
	}
	var rep load.Report
	if err := json.Unmarshal(data, &rep); err != nil {
		return nil, fmt.Errorf("run %s of step %s: reading its report: %w", id, step, err)
	}
	rep.Run = id
	return &rep, nil
}

func runReport(ctx context.Context, o *reportOptions) error {
	e, rec, err := o.record(ctx, o.Name)
	if err != nil {
		return err
	}
	s, ok := rec.Steps[o.Step]
	if !ok {
		return &usageError{fmt.Errorf("stack %q has no step %q (its steps: %s)", o.Name, o.Step, strings.Join(rec.StepOrder(), ", "))}
	}
	if s.Kind != "generator" {
		return &usageError{fmt.Errorf("step %q of stack %q is a %s step: only load (generator) steps have reports", o.Step, o.Name, s.Kind)}
	}
	ids, err := runIDs(ctx, e.Store, o.Name, o.Step)
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		// A step run before runs were kept has only its latest report.
		latest := path.Join("stacks", o.Name, "artifacts", o.Step, generator.ReportHTML)
		if _, _, err := e.Store.Get(ctx, latest); err == nil {
			return fmt.Errorf("step %s of stack %q has no kept runs, only the report of its last run (made before runs were kept): %s; `stack rerun-step %s %s` starts keeping them", o.Step, o.Name, e.Store.Location(latest), o.Name, o.Step)
		}
		return fmt.Errorf("step %s of stack %q has no kept runs yet: `stack up` or `stack rerun-step %s %s` runs it", o.Step, o.Name, o.Name, o.Step)
	}
	for _, id := range []string{o.Run, o.Compare} {
		if id != "" && !slices.Contains(ids, id) {
			return &usageError{fmt.Errorf("step %s of stack %q has no run %q; its runs: %s", o.Step, o.Name, id, strings.Join(ids, ", "))}
		}
	}
	switch {
	case o.Compare != "":
		return o.compare(ctx, e.Store, ids)
	case o.Run != "":
		rep, err := loadRun(ctx, e.Store, o.Name, o.Step, o.Run)
		if err != nil {
			return err
		}
		if o.JSON {
			return report.JSON(o.Out, rep)
		}
		printSummary(o.Out, rep)
		fmt.Fprintf(o.Out, "report: %s\n", e.Store.Location(runsPrefix(o.Name, o.Step)+o.Run+"/"+generator.ReportHTML))
		return nil
	}
	return o.list(ctx, e.Store, ids)
}

// runLine is one run in `stack report NAME STEP`.
type runLine struct {
	Run          string  `json:"run"`
	Started      string  `json:"started"`
	Verdict      string  `json:"verdict"`
	Sent         uint64  `json:"sent"`
	Rate         float64 `json:"rate"`
	SuccessRatio float64 `json:"success_ratio"`
	P99Ms        float64 `json:"p99_ms"`
	Report       string  `json:"report"`
}

func (o *reportOptions) list(ctx context.Context, st stack.Store, ids []string) error {
	lines := []runLine{}
	for _, id := range slices.Backward(ids) {
		rep, err := loadRun(ctx, st, o.Name, o.Step, id)
		if err != nil {
			return err
		}
		lines = append(lines, runLine{Run: id, Started: rep.Started.Local().Format("2006-01-02 15:04:05"), Verdict: rep.Verdict,
			Sent: rep.Total.Sent, Rate: round(rep.Total.Rate, 1), SuccessRatio: round(rep.Total.SuccessRatio, 4), P99Ms: round(rep.Total.Latency.P99, 2),
			Report: st.Location(runsPrefix(o.Name, o.Step) + id + "/" + generator.ReportHTML)})
	}
	if o.JSON {
		return writeJSON(o.Out, lines)
	}
	tw := tabwriter.NewWriter(o.Out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tSTARTED\tVERDICT\tSENT\tRATE/S\tSUCCESS\tP99 MS\tREPORT")
	for _, l := range lines {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%.1f\t%.2f%%\t%s\t%s\n", l.Run, l.Started, l.Verdict, l.Sent, l.Rate, 100*l.SuccessRatio, msText(l.P99Ms, l.Sent > 0), l.Report)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(o.ErrOut, "%d run(s), kept until `stack down %s`; compare two with `stack report %s %s --compare RUN`\n", len(lines), o.Name, o.Name, o.Step)
	return nil
}

// compare puts run o.Run (default the latest) beside o.Compare.
func (o *reportOptions) compare(ctx context.Context, st stack.Store, ids []string) error {
	if o.Run == "" {
		o.Run = ids[len(ids)-1]
	}
	a, err := loadRun(ctx, st, o.Name, o.Step, o.Run)
	if err != nil {
		return err
	}
	b, err := loadRun(ctx, st, o.Name, o.Step, o.Compare)
	if err != nil {
		return err
	}
	if o.JSON {
		return writeJSON(o.Out, map[string]any{"runs": []*load.Report{a, b}})
	}
	printComparison(o.Out, a, b)
	out := o.HTMLOut
	if out == "" {
		out = fmt.Sprintf("load-compare-%s-vs-%s.html", a.Run, b.Run)
	}
	f, err := os.Create(out)
	if err != nil {
		return &usageError{fmt.Errorf("--html %s: %w", out, err)}
	}
	err = report.CompareHTML(f, a, b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", out, err)
	}
	fmt.Fprintln(o.ErrOut, "comparison:", out)
	return nil
}

// printComparison is the table of `stack report --compare`: per type, each
// run's figures and the change.
func printComparison(w io.Writer, a, b *load.Report) {
	fmt.Fprintf(w, "A = %s (%s, seed %d)\nB = %s (%s, seed %d)\n\n", a.Run, a.Verdict, a.Seed, b.Run, b.Verdict, b.Seed)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "type\tsent A\tsent B\trate/s A\trate/s B\tsuccess A\tsuccess B\tp99 ms A\tp99 ms B\tmax ms A\tmax ms B\t")
	byName := map[string]load.Stats{}
	for _, t := range b.Types {
		byName[t.Name] = t.Stats
	}
	row := func(name string, x, y load.Stats, hasY bool) {
		yText := func(f func(load.Stats) string) string {
			if !hasY {
				return "-"
			}
			return f(y)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%.1f\t%s\t%.2f%%\t%s\t%s\t%s\t%s\t%s\t\n", name,
			x.Sent, yText(func(s load.Stats) string { return fmt.Sprint(s.Sent) }),
			x.Rate, yText(func(s load.Stats) string { return fmt.Sprintf("%.1f", s.Rate) }),
			100*x.SuccessRatio, yText(func(s load.Stats) string { return fmt.Sprintf("%.2f%%", 100*s.SuccessRatio) }),
			latText(x, x.Latency.P99), yText(func(s load.Stats) string { return latText(s, s.Latency.P99) }),
			latText(x, x.Latency.Max), yText(func(s load.Stats) string { return latText(s, s.Latency.Max) }))
	}
	for _, t := range a.Types {
		y, ok := byName[t.Name]
		row(t.Name, t.Stats, y, ok)
	}
	row("all", a.Total, b.Total, true)
	tw.Flush()
}
