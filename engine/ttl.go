package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/stack-tools/stack/state"
)

// A stack with a TTL expires that long after its last mutating command;
// `stack reap` destroys expired stacks, so forgotten clones stop costing money.

// ReapOptions are the inputs of Reap.
type ReapOptions struct {
	// DryRun lists what would be destroyed and changes nothing.
	DryRun bool
	// Parallelism is how many stacks are torn down at once (default 1);
	// each tears down up to Engine.Parallelism steps at once.
	Parallelism int
}

// ReapResult is what happened to one expired stack.
type ReapResult struct {
	Stack     string    `json:"stack"`
	Owner     string    `json:"owner"`
	Profile   string    `json:"profile,omitempty"`
	ExpiredAt time.Time `json:"expired_at"`
	// Outcome is "destroyed", "would destroy" (dry run), "kept" (someone
	// extended it in the meantime) or "failed".
	Outcome string `json:"outcome"`
	Error   string `json:"error,omitempty"`
}

// Reap outcomes.
const (
	ReapDestroyed = "destroyed"
	ReapWould     = "would destroy"
	ReapKept      = "kept"
	ReapFailed    = "failed"
)

// errStillAlive stops a reap when the stack was extended after it was listed.
var errStillAlive = errors.New("no longer expired")

// Reap destroys every expired stack in the store, opts.Parallelism at a time,
// each under its own lease. A failure does not stop the others: every stack
// gets a result, in name order.
func (e *Engine) Reap(ctx context.Context, opts ReapOptions) ([]ReapResult, error) {
	list, err := e.ListMatching(ctx, ListFilter{Expired: true, NoLocks: true})
	if err != nil {
		return nil, err
	}
	out := make([]ReapResult, len(list))
	for i, s := range list {
		out[i] = ReapResult{Stack: s.Name, Owner: s.Owner, Profile: s.Profile, ExpiredAt: *s.ExpiresAt, Outcome: ReapWould}
	}
	if opts.DryRun || len(list) == 0 {
		return out, nil
	}
	// Loaded once here, before the downs that run side by side.
	if err := e.loadDigestKey(ctx); err != nil {
		return nil, err
	}
	par := opts.Parallelism
	if par < 1 {
		par = 1
	}
	// Every stack gets a result even once ctx ends: reapOne reports those it
	// did not start, so the loop itself runs on.
	_ = forEach(context.WithoutCancel(ctx), len(out), par, func(_ context.Context, i int) error {
		e.reapOne(ctx, &out[i])
		return nil
	})
	return out, nil
}

// reapOne destroys one expired stack and says what happened in res.
func (e *Engine) reapOne(ctx context.Context, res *ReapResult) {
	if err := ctx.Err(); err != nil {
		res.Outcome, res.Error = ReapFailed, "not started: "+err.Error()
		return
	}
	e.emit(Event{Stack: res.Stack, Type: EventInfo, Message: fmt.Sprintf("stack %s (owner %s) expired %s ago: destroying it", res.Stack, res.Owner, time.Since(res.ExpiredAt).Round(time.Second))})
	err := e.down(ctx, res.Stack, func(rec *state.Record) error {
		// Checked again under the lease: someone may have used it since.
		if !rec.Expired(time.Now()) {
			return errStillAlive
		}
		return nil
	})
	switch {
	case errors.Is(err, errStillAlive):
		res.Outcome = ReapKept
	case err != nil:
		res.Outcome, res.Error = ReapFailed, err.Error()
	default:
		res.Outcome = ReapDestroyed
	}
}

// chooseTTL is the TTL `up` gives a stack: the flag, else the definition's,
// else the one it has.
func chooseTTL(rec *state.Record, opts UpOptions) string {
	switch {
	case opts.TTL != nil && *opts.TTL <= 0:
		return ""
	case opts.TTL != nil:
		return opts.TTL.String()
	case opts.Def.TTL != "":
		return opts.Def.TTL
	}
	return rec.TTL
}
