package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	osuser "os/user"
	"time"

	"github.com/stack-tools/stack/internal/proc"
	"github.com/stack-tools/stack/stack"
)

// Lease says who may change a stack right now. It is one object in the store,
// created only if absent, renewed while its holder runs and deleted at the end.
type Lease struct {
	ID      string    `json:"id"`
	User    string    `json:"user"`
	Host    string    `json:"host"`
	PID     int       `json:"pid"`
	Command string    `json:"command"`
	Started time.Time `json:"started"`
	Expires time.Time `json:"expires"`
}

// Holder describes the lease holder for people.
func (l *Lease) Holder() string {
	return fmt.Sprintf("%s@%s (pid %d)", l.User, l.Host, l.PID)
}

// LockedError is returned when another process holds a stack's lease.
type LockedError struct {
	Stack string
	Lease Lease
}

func (e *LockedError) Error() string {
	ago := time.Since(e.Lease.Started).Round(time.Second)
	left := time.Until(e.Lease.Expires).Round(time.Second)
	return fmt.Sprintf("stack %q is locked by %s running %q, started %s ago (lease expires in %s unless renewed); wait for it, retry with --lock-timeout DURATION, or if that process is gone run `stack unlock %s`",
		e.Stack, e.Lease.Holder(), e.Lease.Command, ago, left, e.Stack)
}

// whoami returns the user and host this process acts for.
func whoami() (user, host string) {
	user = "unknown"
	if cu, err := osuser.Current(); err == nil {
		user = cu.Username
	}
	if v := os.Getenv("USER"); v != "" {
		user = v
	}
	return user, proc.Host()
}

// Me returns user@host for records.
func Me() string {
	u, h := whoami()
	return u + "@" + h
}

type HeldLease struct {
	st      stack.Store
	stack   string
	lease   Lease
	version string
	ttl     time.Duration
	stop    chan struct{}
	done    chan struct{}
	// Lost is closed when the lease was Lost: someone else holds it now.
	Lost chan struct{}
	// TookOver is the stale lease this one replaced, if any: what a holder
	// that died was doing.
	TookOver *Lease
}

func newLease(command string, ttl time.Duration) Lease {
	u, h := whoami()
	now := time.Now().UTC()
	return Lease{
		ID:   fmt.Sprintf("%s-%d-%d", h, os.Getpid(), now.UnixNano()),
		User: u, Host: h, PID: os.Getpid(), Command: command,
		Started: now, Expires: now.Add(ttl),
	}
}

// Stale reports whether a lease can be taken over: it expired, or its holder
// was a process on this host that no longer exists.
func (l *Lease) Stale() bool {
	return time.Now().After(l.Expires) || l.HolderDied()
}

// HolderDied reports whether the holder was a process on this host that no
// longer exists. A holder on another host cannot be judged: its lease has to
// expire.
func (l *Lease) HolderDied() bool {
	return l.Host == proc.Host() && l.PID > 0 && !proc.Alive(l.PID)
}

// Expired reports whether the holder stopped renewing the lease in time.
func (l *Lease) Expired() bool { return time.Now().After(l.Expires) }

// acquireLease takes the stack's lease, waiting up to wait for a live holder.
func AcquireLease(ctx context.Context, st stack.Store, stackName, command string, ttl, wait time.Duration) (*HeldLease, error) {
	deadline := time.Now().Add(wait)
	for {
		l := newLease(command, ttl)
		data, _ := json.MarshalIndent(l, "", "  ")
		ver, err := st.Put(ctx, LeaseKey(stackName), data, "")
		if err == nil {
			return startRenewing(st, stackName, l, ver, ttl), nil
		}
		if !errors.Is(err, stack.ErrConflict) {
			return nil, fmt.Errorf("taking the lock of stack %q in %s: %w", stackName, st, err)
		}
		cur, curVer, err := ReadLease(ctx, st, stackName)
		if errors.Is(err, stack.ErrNotFound) {
			continue // released in between
		}
		if err != nil {
			return nil, err
		}
		if cur.Stale() {
			ver, err := st.Put(ctx, LeaseKey(stackName), data, curVer)
			if err == nil {
				h := startRenewing(st, stackName, l, ver, ttl)
				h.TookOver = cur
				return h, nil
			}
			if !errors.Is(err, stack.ErrConflict) {
				return nil, fmt.Errorf("taking over the expired lock of stack %q: %w", stackName, err)
			}
			continue
		}
		if time.Now().After(deadline) {
			return nil, &LockedError{Stack: stackName, Lease: *cur}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func ReadLease(ctx context.Context, st stack.Store, stackName string) (*Lease, string, error) {
	data, ver, err := st.Get(ctx, LeaseKey(stackName))
	if err != nil {
		return nil, "", err
	}
	var l Lease
	if err := json.Unmarshal(data, &l); err != nil {
		return nil, "", fmt.Errorf("the lock of stack %q is damaged (%w); run `stack unlock %s`", stackName, err, stackName)
	}
	return &l, ver, nil
}

func startRenewing(st stack.Store, stackName string, l Lease, ver string, ttl time.Duration) *HeldLease {
	h := &HeldLease{st: st, stack: stackName, lease: l, version: ver, ttl: ttl,
		stop: make(chan struct{}), done: make(chan struct{}), Lost: make(chan struct{})}
	go h.renew()
	return h
}

func (h *HeldLease) renew() {
	defer close(h.done)
	t := time.NewTicker(h.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
			h.lease.Expires = time.Now().UTC().Add(h.ttl)
			data, _ := json.MarshalIndent(h.lease, "", "  ")
			ctx, cancel := context.WithTimeout(context.Background(), h.ttl/3)
			ver, err := h.st.Put(ctx, LeaseKey(h.stack), data, h.version)
			cancel()
			switch {
			case err == nil:
				h.version = ver
			case errors.Is(err, stack.ErrConflict):
				// Someone broke or took the lock: stop mutating.
				close(h.Lost)
				return
			}
			// Other errors: the store may be back before the lease expires.
		}
	}
}

// release stops renewing and deletes the lease if it is still ours.
func (h *HeldLease) Release() {
	close(h.stop)
	<-h.done
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = h.st.Delete(ctx, LeaseKey(h.stack), h.version)
}

// Unlock breaks a stack's lock on purpose and returns the lease it removed.
func Unlock(ctx context.Context, st stack.Store, stackName string) (*Lease, error) {
	l, ver, err := ReadLease(ctx, st, stackName)
	if errors.Is(err, stack.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if err := st.Delete(ctx, LeaseKey(stackName), ver); err != nil {
		return nil, fmt.Errorf("removing the lock of stack %q: %w", stackName, err)
	}
	return l, nil
}
