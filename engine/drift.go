package engine

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/stack-tools/stack/engine/flow"
	"github.com/stack-tools/stack/internal/proc"
	"github.com/stack-tools/stack/stack"

	"github.com/stack-tools/stack/definition"
	"github.com/stack-tools/stack/state"
)

// Drift statuses of a step, as `stack plan` reports them.
const (
	DriftUnchanged      = "unchanged"
	DriftCodeChanged    = "code changed"           // the definition, module or inputs differ from what was applied
	DriftInfrastructure = "infrastructure drifted" // same code and inputs, but the resources differ
	DriftError          = "error"
	DriftNotApplicable  = "not applicable" // the kind has nothing to plan (generators)
	DriftNotApplied     = "not applied"    // up would apply it; nothing exists to compare
	DriftStopped        = "stopped"        // applied, but the process it left running no longer runs (stack.LiveChecker): up starts it again
)

// StepDrift is one step's line in a drift report.
type StepDrift struct {
	Step   string `json:"step"`
	Kind   string `json:"kind"`
	Status string `json:"status"`
	// Reason says why the code changed, or why the step was not planned.
	Reason string `json:"reason,omitempty"`
	// CodeChanged is true when the step's fingerprint differs from the one it
	// was applied with, or an upstream step's code changed.
	CodeChanged bool              `json:"code_changed"`
	Plan        *stack.PlanResult `json:"plan,omitempty"`
	Error       string            `json:"error,omitempty"`
}

// DriftReport is the result of Drift.
type DriftReport struct {
	Stack      string      `json:"stack"`
	Profile    string      `json:"profile,omitempty"`
	Definition string      `json:"definition"`
	Steps      []StepDrift `json:"steps"`
	// Drifted is true when any step's code changed or its infrastructure drifted.
	Drifted bool `json:"drifted"`
	// Errors counts the steps that could not be checked.
	Errors int `json:"errors"`
	// Orphans are resources interrupted runs left outside the steps' states
	// (see state.StepState.Orphans).
	Orphans []stack.Orphan `json:"orphans,omitempty"`
}

// DriftOptions are the inputs of Drift.
type DriftOptions struct {
	Name string
	// Def is the definition to compare with; nil uses the one stored with the stack.
	Def *definition.Definition
	// Profile replaces the stack's profile when ProfileSet (or non-empty).
	Profile    string
	ProfileSet bool
	// Vars are values given now (--var, --var-file, STACK_VAR_) over those
	// the stack was brought up with, when Def is given.
	Vars map[string]definition.VarSetting
}

// Drift compares every applied step with the definition and with its real
// infrastructure: the step's fingerprint against the one it was applied with
// (code drift), and a plan by the step's kind with the inputs it would get now.
// It changes nothing and takes no lease, so it runs while another command holds
// the stack. Independent plans run in parallel, up to Parallelism.
func (e *Engine) Drift(ctx context.Context, opts DriftOptions) (*DriftReport, error) {
	rec, ver, err := state.LoadRecord(ctx, e.Store, opts.Name)
	if err != nil {
		return nil, err
	}
	profile := rec.Profile
	if opts.ProfileSet || opts.Profile != "" {
		profile = opts.Profile
	}
	plan, err := e.driftGraph(ctx, rec, opts.Def, profile, opts.Vars)
	if err != nil {
		return nil, err
	}
	// Fingerprints digest sensitive upstream outputs with the store's key.
	if err := e.readDigestKey(ctx); err != nil {
		return nil, err
	}
	// Concurrent plans of one stack on this workstation would share working copies.
	root := filepath.Join(e.CacheDir, "plan")
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("creating the plan working copies folder %s: %w", root, err)
	}
	unlock, err := proc.LockFile(filepath.Join(root, opts.Name+".lock"))
	if err != nil {
		return nil, fmt.Errorf("locking the plan working copies under %s: %w", root, err)
	}
	defer unlock()

	r := e.newRunner(plan, state.NewRecordWriter(e.Store, opts.Name, rec, ver)) // read only: never updated
	r.workRoot = root
	lines, jobs := r.driftJobs(ctx, rec)
	e.runDriftJobs(ctx, opts.Name, jobs)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("stack %q: plan interrupted: %w", opts.Name, err)
	}
	return driftReport(opts.Name, profile, plan, rec, lines), nil
}

// driftGraph is the graph Drift compares with: the given definition, else the
// one stored with the stack.
func (e *Engine) driftGraph(ctx context.Context, rec *state.Record, def *definition.Definition, profile string, vars map[string]definition.VarSetting) (*definition.Graph, error) {
	gopts := definition.GraphOptions{Profile: profile, Applied: rec.Applied}
	if def == nil {
		return e.graphOf(ctx, rec, rec.Definition, rec.Source, rec.Dir, gopts)
	}
	gopts.ModuleDir = e.moduleFallback(ctx, rec)
	return e.graph(ctx, givenValues(storedValues(def, rec), vars), gopts)
}

// driftJob is one step's plan to run.
type driftJob struct {
	line *StepDrift
	run  *stack.StepRun
	pl   stack.Planner
	log  *os.File
}

// driftJobs decides, step by step in order, what Drift can say without a plan
// (not applicable, not applied, code changed) and what it must plan.
func (r *runner) driftJobs(ctx context.Context, rec *state.Record) (map[string]*StepDrift, []driftJob) {
	lines := map[string]*StepDrift{}
	var jobs []driftJob
	for _, s := range r.plan.Order() {
		line := &StepDrift{Step: s.Name, Kind: s.Kind}
		lines[s.Name] = line
		st := rec.Steps[s.Name]
		pl, canPlan := s.Impl.(stack.Planner)
		switch {
		case !canPlan:
			line.Status, line.Reason = DriftNotApplicable, s.Kind+" steps have no infrastructure to compare"
			if st != nil && st.Status == state.StatusApplied {
				if why, err := r.notRunning(ctx, s); err != nil {
					line.Status, line.Error = DriftError, err.Error()
				} else if why != "" {
					line.Status, line.Reason = DriftStopped, why
				}
			}
			continue
		case st == nil || st.Status != state.StatusApplied:
			line.Status, line.Reason = DriftNotApplied, "not applied"
			if st != nil {
				line.Reason = st.Status
			}
			continue
		}
		r.codeDrift(ctx, s, st, line, lines)
		if line.Status == DriftError {
			continue
		}
		// Inputs are resolved one step at a time: reading a sensitive upstream
		// output uses that step's working copy.
		logf, err := r.e.planLog(r.workRoot, r.w.Name(), s.Name)
		if err != nil {
			line.Status, line.Error = DriftError, err.Error()
			continue
		}
		run, err := r.stepRun(ctx, s, logf)
		if err != nil {
			logf.Close()
			line.Status, line.Error = DriftError, "resolving inputs: "+err.Error()
			continue
		}
		run.Artifacts, run.SetProcess = nil, nil // nothing is stored
		jobs = append(jobs, driftJob{line, run, pl, logf})
	}
	return lines, jobs
}

// codeDrift compares a step's fingerprint now with the one it was applied
// with, and marks it changed when an upstream step changed.
func (r *runner) codeDrift(ctx context.Context, s *definition.Step, st *state.StepState, line *StepDrift, lines map[string]*StepDrift) {
	fp, module, err := r.fingerprint(ctx, s)
	if err != nil {
		line.Status, line.Error = DriftError, err.Error()
		return
	}
	if fp != st.Fingerprint {
		line.CodeChanged = true
		line.Reason = "definition or inputs changed"
		if module != "" && st.ModuleDigest != "" && module != st.ModuleDigest {
			line.Reason = "module changed"
		}
	}
	for _, d := range s.Deps {
		if up := lines[d]; up != nil && up.CodeChanged && !line.CodeChanged {
			line.CodeChanged, line.Reason = true, "upstream step "+d+" changed"
		}
	}
}

// runDriftJobs plans the steps with the one scheduler: no order among them,
// up to Parallelism at once; a kind that panics fails its line only.
func (e *Engine) runDriftJobs(ctx context.Context, name string, jobs []driftJob) {
	byStep := map[string]driftJob{}
	var names []string
	for _, j := range jobs {
		byStep[j.line.Step] = j
		names = append(names, j.line.Step)
	}
	failed := flow.Run(ctx, flow.Independent(names), e.parallelism(), func(ctx context.Context, step string, _ func(flow.Gate)) error {
		j := byStep[step]
		defer j.log.Close()
		e.planStep(ctx, name, j)
		return nil
	})
	for step, msg := range failed {
		line := byStep[step].line
		line.Status, line.Error = DriftError, msg
	}
}

// planStep runs one kind's plan and fills in its line.
func (e *Engine) planStep(ctx context.Context, name string, j driftJob) {
	e.emit(Event{Stack: name, Step: j.line.Step, Type: EventProgress, Message: "planning"})
	res, err := j.pl.PlanStep(ctx, j.run)
	if err != nil {
		j.line.Status, j.line.Error = DriftError, fmt.Sprintf("%v (log: %s)", err, j.log.Name())
		e.emit(Event{Stack: name, Step: j.line.Step, Type: EventFailed, Message: j.line.Error})
		return
	}
	j.line.Plan = &res
	switch {
	case j.line.CodeChanged:
		j.line.Status = DriftCodeChanged
	case res.Changes:
		j.line.Status = DriftInfrastructure
	default:
		j.line.Status = DriftUnchanged
	}
	e.emit(Event{Stack: name, Step: j.line.Step, Type: EventInfo, Message: j.line.Status})
}

// driftReport puts the lines in definition order, adds the steps the stack
// has and the definition does not, and sums up.
func driftReport(name, profile string, plan *definition.Graph, rec *state.Record, lines map[string]*StepDrift) *DriftReport {
	report := &DriftReport{Stack: name, Profile: profile, Definition: plan.Def.File, Orphans: recordedOrphans(rec)}
	for _, s := range plan.Steps {
		report.Steps = append(report.Steps, *lines[s.Name])
	}
	// Steps the stack has and the definition does not: up --prune would destroy them.
	for _, n := range rec.Dropped(plan) {
		report.Steps = append(report.Steps, StepDrift{Step: n, Kind: rec.Steps[n].Kind, Status: DriftCodeChanged, CodeChanged: true,
			Reason: "not in the definition: `stack up --prune` would destroy it"})
	}
	for _, l := range report.Steps {
		switch l.Status {
		case DriftCodeChanged, DriftInfrastructure, DriftStopped:
			report.Drifted = true
		case DriftError:
			report.Errors++
		}
	}
	return report
}

// planLog opens the local log of one step's plan. It stays on this workstation:
// a plan stores nothing.
func (e *Engine) planLog(root, stackName, step string) (*os.File, error) {
	dir := filepath.Join(root, stackName)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return os.Create(filepath.Join(dir, step+".log"))
}

// workDir is a step's working copy on this workstation.
func (r *runner) workDir(step string) string {
	if r.workRoot != "" {
		return filepath.Join(r.workRoot, r.w.Name(), step)
	}
	return filepath.Join(r.work(), step)
}

// work is the folder of the stack's working copies (Engine.stackWork),
// found once per command.
func (r *runner) work() string {
	r.workOnce.Do(func() { r.workFolder = r.e.stackWork(r.w.Name()) })
	return r.workFolder
}

// Summary returns counts per status, for the last line of a report.
func (d *DriftReport) Summary() string {
	counts := map[string]int{}
	for _, l := range d.Steps {
		counts[l.Status]++
	}
	var parts []string
	for _, st := range []string{DriftUnchanged, DriftCodeChanged, DriftInfrastructure, DriftStopped, DriftError, DriftNotApplied, DriftNotApplicable} {
		if counts[st] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[st], st))
		}
	}
	return strings.Join(parts, ", ")
}

// drifted reports, for `up --refresh`, whether a step whose inputs did not
// change has drifted all the same: then it is applied again. A plan that fails
// also lets the apply run, which reports the cause.
func (r *runner) drifted(ctx context.Context, s *definition.Step) bool {
	if !r.refresh {
		return false
	}
	kind := s.Impl
	pl, ok := kind.(stack.Planner)
	if !ok {
		return false
	}
	r.e.emit(Event{Stack: r.w.Name(), Step: s.Name, Type: EventProgress, Message: "checking for drift"})
	run, err := r.stepRun(ctx, s, io.Discard)
	if err != nil {
		return true
	}
	res, err := pl.PlanStep(ctx, run)
	switch {
	case err != nil:
		r.e.emit(Event{Stack: r.w.Name(), Step: s.Name, Type: EventInfo, Message: "could not check for drift (" + err.Error() + "): applying again"})
		return true
	case res.Changes:
		r.e.emit(Event{Stack: r.w.Name(), Step: s.Name, Type: EventInfo, Message: fmt.Sprintf("infrastructure drifted (%d to add, %d to change, %d to destroy): applying again", res.Add, res.Change, res.Destroy)})
	}
	return res.Changes
}

// Stopped says, per applied step whose kind leaves a process running
// (stack.LiveChecker), why that process no longer runs, for `stack status`.
// Only a stack with such a step costs more than nothing: its stored
// definition is read again. Steps that cannot be checked are left out.
func (e *Engine) Stopped(ctx context.Context, rec *state.Record) map[string]string {
	live := false
	for _, st := range rec.Steps {
		if e.Registry == nil {
			break
		}
		k, _ := e.Registry.Step(st.Kind)
		if _, ok := k.(stack.LiveChecker); ok && st.Status == state.StatusApplied {
			live = true
			break
		}
	}
	if !live {
		return nil
	}
	plan, err := e.storedGraph(ctx, rec)
	if err != nil {
		return nil
	}
	r := e.newRunner(plan, state.NewRecordWriter(e.Store, rec.Name, rec, "")) // read only: never updated
	out := map[string]string{}
	for _, s := range plan.Steps {
		if st := rec.Steps[s.Name]; st == nil || st.Status != state.StatusApplied {
			continue
		}
		if why, err := r.notRunning(ctx, s); err == nil && why != "" {
			out[s.Name] = why
		}
	}
	return out
}
