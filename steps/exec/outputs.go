package exec

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/stack-tools/stack/stack"
)

// Limits on what the step's outputs list test by test; the stored
// results.json artifact always has every test.
const (
	maxFailedListed = 100
	maxTestsListed  = 200
)

// store puts stdout, stderr and the test results with the stack and returns
// the step's outputs.
func (res *result) store(ctx context.Context, run *stack.StepRun) (stack.Outputs, error) {
	var err error
	if res.stdoutAt, err = run.Artifacts.PutArtifact(ctx, res.prefix+"stdout.txt", res.stdout); err != nil {
		return nil, err
	}
	if res.stderrAt, err = run.Artifacts.PutArtifact(ctx, res.prefix+"stderr.txt", res.stderr); err != nil {
		return nil, err
	}
	res.logTails(run.Log)
	outs := stack.Outputs{
		"exit_code": {Value: res.exitCode},
		"stdout":    {Value: res.stdoutAt},
		"stderr":    {Value: res.stderrAt},
	}
	if res.junit != nil {
		at, err := run.Artifacts.PutArtifact(ctx, "junit.xml", res.junit)
		if err != nil {
			return nil, err
		}
		outs["junit"] = stack.Output{Value: at}
	}
	if t := res.tests; t != nil {
		b, _ := json.MarshalIndent(t.Tests, "", "  ")
		at, err := run.Artifacts.PutArtifact(ctx, "results.json", b)
		if err != nil {
			return nil, err
		}
		failing := t.Failing()
		if len(failing) > maxFailedListed {
			failing = failing[:maxFailedListed]
		}
		byName := map[string]string{}
		for i, tc := range t.Tests {
			if i == maxTestsListed {
				break
			}
			byName[tc.Name] = tc.Status
		}
		outs["results"] = stack.Output{Value: at}
		outs["tests"] = stack.Output{Value: len(t.Tests)}
		outs["tests_passed"] = stack.Output{Value: t.Passed}
		outs["tests_failed"] = stack.Output{Value: t.Failed + t.Errors}
		outs["tests_skipped"] = stack.Output{Value: t.Skipped}
		outs["failed_tests"] = stack.Output{Value: failing}
		outs["test_results"] = stack.Output{Value: byName}
	}
	return outs, nil
}

// verdict is "" when the run passed, else why it failed: the command timed
// out or exited non-zero, or its JUnit results are missing or hold a
// failing test.
func (res *result) verdict(junit string) string {
	var why []string
	switch {
	case res.timedOut:
		why = append(why, fmt.Sprintf("%s timed out after %s (raise \"timeout\" if it needs longer)", res.shown, res.timeout))
	case res.exitCode != 0:
		why = append(why, fmt.Sprintf("%s exited with status %d", res.shown, res.exitCode))
	}
	if junit != "" && res.junitErr != nil {
		why = append(why, res.junitErr.Error())
	}
	if t := res.tests; t != nil {
		if f := t.Failing(); len(f) > 0 {
			list := f
			if len(list) > 10 {
				list = list[:10]
			}
			more := ""
			if len(f) > len(list) {
				more = fmt.Sprintf(" and %d more", len(f)-len(list))
			}
			why = append(why, fmt.Sprintf("%d of %d tests failed: %s%s", len(f), len(t.Tests), strings.Join(list, ", "), more))
		}
	}
	if len(why) == 0 {
		return ""
	}
	if res.stderrAt != "" {
		why = append(why, "stderr: "+res.stderrAt)
	}
	return strings.Join(why, "; ")
}

// logTails copies the end of what the command printed into the step's log.
func (res *result) logTails(w io.Writer) {
	const tail = 8 << 10
	for _, s := range []struct {
		name string
		b    []byte
	}{{"stdout", res.stdout}, {"stderr", res.stderr}} {
		b := s.b
		if len(b) == 0 {
			continue
		}
		cut := ""
		if len(b) > tail {
			b, cut = b[len(b)-tail:], fmt.Sprintf(" (last %d bytes)", tail)
		}
		fmt.Fprintf(w, "exec: %s%s%s:\n%s", res.prefix, s.name, cut, b)
		if b[len(b)-1] != '\n' {
			fmt.Fprintln(w)
		}
	}
}

// Summary is what an exec step's outputs say about its tests.
type Summary struct {
	ExitCode                       int
	Tests, Passed, Failed, Skipped int
	FailedTests                    []string
	// Results maps each test (up to the first 200) to its status.
	Results map[string]string
	Stdout  string
	Stderr  string
	Junit   string
}

// Summarize reads a step's outputs as an exec step's; ok is false for other
// kinds of steps. Outputs read back from a store hold JSON types.
func Summarize(o stack.Outputs) (s Summary, ok bool) {
	if _, ok := o["exit_code"]; !ok {
		return Summary{}, false
	}
	if _, ok := o["stdout"]; !ok {
		return Summary{}, false
	}
	str := func(k string) string { v, _ := o[k].Value.(string); return v }
	s = Summary{ExitCode: num(o["exit_code"].Value), Tests: num(o["tests"].Value), Passed: num(o["tests_passed"].Value),
		Failed: num(o["tests_failed"].Value), Skipped: num(o["tests_skipped"].Value),
		Stdout: str("stdout"), Stderr: str("stderr"), Junit: str("results"), Results: map[string]string{}}
	switch l := o["failed_tests"].Value.(type) {
	case []string:
		s.FailedTests = l
	case []any:
		for _, v := range l {
			if n, ok := v.(string); ok {
				s.FailedTests = append(s.FailedTests, n)
			}
		}
	}
	switch m := o["test_results"].Value.(type) {
	case map[string]string:
		s.Results = m
	case map[string]any:
		for k, v := range m {
			s.Results[k], _ = v.(string)
		}
	}
	return s, true
}

func num(v any) int {
	switch n := v.(type) {
	case int:
		return n
	case float64:
		return int(n)
	case int64:
		return int(n)
	case json.Number:
		i, _ := n.Int64()
		return int(i)
	}
	return 0
}
