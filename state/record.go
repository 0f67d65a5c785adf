package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"sync"
	"time"

	"github.com/stack-tools/stack/stack"
)

// Step and stack statuses as stored.
const (
	StatusPending    = "pending"
	StatusRunning    = "running"
	StatusApplied    = "applied"
	StatusFailed     = "failed"
	StatusDestroying = "destroying"
	StatusDestroyed  = "destroyed"
	StatusSkipped    = "skipped"
)

// Record is everything the store keeps about one stack. It never holds a
// sensitive value.
type Record struct {
	Name       string                `json:"name"`
	Definition json.RawMessage       `json:"definition"`
	Source     string                `json:"source"` // definition file on the creating workstation
	Dir        string                `json:"dir"`    // its folder: module paths are relative to it
	Profile    string                `json:"profile,omitempty"`
	Only       []string              `json:"only,omitempty"`
	Skip       []string              `json:"skip,omitempty"`
	CreatedBy  string                `json:"created_by"`
	CreatedAt  time.Time             `json:"created_at"`
	UpdatedAt  time.Time             `json:"updated_at"`
	UpdatedBy  string                `json:"updated_by"`
	Status     string                `json:"status"`
	Command    string                `json:"last_command"`
	Steps      map[string]*StepState `json:"steps"`
	// Retired is the definition that steps dropped from Definition were last
	// applied with, kept until `up --prune` or `down` has destroyed them.
	Retired *Retired `json:"retired,omitempty"`
	// TTL is how long the stack may live after its last mutating command
	// (a Go duration, "" for no limit); ExpiresAt is when that runs out and
	// `stack reap` may destroy it.
	TTL       string     `json:"ttl,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// Vars are the variable values given outside the definition (--var,
	// --var-file, STACK_VAR_) that the stack was last brought up with;
	// sensitive ones as digests only.
	Vars stack.Outputs `json:"vars,omitempty"`
}

// Retired is what planning the destroy of dropped steps needs.
type Retired struct {
	Definition json.RawMessage `json:"definition"`
	Source     string          `json:"source"`
	Dir        string          `json:"dir"`
	Profile    string          `json:"profile,omitempty"`
}

// StepState is one step's stored state.
type StepState struct {
	Status      string `json:"status"`
	Kind        string `json:"kind"`
	Fingerprint string `json:"fingerprint,omitempty"`
	// ModuleDigest names the module snapshot stored with the stack.
	ModuleDigest string `json:"module_digest,omitempty"`
	// ModuleRevision is the commit a git module source resolved to when the
	// step was last applied (a tag or branch may move on since).
	ModuleRevision string         `json:"module_revision,omitempty"`
	Outputs        stack.Outputs  `json:"outputs,omitempty"`
	Handlers       []HandlerState `json:"handlers,omitempty"`
	Error          string         `json:"error,omitempty"`
	Progress       string         `json:"progress,omitempty"`
	StartedAt      *time.Time     `json:"started_at,omitempty"`
	FinishedAt     *time.Time     `json:"finished_at,omitempty"`
	Seconds        float64        `json:"seconds,omitempty"`
	Log            string         `json:"log,omitempty"`
	Applies        int            `json:"applies"`
	RunBy          string         `json:"run_by,omitempty"`
	// CostPerHour is the module's declared rough hourly cost under the
	// profile it was applied with, running since CostSince; CostAccrued is
	// what earlier shapes of the step cost before that (see cost.go).
	CostPerHour float64    `json:"cost_per_hour,omitempty"`
	CostSince   *time.Time `json:"cost_since,omitempty"`
	CostAccrued float64    `json:"cost_accrued,omitempty"`
	// Process is the process group running the step now (see Process).
	Process *stack.Process `json:"process,omitempty"`
	// Orphans are resources an interrupted run of the step created that its
	// state does not know (the kind found them, see stack.StepRun.Orphans):
	// shown by status and plan, and in down's end report.
	Orphans []stack.Orphan `json:"orphans,omitempty"`
	// Interrupted is set when the step's last run stopped before it finished
	// (Ctrl-C, or its command died); the next run reconciles first.
	Interrupted bool `json:"interrupted,omitempty"`
	// Phases say where the step's last run spent its time, in order; Ahead is
	// the set-up done while its upstream steps ran, off the critical path.
	Phases []Phase `json:"phases,omitempty"`
	Ahead  []Phase `json:"prepared_ahead,omitempty"`
}

// HandlerState is one completion handler's stored state.
type HandlerState struct {
	Handler string          `json:"handler"`
	Status  string          `json:"status"`
	Reason  string          `json:"reason,omitempty"`
	Error   string          `json:"error,omitempty"`
	Record  json.RawMessage `json:"record,omitempty"`
	Outputs stack.Outputs   `json:"outputs,omitempty"`
}

// applied reports whether a step of the stack is applied; a nil record (a new
// stack) has none.
func (r *Record) Applied(step string) bool {
	if r == nil {
		return false
	}
	st := r.Steps[step]
	return st != nil && st.Status == StatusApplied
}

func StackPrefix(name string) string          { return path.Join("stacks", name) + "/" }
func RecordKey(name string) string            { return path.Join("stacks", name, "stack.json") }
func LeaseKey(name string) string             { return path.Join("stacks", name, "lease.json") }
func LogKey(name, step string) string         { return path.Join("stacks", name, "logs", step+".log") }
func ArtifactKey(name, step, f string) string { return ArtifactPrefix(name, step) + f }
func ArtifactPrefix(name, step string) string {
	return path.Join("stacks", name, "artifacts", step) + "/"
}

// ErrNoStack is returned for a stack the store does not have.
var ErrNoStack = errors.New("no such stack")

// ErrDamaged is returned for a record that is not valid JSON.
var ErrDamaged = errors.New("damaged")

// LoadRecord reads a stack's record.
func LoadRecord(ctx context.Context, st stack.Store, name string) (*Record, string, error) {
	data, ver, err := st.Get(ctx, RecordKey(name))
	if errors.Is(err, stack.ErrNotFound) {
		return nil, "", fmt.Errorf("stack %q: %w in %s (see `stack list`)", name, ErrNoStack, st)
	}
	if err != nil {
		return nil, "", fmt.Errorf("reading stack %q from %s: %w", name, st, err)
	}
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, "", fmt.Errorf("stack %q: the record at %s is %w: %w", name, st.Location(RecordKey(name)), ErrDamaged, err)
	}
	if r.Steps == nil {
		r.Steps = map[string]*StepState{}
	}
	return &r, ver, nil
}

// RecordWriter serialises one process's updates to a record and makes each a
// compare-and-swap, re-reading and re-applying on conflict so no update is lost.
type RecordWriter struct {
	st      stack.Store
	name    string
	who     string
	mu      sync.Mutex
	rec     *Record
	version string
	// broken is set once the store stayed unreachable past the retry window:
	// later writes in this command fail at once instead of waiting again.
	broken error
	// lease, if set, is the lease the writes are made under: none is sent
	// once it may have expired, and a conflict is merged only while it is
	// still this command's.
	lease *HeldLease
}

// Under makes every later write depend on lease (see HeldLease.Valid).
func (w *RecordWriter) Under(lease *HeldLease) *RecordWriter {
	w.lease = lease
	return w
}

// writeContext bounds a write to the time the lease is surely still ours:
// a write sent later could land after a taker's. Writes must land even while
// the command is being cancelled (they record what happened), so ctx's own
// cancellation is dropped.
func (w *RecordWriter) writeContext(ctx context.Context) (context.Context, context.CancelFunc, error) {
	ctx = context.WithoutCancel(ctx)
	if w.lease == nil {
		return ctx, func() {}, nil
	}
	if err := w.lease.Valid(); err != nil {
		return nil, nil, err
	}
	wctx, cancel := context.WithDeadline(ctx, w.lease.LastRenewal().Add(KillAfter(w.lease.TTL())))
	return wctx, cancel, nil
}

// PutUnder writes another object of the stack (a step's log) under the same
// lease as the record: not at all once the lease may have expired, and
// bounded by its kill deadline, so a fenced command cannot overwrite what a
// taker wrote.
func (w *RecordWriter) PutUnder(ctx context.Context, key string, data []byte) error {
	wctx, cancel, err := w.writeContext(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	_, err = w.st.Put(wctx, key, data, stack.AnyVersion)
	return err
}

// stillOurs re-reads the lease after a conflict: another command's record
// is merged into only while this one holds the stack.
func (w *RecordWriter) stillOurs(ctx context.Context) error {
	if w.lease == nil {
		return nil
	}
	cur, _, err := ReadLease(ctx, w.st, w.name)
	if err == nil && cur.ID == w.lease.lease.ID {
		return nil
	}
	return fmt.Errorf("the record of stack %q was changed by another command and this one no longer holds its lock: %w", w.name, ErrFenced)
}

func (w *RecordWriter) Snapshot() *Record {
	w.mu.Lock()
	defer w.mu.Unlock()
	b, _ := json.Marshal(w.rec)
	var r Record
	_ = json.Unmarshal(b, &r)
	return &r
}

// stepState returns a copy of one step's state, or nil.
func (w *RecordWriter) StepState(name string) *StepState {
	w.mu.Lock()
	defer w.mu.Unlock()
	st := w.rec.Steps[name]
	if st == nil {
		return nil
	}
	b, _ := json.Marshal(st)
	var c StepState
	_ = json.Unmarshal(b, &c)
	return &c
}

// owner is who created the stack.
func (w *RecordWriter) Owner() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.rec.CreatedBy
}

// update applies fn to the record and writes it. Transient store errors are
// retried for a while; a conflict re-reads the record and applies fn again.
func (w *RecordWriter) Update(ctx context.Context, fn func(r *Record)) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.broken != nil {
		return w.broken
	}
	backoff := 200 * time.Millisecond
	deadline := time.Now().Add(30 * time.Second)
	var last error // the store's last answer, for the message
	for {
		fn(w.rec)
		w.rec.UpdatedAt = time.Now().UTC()
		w.rec.UpdatedBy = w.who
		data, err := json.MarshalIndent(w.rec, "", "  ")
		if err != nil {
			return err
		}
		wctx, cancel, err := w.writeContext(ctx)
		if err != nil {
			if last != nil {
				err = fmt.Errorf("saving the state of stack %q to %s: %w; %w", w.name, w.st, last, err)
			}
			w.broken = err
			return err
		}
		ver, err := w.st.Put(wctx, RecordKey(w.name), data, w.version)
		cancel()
		if err == nil {
			w.version = ver
			return nil
		}
		if errors.Is(err, stack.ErrConflict) {
			if lerr := w.stillOurs(context.WithoutCancel(ctx)); lerr != nil {
				w.broken = lerr
				return lerr
			}
			r, v, gerr := LoadRecord(context.WithoutCancel(ctx), w.st, w.name)
			if gerr == nil {
				w.rec, w.version = r, v
				continue
			}
			err = gerr
		}
		last = err
		if time.Now().After(deadline) {
			w.broken = fmt.Errorf("saving the state of stack %q to %s: %w (the store is unreachable; run the same command again when it is back: finished steps are skipped)", w.name, w.st, err)
			return w.broken
		}
		time.Sleep(backoff)
		if backoff < 3*time.Second {
			backoff *= 2
		}
	}
}

func (w *RecordWriter) UpdateStep(ctx context.Context, name string, fn func(s *StepState)) error {
	return w.Update(ctx, func(r *Record) {
		s := r.Steps[name]
		if s == nil {
			s = &StepState{Status: StatusPending}
			r.Steps[name] = s
		}
		fn(s)
	})
}

// NewRecordWriter writes the record of stack name, read at version, as this
// user and host (Me).
func NewRecordWriter(st stack.Store, name string, rec *Record, version string) *RecordWriter {
	return &RecordWriter{st: st, name: name, who: Me(), rec: rec, version: version}
}

// Name is the stack's name.
func (w *RecordWriter) Name() string { return w.name }

func ModuleKey(stackName, digest string) string {
	return path.Join("stacks", stackName, "modules", digest+".tar.gz")
}
