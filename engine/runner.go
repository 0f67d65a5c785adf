package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/stack-tools/stack/definition"
	"github.com/stack-tools/stack/engine/flow"

	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/state"
)

// runner applies steps for one command.
type runner struct {
	e       *Engine
	plan    *definition.Graph
	w       *state.RecordWriter
	replace bool
	mu      sync.Mutex
	live    map[string]stack.Outputs // outputs of steps run by this process, sensitive values included
	// secrets holds, per step, the sensitive values its inputs resolved to
	// (carriedSecrets looks for them in what the step outputs).
	secrets map[string][]any

	// workRoot, if set, replaces CacheDir/work as the root of the working copies (stack plan).
	workRoot string
	// workFolder is the stack's folder under CacheDir/work (see work).
	workFolder string
	workOnce   sync.Once
	// refresh plans unchanged steps and applies the drifted ones again (up --refresh).
	refresh bool
	// timing, bg and prepared make up the fast path of up (see flow.go).
	timing   timings
	bg       state.WriteBehind
	prepared map[string]*preparation
	// fence is the lease's fence file, handed to the kinds (StepRun.Fence).
	fence string
	// savedModules holds a *moduleSave per module digest: steps sharing a
	// module store it once (a write, and a HEAD on S3, each), even when they
	// finish together.
	savedModules sync.Map
}

// newRunner is a runner for one command over graph plan, writing through w.
func (e *Engine) newRunner(plan *definition.Graph, w *state.RecordWriter) *runner {
	return &runner{e: e, plan: plan, w: w, live: map[string]stack.Outputs{}, secrets: map[string][]any{}}
}

// outputs returns a step's outputs: from this run if it ran, otherwise from the
// record (without sensitive values).
func (r *runner) outputs(step string) (stack.Outputs, error) {
	r.mu.Lock()
	o, ok := r.live[step]
	r.mu.Unlock()
	if ok {
		return o, nil
	}
	st := r.w.StepState(step)
	if st == nil || st.Status != state.StatusApplied {
		return nil, fmt.Errorf("step %q has not been applied; run `stack up`", step)
	}
	return st.Outputs, nil
}

// recoverLeftovers lets the kind settle what an interrupted run of an
// unchanged step left in its working copy on this workstation (Recoverer).
func (r *runner) recoverLeftovers(ctx context.Context, s *definition.Step) error {
	rc, ok := s.Impl.(stack.Recoverer)
	if !ok || !rc.Pending(r.workDir(s.Name)) {
		return nil
	}
	run, err := r.stepRun(ctx, s, io.Discard)
	if err != nil {
		return err
	}
	return rc.Recover(ctx, run)
}

// fill reads a finished step's sensitive outputs back from its kind, once per
// command, when a dependent needs one of them.
func (r *runner) fill(ctx context.Context, step string) (stack.Outputs, error) {
	out, err := r.outputs(step)
	if err != nil {
		return nil, err
	}
	s := r.plan.ByName[step]
	kind := s.Impl
	rd, ok := kind.(stack.OutputReader)
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
	merged := stack.Outputs{}
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

func (r *runner) resolver(ctx context.Context, own stack.Outputs) *stack.Resolver {
	vars := r.plan.Def.Variables
	if vars == nil {
		vars = map[string]any{}
	}
	return &stack.Resolver{
		Vars:          vars,
		SensitiveVars: r.plan.Def.Sensitive,
		Withheld:      r.plan.Def.Withheld,
		Stack:         map[string]string{"name": r.w.Name(), "profile": r.plan.Profile, "owner": r.w.Owner()},
		Outputs:       r.outputs,
		Fill:          func(s string) (stack.Outputs, error) { return r.fill(ctx, s) },
		Own:           own,
	}
}

// stepRun resolves a step's inputs from upstream outputs as they are now.
func (r *runner) stepRun(ctx context.Context, s *definition.Step, log io.Writer) (*stack.StepRun, error) {
	res := r.resolver(ctx, nil)
	var secrets []any
	res.OnSensitive = func(v any) { secrets = append(secrets, v) }
	defer func() {
		r.mu.Lock()
		r.secrets[s.Name] = secrets
		r.mu.Unlock()
	}()
	vars := map[string]any{}
	sensitive := map[string]bool{}
	for k, v := range s.Vars {
		rv, sens, err := res.Resolve(v, "vars."+k)
		if err != nil {
			return nil, err
		}
		vars[k], sensitive[k] = rv, sens
	}
	cfg, _, err := res.Resolve(s.Config, "")
	if err != nil {
		return nil, err
	}
	cfgJSON, _ := json.Marshal(cfg)
	run := &stack.StepRun{
		Stack: r.w.Name(), Step: s.Name, Profile: r.plan.Profile, Owner: r.w.Owner(),
		Dir: r.plan.Def.Dir, Module: s.Module, Vars: vars, SensitiveVars: sensitive, Config: cfgJSON,
		WorkDir: r.workDir(s.Name),
		Store:   r.e.Store,
		Log:     log,
		Progress: func(format string, args ...any) {
			msg := fmt.Sprintf(format, args...)
			r.e.emit(Event{Stack: r.w.Name(), Step: s.Name, Type: EventProgress, Message: msg})
		},
		Output: func(format string, args ...any) {
			msg := fmt.Sprintf(format, args...)
			r.e.emit(Event{Stack: r.w.Name(), Step: s.Name, Type: EventProgress, Message: msg, Output: true})
		},
		Artifacts:  &artifacts{st: r.e.Store, stack: r.w.Name(), step: s.Name},
		SetProcess: r.processRecorder(ctx, s.Name),
		Fence:      r.fence,
		Orphans: func(o []stack.Orphan) {
			_ = r.w.UpdateStep(ctx, s.Name, func(st *state.StepState) { st.Orphans = append(st.Orphans, o...) })
		},
	}
	return run, nil
}

// fingerprint covers everything that decides what a step does: kind, module
// content, the definition of the step under the profile, and the values of
// everything it references.
func (r *runner) fingerprint(ctx context.Context, s *definition.Step) (fp, module string, err error) {
	h := sha256.New()
	fmt.Fprintf(h, "kind=%s\nprofile=%s\n", s.Kind, r.plan.Profile)
	if s.Module != "" {
		module, err = stack.DirDigest(s.Module, moduleFiles(s.Impl))
		if err != nil {
			return "", "", fmt.Errorf("reading module %s: %w", s.Module, err)
		}
		fmt.Fprintf(h, "module=%s\n", module)
	}
	def, _ := json.Marshal(map[string]any{"vars": s.Vars, "config": s.Config, "handlers": s.Handlers})
	h.Write(def)
	res := r.resolver(ctx, nil)
	res.Fill = nil // sensitive values count by digest: no need to read them
	var refErr error
	seen := map[string]bool{}
	var all []any
	all = append(all, s.Vars, s.Config)
	for _, hd := range s.Handlers {
		var v any
		_ = json.Unmarshal(hd.Config, &v)
		all = append(all, v)
		if h, ok := r.e.Registry.Handler(hd.Handler); ok {
			if hv, ok := h.(stack.HandlerVariables); ok {
				for _, name := range hv.Variables(hd.Config) {
					if _, defined := r.plan.Def.Variables[name]; defined {
						all = append(all, "${var."+name+"}")
					}
				}
			}
		}
	}
	for _, v := range all {
		stack.FindRefs(v, "", func(rf stack.Ref, _ string, err error) {
			if err != nil || rf.Kind == "own" || seen[rf.Source] || refErr != nil {
				return
			}
			seen[rf.Source] = true
			o, err := res.Lookup(rf)
			if err != nil {
				refErr = err
				return
			}
			if o.Sensitive {
				o = stack.Outputs{rf.Name: o}.Redacted(r.e.digestKey)[rf.Name]
				fmt.Fprintf(h, "\nref %s=sensitive:%s", rf.Source, o.Digest)
				return
			}
			b, _ := json.Marshal(o.Value)
			fmt.Fprintf(h, "\nref %s=%s", rf.Source, b)
		})
	}
	if refErr != nil {
		return "", "", refErr
	}
	return hex.EncodeToString(h.Sum(nil))[:32], module, nil
}

// applyStep applies one step unless its fingerprint says nothing changed:
// the record says it runs, the kind applies it, its outputs open the gates of
// dependents, its handlers run, and the record says it is applied.
func (r *runner) applyStep(ctx context.Context, s *definition.Step, force bool, release func(flow.Gate)) error {
	fp, moduleDigest, err := r.fingerprint(ctx, s)
	if err != nil {
		return r.fail(ctx, s, time.Now(), err)
	}
	prev := r.w.StepState(s.Name)
	if !force && !runsAlways(s.Impl, s) && prev != nil && prev.Status == state.StatusApplied && prev.Fingerprint == fp && !r.drifted(ctx, s) && !r.stopped(ctx, s) {
		if err := r.recoverLeftovers(ctx, s); err != nil {
			return r.fail(ctx, s, time.Now(), err)
		}
		r.e.emit(Event{Stack: r.w.Name(), Step: s.Name, Type: EventUnchanged, Message: "unchanged"})
		return nil
	}
	a := &application{r: r, s: s, prev: prev, fp: fp, module: moduleDigest, start: time.Now(), clock: r.timing.of(s.Name)}
	a.clock.lap("record")
	logFile, closeLog, err := r.openStepLog(ctx, s.Name)
	if err != nil {
		return r.fail(ctx, s, a.start, err)
	}
	defer closeLog()
	run, running, err := a.begin(ctx, logFile)
	if err != nil {
		return err
	}
	defer a.saver.stop()
	outs, err := a.apply(ctx, run, running)
	if err != nil {
		return err
	}
	states, err := a.handlers(ctx, run, outs, release)
	if err != nil {
		return err
	}
	return a.finish(ctx, outs, states)
}

// application is one step being applied by applyStep.
type application struct {
	r      *runner
	s      *definition.Step
	prev   *state.StepState
	fp     string // fingerprint
	module string // module digest
	start  time.Time
	clock  *phaseClock
	saver  *progressSaver
}

// openStepLog creates the step's log on this workstation; closing it stores
// a copy with the stack.
func (r *runner) openStepLog(ctx context.Context, step string) (*os.File, func(), error) {
	if err := os.MkdirAll(r.work(), 0o700); err != nil {
		return nil, nil, err
	}
	logPath := filepath.Join(r.work(), step+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, nil, err
	}
	return logFile, func() {
		logFile.Close()
		if data, err := os.ReadFile(logPath); err == nil {
			_ = r.w.PutUnder(ctx, state.LogKey(r.w.Name(), step), data)
		}
	}, nil
}

// begin records the step as running and builds its run, with progress going
// to the terminal, the log and the record. running reports when the record
// saying so has been written.
func (a *application) begin(ctx context.Context, logFile *os.File) (*stack.StepRun, func() error, error) {
	r, s := a.r, a.s
	logLoc := r.e.Store.Location(state.LogKey(r.w.Name(), s.Name))
	interrupted := interruptedBefore(a.prev)
	if err := r.bg.UpdateStep(ctx, r.w, s.Name, func(st *state.StepState) {
		t := a.start.UTC()
		st.Interrupted = interrupted
		st.Status, st.Kind, st.Error, st.Progress = state.StatusRunning, s.Kind, "", ""
		st.StartedAt, st.FinishedAt, st.RunBy, st.Log = &t, nil, state.Me(), logLoc
		st.Phases, st.Ahead = nil, nil
	}); err != nil {
		return nil, nil, err
	}
	// The kind may start Terraform only once the record says the step runs:
	// a command that dies after that must leave the step marked interrupted
	// for the next one to reconcile (see interruptedBefore).
	running := r.bg.Written()
	r.e.emit(Event{Stack: r.w.Name(), Step: s.Name, Type: EventStart, Message: s.Kind})
	run, err := r.stepRun(ctx, s, logFile)
	if err != nil {
		return nil, nil, r.fail(ctx, s, a.start, err)
	}
	run.Interrupted = interrupted
	progress := run.Progress
	a.saver = newProgressSaver(func(msg string) {
		_ = r.bg.UpdateStep(ctx, r.w, s.Name, func(st *state.StepState) {
			if st.Status == state.StatusRunning {
				st.Progress = msg
			}
		})
	})
	output := run.Output
	saved := func(show func(string, ...any)) func(string, ...any) {
		return func(format string, args ...any) {
			show(format, args...)
			msg := fmt.Sprintf(format, args...)
			fmt.Fprintf(logFile, "# %s\n", msg)
			a.saver.set(msg)
		}
	}
	run.Progress, run.Output = saved(progress), saved(output)
	return run, running, nil
}

// apply takes the step's preparation over and lets the kind apply it once
// the running record is written.
func (a *application) apply(ctx context.Context, run *stack.StepRun, running func() error) (stack.Outputs, error) {
	r, s := a.r, a.s
	r.claim(s.Name, a.clock)
	if err := running(); err != nil {
		return nil, r.fail(ctx, s, a.start, err)
	}
	run.OnPhase = a.clock.kindMark
	a.clock.standIn("apply")
	outs, err := s.Impl.Apply(ctx, run)
	if err != nil {
		return nil, r.fail(ctx, s, a.start, err)
	}
	if outs == nil {
		outs = stack.Outputs{}
	}
	r.mu.Lock()
	secrets := r.secrets[s.Name]
	r.mu.Unlock()
	for _, name := range carriedSecrets(outs, secrets) {
		run.Progress("output %q carries a sensitive input's value: kept as sensitive (declare the module's variable and output sensitive to say so)", name)
	}
	return outs, nil
}

// handlers opens the outputs gate, runs the completion handlers, opens the
// done gate and stores a copy of a changed module.
func (a *application) handlers(ctx context.Context, run *stack.StepRun, outs stack.Outputs, release func(flow.Gate)) ([]state.HandlerState, error) {
	r, s := a.r, a.s
	a.clock.lap("record")
	if len(s.Handlers) > 0 {
		// Keep the module's outputs even if a handler fails: dependents and a rerun need them.
		applied := outs.Redacted(r.e.digestKey)
		if err := r.bg.UpdateStep(ctx, r.w, s.Name, func(st *state.StepState) { st.Outputs = applied; st.Applies++ }); err != nil {
			return nil, err
		}
	}
	r.release(s, outs, flow.Outputs, release)
	a.clock.lap("handlers")
	states, err := r.runHandlers(ctx, s, run, outs, a.prev)
	if err != nil {
		_ = r.bg.UpdateStep(ctx, r.w, s.Name, func(st *state.StepState) { st.Handlers = states })
		return nil, r.fail(ctx, s, a.start, err)
	}
	a.clock.lap("record")
	r.release(s, outs, flow.Done, release)
	if a.module != "" && (a.prev == nil || a.prev.ModuleDigest != a.module) {
		if err := r.saveModuleOnce(ctx, s, a.module); err != nil {
			return nil, r.fail(ctx, s, a.start, fmt.Errorf("storing a copy of the module: %w", err))
		}
	}
	a.clock.lap("")
	return states, nil
}

// finish records the step as applied.
func (a *application) finish(ctx context.Context, outs stack.Outputs, states []state.HandlerState) error {
	r, s := a.r, a.s
	end := time.Now()
	cost, costKnown := r.stepCost(s)
	applied := outs.Redacted(r.e.digestKey)
	if err := r.bg.UpdateStep(ctx, r.w, s.Name, func(st *state.StepState) {
		t := end.UTC()
		st.SetCost(cost, costKnown, end)
		r.timing.record(s.Name, a.start, st)
		st.Status, st.Fingerprint, st.Outputs, st.Handlers = state.StatusApplied, a.fp, applied, states
		if rev := r.e.moduleRevision(s.Module); rev != "" || st.ModuleDigest != a.module {
			// The same module from the stored copy (its source out of
			// reach) keeps the commit it was fetched at.
			st.ModuleRevision = rev
		}
		st.ModuleDigest = a.module
		if len(s.Handlers) == 0 {
			st.Applies++
		}
		st.FinishedAt, st.Seconds, st.Progress, st.Error = &t, end.Sub(a.start).Seconds(), "", ""
		st.Interrupted, st.Process = false, nil
	}); err != nil {
		return err
	}
	r.e.emit(Event{Stack: r.w.Name(), Step: s.Name, Type: EventApplied, Elapsed: end.Sub(a.start)})
	return nil
}

// runHandlers runs a step's completion handlers in order; each sees the outputs
// of the module and of the handlers before it.
func (r *runner) runHandlers(ctx context.Context, s *definition.Step, run *stack.StepRun, outs stack.Outputs, prev *state.StepState) ([]state.HandlerState, error) {
	states := make([]state.HandlerState, len(s.Handlers))
	for i, hd := range s.Handlers {
		states[i] = state.HandlerState{Handler: hd.Handler, Status: state.StatusPending}
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
		hr := &stack.HandlerRun{
			Stack: run.Stack, Step: s.Name, Profile: run.Profile, Owner: run.Owner, Index: i,
			Replace: r.replace, Config: hd.Config, Outputs: outs, Previous: previous,
			Log: run.Log, Progress: run.Progress,
			Update: func(rec json.RawMessage) error {
				states[i].Status, states[i].Record = state.StatusRunning, rec
				return r.w.UpdateStep(ctx, s.Name, func(st *state.StepState) { st.Handlers = append([]state.HandlerState(nil), states...) })
			},
			Resolver: r.resolver(ctx, outs),
		}
		res, err := h.Run(ctx, hr)
		if skip, ok := stack.IsSkip(err); ok {
			states[i].Status, states[i].Reason = state.StatusSkipped, skip.Reason
			r.e.emit(Event{Stack: r.w.Name(), Step: s.Name, Type: EventHandler, Message: fmt.Sprintf("%s skipped: %s", hd.Handler, skip.Reason)})
			continue
		}
		if err != nil {
			states[i].Status, states[i].Error = state.StatusFailed, err.Error()
			if res.Record != nil {
				states[i].Record = res.Record
			}
			return states, fmt.Errorf("handler %s: %w", hd.Handler, err)
		}
		states[i].Status, states[i].Record, states[i].Outputs = state.StatusApplied, res.Record, res.Outputs.Redacted(r.e.digestKey)
		for k, v := range res.Outputs {
			outs[k] = v
		}
		r.e.emit(Event{Stack: r.w.Name(), Step: s.Name, Type: EventHandler, Message: hd.Handler + " done"})
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

func (r *runner) fail(ctx context.Context, s *definition.Step, start time.Time, cause error) error {
	end := time.Now()
	msg, shown := cause.Error(), cause.Error()
	if ctx.Err() != nil {
		// The record keeps the details; the progress line does not echo the
		// kill's aftermath ("signal: killed ... execution halted") as a cause.
		msg, shown = "interrupted: "+msg, "interrupted"
	}
	r.timing.of(s.Name).lap("")
	var failed *stack.FailedRun
	errors.As(cause, &failed)
	_ = r.bg.UpdateStep(ctx, r.w, s.Name, func(st *state.StepState) {
		t := end.UTC()
		st.Status, st.Error, st.FinishedAt, st.Seconds, st.Progress = state.StatusFailed, msg, &t, end.Sub(start).Seconds(), ""
		if failed != nil && failed.Outputs != nil {
			st.Outputs = failed.Outputs.Redacted(r.e.digestKey)
		}
		st.Interrupted = st.Interrupted || ctx.Err() != nil
		r.timing.record(s.Name, start, st)
	})
	_ = r.bg.Drain() // a failure is written before it is reported
	r.e.emit(Event{Stack: r.w.Name(), Step: s.Name, Type: EventFailed, Message: shown, Elapsed: end.Sub(start)})
	return cause
}

// stopped says whether an unchanged step's process (stack.LiveChecker) no
// longer runs, so the step must be applied again. A check that fails leaves
// the step as it is: a store out of reach proves nothing.
func (r *runner) stopped(ctx context.Context, s *definition.Step) bool {
	why, err := r.notRunning(ctx, s)
	switch {
	case err != nil:
		r.e.emit(Event{Stack: r.w.Name(), Step: s.Name, Type: EventInfo, Message: "could not check that it still runs (" + err.Error() + "): leaving it"})
	case why != "":
		r.e.emit(Event{Stack: r.w.Name(), Step: s.Name, Type: EventInfo, Message: why + ": applying again"})
	}
	return why != ""
}

// notRunning asks the kind of an applied step (stack.LiveChecker) whether
// the process it left runs: "" if it does, if it cannot tell, or if the kind
// leaves none. The kind gets the step's config as written: resolving its
// references could take a Terraform process per sensitive upstream output.
func (r *runner) notRunning(ctx context.Context, s *definition.Step) (string, error) {
	lc, ok := s.Impl.(stack.LiveChecker)
	if !ok {
		return "", nil
	}
	cfg, err := json.Marshal(s.Config)
	if err != nil {
		return "", err
	}
	return lc.NotRunning(ctx, &stack.StepRun{
		Stack: r.w.Name(), Step: s.Name, Profile: r.plan.Profile, Owner: r.w.Owner(),
		// The working copy up uses, where the process was started (stack
		// plan's runner has copies of its own).
		Dir: r.plan.Def.Dir, Config: cfg, WorkDir: filepath.Join(r.work(), s.Name), Store: r.e.Store, Log: io.Discard,
	})
}

// runsAlways says whether a step asks to run on every up (AlwaysRunner).
func runsAlways(k stack.StepKind, s *definition.Step) bool {
	a, ok := k.(stack.AlwaysRunner)
	if !ok {
		return false
	}
	cfg, err := json.Marshal(s.Config)
	return err == nil && a.RunsAlways(cfg)
}

type artifacts struct {
	st          stack.Store
	stack, step string
}

func (a *artifacts) PutArtifact(ctx context.Context, name string, data []byte) (string, error) {
	k := state.ArtifactKey(a.stack, a.step, name)
	if _, err := a.st.Put(ctx, k, data, stack.AnyVersion); err != nil {
		return "", fmt.Errorf("storing %s: %w", name, err)
	}
	return a.st.Location(k), nil
}
