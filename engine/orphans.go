package engine

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

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
	w := state.NewRecordWriter(e.Store, name, rec, ver)
	r := e.newRunner(plan, w)
	known := map[string]bool{}
	for _, s := range plan.Steps {
		kind := s.Impl
		f, ok := kind.(stack.OrphanFinder)
		if st := rec.Steps[s.Name]; !ok || st == nil || st.Status == state.StatusPending || st.Status == state.StatusDestroyed {
			continue
		}
		run, err := r.stepRun(ctx, s, nopWriter{})
		if err != nil {
			return nil, err
		}
		ids, err := f.StateIDs(ctx, run)
		if err != nil {
			return nil, fmt.Errorf("reading the state of step %q: %w", s.Name, err)
		}
		for _, id := range ids {
			known[id] = true
		}
	}
	return e.findOrphans(ctx, name, plan, known)
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
