package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	osuser "os/user"
	"sync"
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
	// TTL is how long the holder lets the lease live between renewals.
	TTL time.Duration `json:"ttl_ns,omitempty"`
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

// HeldLease is a lease this process holds: renewed in the background, and
// fenced when renewals stop landing (see fence.go).
type HeldLease struct {
	st      stack.Store
	stack   string
	lease   Lease
	version string
	ttl     time.Duration
	stop    chan struct{}
	done    chan struct{}
	// Lost is closed when someone else holds the lease now.
	Lost chan struct{}
	// TookOver is the stale lease this one replaced, if any: what a holder
	// that died was doing.
	TookOver *Lease

	fence    fence
	released sync.Once
}

func newLease(command string, ttl time.Duration) Lease {
	u, h := whoami()
	now := time.Now().UTC()
	return Lease{
		ID:   fmt.Sprintf("%s-%d-%d", h, os.Getpid(), now.UnixNano()),
		User: u, Host: h, PID: os.Getpid(), Command: command,
		Started: now, Expires: now.Add(ttl), TTL: ttl,
	}
}

// Stale reports whether a lease can be taken over at once: it expired more
// than the clock-skew margin ago by this host's clock, or its holder was a
// process on this host that no longer exists.
func (l *Lease) Stale() bool {
	return time.Now().After(l.Expires.Add(SkewMargin)) || l.HolderDied()
}

// HolderDied reports whether the holder was a process on this host that no
// longer exists. A holder on another host cannot be judged: its lease has to
// expire.
func (l *Lease) HolderDied() bool {
	return l.Host == proc.Host() && l.PID > 0 && !proc.Alive(l.PID)
}

// Expired reports whether the holder stopped renewing the lease in time.
func (l *Lease) Expired() bool { return time.Now().After(l.Expires) }

// AcquireLease takes the stack's lease, waiting up to wait for a live holder.
// A lease that looks expired is taken over only once the taker has seen it
// unchanged for its TTL plus SkewMargin on its own clock, or its expiry is
// more than SkewMargin past: its holder fences itself well before either
// (fence.go), so nothing of it still writes.
func AcquireLease(ctx context.Context, st stack.Store, stackName, command string, ttl, wait time.Duration, fenceDir string) (*HeldLease, error) {
	deadline := time.Now().Add(wait)
	var seen observed
	for {
		l := newLease(command, ttl)
		data, _ := json.MarshalIndent(l, "", "  ")
		sent := time.Now()
		ver, err := st.Put(ctx, LeaseKey(stackName), data, "")
		if err == nil {
			return startRenewing(st, stackName, l, ver, ttl, fenceDir, sent), nil
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
		seen.see(curVer)
		if cur.Stale() || seen.unchangedFor(cur.ttlOr(ttl)+SkewMargin) {
			h, err := takeOver(ctx, st, stackName, l, data, curVer, ttl, fenceDir)
			if h != nil || err != nil {
				if h != nil {
					h.TookOver = cur
				}
				return h, err
			}
			continue
		}
		if time.Now().After(deadline) && !cur.Expired() {
			// An expired lease not yet past the margin is waited for whatever
			// the timeout: its holder is fenced, the wait is bounded.
			return nil, &LockedError{Stack: stackName, Lease: *cur}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(pollEvery(ttl)):
		}
	}
}

// takeOver replaces a stale lease at version curVer; (nil, nil) means someone
// else changed it first: look again.
func takeOver(ctx context.Context, st stack.Store, stackName string, l Lease, data []byte, curVer string, ttl time.Duration, fenceDir string) (*HeldLease, error) {
	sent := time.Now()
	ver, err := st.Put(ctx, LeaseKey(stackName), data, curVer)
	if err == nil {
		return startRenewing(st, stackName, l, ver, ttl, fenceDir, sent), nil
	}
	if !errors.Is(err, stack.ErrConflict) {
		return nil, fmt.Errorf("taking over the expired lock of stack %q: %w", stackName, err)
	}
	return nil, nil
}

// observed remembers when a taker first saw the lease's current version, by
// its own monotonic clock: a holder's renewal shows as a new version however
// far apart the two hosts' clocks are.
type observed struct {
	version string
	since   time.Time
}

func (o *observed) see(version string) {
	if version != o.version {
		o.version, o.since = version, time.Now()
	}
}

func (o *observed) unchangedFor(d time.Duration) bool { return time.Since(o.since) > d }

func pollEvery(ttl time.Duration) time.Duration {
	return min(500*time.Millisecond, max(ttl/20, 50*time.Millisecond))
}

// ttlOr is the TTL the holder renews with; leases written before it was
// recorded use the reader's.
func (l *Lease) ttlOr(def time.Duration) time.Duration {
	if l.TTL > 0 {
		return l.TTL
	}
	return def
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

func startRenewing(st stack.Store, stackName string, l Lease, ver string, ttl time.Duration, fenceDir string, sent time.Time) *HeldLease {
	h := &HeldLease{st: st, stack: stackName, lease: l, version: ver, ttl: ttl,
		stop: make(chan struct{}), done: make(chan struct{}), Lost: make(chan struct{})}
	h.fence.start(fenceDir, l.ID, ttl, sent)
	go h.renew()
	go h.fence.watch(h.stop)
	return h
}

// renew rewrites the lease every TTL/6, so that several attempts fit before
// the holder fences itself at TTL/2 without a renewal.
func (h *HeldLease) renew() {
	defer close(h.done)
	t := time.NewTicker(renewEvery(h.ttl))
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
			if !h.renewOnce() {
				h.fence.lose()
				close(h.Lost)
				return
			}
		}
	}
}

func renewEvery(ttl time.Duration) time.Duration { return ttl / 6 }

// renewOnce writes the lease once; false means another holder has it. A
// renewal that finds a newer version re-reads the lease: a write of ours that
// the SDK gave up on may have landed late, and then the lease is still ours.
func (h *HeldLease) renewOnce() bool {
	sent := time.Now()
	h.lease.Expires = sent.UTC().Add(h.ttl)
	data, _ := json.MarshalIndent(h.lease, "", "  ")
	ctx, cancel := context.WithDeadline(context.Background(), h.renewalDeadline(sent))
	defer cancel()
	ver, err := h.st.Put(ctx, LeaseKey(h.stack), data, h.version)
	if errors.Is(err, stack.ErrConflict) {
		cur, curVer, rerr := ReadLease(ctx, h.st, h.stack)
		switch {
		case rerr == nil && cur.ID == h.lease.ID:
			h.version = curVer // our own late write: go on from it
			ver, err = h.st.Put(ctx, LeaseKey(h.stack), data, h.version)
		case rerr == nil || errors.Is(rerr, stack.ErrNotFound):
			return false // taken over, or broken with `stack unlock`
		default:
			err = rerr // unreachable again: fenced in time if it lasts
		}
	}
	if err == nil {
		h.version = ver
		h.fence.renewed(sent)
		return true
	}
	h.fence.failed(err)
	return !errors.Is(err, stack.ErrConflict)
}

// renewalDeadline is how long a renewal sent at sent may take: a slow store
// (a loaded machine, fsync) must not fence the holder while a renewal could
// still land in time, so it may run until the holder's kill deadline, and at
// least one renewal period.
func (h *HeldLease) renewalDeadline(sent time.Time) time.Time {
	return later(h.LastRenewal().Add(KillAfter(h.ttl)), sent.Add(renewEvery(h.ttl)))
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Release stops renewing and deletes the lease if it is still ours. Calls
// after the first do nothing.
func (h *HeldLease) Release() { h.released.Do(h.release) }

func (h *HeldLease) release() {
	close(h.stop)
	<-h.done
	h.fence.remove()
	if h.fence.expired() {
		return // a late delete could remove a taker's lease; it expired anyway
	}
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
