package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stack-tools/stack/engine"
	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/state"
	"github.com/stack-tools/stack/stores/localstore"
)

// fakeKind is a step kind of this test's own (the engine's plug-in API, not
// a fake of an outside program): its steps output their "value", fail when
// "fail" says so, and wait at a gate the test opens. Tests of the engine's
// order, gates, failure stop and lease use it and run in milliseconds.
type fakeKind struct {
	mu        sync.Mutex
	applied   []string
	destroyed []string
	gates     map[string]chan struct{} // step -> closed when it may finish
	entered   map[string]chan struct{} // step -> closed once it started
	workDirs  []string                 // the working copy of each Apply, in order
}

type fakeConfig struct {
	Value     any  `json:"value"`
	Fail      bool `json:"fail"`
	Sensitive bool `json:"sensitive"` // the output is sensitive
	Reverse   bool `json:"reverse"`   // the output is the value reversed (a secret not in the definition)
}

func newFakeKind() *fakeKind {
	return &fakeKind{gates: map[string]chan struct{}{}, entered: map[string]chan struct{}{}}
}

// hold makes step wait in Apply until the returned function is called;
// started is closed once it waits.
func (k *fakeKind) hold(step string) (started <-chan struct{}, release func()) {
	k.mu.Lock()
	defer k.mu.Unlock()
	g, in := make(chan struct{}), make(chan struct{})
	k.gates[step], k.entered[step] = g, in
	return in, sync.OnceFunc(func() { close(g) })
}

func (k *fakeKind) Validate(cfg json.RawMessage) error { return stack.DecodeStrict(cfg, &fakeConfig{}) }
func (k *fakeKind) NeedsModule() bool                  { return false }

func (k *fakeKind) Apply(ctx context.Context, run *stack.StepRun) (stack.Outputs, error) {
	var c fakeConfig
	if err := json.Unmarshal(run.Config, &c); err != nil {
		return nil, err
	}
	k.mu.Lock()
	g, in := k.gates[run.Step], k.entered[run.Step]
	k.mu.Unlock()
	if g != nil {
		close(in)
		select {
		case <-g:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if c.Fail {
		return nil, errors.New("failed on purpose")
	}
	k.mu.Lock()
	k.applied = append(k.applied, run.Step)
	k.workDirs = append(k.workDirs, run.WorkDir)
	k.mu.Unlock()
	if s, ok := c.Value.(string); ok && c.Reverse {
		r := []rune(s)
		slices.Reverse(r)
		c.Value = string(r)
	}
	return stack.Outputs{"value": {Value: c.Value, Sensitive: c.Sensitive}}, nil
}

func (k *fakeKind) Destroy(ctx context.Context, run *stack.StepRun) error {
	k.mu.Lock()
	k.destroyed = append(k.destroyed, run.Step)
	k.mu.Unlock()
	return nil
}

func (k *fakeKind) order(l *[]string) string {
	k.mu.Lock()
	defer k.mu.Unlock()
	s := strings.Join(*l, ",")
	*l = nil
	return s
}

// fakeEngine is an engine on a local store in dir whose only kind is fake.
func fakeEngine(t *testing.T, dir string, k *fakeKind) *engine.Engine {
	t.Helper()
	st, err := localstore.Open(filepath.Join(dir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	reg := stack.NewRegistry()
	reg.RegisterStep("fake", k)
	return &engine.Engine{Store: st, Registry: reg, CacheDir: filepath.Join(dir, "cache")}
}

// chain is a -> b -> c by references, plus d on its own.
const chain = `{"name":%q,"steps":[
 {"name":"c","kind":"fake","value":"${steps.b.outputs.value}+c"},
 {"name":"b","kind":"fake","value":"${steps.a.outputs.value}+b","fail":%v},
 {"name":"a","kind":"fake","value":"a"},
 {"name":"d","kind":"fake","value":"d"}]}`

func TestFakeUpFollowsReferencesDownReverses(t *testing.T) {
	ctx, dir, k := context.Background(), t.TempDir(), newFakeKind()
	e := fakeEngine(t, dir, k)
	e.Parallelism = 1
	if err := e.Up(ctx, engine.UpOptions{Def: writeDef(t, dir, fmt.Sprintf(chain, "f1", false))}); err != nil {
		t.Fatal(err)
	}
	// One slot: ready steps go in file order, each dependent once its upstream is done.
	if got := k.order(&k.applied); got != "a,b,c,d" {
		t.Errorf("up applied %s, want a,b,c,d", got)
	}
	rec, _ := e.Status(ctx, "f1")
	if v := rec.Steps["c"].Outputs["value"].Value; v != "a+b+c" {
		t.Errorf("c's output %v, want a+b+c", v)
	}
	if err := e.Down(ctx, "f1"); err != nil {
		t.Fatal(err)
	}
	if got := k.order(&k.destroyed); got != "c,b,a,d" {
		t.Errorf("down destroyed %s, want c,b,a,d (dependents first)", got)
	}
}

func TestFakeFailureStopsNewStepsAndResumes(t *testing.T) {
	ctx, dir, k := context.Background(), t.TempDir(), newFakeKind()
	e := fakeEngine(t, dir, k)
	e.Parallelism = 1
	err := e.Up(ctx, engine.UpOptions{Def: writeDef(t, dir, fmt.Sprintf(chain, "f2", true))})
	var re *engine.RunError
	if !errors.As(err, &re) || !strings.Contains(re.Failed["b"], "failed on purpose") {
		t.Fatalf("want b's failure, got %v", err)
	}
	if got := k.order(&k.applied); got != "a" {
		t.Errorf("applied %s after b failed, want only a (nothing new starts)", got)
	}
	rec, _ := e.Status(ctx, "f2")
	if rec.Steps["b"].Status != state.StatusFailed || rec.Steps["c"].Status != state.StatusPending {
		t.Errorf("b %s, c %s", rec.Steps["b"].Status, rec.Steps["c"].Status)
	}
	if err := e.Up(ctx, engine.UpOptions{Def: writeDef(t, dir, fmt.Sprintf(chain, "f2", false))}); err != nil {
		t.Fatal(err)
	}
	if got := k.order(&k.applied); got != "b,c,d" {
		t.Errorf("resume applied %s, want b,c,d (a unchanged)", got)
	}
}

func TestFakeLeaseBlocksSecondWriter(t *testing.T) {
	ctx, dir, k := context.Background(), t.TempDir(), newFakeKind()
	e := fakeEngine(t, dir, k)
	started, release := k.hold("a")
	defer release()
	def := writeDef(t, dir, fmt.Sprintf(chain, "f3", false))
	done := make(chan error, 1)
	go func() { done <- e.Up(ctx, engine.UpOptions{Def: def}) }()
	<-started // the first up holds the lease while a runs
	err := fakeEngine(t, dir, k).Up(ctx, engine.UpOptions{Def: def})
	var le *state.LockedError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "locked by") || !strings.Contains(err.Error(), "up") {
		t.Fatalf("want a LockedError naming the holder, got %v", err)
	}
	release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if l, _ := e.Lock(ctx, "f3"); l != nil {
		t.Errorf("the lease outlived the command: %+v", l)
	}
}

func TestFakeCancelStopsNewStepsAndReleasesTheLease(t *testing.T) {
	dir, k := t.TempDir(), newFakeKind()
	e := fakeEngine(t, dir, k)
	e.Parallelism = 1
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started, release := k.hold("a")
	defer release()
	done := make(chan error, 1)
	go func() { done <- e.Up(ctx, engine.UpOptions{Def: writeDef(t, dir, fmt.Sprintf(chain, "f4", false))}) }()
	<-started
	cancel()
	err := <-done
	var ie *engine.InterruptedError
	if !errors.As(err, &ie) {
		t.Fatalf("want an InterruptedError, got %v", err)
	}
	if got := k.order(&k.applied); got != "" {
		t.Errorf("applied %s after Ctrl-C", got)
	}
	if l, _ := e.Lock(context.Background(), "f4"); l != nil {
		t.Errorf("an interrupted up left its lease: %+v", l)
	}
}

// A step that passes an upstream secret into a plain output (a module whose
// variable is not declared sensitive) gets that output kept as sensitive: it
// is not in the store, and steps further down treat it as a secret too.
func TestFakeSecretCarriedIntoAPlainOutputStaysSecret(t *testing.T) {
	ctx, dir, k := context.Background(), t.TempDir(), newFakeKind()
	e := fakeEngine(t, dir, k)
	var said []string
	var mu sync.Mutex
	e.Events = func(ev engine.Event) {
		mu.Lock()
		said = append(said, ev.Step+": "+ev.Message)
		mu.Unlock()
	}
	// db outputs hunter2-"quoted" (reversed from the definition's text).
	def := `{"name":"sec","steps":[
 {"name":"db","kind":"fake","value":"\"detouq\"-2retnuh","sensitive":true,"reverse":true},
 {"name":"app","kind":"fake","value":"postgres://u:${steps.db.outputs.value}@h"},
 {"name":"web","kind":"fake","value":"${steps.app.outputs.value}/x"},
 {"name":"plain","kind":"fake","value":"${steps.db.outputs.value}"}]}`
	if err := e.Up(ctx, engine.UpOptions{Def: writeDef(t, dir, def)}); err != nil {
		t.Fatal(err)
	}
	rec, err := e.Status(ctx, "sec")
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []string{"app", "web", "plain"} {
		o := rec.Steps[step].Outputs["value"]
		if !o.Sensitive || o.Value != nil || o.Digest == "" {
			t.Errorf("%s's output carries the secret but is stored as %+v", step, o)
		}
	}
	if !slices.ContainsFunc(said, func(s string) bool {
		return strings.HasPrefix(s, "app: ") && strings.Contains(s, "carries a sensitive input")
	}) {
		t.Errorf("nothing said why app's output is kept as sensitive: %q", said)
	}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := os.ReadFile(p)
		if strings.Contains(string(b), "hunter2") {
			t.Errorf("the secret is in %s", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A stack of the same name on another store gets working copies of its own
// on this workstation, and its down leaves the first one's alone.
func TestFakeSameNameOnTwoStoresKeepsApartOnThisWorkstation(t *testing.T) {
	ctx, dir, k := context.Background(), t.TempDir(), newFakeKind()
	local := fakeEngine(t, filepath.Join(dir, "a"), k)
	other := fakeEngine(t, filepath.Join(dir, "b"), k)
	other.CacheDir = local.CacheDir // one workstation, two stores
	def := writeDef(t, dir, `{"name":"twin","steps":[{"name":"a","kind":"fake","value":"x"}]}`)
	for _, e := range []*engine.Engine{local, other} {
		if err := e.Up(ctx, engine.UpOptions{Def: def}); err != nil {
			t.Fatal(err)
		}
	}
	if len(k.workDirs) != 2 || k.workDirs[0] == k.workDirs[1] {
		t.Fatalf("working copies %q: want one per store", k.workDirs)
	}
	if filepath.Dir(k.workDirs[0]) != filepath.Join(local.CacheDir, "work", "twin") {
		t.Errorf("the first store's copy is %s, want it under work/twin as before", k.workDirs[0])
	}
	log := filepath.Join(filepath.Dir(k.workDirs[0]), "a.log")
	if err := other.Down(ctx, "twin"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(log); err != nil {
		t.Errorf("down on the other store removed the first store's working copies: %v", err)
	}
	if _, err := os.Stat(filepath.Dir(k.workDirs[1])); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("down left its own working copies: %v", err)
	}
	if err := local.Down(ctx, "twin"); err != nil {
		t.Fatal(err)
	}
}
