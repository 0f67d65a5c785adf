package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stack-tools/stack/definition"
	"github.com/stack-tools/stack/engine"
	"github.com/stack-tools/stack/internal/testenv"
	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/state"
	"github.com/stack-tools/stack/steps/terraform"
	"github.com/stack-tools/stack/stores/localstore"
)

// recorder is a completion handler for tests: it publishes one value as an
// output, remembers what it saw (in memory only) and what it tore down.
type recorder struct {
	mu        sync.Mutex
	seen      map[string]any // step -> resolved "value"
	torndown  []string
	skipSteps map[string]bool
	// failTeardown makes the teardown of these steps fail.
	failTeardown map[string]bool
}

func (h *recorder) Validate(cfg json.RawMessage) error {
	var c struct {
		Value any `json:"value"`
	}
	return stack.DecodeStrict(cfg, &c)
}

func (h *recorder) Run(ctx context.Context, run *stack.HandlerRun) (stack.HandlerResult, error) {
	if h.skipSteps[run.Step] {
		return stack.HandlerResult{}, &stack.SkipError{Reason: "not configured here; set RECORDER to enable"}
	}
	var c map[string]any
	_ = json.Unmarshal(run.Config, &c)
	v, sens, err := run.Resolve(c["value"])
	if err != nil {
		return stack.HandlerResult{}, err
	}
	h.mu.Lock()
	h.seen[run.Step] = v
	h.mu.Unlock()
	rec, _ := json.Marshal(map[string]any{"sensitive": sens})
	return stack.HandlerResult{Record: rec, Outputs: stack.Outputs{"published": {Value: fmt.Sprintf("pub:%v", v), Sensitive: sens}}}, nil
}

func (h *recorder) Teardown(ctx context.Context, run *stack.HandlerRun, record json.RawMessage) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.failTeardown[run.Step] {
		return errors.New("teardown refused by the test")
	}
	h.torndown = append(h.torndown, run.Step)
	return nil
}

type harness struct {
	t      *testing.T
	e      *engine.Engine
	store  *localstore.Store
	rec    *recorder
	mu     sync.Mutex
	events []engine.Event
}

func newHarness(t *testing.T, stateDir string) *harness {
	t.Helper()
	st, err := localstore.Open(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, store: st, rec: &recorder{seen: map[string]any{}, skipSteps: map[string]bool{}}}
	reg := stack.NewRegistry()
	cache := t.TempDir()
	reg.RegisterStep("terraform", terraform.New(cache))
	reg.RegisterHandler("record", h.rec)
	h.e = &engine.Engine{Store: st, Registry: reg, CacheDir: cache, Events: func(ev engine.Event) {
		h.mu.Lock()
		h.events = append(h.events, ev)
		h.mu.Unlock()
	}}
	return h
}

// ran returns the steps that emitted event typ since the last call.
func (h *harness) ran(typ string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, ev := range h.events {
		if ev.Type == typ {
			out = append(out, ev.Step)
		}
	}
	return out
}

func (h *harness) reset() { h.mu.Lock(); h.events = nil; h.mu.Unlock() }

// copyModule copies a test module into dir so a test can change it.
func copyModule(t *testing.T, name, dir string) string {
	t.Helper()
	src := filepath.Join("..", "testdata", "modules", name)
	dst := filepath.Join(dir, name)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(src)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func writeDef(t *testing.T, dir, src string) *definition.Definition {
	t.Helper()
	f := filepath.Join(dir, "stack.json")
	if err := os.WriteFile(f, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	def, err := definition.LoadDefinition(f)
	if err != nil {
		t.Fatal(err)
	}
	return def
}

func sorted(l []string) string {
	c := append([]string(nil), l...)
	for i := range c {
		for j := i + 1; j < len(c); j++ {
			if c[j] < c[i] {
				c[i], c[j] = c[j], c[i]
			}
		}
	}
	return strings.Join(c, ",")
}

// A rerun of a step whose output feeds others re-applies exactly that step and
// the dependents whose inputs changed; handler outputs reach dependents; down
// tears handlers down and leaves nothing behind.
func TestUpRerunDown(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	stateDir := filepath.Join(dir, "state")
	h := newHarness(t, stateDir)
	mod := copyModule(t, "echo", dir)
	def := writeDef(t, dir, fmt.Sprintf(`{"name":"t1","steps":[
	 {"name":"a","module":%q,"vars":{"value":"A"},"on_complete":[{"handler":"record","value":"${outputs.value}"}]},
	 {"name":"b","module":%q,"vars":{"value":"${steps.a.outputs.value}-b"}},
	 {"name":"c","module":%q,"vars":{"value":"C"}},
	 {"name":"d","module":%q,"vars":{"value":"${steps.a.outputs.published}"}},
	 {"name":"e","module":%q,"vars":{"value":"const"},"after":["a"]}]}`, mod, mod, mod, mod, mod))

	if err := h.e.Up(ctx, engine.UpOptions{Def: def}); err != nil {
		t.Fatal(err)
	}
	if got := sorted(h.ran(engine.EventApplied)); got != "a,b,c,d,e" {
		t.Fatalf("first up applied %s", got)
	}
	rec, err := h.e.Status(ctx, "t1")
	if err != nil {
		t.Fatal(err)
	}
	if v := rec.Steps["d"].Outputs["value"].Value; v != "pub:A" {
		t.Errorf("d got %v from a's handler output, want pub:A", v)
	}
	if v := rec.Steps["b"].Outputs["value"].Value; v != "A-b" {
		t.Errorf("b.value = %v", v)
	}

	h.reset()
	if err := h.e.Up(ctx, engine.UpOptions{Def: def}); err != nil {
		t.Fatal(err)
	}
	if got := h.ran(engine.EventApplied); len(got) != 0 {
		t.Errorf("second up of an unchanged stack applied %v", got)
	}

	// The module of a changes what it outputs: rerun a.
	main := filepath.Join(mod, "main.tf")
	b, _ := os.ReadFile(main)
	changed := strings.Replace(string(b), "value = terraform_data.v.output\n", "value = \"${terraform_data.v.output}2\"\n", 1)
	if changed == string(b) {
		t.Fatal("test module did not change")
	}
	// Give every step its own copy so only a's module changes.
	_ = os.WriteFile(main, []byte(changed), 0o644)
	h.reset()
	if err := h.e.RerunStep(ctx, "t1", "a", engine.RerunOptions{}); err != nil {
		t.Fatal(err)
	}
	// a, b, d, e share the changed module copy; c is not downstream of a and must
	// not run. b and d see new inputs; e's inputs are unchanged but its module
	// changed too, so its fingerprint changed.
	if got := sorted(h.ran(engine.EventApplied)); got != "a,b,d,e" {
		t.Errorf("rerun-step a applied %s, want a,b,d,e", got)
	}
	if got := h.ran(engine.EventStart); strings.Contains(strings.Join(got, ","), "c") {
		t.Errorf("rerun-step a started c, which does not depend on a: %v", got)
	}
	rec, _ = h.e.Status(ctx, "t1")
	if v := rec.Steps["b"].Outputs["value"].Value; v != "A2-b2" {
		t.Errorf("b.value after rerun = %v, want A2-b2", v)
	}
	if rec.Steps["a"].Applies != 2 || rec.Steps["c"].Applies != 1 {
		t.Errorf("applies: a=%d c=%d", rec.Steps["a"].Applies, rec.Steps["c"].Applies)
	}

	if err := h.e.Down(ctx, "t1"); err != nil {
		t.Fatal(err)
	}
	if got := sorted(h.rec.torndown); got != "a" {
		t.Errorf("torn down handlers: %s", got)
	}
	left, _ := h.store.List(ctx, "")
	if len(left) != 1 || left[0] != stack.DigestKeyName { // the store's own key stays
		t.Errorf("down left objects: %v", left)
	}
	if _, err := os.Stat(filepath.Join(stateDir, "tfstate", "t1")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("down left Terraform state: %v", err)
	}
}

// Rerunning a step re-applies it even when nothing changed, and only dependents
// whose inputs changed follow.
func TestRerunUnchangedStepLeavesDependents(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	h := newHarness(t, filepath.Join(dir, "state"))
	mod := copyModule(t, "echo", dir)
	def := writeDef(t, dir, fmt.Sprintf(`{"name":"t2","steps":[
	 {"name":"a","module":%q,"vars":{"value":"A"}},
	 {"name":"b","module":%q,"vars":{"value":"${steps.a.outputs.value}"}}]}`, mod, mod))
	if err := h.e.Up(ctx, engine.UpOptions{Def: def}); err != nil {
		t.Fatal(err)
	}
	h.reset()
	if err := h.e.RerunStep(ctx, "t2", "a", engine.RerunOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := sorted(h.ran(engine.EventApplied)); got != "a" {
		t.Errorf("applied %s, want only a", got)
	}
	if got := sorted(h.ran(engine.EventUnchanged)); got != "b" {
		t.Errorf("unchanged %s, want b", got)
	}
}

// Sensitive outputs reach dependents and handlers but never the store or logs,
// also when another workstation needs them later.
func TestSensitiveOutputsStayOffDisk(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	stateDir := filepath.Join(dir, "state")
	args := recordTerraformArgs(t)
	h := newHarness(t, stateDir)
	mod := copyModule(t, "echo", dir)
	def := writeDef(t, dir, fmt.Sprintf(`{"name":"t3","steps":[
	 {"name":"a","module":%q,"vars":{"value":"A","secret":"hunter2"}},
	 {"name":"b","module":%q,"vars":{"value":"B","secret":"${steps.a.outputs.secret}"},
	  "on_complete":[{"handler":"record","value":"${outputs.secret}"}]}]}`, mod, mod))
	// The definition itself holds "hunter2" as a plain var; the secret we look
	// for is the derived value, which only exists as a sensitive output.
	if err := h.e.Up(ctx, engine.UpOptions{Def: def}); err != nil {
		t.Fatal(err)
	}
	want := "hunter2-A-B"
	if got := h.rec.seen["b"]; got != want {
		t.Fatalf("handler saw %v, want %s", got, want)
	}
	assertNotInFiles(t, "hunter2-A", stateDir, h.e.CacheDir)

	// Another workstation (fresh cache, same store) re-runs b: it must read a's
	// sensitive output back from Terraform.
	h2 := newHarness(t, stateDir)
	if err := h2.e.RerunStep(ctx, "t3", "b", engine.RerunOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := h2.rec.seen["b"]; got != want {
		t.Fatalf("on the second workstation the handler saw %v, want %s", got, want)
	}
	assertNotInFiles(t, "hunter2-A", stateDir, h2.e.CacheDir)
	if err := h2.e.Down(ctx, "t3"); err != nil {
		t.Fatal(err)
	}
	// Command lines are visible to every user of the machine (ps).
	argv, _ := os.ReadFile(args)
	if strings.Contains(string(argv), "hunter2-A") || !strings.Contains(string(argv), "-var-file=") {
		t.Errorf("Terraform's command lines hold the sensitive value, or no -var-file:\n%s", argv)
	}
}

// recordTerraformArgs puts a wrapper in front of terraform (via
// STACK_TERRAFORM) that appends each command line to the returned file.
func recordTerraformArgs(t *testing.T) string {
	t.Helper()
	real, err := testenv.FindBinary("terraform", "STACK_TERRAFORM")
	if err != nil {
		testenv.Missing(t, err)
	}
	dir := t.TempDir()
	args := filepath.Join(dir, "args")
	wrapper := filepath.Join(dir, "terraform")
	script := fmt.Sprintf("#!/bin/sh\nprintf '%%s\\n' \"$*\" >> %q\nexec %q \"$@\"\n", args, real)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("STACK_TERRAFORM", wrapper)
	return args
}

// assertNotInFiles fails if secret appears in any file under dirs, except
// Terraform's own state, which is where Terraform keeps it.
func assertNotInFiles(t *testing.T, secret string, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		_ = filepath.Walk(d, func(p string, info os.FileInfo, err error) error {
			if err != nil || info.IsDir() || strings.HasSuffix(p, ".tfstate") || strings.HasSuffix(p, ".tfstate.backup") {
				return nil
			}
			b, _ := os.ReadFile(p)
			if strings.Contains(string(b), secret) {
				t.Errorf("secret found in %s", p)
			}
			return nil
		})
	}
}

// --parallelism 1 follows list order; a skipped handler is shown with its reason.
func TestParallelismOneFollowsListOrder(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	h := newHarness(t, filepath.Join(dir, "state"))
	h.e.Parallelism = 1
	h.rec.skipSteps["z"] = true
	mod := copyModule(t, "echo", dir)
	def := writeDef(t, dir, fmt.Sprintf(`{"name":"t5","steps":[
	 {"name":"z","module":%q,"vars":{"value":"1"},"on_complete":[{"handler":"record","value":"x"}]},
	 {"name":"y","module":%q,"vars":{"value":"2"}},
	 {"name":"x","module":%q,"vars":{"value":"${steps.z.outputs.value}"}},
	 {"name":"w","module":%q,"vars":{"value":"4"}}]}`, mod, mod, mod, mod))
	if err := h.e.Up(ctx, engine.UpOptions{Def: def}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(h.ran(engine.EventStart), ","); got != "z,y,x,w" {
		t.Errorf("order %s, want z,y,x,w", got)
	}
	rec, _ := h.e.Status(ctx, "t5")
	hs := rec.Steps["z"].Handlers
	if len(hs) != 1 || hs[0].Status != state.StatusSkipped || !strings.Contains(hs[0].Reason, "RECORDER") {
		t.Errorf("skipped handler state: %+v", hs)
	}
	if rec.Steps["z"].Status != state.StatusApplied {
		t.Errorf("a skipped handler must not fail the step")
	}
	_ = h.e.Down(ctx, "t5")
}

// A definition that drops an applied step is refused: its resources would
// otherwise never be destroyed.
func TestUpRefusesToOrphanAppliedSteps(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	h := newHarness(t, filepath.Join(dir, "state"))
	mod := copyModule(t, "echo", dir)
	def := writeDef(t, dir, fmt.Sprintf(`{"name":"t7","steps":[
	 {"name":"a","module":%q,"vars":{"value":"A"}},
	 {"name":"b","module":%q,"vars":{"value":"B"}}]}`, mod, mod))
	if err := h.e.Up(ctx, engine.UpOptions{Def: def}); err != nil {
		t.Fatal(err)
	}
	smaller := writeDef(t, dir, fmt.Sprintf(`{"name":"t7","steps":[{"name":"a","module":%q,"vars":{"value":"A"}}]}`, mod))
	err := h.e.Up(ctx, engine.UpOptions{Def: smaller})
	if !definition.IsInvalid(err) || !strings.Contains(err.Error(), `step(s) b applied`) || !strings.Contains(err.Error(), "stack.json --prune") {
		t.Fatalf("want a refusal naming b and the fix, got %v", err)
	}
	if err := h.e.Down(ctx, "t7"); err != nil {
		t.Fatal(err)
	}
}

// pruneFixture brings up a -> b -> c, where b has a handler, and returns a
// definition that drops b and no longer feeds c from it.
func pruneFixture(t *testing.T, name string) (*harness, *definition.Definition) {
	t.Helper()
	dir := t.TempDir()
	h := newHarness(t, filepath.Join(dir, "state"))
	mod := copyModule(t, "echo", dir)
	full := writeDef(t, dir, fmt.Sprintf(`{"name":%q,"steps":[
	 {"name":"a","module":%q,"vars":{"value":"A"}},
	 {"name":"b","module":%q,"vars":{"value":"${steps.a.outputs.value}-b"},"on_complete":[{"handler":"record","value":"${outputs.value}"}]},
	 {"name":"c","module":%q,"vars":{"value":"${steps.b.outputs.value}-c"}}]}`, name, mod, mod, mod))
	if err := h.e.Up(context.Background(), engine.UpOptions{Def: full}); err != nil {
		t.Fatal(err)
	}
	h.reset()
	return h, writeDef(t, dir, fmt.Sprintf(`{"name":%q,"steps":[
	 {"name":"a","module":%q,"vars":{"value":"A"}},
	 {"name":"c","module":%q,"vars":{"value":"C"}}]}`, name, mod, mod))
}

// --prune brings the rest up first (c stops using b), then destroys the
// dropped step, handlers included, from the definition it was applied with.
func TestUpPruneDestroysDroppedSteps(t *testing.T) {
	ctx := context.Background()
	h, smaller := pruneFixture(t, "t8")
	if err := h.e.Up(ctx, engine.UpOptions{Def: smaller, Prune: true}); err != nil {
		t.Fatal(err)
	}
	if got := sorted(h.ran(engine.EventApplied)); got != "c" {
		t.Errorf("applied %q, want only c, whose input changed", got)
	}
	if got := sorted(h.ran(engine.EventDestroyed)); got != "b" {
		t.Errorf("destroyed %q, want b", got)
	}
	if got := sorted(h.rec.torndown); got != "b" {
		t.Errorf("handlers torn down for %q, want b", got)
	}
	rec, err := h.e.Status(ctx, "t8")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Steps["b"] != nil || rec.Retired != nil || rec.Status != state.StatusApplied {
		t.Errorf("after the prune: step b %+v, retired %v, status %s; want b forgotten", rec.Steps["b"], rec.Retired != nil, rec.Status)
	}
	if keys, _ := h.store.List(ctx, "stacks/t8/logs/"); strings.Join(keys, ",") != "stacks/t8/logs/a.log,stacks/t8/logs/c.log" {
		t.Errorf("stored logs after the prune: %v, want a's and c's", keys)
	}
	h.reset()
	if err := h.e.Up(ctx, engine.UpOptions{Def: smaller}); err != nil {
		t.Fatalf("up after the prune: %v", err)
	}
	if got := h.ran(engine.EventApplied); len(got) != 0 {
		t.Errorf("up after the prune applied %v, want nothing", got)
	}
	if err := h.e.Down(ctx, "t8"); err != nil {
		t.Fatal(err)
	}
}

// A prune that fails keeps the dropped step and the definition it came from:
// up without --prune is still refused, and down destroys it with the rest.
func TestFailedPruneIsFinishedByDown(t *testing.T) {
	ctx := context.Background()
	h, smaller := pruneFixture(t, "t9")
	h.rec.failTeardown = map[string]bool{"b": true}
	err := h.e.Up(ctx, engine.UpOptions{Def: smaller, Prune: true})
	if err == nil || !strings.Contains(err.Error(), "teardown refused") {
		t.Fatalf("up --prune with a failing teardown: %v", err)
	}
	rec, _ := h.e.Status(ctx, "t9")
	if rec.Steps["b"] == nil || rec.Retired == nil {
		t.Fatalf("after the failed prune: step b %v, retired %v; want both kept", rec.Steps["b"], rec.Retired != nil)
	}
	if err := h.e.Up(ctx, engine.UpOptions{Def: smaller}); !definition.IsInvalid(err) || !strings.Contains(err.Error(), "--prune") {
		t.Errorf("up without --prune after a failed prune: %v", err)
	}
	h.rec.failTeardown = nil
	h.reset()
	if err := h.e.Down(ctx, "t9"); err != nil {
		t.Fatal(err)
	}
	if got := sorted(h.ran(engine.EventDestroyed)); got != "a,b,c" {
		t.Errorf("down destroyed %q, want a,b,c", got)
	}
	if _, err := h.e.Status(ctx, "t9"); !errors.Is(err, state.ErrNoStack) {
		t.Errorf("status after down: %v, want no such stack", err)
	}
}

// Another workstation without the checkout (or with it elsewhere) can still
// re-run and tear down a stack: modules are stored with it.
func TestModulesTravelWithTheStack(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	h := newHarness(t, state)
	checkout := filepath.Join(dir, "checkout")
	mod := copyModule(t, "echo", checkout)
	def := writeDef(t, checkout, fmt.Sprintf(`{"name":"t8","steps":[
	 {"name":"a","module":%q,"vars":{"value":"A"}},
	 {"name":"b","module":"echo","vars":{"value":"${steps.a.outputs.value}"}}]}`, mod))
	if err := h.e.Up(ctx, engine.UpOptions{Def: def}); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(checkout); err != nil {
		t.Fatal(err)
	}
	other := newHarness(t, state)
	if err := other.e.RerunStep(ctx, "t8", "b", engine.RerunOptions{}); err != nil {
		t.Fatalf("rerun-step without the checkout: %v", err)
	}
	if got := sorted(other.ran(engine.EventApplied)); got != "b" {
		t.Errorf("applied %s", got)
	}
	if err := other.e.Down(ctx, "t8"); err != nil {
		t.Fatalf("down without the checkout: %v", err)
	}
	if left, _ := other.store.List(ctx, ""); len(left) != 1 || left[0] != stack.DigestKeyName { // the store's own key stays
		t.Errorf("down left %v", left)
	}
}
