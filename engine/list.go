package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/state"
)

// Listing a store reads what it needs and nothing else: the stack names from
// one folder listing of stacks/ (a delimiter listing on S3: one request per
// 1,000 stacks), then each stack's record, ListConcurrency stacks at a time,
// and the lease only of the stacks whose record leaves room for a command
// holding it (mayBeLocked), or of every stack with --locked. Nothing derived
// from the records (a summary or index object) is kept, so nothing can fall
// behind them: what `list` shows is what the records said when it read them.
// See docs/store.md for why and what it costs.

// DefaultListConcurrency is how many stacks List reads at once. From a
// workstation each S3 request costs a round trip (20-50 ms); 64 at once
// lists 1,000 stacks in about a second, far below S3's per-prefix request
// rates (5,500 reads a second).
const DefaultListConcurrency = 64

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

	// TTL, expiry and the rough running cost of the steps whose modules declare one.
	TTL       string      `json:"ttl,omitempty"`
	ExpiresAt *time.Time  `json:"expires_at,omitempty"`
	Expired   bool        `json:"expired,omitempty"`
	Cost      *state.Cost `json:"cost,omitempty"`

	// Error says why the record or the lease could not be read (status
	// "damaged": the record is not valid JSON).
	Error string `json:"error,omitempty"`
}

// StatusDamaged is the status List gives a stack whose record cannot be parsed.
const StatusDamaged = "damaged"

// ListFilter selects the stacks List returns; the zero value selects all.
type ListFilter struct {
	// Owner is the user who created the stack ("alice") or user@host.
	Owner   string
	Profile string
	// Expired keeps the stacks whose TTL ran out; Locked those a command
	// holds, reading every stack's lease.
	Expired bool
	Locked  bool
	// NoLocks reads no lease at all: Locked stays empty (reap, which takes
	// each lease itself).
	NoLocks bool
}

func (f ListFilter) keepsRecord(s *Summary) bool {
	if f.Owner != "" && s.Owner != f.Owner && !strings.HasPrefix(s.Owner, f.Owner+"@") {
		return false
	}
	if f.Profile != "" && s.Profile != f.Profile {
		return false
	}
	return !f.Expired || s.Expired
}

// Names returns the names of the stacks in the store, sorted, from the folder
// listing alone (one request per 1,000 stacks on S3): for shell completion,
// which needs no record. A stack being created or removed may be among them.
func (e *Engine) Names(ctx context.Context) ([]string, error) {
	names, err := stack.ListDirs(ctx, e.Store, "stacks/")
	if err != nil {
		return nil, fmt.Errorf("listing stacks in %s: %w", e.Store, err) // the store's error says what to check
	}
	return names, nil
}

// List returns every stack in the store, sorted by name.
func (e *Engine) List(ctx context.Context) ([]Summary, error) {
	return e.ListMatching(ctx, ListFilter{})
}

// ListMatching returns the stacks f selects, sorted by name. A stack being
// created (no record yet) or removed (record gone) is left out; a store error
// fails the whole list rather than hide a stack.
func (e *Engine) ListMatching(ctx context.Context, f ListFilter) ([]Summary, error) {
	names, err := e.Names(ctx)
	if err != nil {
		return nil, err
	}
	found := make([]*Summary, len(names))
	now := time.Now()
	err = forEach(ctx, len(names), e.listConcurrency(), func(ctx context.Context, i int) error {
		s, err := e.summarize(ctx, names[i], f, now)
		found[i] = s
		return err
	})
	if err != nil {
		return nil, err
	}
	var out []Summary
	for _, s := range found {
		if s != nil {
			out = append(out, *s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (e *Engine) listConcurrency() int {
	if e.ListConcurrency > 0 {
		return e.ListConcurrency
	}
	return DefaultListConcurrency
}

// summarize reads one stack's record and, if the filter keeps it, its lease;
// nil means the filter dropped it or it has no record.
func (e *Engine) summarize(ctx context.Context, name string, f ListFilter, now time.Time) (*Summary, error) {
	rec, _, err := state.LoadRecord(ctx, e.Store, name)
	switch {
	case errors.Is(err, state.ErrNoStack):
		return nil, nil // being created (lease taken, record not yet written) or removed
	case errors.Is(err, state.ErrDamaged):
		if f != (ListFilter{}) {
			return nil, nil // nothing to filter on
		}
		return &Summary{Name: name, Status: StatusDamaged, Error: err.Error()}, nil
	case err != nil:
		return nil, err // names the stack and the store, and what to check
	}
	s := summaryOf(name, rec, now)
	if !f.keepsRecord(s) {
		return nil, nil
	}
	if f.NoLocks || !f.Locked && !mayBeLocked(rec, now) {
		return s, nil
	}
	l, _, err := state.ReadLease(ctx, e.Store, name)
	switch {
	case errors.Is(err, stack.ErrNotFound):
	case err != nil:
		// Shown rather than fatal: the stack itself was read, and a damaged
		// lease is something `stack unlock` fixes.
		s.Locked, s.Error = "?", err.Error()
	case !l.Expired() && !l.HolderDied():
		// An expired lease is not shown as a lock, though a taker still waits
		// out the skew margin (state.SkewMargin) before it takes it over.
		s.Locked = l.Holder()
	}
	if f.Locked && s.Locked == "" {
		return nil, nil
	}
	return s, nil
}

// recentWrite is how long after a record's last write its stack may still be
// locked with a record that says nothing runs: the command that wrote it is
// releasing its lease, or reap took the lease, read the record and lets go.
// It is minutes, not a lease TTL, because UpdatedAt is another
// workstation's clock.
const recentWrite = 5 * time.Minute

// mayBeLocked reports whether a command may hold the stack's lease, judged
// from its record: every command that takes the lease (up, rerun-step, down,
// reap) marks the record or a step running or destroying in its first write
// and writes the outcome last, just before it releases the lease. So a stack
// whose record says nothing runs and was last written minutes ago is not
// locked, and List spares the read of its lease (half the requests). The one
// window this misses is between taking the lease and that first write
// (validating the definition, under a second), as a list read a moment
// earlier would; --locked reads every lease.
func mayBeLocked(rec *state.Record, now time.Time) bool {
	busy := func(status string) bool { return status == state.StatusRunning || status == state.StatusDestroying }
	if busy(rec.Status) || now.Sub(rec.UpdatedAt) < recentWrite {
		return true
	}
	for _, st := range rec.Steps {
		if busy(st.Status) {
			return true
		}
	}
	return false
}

func summaryOf(name string, rec *state.Record, now time.Time) *Summary {
	s := &Summary{Name: name, Owner: rec.CreatedBy, Profile: rec.Profile, Status: rec.Status,
		CreatedAt: rec.CreatedAt, UpdatedAt: rec.UpdatedAt, Steps: len(rec.Steps)}
	for _, st := range rec.Steps {
		if st.Status == state.StatusApplied {
			s.Applied++
		}
	}
	s.TTL, s.ExpiresAt, s.Expired, s.Cost = rec.TTL, rec.ExpiresAt, rec.Expired(now), rec.Cost(now)
	return s
}

// forEach calls fn for 0..n-1, at most limit at once. The first error cancels
// the calls not yet started and is returned once the running ones end.
func forEach(ctx context.Context, n, limit int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(limit, n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(ctx, i); err != nil {
					cancel(err)
				}
			}
		}()
	}
	for i := 0; i < n && ctx.Err() == nil; i++ {
		select {
		case next <- i:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}
