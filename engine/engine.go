package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/stack-tools/stack/definition"
	"github.com/stack-tools/stack/engine/flow"
	"github.com/stack-tools/stack/internal/modsource"

	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/state"
)

// Engine runs stack commands against a store.
type Engine struct {
	Store    stack.Store
	Registry *stack.Registry
	// CacheDir holds this workstation's scratch: working copies of modules and
	// logs being written. Nothing in it is needed by another workstation.
	CacheDir string
	// Parallelism caps how many steps run at once (default 4).
	Parallelism int
	// ListConcurrency caps how many stacks List reads at once
	// (default DefaultListConcurrency).
	ListConcurrency int
	// LeaseTTL is how long a lease lives without renewal (default 30s).
	LeaseTTL time.Duration
	// LockTimeout is how long to wait for another holder's lease (default: fail at once).
	LockTimeout time.Duration
	// Events receives progress; it may be nil.
	Events func(Event)

	// Sources fetches remote module sources (git::, s3::, archives); nil
	// fetches them into CacheDir/sources.
	Sources     *modsource.Fetcher
	sourcesOnce sync.Once
	// revisions maps a fetched module's folder to the commit its git
	// source resolved to (see fetch).
	revisions sync.Map

	// digestKey is the store's secret for sensitive-output digests, loaded by
	// the first command that needs it (under digestMu: commands may run
	// concurrently on one Engine, as reap's downs do) and read-only after.
	digestKey []byte
	digestMu  sync.Mutex
}

// UpOptions are the inputs of Up.
type UpOptions struct {
	Def     *definition.Definition
	Name    string // stack name; defaults to the definition's name
	Profile string
	Only    []string
	Skip    []string
	// Prune destroys the applied steps the definition no longer has, once the
	// rest of the stack is up. Without it such a definition is refused.
	Prune bool
	// ProfileSet says an empty Profile was chosen on purpose; otherwise an
	// existing stack keeps the profile it was brought up with.
	ProfileSet bool
	// TTL, if set, replaces the stack's time to live (0: none). Otherwise the
	// definition's "ttl" applies, else the one the stack has.
	TTL *time.Duration
	// Refresh plans the steps whose inputs did not change and applies again
	// those whose infrastructure drifted (kinds that are Planners).
	Refresh bool
	// Vars are the variable values given now (--var, --var-file,
	// STACK_VAR_); an existing stack keeps the ones it was brought up with
	// for the rest.
	Vars map[string]definition.VarSetting
}

// RunError says which steps failed. The stack's state records each error.
type RunError struct {
	Stack  string
	Failed map[string]string // step -> error
}

func (e *RunError) Error() string {
	var lines []string
	for _, n := range slices.Sorted(maps.Keys(e.Failed)) {
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
func (e *Engine) Validate(def *definition.Definition, opts definition.GraphOptions) (*definition.Graph, error) {
	return e.graph(context.Background(), def, opts)
}

// Up brings a stack up: every selected step whose inputs changed, or that has
// not finished, is applied; the rest are skipped.
func (e *Engine) Up(ctx context.Context, opts UpOptions) error {
	name, err := stackName(opts)
	if err != nil {
		return err
	}
	// Validate before taking the lock or touching state.
	if _, err := e.graph(ctx, givenValues(opts.Def, opts.Vars), definition.GraphOptions{Profile: opts.Profile}); err != nil {
		return err
	}
	lease, err := e.acquire(ctx, name, "up")
	if err != nil {
		return err
	}
	defer lease.Release()
	if err := e.loadDigestKey(ctx); err != nil {
		return err
	}
	rec, ver, err := state.LoadRecord(ctx, e.Store, name)
	if err != nil && !errors.Is(err, state.ErrNoStack) {
		return err
	}
	opts.Profile = e.chooseProfile(rec, opts)
	def, vars, err := e.chooseVars(opts.Def, rec, opts.Vars)
	if err != nil {
		return err
	}
	plan, err := e.graph(ctx, def, definition.GraphOptions{Profile: opts.Profile, Only: opts.Only, Skip: opts.Skip, Applied: rec.Applied})
	if err != nil {
		return err
	}
	if rec == nil {
		rec = &state.Record{Name: name, CreatedBy: state.Me(), CreatedAt: time.Now().UTC(), Steps: map[string]*state.StepState{}}
	}
	// A step that exists in the stack but not in the definition would never be
	// torn down: --prune destroys it after the rest is up; without it, refuse.
	orphans := rec.Dropped(plan)
	if len(orphans) > 0 && !opts.Prune {
		return &definition.InvalidError{Problems: []definition.Problem{{File: opts.Def.File, Path: "steps", Msg: fmt.Sprintf(
			"stack %q has step(s) %s applied, but this definition does not have them; put them back, or run `%s` to destroy them once the rest is up",
			name, strings.Join(orphans, ", "), pruneCommand(opts, name))}}}
	}
	retired, err := e.retiredFor(ctx, rec, orphans)
	if err != nil {
		return err
	}
	w := state.NewRecordWriter(e.Store, name, rec, ver).Under(lease)
	src, _ := filepath.Abs(opts.Def.File)
	if err := w.Update(ctx, func(r *state.Record) {
		r.Definition = json.RawMessage(compactJSON(opts.Def.Raw))
		r.Source, r.Dir = src, opts.Def.Dir
		r.Profile, r.Only, r.Skip = opts.Profile, opts.Only, opts.Skip
		r.Vars = e.remembered(vars)
		r.Status, r.Command = state.StatusRunning, "up"
		for _, s := range plan.Steps {
			if r.Steps[s.Name] == nil {
				r.Steps[s.Name] = &state.StepState{Status: state.StatusPending, Kind: s.Kind}
			}
		}
		r.Retired = retired
		r.TTL = chooseTTL(r, opts)
		r.ExtendTTL(time.Now())
	}); err != nil {
		return err
	}
	if err := e.apply(ctx, plan, w, lease, plan.Selected, nil, false, opts.Refresh); err != nil {
		return err
	}
	if len(orphans) == 0 {
		return nil
	}
	return e.destroyRetired(ctx, w, orphans)
}

// stackName is the name up gives the stack: --name, else the definition's.
func stackName(opts UpOptions) (string, error) {
	name := opts.Name
	if name == "" {
		name = opts.Def.Name
	}
	if !definition.ValidName(name) {
		msg := fmt.Sprintf("stack name %q is not valid: use lower-case letters, digits and dashes, starting with a letter, at most 40 characters", name)
		p := definition.Problem{Path: "--name", Msg: msg}
		if opts.Name == "" {
			// The name is the definition's own: say so, and how to override it.
			p = definition.Problem{File: opts.Def.File, Path: "name", Msg: msg + " (or give the stack one with --name)"}
		}
		return "", &definition.InvalidError{Problems: []definition.Problem{p}}
	}
	return name, nil
}

// retiredFor is the definition steps dropped now are destroyed with: none
// when nothing is dropped, the one an unfinished prune kept (if it has them),
// else the one the stack was applied with.
func (e *Engine) retiredFor(ctx context.Context, rec *state.Record, orphans []string) (*state.Retired, error) {
	switch {
	case len(orphans) == 0:
		return nil, nil
	case rec.Retired == nil:
		return &state.Retired{Definition: rec.Definition, Source: rec.Source, Dir: rec.Dir, Profile: rec.Profile}, nil
	}
	return rec.Retired, e.retiredCovers(ctx, rec, orphans)
}

// retiredCovers checks that steps dropped now were in the definition an
// unfinished prune kept, the only one their destroy can be planned from.
func (e *Engine) retiredCovers(ctx context.Context, rec *state.Record, orphans []string) error {
	old, err := e.retiredGraph(ctx, rec)
	if err != nil {
		return err
	}
	for _, n := range orphans {
		if _, ok := old.ByName[n]; !ok {
			return fmt.Errorf("stack %q: step %s was dropped while an earlier prune is unfinished; first run `stack up --prune` with the definition the stack was last brought up with (%s), then drop %s", rec.Name, n, rec.Source, n)
		}
	}
	return nil
}

// destroyRetired destroys steps the definition dropped, planned from the
// definition they were applied with, dependents first, then forgets them. If
// that fails, the stack is marked failed.
func (e *Engine) destroyRetired(ctx context.Context, w *state.RecordWriter, names []string) error {
	if err := e.destroyDropped(ctx, w, names); err != nil {
		_ = w.Update(ctx, func(r *state.Record) { r.Status = state.StatusFailed })
		return err
	}
	return nil
}

func (e *Engine) destroyDropped(ctx context.Context, w *state.RecordWriter, names []string) error {
	plan, err := e.retiredGraph(ctx, w.Snapshot())
	if err != nil {
		return err
	}
	drop := map[string]bool{}
	for _, n := range names {
		drop[n] = true
	}
	var steps []*definition.Step
	for _, s := range plan.Steps {
		if drop[s.Name] {
			steps = append(steps, s)
		}
	}
	r := e.newRunner(plan, w)
	dependents := func(s *definition.Step) []string {
		var ds []string
		for _, d := range plan.Dependents[s.Name] {
			if drop[d] {
				ds = append(ds, d)
			}
		}
		return ds
	}
	if failed := walk(ctx, steps, e.parallelism(), doneFirst(dependents), whole(r.destroyStep)); len(failed) > 0 {
		if err := interrupted(ctx.Err(), w.Name(), failed, againCommand(w.Snapshot())); err != nil {
			return err
		}
		return &RunError{Stack: w.Name(), Failed: failed}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("stack %q: interrupted while destroying dropped steps; run the command again to finish: %w", w.Name(), err)
	}
	if err := w.Update(ctx, func(r *state.Record) {
		for n := range drop {
			delete(r.Steps, n)
		}
		r.Retired = nil
	}); err != nil {
		return err
	}
	// Their logs and artifacts go too; what is left here, down removes.
	for n := range drop {
		keys, _ := e.Store.List(ctx, state.ArtifactPrefix(w.Name(), n))
		for _, k := range append(keys, state.LogKey(w.Name(), n)) {
			_ = e.Store.Delete(ctx, k, stack.AnyVersion)
		}
	}
	return nil
}

// RerunOptions are the inputs of RerunStep.
type RerunOptions struct {
	// Replace asks handlers to replace what they made instead of adopting it.
	Replace bool
}

// RerunStep re-applies one step and re-runs its handlers even if nothing changed,
// then re-applies the dependents whose resolved inputs changed because of it.
func (e *Engine) RerunStep(ctx context.Context, name, step string, opts RerunOptions) error {
	lease, err := e.acquire(ctx, name, "rerun-step "+step)
	if err != nil {
		return err
	}
	defer lease.Release()
	if err := e.loadDigestKey(ctx); err != nil {
		return err
	}
	rec, ver, err := state.LoadRecord(ctx, e.Store, name)
	if err != nil {
		return err
	}
	plan, err := e.storedGraph(ctx, rec)
	if err != nil {
		return err
	}
	if _, ok := plan.ByName[step]; !ok {
		return &definition.UsageError{Msg: fmt.Sprintf("stack %q has no step %q; its steps are: %s", name, step, strings.Join(plan.Names(), ", "))}
	}
	for _, d := range plan.ByName[step].Deps {
		if st := rec.Steps[d]; st == nil || st.Status != state.StatusApplied {
			return fmt.Errorf("step %q needs %q, which is not applied; run `stack up` first", step, d)
		}
	}
	w := state.NewRecordWriter(e.Store, name, rec, ver).Under(lease)
	if err := w.Update(ctx, func(r *state.Record) {
		r.Status, r.Command = state.StatusRunning, "rerun-step "+step
		r.ExtendTTL(time.Now())
	}); err != nil {
		return err
	}
	candidates := plan.Descendants(step)
	for n := range candidates {
		// Only steps this stack runs: a dependent left out with --only/--skip stays out.
		if st := rec.Steps[n]; st == nil || st.Status == state.StatusPending && !plan.Selected[n] {
			delete(candidates, n)
		}
	}
	candidates[step] = true
	return e.apply(ctx, plan, w, lease, candidates, map[string]bool{step: true}, opts.Replace, false)
}

// storedGraph re-reads the definition stored with a stack.
func (e *Engine) storedGraph(ctx context.Context, rec *state.Record) (*definition.Graph, error) {
	return e.graphOf(ctx, rec, rec.Definition, rec.Source, rec.Dir,
		definition.GraphOptions{Profile: rec.Profile, Only: rec.Only, Skip: rec.Skip, Applied: rec.Applied})
}

// retiredGraph re-reads the definition dropped steps were last applied with.
func (e *Engine) retiredGraph(ctx context.Context, rec *state.Record) (*definition.Graph, error) {
	rt := rec.Retired
	if rt == nil {
		return nil, fmt.Errorf("stack %q has steps its definition dropped but no record of the definition they came from; put them back in the definition and run `stack down %s`", rec.Name, rec.Name)
	}
	return e.graphOf(ctx, rec, rt.Definition, rt.Source, rt.Dir, definition.GraphOptions{Profile: rt.Profile, Applied: rec.Applied})
}

func (e *Engine) graphOf(ctx context.Context, rec *state.Record, raw json.RawMessage, source, dir string, opts definition.GraphOptions) (*definition.Graph, error) {
	def, err := definition.ParseDefinition(source, dir, raw)
	if err != nil {
		return nil, fmt.Errorf("the definition stored with stack %q no longer parses: %w", rec.Name, err)
	}
	opts.ModuleDir = e.moduleFallback(ctx, rec)
	plan, err := e.graph(ctx, storedValues(def, rec), opts)
	if err != nil {
		return nil, fmt.Errorf("stack %q was created from %s, which is not valid on this workstation (are the modules checked out at %s?): %w", rec.Name, source, dir, err)
	}
	return plan, nil
}

// apply runs the candidate steps in dependency order, in parallel.
func (e *Engine) apply(ctx context.Context, plan *definition.Graph, w *state.RecordWriter, lease *state.HeldLease, candidates, force map[string]bool, replace, refresh bool) error {
	ctx, fenced := e.fenced(ctx, lease, w)
	err := e.applyCandidates(ctx, plan, w, lease, candidates, force, replace, refresh)
	if ferr := fenced(); ferr != nil {
		return ferr
	}
	return err
}

func (e *Engine) applyCandidates(ctx context.Context, plan *definition.Graph, w *state.RecordWriter, lease *state.HeldLease, candidates, force map[string]bool, replace, refresh bool) error {
	r := e.newRunner(plan, w)
	r.replace, r.refresh, r.fence = replace, refresh, lease.FencePath()
	var steps []*definition.Step
	for _, s := range plan.Steps {
		if candidates[s.Name] {
			steps = append(steps, s)
		}
	}
	prepared := r.prepare(ctx, steps)
	r.prepared = prepared
	failed := walk(ctx, steps, e.parallelism(), r.needs, func(ctx context.Context, s *definition.Step, release func(flow.Gate)) error {
		if _, ok := s.Impl.(stack.Preparer); ok {
			r.timing.enter(s.Name)
			defer r.timing.leave(s.Name)
		}
		return r.applyStep(ctx, s, force[s.Name], release)
	})
	for _, p := range prepared {
		p.claim()
	}
	if err := r.bg.Drain(); err != nil {
		return err
	}
	status := state.StatusApplied
	if len(failed) > 0 || ctx.Err() != nil {
		status = state.StatusFailed
	}
	if err := w.Update(ctx, func(rec *state.Record) { rec.Status = status; rec.ExtendTTL(time.Now()) }); err != nil {
		return err
	}
	if err := interrupted(ctx.Err(), w.Name(), failed, againCommand(w.Snapshot())); err != nil {
		return err
	}
	if len(failed) > 0 {
		return &RunError{Stack: w.Name(), Failed: failed}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("stack %q: interrupted; running steps were stopped and their state saved; run the command again to resume: %w", w.Name(), err)
	}
	return nil
}

// Status returns a stack's record.
func (e *Engine) Status(ctx context.Context, name string) (*state.Record, error) {
	rec, _, err := state.LoadRecord(ctx, e.Store, name)
	return rec, err
}

// Lock returns the live lease of a stack, if any.
func (e *Engine) Lock(ctx context.Context, name string) (*state.Lease, error) {
	l, _, err := state.ReadLease(ctx, e.Store, name)
	if errors.Is(err, stack.ErrNotFound) {
		return nil, nil
	}
	return l, err
}

// pruneCommand is the `stack up` a user runs to prune: the same file, stack
// name and profile as the command that was refused.
func pruneCommand(opts UpOptions, name string) string {
	n := ""
	if name != opts.Def.Name {
		n = name
	}
	return upCommand(opts.Def.File, n, opts.Profile, opts.Only, opts.Skip) + " --prune"
}

// upCommand is the `stack up` line that repeats a selection: --name only
// when name is not "".
func upCommand(file, name, profile string, only, skip []string) string {
	cmd := "stack up " + file
	if name != "" {
		cmd += " --name " + name
	}
	if profile != "" {
		cmd += " --profile " + profile
	}
	if len(only) > 0 {
		cmd += " --only " + strings.Join(only, ",")
	}
	if len(skip) > 0 {
		cmd += " --skip " + strings.Join(skip, ",")
	}
	return cmd
}

func compactJSON(b []byte) []byte {
	var buf bytes.Buffer
	if json.Compact(&buf, b) == nil {
		return buf.Bytes()
	}
	return b
}
