package stack

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Engine runs stack commands against a store.
type Engine struct {
	Store    Store
	Registry *Registry
	// CacheDir holds this workstation's scratch: working copies of modules and
	// logs being written. Nothing in it is needed by another workstation.
	CacheDir string
	// Parallelism caps how many steps run at once (default 4).
	Parallelism int
	// LeaseTTL is how long a lease lives without renewal (default 30s).
	LeaseTTL time.Duration
	// LockTimeout is how long to wait for another holder's lease (default: fail at once).
	LockTimeout time.Duration
	// Events receives progress; it may be nil.
	Events func(Event)
}

// UpOptions are the inputs of Up.
type UpOptions struct {
	Def     *Definition
	Name    string // stack name; defaults to the definition's name
	Profile string
	Only    []string
	Skip    []string
}

// RunError says which steps failed. The stack's state records each error.
type RunError struct {
	Stack  string
	Failed map[string]string // step -> error
}

func (e *RunError) Error() string {
	var lines []string
	for _, n := range sortedKeys(e.Failed) {
		lines = append(lines, fmt.Sprintf("  %s: %s", n, e.Failed[n]))
	}
	return fmt.Sprintf("stack %q: %d step(s) failed:\n%s\nsee `stack status %s` for logs; fix the cause and run the command again (finished steps are skipped)",
		e.Stack, len(e.Failed), strings.Join(lines, "\n"), e.Stack)
}

func (e *Engine) emit(ev Event) {
	if e.Events != nil {
		ev.Time = time.Now()
		e.Events(ev)
	}
}

func (e *Engine) ttl() time.Duration {
	if e.LeaseTTL > 0 {
		return e.LeaseTTL
	}
	return 30 * time.Second
}

func (e *Engine) parallelism() int {
	if e.Parallelism > 0 {
		return e.Parallelism
	}
	return 4
}

// Validate checks a definition under a profile and selection without running anything.
func (e *Engine) Validate(def *Definition, opts PlanOptions) (*Plan, error) {
	return NewPlan(def, e.Registry, opts)
}

// Up brings a stack up: every selected step whose inputs changed, or that has
// not finished, is applied; the rest are skipped.
func (e *Engine) Up(ctx context.Context, opts UpOptions) error {
	name := opts.Name
	if name == "" {
		name = opts.Def.Name
	}
	if !ValidName(name) {
		return &InvalidError{Problems: []Problem{{Path: "--name", Msg: fmt.Sprintf("stack name %q is not valid: use lower-case letters, digits and dashes, starting with a letter, at most 40 characters", name)}}}
	}
	// Validate before taking the lock or touching state.
	if _, err := NewPlan(opts.Def, e.Registry, PlanOptions{Profile: opts.Profile}); err != nil {
		return err
	}
	lease, err := acquireLease(ctx, e.Store, name, "up", e.ttl(), e.LockTimeout)
	if err != nil {
		return err
	}
	defer lease.release()

	rec, ver, err := LoadRecord(ctx, e.Store, name)
	if err != nil && !errors.Is(err, ErrNoStack) {
		return err
	}
	applied := func(string) bool { return false }
	if rec != nil {
		applied = func(s string) bool { st := rec.Steps[s]; return st != nil && st.Status == StatusApplied }
	}
	plan, err := NewPlan(opts.Def, e.Registry, PlanOptions{Profile: opts.Profile, Only: opts.Only, Skip: opts.Skip, Applied: applied})
	if err != nil {
		return err
	}
	if rec == nil {
		rec = &Record{Name: name, CreatedBy: Me(), CreatedAt: time.Now().UTC(), Steps: map[string]*StepState{}}
	}
	// A step that exists in the stack but not in the definition would never be
	// torn down: refuse rather than orphan its resources.
	var orphans []string
	for n, st := range rec.Steps {
		if _, ok := plan.ByName[n]; !ok && st.Status != StatusPending && st.Status != StatusDestroyed {
			orphans = append(orphans, n)
		}
	}
	if len(orphans) > 0 {
		return &InvalidError{Problems: []Problem{{File: opts.Def.File, Path: "steps", Msg: fmt.Sprintf(
			"stack %q has step(s) %s applied, but this definition does not have them; put them back, or run `stack down %s` first so their resources are destroyed",
			name, strings.Join(sortStrings(orphans), ", "), name)}}}
	}
	w := &recordWriter{st: e.Store, name: name, who: Me(), rec: rec, version: ver}
	src, _ := filepath.Abs(opts.Def.File)
	if err := w.update(ctx, func(r *Record) {
		r.Definition = json.RawMessage(compactJSON(opts.Def.Raw))
		r.Source, r.Dir = src, opts.Def.Dir
		r.Profile, r.Only, r.Skip = opts.Profile, opts.Only, opts.Skip
		r.Status, r.Command = StatusRunning, "up"
		for _, s := range plan.Steps {
			if r.Steps[s.Name] == nil {
				r.Steps[s.Name] = &StepState{Status: StatusPending, Kind: s.Kind}
			}
		}
	}); err != nil {
		return err
	}
	return e.apply(ctx, plan, w, lease, plan.Selected, nil, false)
}

// RerunOptions are the inputs of RerunStep.
type RerunOptions struct {
	// Replace asks handlers to replace what they made instead of adopting it.
	Replace bool
}

// RerunStep re-applies one step and re-runs its handlers even if nothing changed,
// then re-applies the dependents whose resolved inputs changed because of it.
func (e *Engine) RerunStep(ctx context.Context, name, step string, opts RerunOptions) error {
	lease, err := acquireLease(ctx, e.Store, name, "rerun-step "+step, e.ttl(), e.LockTimeout)
	if err != nil {
		return err
	}
	defer lease.release()
	rec, ver, err := LoadRecord(ctx, e.Store, name)
	if err != nil {
		return err
	}
	plan, err := e.storedPlan(ctx, rec)
	if err != nil {
		return err
	}
	if _, ok := plan.ByName[step]; !ok {
		return &InvalidError{Problems: []Problem{{Path: "STEP", Msg: fmt.Sprintf("stack %q has no step %q; steps are: %s", name, step, strings.Join(plan.names(), ", "))}}}
	}
	for _, d := range plan.ByName[step].Deps {
		if st := rec.Steps[d]; st == nil || st.Status != StatusApplied {
			return fmt.Errorf("step %q needs %q, which is not applied; run `stack up` first", step, d)
		}
	}
	w := &recordWriter{st: e.Store, name: name, who: Me(), rec: rec, version: ver}
	if err := w.update(ctx, func(r *Record) { r.Status, r.Command = StatusRunning, "rerun-step "+step }); err != nil {
		return err
	}
	candidates := plan.Descendants(step)
	for n := range candidates {
		// Only steps this stack runs: a dependent left out with --only/--skip stays out.
		if st := rec.Steps[n]; st == nil || st.Status == StatusPending && !plan.Selected[n] {
			delete(candidates, n)
		}
	}
	candidates[step] = true
	return e.apply(ctx, plan, w, lease, candidates, map[string]bool{step: true}, opts.Replace)
}

// storedPlan re-reads the definition stored with a stack.
func (e *Engine) storedPlan(ctx context.Context, rec *Record) (*Plan, error) {
	def, err := ParseDefinition(rec.Source, rec.Dir, rec.Definition)
	if err != nil {
		return nil, fmt.Errorf("the definition stored with stack %q no longer parses: %w", rec.Name, err)
	}
	applied := func(s string) bool { st := rec.Steps[s]; return st != nil && st.Status == StatusApplied }
	plan, err := NewPlan(def, e.Registry, PlanOptions{Profile: rec.Profile, Only: rec.Only, Skip: rec.Skip, Applied: applied, ModuleDir: e.moduleFallback(ctx, rec)})
	if err != nil {
		return nil, fmt.Errorf("stack %q was created from %s, which is not valid on this workstation (are the modules checked out at %s?): %w", rec.Name, rec.Source, rec.Dir, err)
	}
	return plan, nil
}

// apply runs the candidate steps in dependency order, in parallel.
func (e *Engine) apply(ctx context.Context, plan *Plan, w *recordWriter, lease *heldLease, candidates, force map[string]bool, replace bool) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-lease.lost:
			e.emit(Event{Stack: w.name, Type: EventInfo, Message: "the lock was broken by someone else: stopping"})
			cancel()
		case <-ctx.Done():
		}
	}()
	r := &runner{e: e, plan: plan, w: w, live: map[string]Outputs{}, replace: replace}
	var steps []*Step
	for _, s := range plan.Steps {
		if candidates[s.Name] {
			steps = append(steps, s)
		}
	}
	prepared := r.prepare(ctx, steps)
	failed := schedule(ctx, steps, e.parallelism(), func(s *Step) []string { return s.Deps }, func(ctx context.Context, s *Step) error {
		if p, ok := prepared[s.Name]; ok {
			p.claim()
		}
		return r.applyStep(ctx, s, force[s.Name])
	})
	for _, p := range prepared {
		p.claim()
	}
	status := StatusApplied
	if len(failed) > 0 || ctx.Err() != nil {
		status = StatusFailed
	}
	if err := w.update(ctx, func(rec *Record) { rec.Status = status }); err != nil {
		return err
	}
	if len(failed) > 0 {
		return &RunError{Stack: w.name, Failed: failed}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("stack %q: interrupted; running steps were stopped and their state saved; run the command again to resume: %w", w.name, err)
	}
	return nil
}

// schedule runs fn for each step once its deps among steps have succeeded, at
// most par at a time, picking ready steps in definition order. After a failure
// it starts nothing new and waits for running steps. It returns the failures.
func schedule(ctx context.Context, steps []*Step, par int, deps func(*Step) []string, fn func(context.Context, *Step) error) map[string]string {
	in := map[string]bool{}
	for _, s := range steps {
		in[s.Name] = true
	}
	state := map[string]int{} // 0 waiting, 1 running, 2 done
	failed := map[string]string{}
	type result struct {
		name string
		err  error
	}
	results := make(chan result)
	running := 0
	for {
		for running < par && len(failed) == 0 && ctx.Err() == nil {
			var next *Step
			for _, s := range steps {
				if state[s.Name] != 0 {
					continue
				}
				ready := true
				for _, d := range deps(s) {
					if in[d] && state[d] != 2 {
						ready = false
						break
					}
				}
				if ready {
					next = s
					break
				}
			}
			if next == nil {
				break
			}
			state[next.Name] = 1
			running++
			go func(s *Step) {
				var err error
				defer func() {
					// A bug in a kind or handler fails its step, not the whole command.
					if p := recover(); p != nil {
						err = fmt.Errorf("internal error (please report it): %v", p)
					}
					results <- result{s.Name, err}
				}()
				err = fn(ctx, s)
			}(next)
		}
		if running == 0 {
			return failed
		}
		res := <-results
		running--
		if res.err != nil {
			failed[res.name] = res.err.Error()
			state[res.name] = 3
			continue
		}
		state[res.name] = 2
	}
}

// preparation tracks one step's early set-up.
type preparation struct {
	mu      sync.Mutex
	claimed bool          // the step is being applied: do not start preparing
	done    chan struct{} // closed when preparation ends or will not happen
}

// claim stops a preparation that has not started, or waits for one that has.
func (p *preparation) claim() {
	p.mu.Lock()
	if !p.claimed {
		p.claimed = true
	}
	p.mu.Unlock()
	<-p.done
}

// prepare starts the set-up of steps that wait for others and will certainly
// run (never applied, or failed), while their upstream steps run. Errors are
// left for Apply to report.
func (r *runner) prepare(ctx context.Context, steps []*Step) map[string]*preparation {
	out := map[string]*preparation{}
	rec := r.w.snapshot()
	// Half the slots: preparation must not slow the steps that are running.
	sem := make(chan struct{}, max(1, r.e.parallelism()/2))
	for _, s := range steps {
		kind, _ := r.e.Registry.Step(s.Kind)
		pr, ok := kind.(Preparer)
		if st := rec.Steps[s.Name]; !ok || len(s.Deps) == 0 || (st != nil && st.Status == StatusApplied) {
			continue
		}
		p := &preparation{done: make(chan struct{})}
		out[s.Name] = p
		go func(s *Step) {
			defer close(p.done)
			sem <- struct{}{}
			defer func() { <-sem }()
			p.mu.Lock()
			if p.claimed || ctx.Err() != nil {
				p.mu.Unlock()
				return
			}
			p.claimed = true
			p.mu.Unlock()
			_ = pr.Prepare(ctx, &StepRun{
				Stack: r.w.name, Step: s.Name, Profile: r.plan.Profile, Owner: rec.CreatedBy,
				Dir: r.plan.Def.Dir, Module: s.Module,
				WorkDir:  filepath.Join(r.e.CacheDir, "work", r.w.name, s.Name),
				Backend:  r.e.Store.Backend(r.w.name, s.Name),
				Log:      io.Discard,
				Progress: func(string, ...any) {},
			})
		}(s)
	}
	return out
}

// runner applies steps for one command.
type runner struct {
	e       *Engine
	plan    *Plan
	w       *recordWriter
	replace bool
	mu      sync.Mutex
	live    map[string]Outputs // outputs of steps run by this process, sensitive values included
}

// outputs returns a step's outputs: from this run if it ran, otherwise from the
// record (without sensitive values).
func (r *runner) outputs(step string) (Outputs, error) {
	r.mu.Lock()
	o, ok := r.live[step]
	r.mu.Unlock()
	if ok {
		return o, nil
	}
	st := r.w.snapshot().Steps[step]
	if st == nil || st.Status != StatusApplied {
		return nil, fmt.Errorf("step %q has not been applied; run `stack up`", step)
	}
	return st.Outputs, nil
}

// fill reads a finished step's sensitive outputs back from its kind, once per
// command, when a dependent needs one of them.
func (r *runner) fill(ctx context.Context, step string) (Outputs, error) {
	out, err := r.outputs(step)
	if err != nil {
		return nil, err
	}
	s := r.plan.ByName[step]
	kind, _ := r.e.Registry.Step(s.Kind)
	rd, ok := kind.(OutputReader)
	if !ok {
		return out, nil
	}
	run, err := r.stepRun(ctx, s, io.Discard)
	if err != nil {
		return nil, err
	}
	fresh, err := rd.ReadOutputs(ctx, run)
	if err != nil {
		return nil, fmt.Errorf("reading sensitive outputs of step %q: %w", step, err)
	}
	merged := Outputs{}
	for k, v := range out {
		merged[k] = v
	}
	for k, v := range fresh {
		merged[k] = v
	}
	r.mu.Lock()
	r.live[step] = merged
	r.mu.Unlock()
	return merged, nil
}

func (r *runner) resolver(ctx context.Context, own Outputs) *resolver {
	vars := r.plan.Def.Variables
	if vars == nil {
		vars = map[string]any{}
	}
	return &resolver{
		vars:    vars,
		stack:   map[string]string{"name": r.w.name, "profile": r.plan.Profile, "owner": r.w.snapshot().CreatedBy},
		outputs: r.outputs,
		fill:    func(s string) (Outputs, error) { return r.fill(ctx, s) },
		own:     own,
	}
}

// stepRun resolves a step's inputs from upstream outputs as they are now.
func (r *runner) stepRun(ctx context.Context, s *Step, log io.Writer) (*StepRun, error) {
	res := r.resolver(ctx, nil)
	vars := map[string]any{}
	sensitive := map[string]bool{}
	for k, v := range s.Vars {
		rv, sens, err := res.resolve(v, "vars."+k)
		if err != nil {
			return nil, err
		}
		vars[k], sensitive[k] = rv, sens
	}
	cfg, _, err := res.resolve(toAny(s.Config), "")
	if err != nil {
		return nil, err
	}
	cfgJSON, _ := json.Marshal(cfg)
	st := r.w.snapshot()
	run := &StepRun{
		Stack: r.w.name, Step: s.Name, Profile: r.plan.Profile, Owner: st.CreatedBy,
		Dir: r.plan.Def.Dir, Module: s.Module, Vars: vars, SensitiveVars: sensitive, Config: cfgJSON,
		WorkDir: filepath.Join(r.e.CacheDir, "work", r.w.name, s.Name),
		Backend: r.e.Store.Backend(r.w.name, s.Name),
		Log:     log,
		Progress: func(format string, args ...any) {
			msg := fmt.Sprintf(format, args...)
			r.e.emit(Event{Stack: r.w.name, Step: s.Name, Type: EventProgress, Message: msg})
		},
		Artifacts: &artifacts{st: r.e.Store, stack: r.w.name, step: s.Name},
	}
	return run, nil
}

// fingerprint covers everything that decides what a step does: kind, module
// content, the definition of the step under the profile, and the values of
// everything it references.
func (r *runner) fingerprint(ctx context.Context, s *Step) (fp, module string, err error) {
	h := sha256.New()
	fmt.Fprintf(h, "kind=%s\nprofile=%s\n", s.Kind, r.plan.Profile)
	if s.Module != "" {
		module, err = DirDigest(s.Module)
		if err != nil {
			return "", "", fmt.Errorf("reading module %s: %w", s.Module, err)
		}
		fmt.Fprintf(h, "module=%s\n", module)
	}
	def, _ := json.Marshal(map[string]any{"vars": s.Vars, "config": s.Config, "handlers": s.Handlers})
	h.Write(def)
	res := r.resolver(ctx, nil)
	res.fill = nil // sensitive values count by digest: no need to read them
	var refErr error
	seen := map[string]bool{}
	var all []any
	all = append(all, toAny(s.Vars), toAny(s.Config))
	for _, hd := range s.Handlers {
		var v any
		_ = json.Unmarshal(hd.Config, &v)
		all = append(all, v)
	}
	for _, v := range all {
		findRefs(v, "", func(rf ref, _ string, err error) {
			if err != nil || rf.kind == "own" || seen[rf.source] || refErr != nil {
				return
			}
			seen[rf.source] = true
			o, err := res.lookup(rf)
			if err != nil {
				refErr = err
				return
			}
			if o.Sensitive {
				o = Outputs{"v": o}.Redacted()["v"]
				fmt.Fprintf(h, "\nref %s=sensitive:%s", rf.source, o.Digest)
				return
			}
			b, _ := json.Marshal(o.Value)
			fmt.Fprintf(h, "\nref %s=%s", rf.source, b)
		})
	}
	if refErr != nil {
		return "", "", refErr
	}
	return hex.EncodeToString(h.Sum(nil))[:32], module, nil
}

func (r *runner) applyStep(ctx context.Context, s *Step, force bool) error {
	fp, moduleDigest, err := r.fingerprint(ctx, s)
	if err != nil {
		return r.fail(ctx, s, time.Now(), err)
	}
	prev := r.w.snapshot().Steps[s.Name]
	if !force && prev != nil && prev.Status == StatusApplied && prev.Fingerprint == fp {
		r.e.emit(Event{Stack: r.w.name, Step: s.Name, Type: EventUnchanged, Message: "unchanged"})
		return nil
	}
	start := time.Now()
	if err := os.MkdirAll(filepath.Join(r.e.CacheDir, "work", r.w.name), 0o700); err != nil {
		return r.fail(ctx, s, start, err)
	}
	logPath := filepath.Join(r.e.CacheDir, "work", r.w.name, s.Name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return r.fail(ctx, s, start, err)
	}
	logLoc := r.e.Store.Location(logKey(r.w.name, s.Name))
	defer func() {
		logFile.Close()
		if data, err := os.ReadFile(logPath); err == nil {
			_, _ = r.e.Store.Put(context.WithoutCancel(ctx), logKey(r.w.name, s.Name), data, AnyVersion)
		}
	}()
	if err := r.w.step(ctx, s.Name, func(st *StepState) {
		t := start.UTC()
		st.Status, st.Kind, st.Error, st.Progress = StatusRunning, s.Kind, "", ""
		st.StartedAt, st.FinishedAt, st.RunBy, st.Log = &t, nil, Me(), logLoc
	}); err != nil {
		return err
	}
	r.e.emit(Event{Stack: r.w.name, Step: s.Name, Type: EventStart, Message: s.Kind})
	run, err := r.stepRun(ctx, s, logFile)
	if err != nil {
		return r.fail(ctx, s, start, err)
	}
	progress := run.Progress
	saver := newProgressSaver(func(msg string) {
		_ = r.w.step(ctx, s.Name, func(st *StepState) {
			if st.Status == StatusRunning {
				st.Progress = msg
			}
		})
	})
	defer saver.stop()
	run.Progress = func(format string, args ...any) {
		progress(format, args...)
		msg := fmt.Sprintf(format, args...)
		fmt.Fprintf(logFile, "# %s\n", msg)
		saver.set(msg)
	}
	kind, _ := r.e.Registry.Step(s.Kind)
	outs, err := kind.Apply(ctx, run)
	if err != nil {
		return r.fail(ctx, s, start, err)
	}
	if outs == nil {
		outs = Outputs{}
	}
	if len(s.Handlers) > 0 {
		// Keep the module's outputs even if a handler fails: dependents and a rerun need them.
		if err := r.w.step(ctx, s.Name, func(st *StepState) { st.Outputs = outs.Redacted(); st.Applies++ }); err != nil {
			return err
		}
	}
	states, err := r.runHandlers(ctx, s, run, outs, prev)
	if err != nil {
		_ = r.w.step(ctx, s.Name, func(st *StepState) { st.Handlers = states })
		return r.fail(ctx, s, start, err)
	}
	r.mu.Lock()
	r.live[s.Name] = outs
	r.mu.Unlock()
	if moduleDigest != "" && (prev == nil || prev.ModuleDigest != moduleDigest) {
		if err := r.e.saveModule(ctx, r.w.name, s.Module, moduleDigest); err != nil {
			return r.fail(ctx, s, start, fmt.Errorf("storing a copy of the module: %w", err))
		}
	}
	end := time.Now()
	if err := r.w.step(ctx, s.Name, func(st *StepState) {
		t := end.UTC()
		st.Status, st.Fingerprint, st.Outputs, st.Handlers = StatusApplied, fp, outs.Redacted(), states
		st.ModuleDigest = moduleDigest
		if len(s.Handlers) == 0 {
			st.Applies++
		}
		st.FinishedAt, st.Seconds, st.Progress, st.Error = &t, end.Sub(start).Seconds(), "", ""
	}); err != nil {
		return err
	}
	r.e.emit(Event{Stack: r.w.name, Step: s.Name, Type: EventApplied, Elapsed: end.Sub(start)})
	return nil
}

// runHandlers runs a step's completion handlers in order; each sees the outputs
// of the module and of the handlers before it.
func (r *runner) runHandlers(ctx context.Context, s *Step, run *StepRun, outs Outputs, prev *StepState) ([]HandlerState, error) {
	states := make([]HandlerState, len(s.Handlers))
	for i, hd := range s.Handlers {
		states[i] = HandlerState{Handler: hd.Handler, Status: StatusPending}
		// Until a handler reports otherwise, what it made before is still there:
		// keep its record so a failed or skipped run can still be torn down.
		if prev != nil && i < len(prev.Handlers) && prev.Handlers[i].Handler == hd.Handler {
			states[i].Record = prev.Handlers[i].Record
		}
	}
	for i, hd := range s.Handlers {
		h, _ := r.e.Registry.Handler(hd.Handler)
		previous := states[i].Record
		i := i
		hr := &HandlerRun{
			Stack: run.Stack, Step: s.Name, Profile: run.Profile, Owner: run.Owner, Index: i,
			Replace: r.replace, Config: hd.Config, Outputs: outs, Previous: previous,
			Log: run.Log, Progress: run.Progress,
			Update: func(rec json.RawMessage) error {
				states[i].Status, states[i].Record = StatusRunning, rec
				return r.w.step(ctx, s.Name, func(st *StepState) { st.Handlers = append([]HandlerState(nil), states...) })
			},
			resolver: r.resolver(ctx, outs),
		}
		res, err := h.Run(ctx, hr)
		if skip, ok := IsSkip(err); ok {
			states[i].Status, states[i].Reason = StatusSkipped, skip.Reason
			r.e.emit(Event{Stack: r.w.name, Step: s.Name, Type: EventHandler, Message: fmt.Sprintf("%s skipped: %s", hd.Handler, skip.Reason)})
			continue
		}
		if err != nil {
			states[i].Status, states[i].Error = StatusFailed, err.Error()
			if res.Record != nil {
				states[i].Record = res.Record
			}
			return states, fmt.Errorf("handler %s: %w", hd.Handler, err)
		}
		states[i].Status, states[i].Record, states[i].Outputs = StatusApplied, res.Record, res.Outputs.Redacted()
		for k, v := range res.Outputs {
			outs[k] = v
		}
		r.e.emit(Event{Stack: r.w.name, Step: s.Name, Type: EventHandler, Message: hd.Handler + " done"})
	}
	return states, nil
}

// progressSaver stores a step's latest progress line so other workstations see
// what it is doing: the first at once, then at most one a second, and always the
// latest in the end. It keeps the store from becoming the bottleneck.
type progressSaver struct {
	mu      sync.Mutex
	save    func(string)
	latest  string
	last    time.Time
	timer   *time.Timer
	stopped bool
}

func newProgressSaver(save func(string)) *progressSaver { return &progressSaver{save: save} }

func (p *progressSaver) set(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.latest = msg
	if p.stopped || p.timer != nil {
		return
	}
	wait := time.Second - time.Since(p.last)
	if wait < 0 {
		wait = 0
	}
	p.timer = time.AfterFunc(wait, p.flush)
}

func (p *progressSaver) flush() {
	p.mu.Lock()
	msg := p.latest
	p.last, p.timer = time.Now(), nil
	stopped := p.stopped
	p.mu.Unlock()
	if !stopped {
		p.save(msg)
	}
}

func (p *progressSaver) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopped = true
	if p.timer != nil {
		p.timer.Stop()
	}
}

func (r *runner) fail(ctx context.Context, s *Step, start time.Time, cause error) error {
	end := time.Now()
	msg := cause.Error()
	if ctx.Err() != nil {
		msg = "interrupted: " + msg
	}
	_ = r.w.step(ctx, s.Name, func(st *StepState) {
		t := end.UTC()
		st.Status, st.Error, st.FinishedAt, st.Seconds, st.Progress = StatusFailed, msg, &t, end.Sub(start).Seconds(), ""
	})
	r.e.emit(Event{Stack: r.w.name, Step: s.Name, Type: EventFailed, Message: msg, Elapsed: end.Sub(start)})
	return cause
}

// Down tears a stack down: dependents first, handlers' teardown, then the step's
// own destroy. When every step is gone the stack's record, logs and Terraform
// state are deleted.
func (e *Engine) Down(ctx context.Context, name string) error {
	lease, err := acquireLease(ctx, e.Store, name, "down", e.ttl(), e.LockTimeout)
	if err != nil {
		return err
	}
	released := false
	defer func() {
		if !released {
			lease.release()
		}
	}()
	rec, ver, err := LoadRecord(ctx, e.Store, name)
	if err != nil {
		return err
	}
	plan, err := e.storedPlan(ctx, rec)
	if err != nil {
		return err
	}
	w := &recordWriter{st: e.Store, name: name, who: Me(), rec: rec, version: ver}
	if err := w.update(ctx, func(r *Record) { r.Status, r.Command = StatusDestroying, "down" }); err != nil {
		return err
	}
	r := &runner{e: e, plan: plan, w: w, live: map[string]Outputs{}}
	failed := schedule(ctx, plan.Steps, e.parallelism(), func(s *Step) []string { return plan.Dependents[s.Name] }, func(ctx context.Context, s *Step) error {
		return r.destroyStep(ctx, s)
	})
	if len(failed) > 0 || ctx.Err() != nil {
		_ = w.update(ctx, func(r *Record) { r.Status = StatusFailed })
		if len(failed) > 0 {
			return &RunError{Stack: name, Failed: failed}
		}
		return fmt.Errorf("stack %q: down interrupted; run `stack down %s` again: %w", name, name, ctx.Err())
	}
	// Everything is gone: remove what the store holds for the stack.
	keys, err := e.Store.List(ctx, stackPrefix(name))
	if err != nil {
		return err
	}
	for _, k := range keys {
		if k == leaseKey(name) || k == recordKey(name) {
			continue
		}
		if err := e.Store.Delete(ctx, k, AnyVersion); err != nil {
			return fmt.Errorf("deleting %s: %w", e.Store.Location(k), err)
		}
	}
	if f, ok := e.Store.(Forgetter); ok {
		if err := f.Forget(ctx, name); err != nil {
			return err
		}
	}
	if err := e.Store.Delete(ctx, recordKey(name), AnyVersion); err != nil {
		return err
	}
	released = true
	lease.release()
	_ = os.RemoveAll(filepath.Join(e.CacheDir, "work", name))
	e.emit(Event{Stack: name, Type: EventInfo, Message: "stack removed"})
	return nil
}

func (r *runner) destroyStep(ctx context.Context, s *Step) error {
	prev := r.w.snapshot().Steps[s.Name]
	if prev == nil || prev.Status == StatusPending || prev.Status == StatusDestroyed {
		return nil
	}
	start := time.Now()
	r.e.emit(Event{Stack: r.w.name, Step: s.Name, Type: EventDestroy})
	if err := r.w.step(ctx, s.Name, func(st *StepState) { st.Status, st.Error = StatusDestroying, "" }); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(r.e.CacheDir, "work", r.w.name), 0o700); err != nil {
		return err
	}
	logPath := filepath.Join(r.e.CacheDir, "work", r.w.name, s.Name+".destroy.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	run, err := r.stepRun(ctx, s, logFile)
	if err != nil {
		return r.fail(ctx, s, start, fmt.Errorf("resolving inputs for destroy: %w", err))
	}
	for i := len(prev.Handlers) - 1; i >= 0; i-- {
		hs := prev.Handlers[i]
		// A handler killed before it saved a record may still have made something.
		if hs.Record == nil && hs.Status != StatusRunning && hs.Status != StatusFailed {
			continue
		}
		h, ok := r.e.Registry.Handler(hs.Handler)
		if !ok {
			return r.fail(ctx, s, start, fmt.Errorf("handler %q is not available in this build; cannot tear it down", hs.Handler))
		}
		var cfg json.RawMessage
		if i < len(s.Handlers) {
			cfg = s.Handlers[i].Config
		}
		hr := &HandlerRun{Stack: run.Stack, Step: s.Name, Profile: run.Profile, Owner: run.Owner, Index: i,
			Config: cfg, Outputs: prev.Outputs, Previous: hs.Record, Log: logFile, Progress: run.Progress,
			Update:   func(json.RawMessage) error { return nil },
			resolver: r.resolver(ctx, prev.Outputs)}
		if err := h.Teardown(ctx, hr, hs.Record); err != nil {
			return r.fail(ctx, s, start, fmt.Errorf("handler %s teardown: %w", hs.Handler, err))
		}
	}
	kind, _ := r.e.Registry.Step(s.Kind)
	if err := kind.Destroy(ctx, run); err != nil {
		return r.fail(ctx, s, start, err)
	}
	if err := r.w.step(ctx, s.Name, func(st *StepState) {
		st.Status, st.Outputs, st.Handlers, st.Fingerprint, st.Error = StatusDestroyed, nil, nil, "", ""
	}); err != nil {
		return err
	}
	r.e.emit(Event{Stack: r.w.name, Step: s.Name, Type: EventDestroyed, Elapsed: time.Since(start)})
	return nil
}

// Status returns a stack's record.
func (e *Engine) Status(ctx context.Context, name string) (*Record, error) {
	rec, _, err := LoadRecord(ctx, e.Store, name)
	return rec, err
}

// Summary is one line of `stack list`.
type Summary struct {
	Name      string    `json:"name"`
	Owner     string    `json:"owner"`
	Profile   string    `json:"profile"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Steps     int       `json:"steps"`
	Applied   int       `json:"applied"`
	Locked    string    `json:"locked_by,omitempty"`
}

// List returns every stack in the store.
func (e *Engine) List(ctx context.Context) ([]Summary, error) {
	keys, err := e.Store.List(ctx, "stacks/")
	if err != nil {
		return nil, fmt.Errorf("listing stacks in %s: %w", e.Store, err)
	}
	var out []Summary
	for _, k := range keys {
		if !strings.HasSuffix(k, "/stack.json") || strings.Count(k, "/") != 2 {
			continue
		}
		name := strings.Split(k, "/")[1]
		rec, _, err := LoadRecord(ctx, e.Store, name)
		if err != nil {
			continue // deleted in between
		}
		s := Summary{Name: name, Owner: rec.CreatedBy, Profile: rec.Profile, Status: rec.Status,
			CreatedAt: rec.CreatedAt, UpdatedAt: rec.UpdatedAt, Steps: len(rec.Steps)}
		for _, st := range rec.Steps {
			if st.Status == StatusApplied {
				s.Applied++
			}
		}
		if l, _, err := readLease(ctx, e.Store, name); err == nil && !l.stale() {
			s.Locked = l.Holder()
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Lock returns the live lease of a stack, if any.
func (e *Engine) Lock(ctx context.Context, name string) (*Lease, error) {
	l, _, err := readLease(ctx, e.Store, name)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	return l, err
}

type artifacts struct {
	st          Store
	stack, step string
}

func (a *artifacts) PutArtifact(ctx context.Context, name string, data []byte) (string, error) {
	k := artifactKey(a.stack, a.step, name)
	if _, err := a.st.Put(ctx, k, data, AnyVersion); err != nil {
		return "", fmt.Errorf("storing %s: %w", name, err)
	}
	return a.st.Location(k), nil
}

// DirDigest hashes a module folder's files (names and content), ignoring
// Terraform's own working files and the named files, so a module's
// fingerprint changes exactly when it does.
func DirDigest(dir string, ignore ...string) (string, error) {
	h := sha256.New()
	err := walkModule(dir, func(rel string, data []byte) error {
		fmt.Fprintf(h, "%s\x00%d\x00", rel, len(data))
		h.Write(data)
		return nil
	}, ignore...)
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func sortStrings(l []string) []string { sort.Strings(l); return l }

func compactJSON(b []byte) []byte {
	var buf bytes.Buffer
	if json.Compact(&buf, b) == nil {
		return buf.Bytes()
	}
	return b
}
