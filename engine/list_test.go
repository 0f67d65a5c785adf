package engine_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stack-tools/stack/engine"
	"github.com/stack-tools/stack/internal/testenv"
	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/state"
	"github.com/stack-tools/stack/stores/localstore"
	"github.com/stack-tools/stack/stores/s3store"
)

func randomSuffix() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// bothStores runs a test on a local folder and on S3 (MinIO).
func bothStores(t *testing.T, test func(t *testing.T, st stack.Store)) {
	t.Run("local", func(t *testing.T) {
		st, err := localstore.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		test(t, st)
	})
	t.Run("s3", func(t *testing.T) { test(t, s3Store(t)) })
}

// noop is a step kind that makes nothing, so a test can bring stacks up and
// down as fast as the store allows.
type noop struct{}

func (noop) Validate(json.RawMessage) error { return nil }
func (noop) NeedsModule() bool              { return false }
func (noop) Apply(_ context.Context, run *stack.StepRun) (stack.Outputs, error) {
	return stack.Outputs{"id": {Value: run.Stack + "-" + run.Step}}, nil
}
func (noop) Destroy(context.Context, *stack.StepRun) error { return nil }

func noopEngine(t *testing.T, st stack.Store) *engine.Engine {
	reg := stack.NewRegistry()
	reg.RegisterStep("noop", noop{})
	return &engine.Engine{Store: st, Registry: reg, CacheDir: t.TempDir()}
}

// putRecord writes a stack's record straight into the store, as another
// workstation's command would have.
func putRecord(t *testing.T, st stack.Store, rec *state.Record) {
	t.Helper()
	data, _ := json.Marshal(rec)
	if _, err := st.Put(context.Background(), state.RecordKey(rec.Name), data, stack.AnyVersion); err != nil {
		t.Fatal(err)
	}
}

// putLease writes a lease held by a command on another host until expires.
func putLease(t *testing.T, st stack.Store, name, user string, expires time.Time) {
	t.Helper()
	l := state.Lease{ID: "test", User: user, Host: "elsewhere", PID: 4242, Command: "up", Started: time.Now().UTC(), Expires: expires}
	data, _ := json.Marshal(l)
	if _, err := st.Put(context.Background(), state.LeaseKey(name), data, stack.AnyVersion); err != nil {
		t.Fatal(err)
	}
}

func names(l []engine.Summary) string {
	var n []string
	for _, s := range l {
		n = append(n, s.Name)
	}
	return strings.Join(n, ",")
}

// seedFilterStacks writes the stacks TestListFilters chooses from.
func seedFilterStacks(t *testing.T, st stack.Store) {
	now := time.Now().UTC()
	ago := func(d time.Duration) *time.Time { v := now.Add(-d); return &v }
	steps := func(statuses ...string) map[string]*state.StepState {
		m := map[string]*state.StepState{}
		for i, s := range statuses {
			m[fmt.Sprintf("s%d", i)] = &state.StepState{Status: s, Kind: "noop"}
		}
		return m
	}
	old := now.Add(-2 * time.Hour)
	// Written out of order: the list comes back sorted.
	putRecord(t, st, &state.Record{Name: "delta", CreatedBy: "carol@laptop", CreatedAt: old, UpdatedAt: old, Status: state.StatusApplied, Steps: steps(state.StatusApplied)})
	putRecord(t, st, &state.Record{Name: "alpha", CreatedBy: "alice@laptop", Profile: "minimal", CreatedAt: old, UpdatedAt: old,
		Status: state.StatusApplied, TTL: "1h", ExpiresAt: ago(time.Hour), Steps: steps(state.StatusApplied, state.StatusApplied)})
	putRecord(t, st, &state.Record{Name: "charlie", CreatedBy: "alice@desk", Profile: "production", CreatedAt: old, UpdatedAt: old,
		Status: state.StatusApplied, TTL: "8h", ExpiresAt: ago(-3 * time.Hour), Steps: steps(state.StatusApplied)})
	putRecord(t, st, &state.Record{Name: "bravo", CreatedBy: "bob@desk", Profile: "production", CreatedAt: old, UpdatedAt: now,
		Status: state.StatusRunning, Steps: steps(state.StatusApplied, state.StatusRunning)})
	putLease(t, st, "bravo", "bob", now.Add(time.Hour))
	// A command killed mid-run: its record says running, its lease expired.
	putRecord(t, st, &state.Record{Name: "golf", CreatedBy: "dave@desk", CreatedAt: old, UpdatedAt: old.Add(time.Minute),
		Status: state.StatusRunning, Steps: steps(state.StatusRunning)})
	putLease(t, st, "golf", "dave", now.Add(-time.Minute))
	// Held although the record says nothing runs: only --locked reads it.
	putLease(t, st, "delta", "carol", now.Add(time.Hour))
	// Being created: the lease is taken, the record not written yet.
	putLease(t, st, "foxtrot", "erin", now.Add(time.Hour))
	if _, err := st.Put(context.Background(), state.RecordKey("echo"), []byte(`{"name": "echo", "steps": {`), stack.AnyVersion); err != nil {
		t.Fatal(err)
	}
}

// The filters keep what they say and combine; the list is sorted by name; a
// stack without a record yet is left out, a damaged one shown as such; a
// lease is shown only while live.
func TestListFilters(t *testing.T) {
	bothStores(t, func(t *testing.T, st stack.Store) {
		ctx := context.Background()
		seedFilterStacks(t, st)
		e := &engine.Engine{Store: st}
		all, err := e.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := names(all); got != "alpha,bravo,charlie,delta,echo,golf" {
			t.Fatalf("List = %s", got)
		}
		// Names is the folder listing alone: foxtrot, being created, is among them.
		if n, err := e.Names(ctx); err != nil || strings.Join(n, ",") != "alpha,bravo,charlie,delta,echo,foxtrot,golf" {
			t.Errorf("Names = %q, %v", n, err)
		}
		by := map[string]engine.Summary{}
		for _, s := range all {
			by[s.Name] = s
		}
		if s := by["echo"]; s.Status != engine.StatusDamaged || !strings.Contains(s.Error, "damaged") {
			t.Errorf("damaged record listed as %+v", s)
		}
		if s := by["bravo"]; !strings.HasPrefix(s.Locked, "bob@elsewhere") || s.Steps != 2 || s.Applied != 1 {
			t.Errorf("bravo, being changed by bob: %+v", s)
		}
		if s := by["golf"]; s.Locked != "" || s.Status != state.StatusRunning {
			t.Errorf("golf, whose command was killed: %+v", s)
		}
		if !by["alpha"].Expired || by["charlie"].Expired || by["delta"].Locked != "" {
			t.Errorf("alpha %+v, charlie %+v, delta %+v", by["alpha"], by["charlie"], by["delta"])
		}
		for _, c := range []struct {
			f    engine.ListFilter
			want string
		}{
			{engine.ListFilter{Owner: "alice"}, "alpha,charlie"},
			{engine.ListFilter{Owner: "alice@desk"}, "charlie"},
			{engine.ListFilter{Owner: "ali"}, ""},
			{engine.ListFilter{Profile: "production"}, "bravo,charlie"},
			{engine.ListFilter{Expired: true}, "alpha"},
			{engine.ListFilter{Locked: true}, "bravo,delta"},
			{engine.ListFilter{Owner: "alice", Profile: "production"}, "charlie"},
			{engine.ListFilter{Profile: "production", Locked: true}, "bravo"},
			{engine.ListFilter{Owner: "bob", NoLocks: true}, "bravo"},
		} {
			got, err := e.ListMatching(ctx, c.f)
			if err != nil {
				t.Fatalf("%+v: %v", c.f, err)
			}
			if names(got) != c.want {
				t.Errorf("ListMatching(%+v) = %q, want %q", c.f, names(got), c.want)
			}
			if c.f.NoLocks && len(got) == 1 && got[0].Locked != "" {
				t.Errorf("NoLocks read a lease: %+v", got[0])
			}
		}
	})
}

// Stacks brought up and torn down while List runs never make it fail, and it
// never shows a stack half-written: every stack it shows has its owner, its
// creation time and both steps of its definition.
func TestListWhileStacksComeAndGo(t *testing.T) {
	bothStores(t, func(t *testing.T, st stack.Store) {
		ctx := context.Background()
		def := writeDef(t, t.TempDir(), `{"name": "churn", "steps": [
  {"name": "a", "kind": "noop"}, {"name": "b", "kind": "noop", "vars": {"in": "${steps.a.outputs.id}"}}]}`)
		const writers, rounds = 3, 4
		var wg sync.WaitGroup
		errs := make(chan error, writers*rounds*2)
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e := noopEngine(t, st)
				for r := 0; r < rounds; r++ {
					name := fmt.Sprintf("churn-%d-%d", w, r%2)
					if err := e.Up(ctx, engine.UpOptions{Def: def, Name: name}); err != nil {
						errs <- fmt.Errorf("up %s: %w", name, err)
					}
					if r%2 == 1 { // every other round leaves its stack up
						if err := e.Down(ctx, name); err != nil {
							errs <- fmt.Errorf("down %s: %w", name, err)
						}
					}
				}
			}()
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		lister := &engine.Engine{Store: st}
		lists, seen := 0, map[string]bool{}
		for finished := false; !finished; lists++ {
			select {
			case <-done:
				finished = true // one more list, of the final state
			default:
			}
			l, err := lister.List(ctx)
			if err != nil {
				t.Fatalf("list %d while stacks come and go: %v", lists, err)
			}
			for _, s := range l {
				seen[s.Name] = true
				if s.Owner == "" || s.CreatedAt.IsZero() || s.Steps != 2 || s.Applied > 2 || s.Status == "" || s.Status == engine.StatusDamaged {
					t.Fatalf("list %d shows a half-written stack: %+v", lists, s)
				}
			}
		}
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		final, _ := lister.List(ctx)
		if got := names(final); got != "churn-0-0,churn-1-0,churn-2-0" {
			t.Errorf("after the churn List = %s, want the three stacks left up", got)
		}
		t.Logf("%d lists saw %d stacks", lists, len(seen))
	})
}

// What List shows comes from the record alone, read each time: after a
// command was killed mid-run it shows the record's "running" without a lock,
// and the next command's writes show at once.
func TestListAfterAKilledCommand(t *testing.T) {
	ctx := context.Background()
	st, err := localstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := noopEngine(t, st)
	def := writeDef(t, t.TempDir(), `{"name": "killed", "steps": [{"name": "a", "kind": "noop"}]}`)
	if err := e.Up(ctx, engine.UpOptions{Def: def}); err != nil {
		t.Fatal(err)
	}
	rec, _, err := state.LoadRecord(ctx, st, "killed")
	if err != nil {
		t.Fatal(err)
	}
	rec.Status, rec.Steps["a"].Status, rec.UpdatedAt = state.StatusRunning, state.StatusRunning, time.Now().UTC()
	putRecord(t, st, rec)
	putLease(t, st, "killed", "kim", time.Now().Add(-time.Second)) // never renewed again
	l, err := e.List(ctx)
	if err != nil || len(l) != 1 || l[0].Status != state.StatusRunning || l[0].Locked != "" {
		t.Fatalf("after a killed command: %v %+v", err, l)
	}
	if err := e.Up(ctx, engine.UpOptions{Def: def}); err != nil {
		t.Fatal(err)
	}
	l, err = e.List(ctx)
	if err != nil || len(l) != 1 || l[0].Status != state.StatusApplied || l[0].Applied != 1 || l[0].Locked != "" {
		t.Fatalf("after the next up: %v %+v", err, l)
	}
}

// Reap tears expired stacks down side by side, each under its own lease: a
// stack whose lease someone holds fails alone, the others go, results come
// in name order.
func TestReapInParallel(t *testing.T) {
	ctx := context.Background()
	st, err := localstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := noopEngine(t, st)
	def := writeDef(t, t.TempDir(), `{"name": "reaped", "steps": [{"name": "a", "kind": "noop"}, {"name": "b", "kind": "noop"}]}`)
	short, long := time.Nanosecond, time.Hour
	for i := 5; i >= 0; i-- {
		if err := e.Up(ctx, engine.UpOptions{Def: def, Name: fmt.Sprintf("r%d", i), TTL: &short}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Up(ctx, engine.UpOptions{Def: def, Name: "kept", TTL: &long}); err != nil {
		t.Fatal(err)
	}
	putLease(t, st, "r2", "carol", time.Now().Add(time.Hour))
	res, err := e.Reap(ctx, engine.ReapOptions{Parallelism: 3})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range res {
		got = append(got, r.Stack+":"+r.Outcome)
	}
	want := "r0:destroyed,r1:destroyed,r2:failed,r3:destroyed,r4:destroyed,r5:destroyed"
	if strings.Join(got, ",") != want {
		t.Errorf("reap = %s, want %s", strings.Join(got, ","), want)
	}
	if l, _ := e.List(ctx); names(l) != "kept,r2" {
		t.Errorf("left after reap: %s, want kept and the locked r2", names(l))
	}
}

// blocking is a step kind whose apply and destroy wait for the test.
type blocking struct {
	noop
	started chan string
	release chan struct{}
}

func (b blocking) Apply(ctx context.Context, run *stack.StepRun) (stack.Outputs, error) {
	b.started <- "apply"
	<-b.release
	return b.noop.Apply(ctx, run)
}

func (b blocking) Destroy(ctx context.Context, run *stack.StepRun) error {
	b.started <- "destroy"
	<-b.release
	return nil
}

// List reads a lease only where the record leaves room for a holder (running,
// destroying, written lately). This holds the engine to its side of that:
// while up, rerun-step or down runs a step, the plain list shows the stack
// locked.
func TestListShowsTheLockWhileACommandRuns(t *testing.T) {
	ctx := context.Background()
	st, err := localstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	kind := blocking{started: make(chan string), release: make(chan struct{})}
	reg := stack.NewRegistry()
	reg.RegisterStep("noop", kind)
	e := &engine.Engine{Store: st, Registry: reg, CacheDir: t.TempDir()}
	def := writeDef(t, t.TempDir(), `{"name": "held", "steps": [{"name": "a", "kind": "noop"}]}`)
	lister := &engine.Engine{Store: st}
	for _, run := range []func() error{
		func() error { return e.Up(ctx, engine.UpOptions{Def: def}) },
		func() error { return e.RerunStep(ctx, "held", "a", engine.RerunOptions{}) },
		func() error { return e.Down(ctx, "held") },
	} {
		done := make(chan error, 1)
		go func() { done <- run() }()
		what := <-kind.started
		l, err := lister.List(ctx)
		if err != nil || len(l) != 1 || l[0].Locked == "" {
			t.Errorf("list during %s: %v %+v, want the stack locked", what, err, l)
		}
		kind.release <- struct{}{}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// A store that stops answering fails the list, naming the store and what to
// do, instead of listing fewer stacks than there are.
func TestListFailsWhenTheStoreDoes(t *testing.T) {
	m, err := startMinio()
	if err != nil {
		testenv.Missing(t, err)
	}
	p, err := testenv.StartProxy(strings.TrimPrefix(m.Endpoint, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	t.Setenv("AWS_ENDPOINT_URL_S3", "http://"+p.Addr)
	t.Setenv("AWS_MAX_ATTEMPTS", "2")
	ctx := context.Background()
	st, err := s3store.Open(ctx, "s3://"+m.Bucket+"/list-fails-"+randomSuffix())
	if err != nil {
		t.Fatal(err)
	}
	putRecord(t, st, &state.Record{Name: "one", CreatedBy: "alice@laptop", Status: state.StatusApplied})
	e := &engine.Engine{Store: st}
	if l, err := e.List(ctx); err != nil || len(l) != 1 {
		t.Fatalf("list before the cut: %v %+v", err, l)
	}
	p.Cut()
	defer p.Restore()
	l, err := e.List(ctx)
	if err == nil || !strings.Contains(err.Error(), st.String()) || !strings.Contains(err.Error(), "run the command again") {
		t.Errorf("list with the store cut off: %v %+v, want an error naming %s and what to do", err, l, st)
	}
}
