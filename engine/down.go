package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/stack-tools/stack/stack"

	"github.com/stack-tools/stack/definition"
	"github.com/stack-tools/stack/state"
)

// Down tears a stack down: dependents first, handlers' teardown, then the step's
// own destroy. When every step is gone the stack's record, logs and Terraform
// state are deleted.
func (e *Engine) Down(ctx context.Context, name string) error {
	return e.down(ctx, name, nil)
}

// down tears a stack down; check, if set, may refuse once the lease is held
// and the record read (reap makes sure the stack is still expired).
func (e *Engine) down(ctx context.Context, name string, check func(*state.Record) error) error {
	lease, err := e.acquire(ctx, name, "down")
	if err != nil {
		return err
	}
	released := false
	defer func() {
		if !released {
			lease.Release()
		}
	}()
	rec, ver, err := state.LoadRecord(ctx, e.Store, name)
	if errors.Is(err, state.ErrNoStack) && lease.TookOver != nil && lease.TookOver.Command == "down" {
		// A down that died after deleting the record: only its lease is left.
		released = true
		lease.Release()
		_ = os.RemoveAll(e.stackWork(name))
		e.emit(Event{Stack: name, Type: EventInfo, Message: "stack removed (an earlier down had finished all but releasing its lock)"})
		return nil
	}
	if err != nil {
		return err
	}
	if err := e.loadDigestKey(ctx); err != nil {
		return err
	}
	if check != nil {
		if err := check(rec); err != nil {
			return err
		}
	}
	plan, err := e.storedGraph(ctx, rec)
	if err != nil {
		return err
	}
	w := state.NewRecordWriter(e.Store, name, rec, ver).Under(lease)
	if err := w.Update(ctx, func(r *state.Record) { r.Status, r.Command = state.StatusDestroying, "down" }); err != nil {
		return err
	}
	// Steps an unfinished `up --prune` dropped go first: the rest no longer uses them.
	if names := rec.Dropped(plan); len(names) > 0 {
		if err := e.destroyRetired(ctx, w, names); err != nil {
			return err
		}
	}
	if err := e.destroySteps(ctx, plan, w, lease); err != nil {
		return err
	}
	if err := lease.Valid(); err != nil {
		return err // deleting now could delete a taker's records
	}
	// Everything is gone: remove what the store holds for the stack.
	if err := e.removeStackKeys(ctx, name); err != nil {
		return err
	}
	left := recordedOrphans(w.Snapshot())
	if err := e.Store.Delete(ctx, state.RecordKey(name), stack.AnyVersion); err != nil {
		return err
	}
	released = true
	lease.Release()
	_ = os.RemoveAll(e.stackWork(name))
	e.emit(Event{Stack: name, Type: EventInfo, Message: "stack removed"})
	e.reportOrphans(ctx, name, plan, left)
	return nil
}

// removeStackKeys deletes what the store holds for a stack but its record
// and lease (logs, reports, module copies), and what the store keeps for
// Terraform outside them.
func (e *Engine) removeStackKeys(ctx context.Context, name string) error {
	keys, err := e.Store.List(ctx, state.StackPrefix(name))
	if err != nil {
		return err
	}
	for _, k := range keys {
		if k == state.LeaseKey(name) || k == state.RecordKey(name) {
			continue
		}
		if err := e.Store.Delete(ctx, k, stack.AnyVersion); err != nil {
			return fmt.Errorf("deleting %s: %w", e.Store.Location(k), err)
		}
	}
	if f, ok := e.Store.(stack.Forgetter); ok {
		return f.Forget(ctx, name)
	}
	return nil
}

// destroySteps destroys every step, dependents first, and stops if the
// lease is fenced.
func (e *Engine) destroySteps(ctx context.Context, plan *definition.Graph, w *state.RecordWriter, lease *state.HeldLease) error {
	ctx, fenced := e.fenced(ctx, lease, w)
	r := e.newRunner(plan, w)
	r.fence = lease.FencePath()
	failed := walk(ctx, plan.Steps, e.parallelism(), doneFirst(func(s *definition.Step) []string { return plan.Dependents[s.Name] }), whole(r.destroyStep))
	cerr := ctx.Err() // before fenced() cancels ctx
	ferr := fenced()
	if len(failed) > 0 || cerr != nil {
		_ = w.Update(ctx, func(r *state.Record) { r.Status = state.StatusFailed })
		if ferr != nil {
			return ferr
		}
		if err := interrupted(cerr, w.Name(), failed, "stack down "+w.Name()); err != nil {
			return err
		}
		return &RunError{Stack: w.Name(), Failed: failed}
	}
	return ferr
}

func (r *runner) destroyStep(ctx context.Context, s *definition.Step) error {
	prev := r.w.StepState(s.Name)
	if prev == nil || prev.Status == state.StatusPending || prev.Status == state.StatusDestroyed {
		return nil
	}
	start := time.Now()
	// The process records of the kind go behind (processRecorder): out
	// before the step counts as done, and so before the lease is released.
	defer func() { _ = r.bg.Drain() }()
	r.e.emit(Event{Stack: r.w.Name(), Step: s.Name, Type: EventDestroy})
	if err := r.w.UpdateStep(ctx, s.Name, func(st *state.StepState) { st.Status, st.Error = state.StatusDestroying, "" }); err != nil {
		return err
	}
	if err := os.MkdirAll(r.work(), 0o700); err != nil {
		return err
	}
	logPath := filepath.Join(r.work(), s.Name+".destroy.log")
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
		if hs.Record == nil && hs.Status != state.StatusRunning && hs.Status != state.StatusFailed {
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
		hr := &stack.HandlerRun{Stack: run.Stack, Step: s.Name, Profile: run.Profile, Owner: run.Owner, Index: i,
			Config: cfg, Outputs: prev.Outputs, Previous: hs.Record, Log: logFile, Progress: run.Progress,
			Update:   func(json.RawMessage) error { return nil },
			Resolver: r.resolver(ctx, prev.Outputs)}
		if err := h.Teardown(ctx, hr, hs.Record); err != nil {
			return r.fail(ctx, s, start, fmt.Errorf("handler %s teardown: %w", hs.Handler, err))
		}
	}
	kind := s.Impl
	if err := kind.Destroy(ctx, run); err != nil {
		return r.fail(ctx, s, start, err)
	}
	if err := r.w.UpdateStep(ctx, s.Name, func(st *state.StepState) {
		st.Status, st.Outputs, st.Handlers, st.Fingerprint, st.Error = state.StatusDestroyed, nil, nil, "", ""
	}); err != nil {
		return err
	}
	r.e.emit(Event{Stack: r.w.Name(), Step: s.Name, Type: EventDestroyed, Elapsed: time.Since(start)})
	return nil
}
