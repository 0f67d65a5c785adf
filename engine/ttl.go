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

// Reap destroys every expired stack in the store, one after another, each under
// its own lease. A failure does not stop the others: every stack gets a result.
func (e *Engine) Reap(ctx context.Context, opts ReapOptions) ([]ReapResult, error) {
	list, err := e.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []ReapResult
	for _, s := range list {
		if !s.Expired {
			continue
		}
		res := ReapResult{Stack: s.Name, Owner: s.Owner, Profile: s.Profile, ExpiredAt: *s.ExpiresAt}
		if opts.DryRun {
			res.Outcome = ReapWould
			out = append(out, res)
			continue
		}
		if err := ctx.Err(); err != nil {
			res.Outcome, res.Error = ReapFailed, "not started: "+err.Error()
			out = append(out, res)
			continue
		}
		e.emit(Event{Stack: s.Name, Type: EventInfo, Message: fmt.Sprintf("stack %s (owner %s) expired %s ago: destroying it", s.Name, s.Owner, time.Since(*s.ExpiresAt).Round(time.Second))})
		err := e.down(ctx, s.Name, func(rec *state.Record) error {
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
		out = append(out, res)
	}
	return out, nil
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
