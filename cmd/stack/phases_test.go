package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// checkStatusPhases checks that `stack status NAME STEP` shows where each
// step's time went, as text and as JSON, and that an unknown step is a usage
// error.
func checkStatusPhases(t *testing.T, w *workstation, name string, s statusJSON) {
	t.Helper()
	for step, st := range s.Steps {
		if len(st.Phases) == 0 {
			t.Errorf("status --output json: step %s has no phases", step)
			continue
		}
		text := w.must("status", name, step).stdout
		for _, want := range []string{"PHASE", "apply", "record"} {
			if !strings.Contains(text, want) {
				t.Errorf("status %s %s lacks %q:\n%s", name, step, want, text)
			}
		}
		var one stepStatus
		if err := json.Unmarshal([]byte(w.must("status", name, step, "--output", "json").stdout), &one); err != nil {
			t.Fatalf("status %s %s --output json: %v", name, step, err)
		}
		if one.Step != step || one.StepState == nil || len(one.Phases) != len(st.Phases) {
			t.Errorf("status %s %s --output json = %+v, want the step's %d phases", name, step, one, len(st.Phases))
		}
	}
	if text := w.must("status", name).stdout; !strings.Contains(text, "phases: ") {
		t.Errorf("status %s lacks the phases line of each step:\n%s", name, text)
	}
	if r := w.run("status", name, "no-such-step"); r.code != 2 || !strings.Contains(r.stderr, "no step") {
		t.Errorf("status of an unknown step: exit %d, %s; want 2 naming the steps", r.code, r.stderr)
	}
}
