package engine

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/stack-tools/stack/state"
)

// acquire takes a stack's lease for command, with the fence file its runs
// watch in this workstation's cache.
func (e *Engine) acquire(ctx context.Context, name, command string) (*state.HeldLease, error) {
	dir := ""
	if e.CacheDir != "" {
		dir = filepath.Join(e.CacheDir, "fence")
	}
	return state.AcquireLease(ctx, e.Store, name, command, e.ttl(), e.LockTimeout, dir)
}

// fenced stops a command whose lease is fenced (state/fence.go): ctx is
// cancelled, so no step starts and running ones are interrupted; the kinds'
// processes watch the fence file and are killed before the lease can expire.
// The returned function reports, once the command is over, whether that
// happened and what was stopped.
func (e *Engine) fenced(ctx context.Context, lease *state.HeldLease, w *state.RecordWriter) (context.Context, func() error) {
	ctx, cancel := context.WithCancel(ctx)
	var stopped []string
	hit := make(chan struct{})
	go func() {
		select {
		case <-lease.Fenced():
			stopped = runningSteps(w.Snapshot())
			e.emit(Event{Stack: w.Name(), Type: EventInfo, Message: fenceMessage(lease, stopped)})
			close(hit)
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, func() error {
		cancel()
		select {
		case <-hit:
			return &FencedError{Stack: w.Name(), Since: lease.LastRenewal(), Stopped: stopped, Lost: lease.Valid(), Store: lease.RenewalError()}
		default:
			return nil
		}
	}
}

func runningSteps(rec *state.Record) []string {
	var names []string
	for n, s := range rec.Steps {
		if s.Status == state.StatusRunning || s.Status == state.StatusDestroying {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

func fenceMessage(lease *state.HeldLease, stopped []string) string {
	last := lease.LastRenewal()
	what := "no step was running"
	if len(stopped) > 0 {
		what = "stopping steps " + strings.Join(stopped, ", ") + " (interrupted now, killed at " +
			last.Add(state.KillAfter(lease.TTL())).Format(time.TimeOnly) + " if still running)"
	}
	cause := fmt.Sprintf("no renewal of the lock landed since %s (lock TTL %s)", last.Format(time.TimeOnly), lease.TTL())
	select {
	case <-lease.Lost:
		cause = "another command holds the lock now (" + cause + ")"
	default:
	}
	return fmt.Sprintf("lost the store: %s; %s, so that nothing of this command writes once another workstation may take over", cause, what)
}

// FencedError says a command stopped because it could not keep its lease.
type FencedError struct {
	Stack   string
	Since   time.Time
	Stopped []string
	Lost    error // non-nil if the lease may be someone else's by now
	Store   error // what the store answered the last renewal, if it failed
}

func (e *FencedError) Error() string {
	stopped := "nothing was running"
	if len(e.Stopped) > 0 {
		stopped = "it stopped steps " + strings.Join(e.Stopped, ", ")
	}
	answer := ""
	if e.Store != nil {
		answer = " (the last renewal: " + e.Store.Error() + ")"
	}
	return fmt.Sprintf("stack %q: this command lost the store (no renewal of its lock landed since %s%s) and stopped; %s. Another workstation may have taken the stack over: once the store is reachable, run `stack status %s`, then the command again (state a stopped Terraform could not save is pushed or reported as orphans)",
		e.Stack, e.Since.Format(time.TimeOnly), answer, stopped, e.Stack)
}

func (e *FencedError) Unwrap() error { return errors.Join(e.Store, e.Lost, state.ErrFenced) }
