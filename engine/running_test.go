package engine_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stack-tools/stack/engine"
	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/state"
	"github.com/stack-tools/stack/stores/localstore"
)

// probe is a step kind that reads the stored record when it starts, as a
// command taking over after this one died would see it.
type probe struct {
	st   stack.Store
	mu   sync.Mutex
	seen map[string]string
}

func (p *probe) Validate(json.RawMessage) error { return nil }
func (p *probe) NeedsModule() bool              { return false }
func (p *probe) Destroy(context.Context, *stack.StepRun) error {
	return nil
}

func (p *probe) Apply(ctx context.Context, run *stack.StepRun) (stack.Outputs, error) {
	rec, _, err := state.LoadRecord(ctx, p.st, run.Stack)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if st := rec.Steps[run.Step]; st != nil {
		p.seen[run.Step] = st.Status
	}
	return stack.Outputs{"v": {Value: run.Step}}, nil
}

// A step's kind starts only once the stored record says the step runs:
// otherwise a command killed right after would leave the next one unaware
// that the step was interrupted, and it would not reconcile before applying.
func TestStepIsRecordedRunningBeforeItsKindStarts(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := localstore.Open(filepath.Join(dir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	p := &probe{st: st, seen: map[string]string{}}
	reg := stack.NewRegistry()
	reg.RegisterStep("probe", p)
	e := &engine.Engine{Store: st, Registry: reg, CacheDir: t.TempDir()}
	def := writeDef(t, dir, `{"name":"probe1","steps":[
	 {"name":"a","kind":"probe"},
	 {"name":"b","kind":"probe","vars":{"x":"${steps.a.outputs.v}"}},
	 {"name":"c","kind":"probe","vars":{"x":"${steps.b.outputs.v}"}},
	 {"name":"d","kind":"probe","vars":{"x":"${steps.c.outputs.v}"}}]}`)
	if err := e.Up(ctx, engine.UpOptions{Def: def}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"a", "b", "c", "d"} {
		if got := p.seen[s]; got != state.StatusRunning {
			t.Errorf("step %s started while the stored record said %q, want %q", s, got, state.StatusRunning)
		}
	}
}
