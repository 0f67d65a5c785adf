package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stack-tools/stack/engine"
)

// plan NAME FILE for a stack that does not exist says what the first up
// would create, step by step, with upstream outputs known after apply, and
// creates nothing.
func TestPlanNewStack(t *testing.T) {
	w := newWorkstation(t, t.TempDir())
	r := w.run("plan", "fresh", "stacks/demo.json", "--profile", "minimal", "--output", "json")
	if r.code != 2 {
		t.Fatalf("exit %d, want 2 (something to create)\n%s%s", r.code, r.stdout, r.stderr)
	}
	var p engine.NewStackPlan
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil {
		t.Fatalf("JSON: %v\n%s", err, r.stdout)
	}
	if !p.New || len(p.Steps) != 9 || p.Steps[0].Step != "network" {
		t.Fatalf("plan: %+v", p)
	}
	byName := map[string]engine.NewStep{}
	for _, s := range p.Steps {
		byName[s.Step] = s
	}
	if got := byName["network"].Vars["stack_name"]; got != "fresh" {
		t.Errorf("network stack_name = %q, want fresh", got)
	}
	if got := byName["database"].Vars["subnet_ids"]; !strings.HasSuffix(got, engine.KnownAfterApply) {
		t.Errorf("database subnet_ids = %q, want known after apply", got)
	}
	if rs := strings.Join(byName["network"].Resources, " "); !strings.Contains(rs, "terraform_data.vpc") {
		t.Errorf("network resources %q", rs)
	}
	text := w.run("plan", "fresh", "stacks/demo.json", "--profile", "minimal").stdout
	if !strings.Contains(text, "+ web (terraform") || !strings.Contains(text, "does not exist yet") {
		t.Errorf("text plan:\n%s", text)
	}
	if r := w.run("status", "fresh"); r.code == 0 {
		t.Errorf("plan created the stack:\n%s", r.stdout)
	}
}
