package terraform

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/stack-tools/stack/stack"
)

// streamLines returns the lines of a stream constant.
func streamLines(s string) []string { return strings.Split(s, "\n") }

// lineOf returns the line of stream whose text contains marker.
func lineOf(t *testing.T, stream, marker string) string {
	t.Helper()
	for _, l := range streamLines(stream) {
		if strings.Contains(l, marker) {
			return l
		}
	}
	t.Fatalf("no line with %q", marker)
	return ""
}

func TestParseStreamLine(t *testing.T) {
	lockDetail := "Error message: operation error S3: PutObject"
	tests := []struct {
		name       string
		line       string
		log        []string // prefixes of the log lines
		progress   string
		applyStart bool
		outputs    []string // names, sorted; nil: not an outputs message
		diag       string   // prefix
	}{
		{name: "version", line: lineOf(t, applyStream, `"type":"version"`), log: []string{"Terraform 1.11.4"}},
		{name: "planned change", line: lineOf(t, applyStream, `"type":"planned_change"`), log: []string{"terraform_data.a: Plan to create"}},
		{name: "plan's outputs", line: lineOf(t, applyStream, `"action":"create"},"plain"`), log: []string{"Outputs: 2"}, outputs: []string{"password", "plain"}},
		{name: "apply start", line: lineOf(t, applyStream, `"type":"apply_start"`), log: []string{"terraform_data.a: Creating..."},
			progress: "terraform_data.a: Creating...", applyStart: true},
		{name: "provisioner output is logged, not progress", line: lineOf(t, applyStream, `"type":"provision_progress"`),
			log: []string{`terraform_data.a: (local-exec): Executing: ["/bin/sh" "-c" "sleep 0"]`}},
		{name: "apply complete", line: lineOf(t, applyStream, `"type":"apply_complete"`), log: []string{"terraform_data.a: Creation complete after 0s"},
			progress: "terraform_data.a: Creation complete after 0s"},
		{name: "refresh start", line: lineOf(t, failedApplyStream, `"type":"refresh_start"`), log: []string{"terraform_data.a: Refreshing state..."},
			progress: "terraform_data.a: Refreshing state..."},
		{name: "delete start", line: lineOf(t, failedApplyStream, `"action":"delete","id_key"`), log: []string{"terraform_data.a: Destroying..."},
			progress: "terraform_data.a: Destroying...", applyStart: true},
		{name: "init output", line: lineOf(t, initStream, "Initializing the backend"), log: []string{"Initializing the backend..."},
			progress: "Initializing the backend..."},
		{name: "init text that is not JSON", line: lineOf(t, initStream, "Successfully configured"), log: []string{`Successfully configured the backend "local"!`}},
		{name: "empty line", line: "", log: []string{""}},
		{name: "final outputs", line: lineOf(t, applyStream, `"value":"plain"`), log: []string{"Outputs: 2"}, outputs: []string{"password", "plain"}},
		{name: "outputs message without outputs", line: `{"@message":"Outputs: 0","type":"outputs"}`, log: []string{"Outputs: 0"}, outputs: []string{}},
		{name: "error diagnostic", line: lineOf(t, failedApplyStream, `"type":"diagnostic"`),
			log:  []string{"Error: local-exec provisioner error", "  Error running command 'exit 3': exit status 3. Output: "},
			diag: "local-exec provisioner error: Error running command 'exit 3': exit status 3. Output:"},
		{name: "lock diagnostic", line: lineOf(t, s3LockedApplyStream, `"type":"diagnostic"`),
			log:  []string{"Error: Error acquiring the state lock", "  " + lockDetail},
			diag: "Error acquiring the state lock: " + lockDetail},
		{name: "warning diagnostic", line: warningLine, log: []string{"Warning: Value for undeclared variable"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := parseStreamLine([]byte(tt.line))
			if len(l.log) != len(tt.log) {
				t.Fatalf("log lines %q, want %d starting %q", l.log, len(tt.log), tt.log)
			}
			for i := range tt.log {
				if !strings.HasPrefix(l.log[i], tt.log[i]) {
					t.Errorf("log line %d = %q, want it to start with %q", i, l.log[i], tt.log[i])
				}
			}
			if l.hasProgress != (tt.progress != "") || !strings.HasPrefix(l.progress, tt.progress) {
				t.Errorf("progress = %q (%v), want %q", l.progress, l.hasProgress, tt.progress)
			}
			if l.applyStart != tt.applyStart {
				t.Errorf("applyStart = %v, want %v", l.applyStart, tt.applyStart)
			}
			if got := outputNames(l.outputs); !reflect.DeepEqual(got, tt.outputs) {
				t.Errorf("outputs %v, want %v", got, tt.outputs)
			}
			if (l.diag == "") != (tt.diag == "") || !strings.HasPrefix(l.diag, tt.diag) {
				t.Errorf("diag = %q, want %q...", l.diag, tt.diag)
			}
		})
	}
}

func outputNames(outs map[string]streamedOutput) []string {
	if outs == nil {
		return nil
	}
	names := []string{}
	for _, n := range []string{"password", "plain"} {
		if _, ok := outs[n]; ok {
			names = append(names, n)
		}
	}
	if len(names) != len(outs) {
		return append(names, "unexpected")
	}
	return names
}

// recordedRun is a StepRun whose log and progress lines are kept.
func recordedRun() (*stack.StepRun, *bytes.Buffer, *[]string) {
	var log bytes.Buffer
	var progress []string
	run := &stack.StepRun{Log: &log, Progress: func(format string, args ...any) {
		progress = append(progress, fmt.Sprintf(format, args...))
	}}
	return run, &log, &progress
}

// feed writes a stream to w in pieces that split lines, as a pipe may.
func feed(w *progressWriter, stream string) {
	b := []byte(stream + "\n")
	for len(b) > 0 {
		n := min(61, len(b))
		_, _ = w.Write(b[:n])
		b = b[n:]
	}
}

// An apply's stream becomes the log and progress; the outputs are the last
// outputs message's, and a sensitive output makes a `terraform output` needed.
func TestProgressWriterReadsAnApply(t *testing.T) {
	run, log, progress := recordedRun()
	w := newProgressWriter(run)
	feed(w, applyStream)
	if err := w.wrap(nil); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Terraform 1.11.4\n", "Plan: 1 to add, 0 to change, 0 to destroy.\n", "(local-exec): Executing:", "Apply complete! Resources: 1 added"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log.String(), `"@level"`) {
		t.Errorf("the log holds raw JSON:\n%s", log)
	}
	wantProgress := []string{"terraform_data.a: Creating...", "terraform_data.a: Creation complete after 0s [id=086ec439-810b-c554-fc50-9e286c4d140f]"}
	if !reflect.DeepEqual(*progress, wantProgress) {
		t.Errorf("progress %q, want %q", *progress, wantProgress)
	}
	if string(w.outputs["plain"].Value) != `"plain"` || !w.outputs["password"].Sensitive || w.outputs["password"].Value != nil {
		t.Errorf("outputs %+v: want the final message's", w.outputs)
	}
	if _, ok := plainOutputs(w.outputs); ok {
		t.Error("plainOutputs accepted outputs with a sensitive one")
	}
}

// A sensitive value never reaches the log or progress, even should Terraform
// put it in a message's JSON.
func TestStreamKeepsSensitiveValuesOut(t *testing.T) {
	const secret = "hunter2-secret-value"
	run, log, progress := recordedRun()
	w := newProgressWriter(run)
	feed(w, applyStream)
	feed(w, `{"@level":"info","@message":"Outputs: 1","type":"outputs","outputs":{"password":{"sensitive":true,"type":"string","value":"`+secret+`"}}}`)
	feed(w, `{"@level":"info","@message":"terraform_data.a: Creating...","type":"apply_start","hook":{"resource":{"addr":"terraform_data.a"},"action":"create","id_value":"`+secret+`"}}`)
	if err := w.wrap(nil); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(log.String(), secret) || strings.Contains(strings.Join(*progress, "\n"), secret) {
		t.Errorf("the secret reached the log or progress:\n%s\n%q", log, *progress)
	}
	if outs, ok := plainOutputs(w.outputs); ok {
		t.Errorf("plainOutputs returned a sensitive output as plain: %v", outs)
	}
}

// A failed command's error carries Terraform's error diagnostics (with -json
// they are on stdout, not in the error terraform-exec returns).
func TestProgressWriterWrapsDiagnostics(t *testing.T) {
	run, log, _ := recordedRun()
	w := newProgressWriter(run)
	feed(w, failedApplyStream)
	exit := errors.New("exit status 1\n")
	err := w.wrap(exit)
	if !errors.Is(err, exit) {
		t.Errorf("%v does not wrap the command's error", err)
	}
	want := "terraform: local-exec provisioner error: Error running command 'exit 3': exit status 3. Output:: exit status 1"
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q, want %q", err, want)
	}
	if !strings.Contains(log.String(), "  Error running command 'exit 3'") {
		t.Errorf("the log lacks the diagnostic's detail:\n%s", log)
	}
	if err := newProgressWriter(run).wrap(exit); err.Error() != "terraform: exit status 1\n" {
		t.Errorf("without diagnostics: %q", err)
	}
	if err := newProgressWriter(run).wrap(nil); err != nil {
		t.Errorf("success: %v", err)
	}
}

// s3ApplyLockedErr is the error apply returns when the state is locked: the
// diagnostic that says so, through the stream.
func s3ApplyLockedErr() string {
	run, _, _ := recordedRun()
	w := newProgressWriter(run)
	feed(w, s3LockedApplyStream)
	return w.wrap(errors.New("exit status 1\n")).Error()
}

func TestPlainOutputs(t *testing.T) {
	tests := []struct {
		name     string
		streamed map[string]streamedOutput
		want     stack.Outputs
		ok       bool
	}{
		{"no outputs message", nil, nil, false},
		{"no outputs", map[string]streamedOutput{}, stack.Outputs{}, true},
		{"plain values", map[string]streamedOutput{"s": {Value: []byte(`"x"`)}, "n": {Value: []byte(`[1,{"a":true}]`)}},
			stack.Outputs{"s": {Value: "x"}, "n": {Value: []any{1.0, map[string]any{"a": true}}}}, true},
		{"a sensitive one", map[string]streamedOutput{"s": {Value: []byte(`"x"`)}, "p": {Sensitive: true}}, nil, false},
		{"the plan's message, without values", map[string]streamedOutput{"s": {}}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := plainOutputs(tt.streamed)
			if ok != tt.ok || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("plainOutputs = %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}
