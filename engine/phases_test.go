package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stack-tools/stack/engine"
	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/state"
)

// checkPhases asserts what `stack status` promises about a step's phase
// timings: in order, non-negative, not overlapping, and within the step's
// wall time; set-up done ahead began before the step did.
func checkPhases(t *testing.T, name string, st *state.StepState) {
	t.Helper()
	const slack = 0.005 // phases are rounded to milliseconds
	if len(st.Phases) == 0 {
		t.Errorf("step %s: no phases recorded", name)
		return
	}
	end, sum := 0.0, 0.0
	for i, p := range st.Phases {
		if p.Name == "" || p.Start < 0 || p.Seconds < 0 {
			t.Errorf("step %s: phase %d %+v is unnamed or negative", name, i, p)
		}
		if p.Start+slack < end {
			t.Errorf("step %s: phase %s starts at %.3f, before the one before it ended (%.3f): %+v", name, p.Name, p.Start, end, st.Phases)
		}
		end, sum = p.Start+p.Seconds, sum+p.Seconds
	}
	if end > st.Seconds+slack || sum > st.Seconds+slack {
		t.Errorf("step %s: phases end at %.3f and sum to %.3f, beyond the step's %.3f s: %+v", name, end, sum, st.Seconds, st.Phases)
	}
	if len(st.Ahead) > 0 {
		// Set-up ahead begins before the step; if the step started before it
		// ended, the step waited for it.
		if st.Ahead[0].Start > slack {
			t.Errorf("step %s: set-up ahead %+v began after the step did", name, st.Ahead)
		}
		last := st.Ahead[len(st.Ahead)-1]
		if last.Start+last.Seconds > slack && phaseNames(st.Phases)["prepare-wait"] == 0 {
			t.Errorf("step %s: set-up ahead ran into the step (%+v) but the step shows no prepare-wait: %+v", name, st.Ahead, st.Phases)
		}
	}
}

func phaseNames(ps []state.Phase) map[string]int {
	n := map[string]int{}
	for _, p := range ps {
		n[p.Name]++
	}
	return n
}

// Every applied step records where its time went: Terraform's init, workspace
// and apply, and the engine's record writes; a step with upstream steps has
// its init done once, ahead of time or in its own run.
func TestPhaseTimingsAreRecorded(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	h := newHarness(t, filepath.Join(dir, "state"))
	echo := copyModule(t, "echo", dir)
	def := writeDef(t, dir, fmt.Sprintf(`{"name": "timed", "steps": [
		{"name": "a", "module": %q, "vars": {"value": "one"}},
		{"name": "b", "module": %q, "vars": {"value": "${steps.a.outputs.value}-two"}},
		{"name": "c", "module": %q, "vars": {"value": "${steps.b.outputs.value}", "secret": "${steps.b.outputs.secret}"}}
	]}`, echo, echo, echo))
	if err := h.e.Up(ctx, engine.UpOptions{Def: def}); err != nil {
		t.Fatal(err)
	}
	rec, err := h.e.Status(ctx, "timed")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b", "c"} {
		st := rec.Steps[name]
		checkPhases(t, name, st)
		run, ahead := phaseNames(st.Phases), phaseNames(st.Ahead)
		if run["apply"] != 1 {
			t.Errorf("step %s: want one apply phase, got %+v", name, st.Phases)
		}
		if run["init"]+ahead["init"] != 1 {
			t.Errorf("step %s: want init once, ahead or not: run %+v, ahead %+v", name, st.Phases, st.Ahead)
		}
		if run["record"] == 0 {
			t.Errorf("step %s: no record phase: %+v", name, st.Phases)
		}
	}
	if v := rec.Steps["c"].Outputs["value"].Value; v != "one-two" {
		t.Errorf("c's value = %v, want one-two (outputs passed down the chain)", v)
	}
	if o := rec.Steps["c"].Outputs["secret"]; !o.Sensitive || o.Value != nil {
		t.Errorf("c's secret output is stored as %+v, want sensitive without a value", o)
	}
}

// gate is a completion handler that holds its step until a dependent has
// started, and says which outputs it adds.
type gate struct {
	open    chan struct{}
	once    sync.Once
	mu      sync.Mutex
	order   []string // "early", "handler done", "late", as they happened
	timeout time.Duration
}

func (g *gate) Validate(json.RawMessage) error                                     { return nil }
func (g *gate) OutputNames(json.RawMessage) []string                               { return []string{"published"} }
func (g *gate) note(s string)                                                      { g.mu.Lock(); g.order = append(g.order, s); g.mu.Unlock() }
func (g *gate) Teardown(context.Context, *stack.HandlerRun, json.RawMessage) error { return nil }

func (g *gate) Run(ctx context.Context, run *stack.HandlerRun) (stack.HandlerResult, error) {
	select {
	case <-g.open:
	case <-time.After(g.timeout):
		return stack.HandlerResult{}, errors.New("the dependent that needs only module outputs did not start while this handler ran")
	}
	g.note("handler done")
	return stack.HandlerResult{Outputs: stack.Outputs{"published": {Value: "pub"}}}, nil
}

// A dependent that references only an upstream module's outputs starts while
// the upstream's handlers still run; one that references a handler's output
// waits for it.
func TestDependentsStartOnceTheirOutputsAreKnown(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	h := newHarness(t, filepath.Join(dir, "state"))
	g := &gate{open: make(chan struct{}), timeout: 2 * time.Minute}
	h.e.Registry.RegisterHandler("gate", g)
	events := h.e.Events
	h.e.Events = func(ev engine.Event) {
		events(ev)
		if ev.Type == engine.EventStart && (ev.Step == "early" || ev.Step == "late") {
			g.note(ev.Step)
			if ev.Step == "early" {
				g.once.Do(func() { close(g.open) })
			}
		}
	}
	echo := copyModule(t, "echo", dir)
	def := writeDef(t, dir, fmt.Sprintf(`{"name": "early", "steps": [
		{"name": "up", "module": %q, "vars": {"value": "v"}, "on_complete": [{"handler": "gate"}]},
		{"name": "early", "module": %q, "vars": {"value": "${steps.up.outputs.value}"}},
		{"name": "late", "module": %q, "vars": {"value": "${steps.up.outputs.published}"}}
	]}`, echo, echo, echo))
	if err := h.e.Up(ctx, engine.UpOptions{Def: def}); err != nil {
		t.Fatal(err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	want := []string{"early", "handler done", "late"}
	if fmt.Sprint(g.order) != fmt.Sprint(want) {
		t.Errorf("order of events = %v, want %v", g.order, want)
	}
	rec, err := h.e.Status(ctx, "early")
	if err != nil {
		t.Fatal(err)
	}
	if v := rec.Steps["late"].Outputs["value"].Value; v != "pub" {
		t.Errorf("late's value = %v, want the handler's output pub", v)
	}
	if n := phaseNames(rec.Steps["up"].Phases)["handlers"]; n != 1 {
		t.Errorf("up: want a handlers phase, got %+v", rec.Steps["up"].Phases)
	}
}
