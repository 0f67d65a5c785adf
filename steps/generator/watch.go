package generator

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"time"

	"github.com/stack-tools/stack/internal/proc"
	"github.com/stack-tools/stack/load"
	"github.com/stack-tools/stack/stack"
)

// A persistent run outlives the command that started it, on the workstation
// that ran `up`; a stack moves between workstations, so `down` (or a new run
// of the step) may come from another one, which cannot signal the process.
// The run therefore keeps a mark in the stack's store while it runs, and
// reads it every CheckEvery: when the mark is gone, or names another run, it
// stops as on SIGTERM (last report in its workstation's cache) and says so in
// the store, where the command that removed the mark waits for that word.
// While the store cannot be read (a partition), the run goes on: only a mark
// seen gone stops it.

// DefaultCheckEvery is how often a persistent run reads its mark.
const DefaultCheckEvery = 10 * time.Second

// persistentMark is what a running persistent run keeps at markKey.
type persistentMark struct {
	ID         string        `json:"id"`
	Host       string        `json:"host"`
	PID        int           `json:"pid"`
	Started    time.Time     `json:"started"`
	CheckEvery time.Duration `json:"check_every_ns"`
}

// persistentStop is what a run that saw its mark gone leaves at stopKey.
type persistentStop struct {
	ID      string    `json:"id"`
	Host    string    `json:"host"`
	PID     int       `json:"pid"`
	Stopped time.Time `json:"stopped"`
	Verdict string    `json:"verdict"`
	Sent    uint64    `json:"sent"`
	Reports string    `json:"reports"` // the folder, on Host
}

// The generator's keys in the store, beside the engine's stacks/ and
// Terraform's tfstate/.
func markKey(stackName, step string) string {
	return path.Join("generators", stackName, step, "run.json")
}
func stopKey(stackName, step string) string {
	return path.Join("generators", stackName, step, "stopped.json")
}

func newRunID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// errMarkGone ends a persistent run whose mark went.
type errMarkGone struct{ why string }

func (e errMarkGone) Error() string { return e.why }

// markWatch is a persistent run's side of the protocol.
type markWatch struct {
	store       stack.Store
	stack, step string
	mark        persistentMark
	log         io.Writer
}

// put writes the mark: the run is the step's from now on.
func (w *markWatch) put(ctx context.Context) error {
	b, _ := json.Marshal(w.mark)
	key := markKey(w.stack, w.step)
	if _, err := w.store.Put(ctx, key, b, stack.AnyVersion); err != nil {
		return fmt.Errorf("writing the run's mark %s: %w", w.store.Location(key), err)
	}
	return nil
}

// watch reads the mark every CheckEvery until ctx ends, and stops the run
// (stop) once the mark is gone or names another run.
func (w *markWatch) watch(ctx context.Context, stop context.CancelCauseFunc) {
	t := time.NewTicker(w.mark.CheckEvery)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		why, err := w.gone(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			if !failing {
				fmt.Fprintf(w.log, "load: cannot read the run's mark (%v): running on until the store answers\n", err)
			}
			failing = true
		case why != "":
			fmt.Fprintf(w.log, "load: %s: stopping\n", why)
			stop(errMarkGone{why})
			return
		case failing:
			fmt.Fprintln(w.log, "load: the store answers again")
			failing = false
		}
	}
}

// gone says why the run must stop, or "" while its mark stands.
func (w *markWatch) gone(ctx context.Context) (string, error) {
	b, _, err := w.store.Get(ctx, markKey(w.stack, w.step))
	if errors.Is(err, stack.ErrNotFound) {
		return "the step's mark is gone from the store (stack down, perhaps on another workstation)", nil
	}
	if err != nil {
		return "", err
	}
	var m persistentMark
	if err := json.Unmarshal(b, &m); err != nil {
		return "", fmt.Errorf("unreadable mark: %w", err)
	}
	if m.ID != w.mark.ID {
		return fmt.Sprintf("the step runs again on %s (pid %d)", m.Host, m.PID), nil
	}
	return "", nil
}

// said tells the command that removed the mark that the run stopped.
func (w *markWatch) said(ctx context.Context, rep *load.Report, reports string) {
	st := persistentStop{ID: w.mark.ID, Host: w.mark.Host, PID: w.mark.PID, Stopped: time.Now().UTC(), Reports: reports}
	if rep != nil {
		st.Verdict, st.Sent = string(rep.Verdict), rep.Total.Sent
	}
	b, _ := json.Marshal(st)
	if _, err := w.store.Put(context.WithoutCancel(ctx), stopKey(w.stack, w.step), b, stack.AnyVersion); err != nil {
		fmt.Fprintf(w.log, "load: telling the store the run stopped: %v\n", err)
	}
}

// startWatch writes the run's mark and watches it, for the persistent run
// spec describes; the returned context ends when the mark goes. Without a
// store to watch (a spec from before marks) it returns ctx and nil.
func (k *Kind) startWatch(ctx context.Context, spec *persistentRun, log io.Writer) (context.Context, *markWatch, error) {
	if spec.State == "" || spec.ID == "" || k.OpenStore == nil {
		return ctx, nil, nil
	}
	st, err := k.OpenStore(ctx, spec.State)
	if err != nil {
		return nil, nil, fmt.Errorf("opening the stack's store %s: %w", spec.State, err)
	}
	every := spec.CheckEvery
	if every <= 0 {
		every = DefaultCheckEvery
	}
	w := &markWatch{store: st, stack: spec.Stack, step: spec.Step, log: log,
		mark: persistentMark{ID: spec.ID, Host: proc.Host(), PID: os.Getpid(), Started: time.Now().UTC(), CheckEvery: every}}
	if err := w.put(ctx); err != nil {
		return nil, nil, err
	}
	ctx, stop := context.WithCancelCause(ctx)
	go w.watch(ctx, stop)
	return ctx, w, nil
}

// stopElsewhere removes the step's mark and, when it belongs to a run other
// than local (the one this workstation just stopped, "" if none), waits for
// that run to say it stopped. A run whose workstation is off or cut off from
// the store cannot say so: after three of its checks and half a minute more,
// the command goes on and says the run stops once it reads the store again.
func stopElsewhere(ctx context.Context, run *stack.StepRun, local string) error {
	if run.Store == nil {
		return nil
	}
	key := markKey(run.Stack, run.Step)
	b, ver, err := run.Store.Get(ctx, key)
	if errors.Is(err, stack.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("generator step: reading the persistent run's mark %s: %w", run.Store.Location(key), err)
	}
	var m persistentMark
	_ = json.Unmarshal(b, &m)
	elsewhere := m.ID != local && m.ID != ""
	if elsewhere {
		// An earlier run's word goes before the mark: once the mark is
		// gone, the run may write its own.
		_ = run.Store.Delete(ctx, stopKey(run.Stack, run.Step), stack.AnyVersion)
	}
	if err := run.Store.Delete(ctx, key, ver); err != nil && !errors.Is(err, stack.ErrConflict) {
		return fmt.Errorf("generator step: removing the persistent run's mark %s: %w", run.Store.Location(key), err)
	}
	if !elsewhere {
		return nil
	}
	if m.Host == proc.Host() && m.PID > 0 {
		if gone, _ := processGone(m.PID, m.Started); gone {
			progress(run, "the persistent run on %s (pid %d) no longer runs", m.Host, m.PID)
			return nil
		}
	}
	every := m.CheckEvery
	if every <= 0 {
		every = DefaultCheckEvery
	}
	progress(run, "waiting for the persistent run on %s (pid %d) to stop: it reads the store every %s", m.Host, m.PID, every)
	st, err := waitStopped(ctx, run, m.ID, 3*every+30*time.Second, min(every/2, time.Second))
	if err != nil {
		return err
	}
	if st == nil {
		progress(run, "the persistent run on %s (pid %d) did not say it stopped: %s may be off or cut off from the store; the run stops when it reads the store again", m.Host, m.PID, m.Host)
		return nil
	}
	progress(run, "persistent run on %s (pid %d) stopped: %s, %d requests; its last report is in %s on %s", st.Host, st.PID, st.Verdict, st.Sent, st.Reports, st.Host)
	return run.Store.Delete(ctx, stopKey(run.Stack, run.Step), stack.AnyVersion)
}

// waitStopped polls for the word of run id until patience runs out (nil, nil).
func waitStopped(ctx context.Context, run *stack.StepRun, id string, patience, every time.Duration) (*persistentStop, error) {
	deadline := time.Now().Add(patience)
	for time.Now().Before(deadline) {
		if b, _, err := run.Store.Get(ctx, stopKey(run.Stack, run.Step)); err == nil {
			var st persistentStop
			if json.Unmarshal(b, &st) == nil && st.ID == id {
				return &st, nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(every):
		}
	}
	return nil, nil
}

// progress writes a line to the step's log and its progress.
func progress(run *stack.StepRun, format string, args ...any) {
	if run.Log != nil {
		fmt.Fprintf(run.Log, "load: "+format+"\n", args...)
	}
	if run.Progress != nil {
		run.Progress(format, args...)
	}
}
