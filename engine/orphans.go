package engine

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/stack-tools/stack/engine/flow"
	"github.com/stack-tools/stack/stack"

	"github.com/stack-tools/stack/definition"
	"github.com/stack-tools/stack/state"
)

// Orphans reports the resources carrying stack name's identity that no step's
// state knows. `stack plan` shows them; `down` reports those left after it
// destroyed everything.
func (e *Engine) Orphans(ctx context.Context, name string) ([]stack.Orphan, error) {
	rec, ver, err := state.LoadRecord(ctx, e.Store, name)
	if err != nil {
		return nil, err
	}
	plan, err := e.storedGraph(ctx, rec)
	if err != nil {
		return nil, err
	}
	known, err := e.stateIDs(ctx, e.newRunner(plan, state.NewRecordWriter(e.Store, name, rec, ver)), rec)
	if err != nil {
		return nil, err
	}
	return e.findOrphans(ctx, name, plan, known)
}

// stateIDs collects the resource ids every existing step's state holds. The
// inputs are resolved one step at a time (a sensitive upstream output is read
// in that step's working copy); the states are read with the one scheduler.
func (e *Engine) stateIDs(ctx context.Context, r *runner, rec *state.Record) (map[string]bool, error) {
	runs := map[string]*stack.StepRun{}
	finders := map[string]stack.OrphanFinder{}
	var names []string
	for _, s := range r.plan.Steps {
		f, ok := s.Impl.(stack.OrphanFinder)
		if st := rec.Steps[s.Name]; !ok || st == nil || st.Status == state.StatusPending || st.Status == state.StatusDestroyed {
			continue
		}
		run, err := r.stepRun(ctx, s, nopWriter{})
		if err != nil {
			return nil, err
		}
		run.SetProcess = nil // read only: the record is not written
		runs[s.Name], finders[s.Name] = run, f
		names = append(names, s.Name)
	}
	var mu sync.Mutex
	known := map[string]bool{}
	errs := map[string]error{}
	failed := flow.Run(ctx, flow.Independent(names), e.parallelism(), func(ctx context.Context, step string, _ func(flow.Gate)) error {
		ids, err := finders[step].StateIDs(ctx, runs[step])
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs[step] = err
			return err
		}
		for _, id := range ids {
			known[id] = true
		}
		return nil
	})
	for _, step := range names { // the first failure in definition order
		if err := errs[step]; err != nil {
			return nil, fmt.Errorf("reading the state of step %q: %w", step, err)
		}
		if msg, ok := failed[step]; ok { // a kind that panicked
			return nil, fmt.Errorf("reading the state of step %q: %s", step, msg)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return known, nil
}

func (e *Engine) findOrphans(ctx context.Context, name string, plan *definition.Graph, known map[string]bool) ([]stack.Orphan, error) {
	byKind := map[string][]string{}
	for _, s := range plan.Steps {
		if s.Module != "" {
			byKind[s.Kind] = append(byKind[s.Kind], s.Module)
		}
	}
	var out []stack.Orphan
	for _, k := range slices.Sorted(maps.Keys(byKind)) {
		kind, _ := e.Registry.Step(k)
		if f, ok := kind.(stack.OrphanFinder); ok {
			found, err := f.FindOrphans(ctx, name, byKind[k], known)
			if err != nil {
				return nil, err
			}
			out = append(out, found...)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// recordedOrphans lists the resources interrupted runs left that no step
// state knows, as the kinds reported them (StepRun.Orphans).
func recordedOrphans(rec *state.Record) []stack.Orphan {
	var out []stack.Orphan
	for _, n := range rec.StepOrder() {
		out = append(out, rec.Steps[n].Orphans...)
	}
	return out
}

// reportUnsaved tells, at the end of down, about the resources interrupted
// runs left outside the steps' states: those kept in a workspace of their own
// were destroyed with the step; the others no state knows.
func (e *Engine) reportUnsaved(name string, orphans []stack.Orphan) {
	var kept, lost []string
	for _, o := range orphans {
		line := fmt.Sprintf("  %s %s (step %s)", o.Address, o.ID, o.Step)
		if o.Kept != "" {
			kept = append(kept, line+", kept in "+o.Kept)
		} else {
			lost = append(lost, line)
		}
	}
	if len(kept) > 0 {
		e.emit(Event{Stack: name, Type: EventInfo, Message: fmt.Sprintf(
			"destroyed %d resource(s) an interrupted run had left outside the steps' states:\n%s", len(kept), strings.Join(kept, "\n"))})
	}
	if len(lost) > 0 {
		e.emit(Event{Stack: name, Type: EventInfo, Message: fmt.Sprintf(
			"warning: %d resource(s) an interrupted run created are in no state (Terraform was stopped before it saved them); nothing will destroy them, delete them by hand:\n%s", len(lost), strings.Join(lost, "\n"))})
	}
}

// reportOrphans tells about resources still carrying the stack's identity
// after down destroyed every step: no state knows them any more. unsaved are
// those the kinds reported during the stack's life.
func (e *Engine) reportOrphans(ctx context.Context, name string, plan *definition.Graph, unsaved []stack.Orphan) {
	e.reportUnsaved(name, unsaved)
	orphans, err := e.findOrphans(ctx, name, plan, map[string]bool{})
	if err != nil {
		e.emit(Event{Stack: name, Type: EventInfo, Message: fmt.Sprintf("could not look for resources left with the stack's tags: %v", err)})
		return
	}
	if len(orphans) == 0 {
		return
	}
	var lines []string
	for _, o := range orphans {
		line := "  " + o.ID
		if o.Step != "" {
			line += " (step " + o.Step + ")"
		}
		lines = append(lines, line)
	}
	e.emit(Event{Stack: name, Type: EventInfo, Message: fmt.Sprintf(
		"warning: %d resource(s) still carry stack %q's tags but no state knows them (a killed run created them before saving its state); nothing will destroy them, delete them by hand:\n%s",
		len(orphans), name, strings.Join(lines, "\n"))})
}

type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }
