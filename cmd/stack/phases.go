package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/stack-tools/stack/state"
	"github.com/stack-tools/stack/steps/exec"
)

// statusArgs accepts NAME and an optional STEP.
func statusArgs(cmd *cobra.Command, args []string) error {
	if len(args) < 1 || len(args) > 2 {
		return &usageError{fmt.Errorf("status takes NAME and optionally STEP (got %d arguments); see `stack status --help`", len(args))}
	}
	return nil
}

// stepStatus is `stack status NAME STEP --output json`.
type stepStatus struct {
	Stack string `json:"stack"`
	Step  string `json:"step"`
	*state.StepState
}

// printStepStatus shows one step in detail: where its time went, phase by phase.
func printStepStatus(w io.Writer, output string, rec *state.Record, step string) error {
	s, ok := rec.Steps[step]
	if !ok {
		return &usageError{fmt.Errorf("stack %q has no step %q; steps are: %s", rec.Name, step, strings.Join(rec.StepOrder(), ", "))}
	}
	if output == "json" {
		return writeJSON(w, stepStatus{Stack: rec.Name, Step: step, StepState: s})
	}
	fmt.Fprintf(w, "Step %s of stack %s: %s", step, rec.Name, s.Status)
	if s.Seconds > 0 {
		fmt.Fprintf(w, " in %.2fs", s.Seconds)
	}
	fmt.Fprintln(w)
	if s.Progress != "" {
		fmt.Fprintf(w, "  now: %s\n", s.Progress)
	}
	if s.Error != "" {
		fmt.Fprintf(w, "  error: %s\n", s.Error)
	}
	if t, ok := exec.Summarize(s.Outputs); ok {
		printTests(w, t)
	}
	if len(s.Phases)+len(s.Ahead) == 0 {
		fmt.Fprintln(w, "  no phase timings recorded (the step has not run since stack recorded them)")
	} else {
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "  PHASE\tSTART\tSECONDS\t")
		for _, p := range s.Ahead {
			fmt.Fprintf(tw, "  %s (ahead)\t%.2f\t%.2f\t\n", p.Name, p.Start, p.Seconds)
		}
		for _, p := range s.Phases {
			fmt.Fprintf(tw, "  %s\t%.2f\t%.2f\t\n", p.Name, p.Start, p.Seconds)
		}
		tw.Flush()
		if len(s.Ahead) > 0 {
			fmt.Fprintln(w, "  (ahead: set-up done while upstream steps ran; start is relative to the step's start)")
		}
	}
	if s.Log != "" {
		fmt.Fprintf(w, "  log: %s\n", s.Log)
	}
	return nil
}

// phaseLine sums a step's phases by name, in the order they first ran:
// "prepare 0.01s · apply 2.31s · record 0.00s", and what was done ahead.
func phaseLine(s *state.StepState) string {
	line := sumPhases(s.Phases)
	if a := sumPhases(s.Ahead); a != "" {
		line += " (ahead: " + a + ")"
	}
	return line
}

func sumPhases(ps []state.Phase) string {
	total := map[string]float64{}
	var order []string
	for _, p := range ps {
		if _, ok := total[p.Name]; !ok {
			order = append(order, p.Name)
		}
		total[p.Name] += p.Seconds
	}
	parts := make([]string, len(order))
	for i, n := range order {
		parts[i] = fmt.Sprintf("%s %.2fs", n, total[n])
	}
	return strings.Join(parts, " · ")
}

// maxTestsShown bounds the tests `stack status NAME STEP` lists one by one.
const maxTestsShown = 50

// printTests is an exec step's part of `stack status NAME STEP`: its exit
// code, where its output went, and its tests, failing ones first.
func printTests(w io.Writer, t exec.Summary) {
	fmt.Fprintf(w, "  exit code %d · stdout %s · stderr %s\n", t.ExitCode, t.Stdout, t.Stderr)
	if t.Tests == 0 && len(t.Results) == 0 {
		return
	}
	fmt.Fprintf(w, "  tests: %d passed, %d failed, %d skipped of %d (every result: %s)\n", t.Passed, t.Failed, t.Skipped, t.Tests, t.Junit)
	shown := 0
	failed := map[string]bool{}
	for _, n := range t.FailedTests {
		failed[n] = true
		if shown < maxTestsShown {
			fmt.Fprintf(w, "    FAIL  %s\n", n)
			shown++
		}
	}
	for _, n := range slices.Sorted(maps.Keys(t.Results)) {
		if failed[n] || shown >= maxTestsShown {
			continue
		}
		fmt.Fprintf(w, "    %-5s %s\n", statusWord(t.Results[n]), n)
		shown++
	}
	if more := t.Tests - shown; more > 0 {
		fmt.Fprintf(w, "    ... %d more\n", more)
	}
}

func statusWord(s string) string {
	switch s {
	case exec.Passed:
		return "ok"
	case exec.Skipped:
		return "skip"
	case exec.Failed, exec.Errored:
		return "FAIL"
	}
	return s
}
