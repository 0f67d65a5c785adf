package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/stack-tools/stack/stack"
)

// A lease is only a lock if its holder stops writing before it can expire
// (Kleppmann, "How to do distributed locking"). The holder therefore fences
// itself: when no renewal has landed for FenceAfter (TTL/2, measured from when
// the last successful renewal was sent), its runs are interrupted, and at
// KillAfter (5/6 of the TTL) whatever is left of them is killed. A taker waits
// the TTL plus SkewMargin after the last change of the lease it saw (its own
// clock), or until the lease's expiry plus SkewMargin has passed by its clock.
//
// Timeline after the last renewal that landed, sent at R:
//
//	R + TTL/2     holder: interrupt every run (Terraform gets SIGINT, saves its state)
//	R + 5/6 TTL   holder: kill what still runs; no write of it is sent after this
//	R + TTL       the lease expires by the holder's clock
//	R + TTL + SkewMargin  earliest takeover by another host
//
// What it assumes is written down in ARCHITECTURE.md ("What the lease
// guarantees"): clocks that differ by less than SkewMargin, and a holder host
// that runs (the fence runs in the Terraform shim, apart from the stack
// process, so pausing `stack` alone does not defeat it).

// SkewMargin is how much later than its TTL a lease is taken over: the bound
// assumed on the difference between two hosts' clocks, plus the time a taker
// needs to notice.
const SkewMargin = 5 * time.Second

// FenceAfter is how long a holder goes without a landed renewal before it
// interrupts its runs.
func FenceAfter(ttl time.Duration) time.Duration { return ttl / 2 }

// KillAfter is when, after the last landed renewal, the holder's runs are
// killed: TTL/6 before the lease can expire.
func KillAfter(ttl time.Duration) time.Duration { return ttl * 5 / 6 }

type fence struct {
	mu     sync.Mutex
	path   string // "" when the engine keeps no fence file
	id     string
	ttl    time.Duration
	last   time.Time // monotonic send time of the last landed renewal
	lost   bool
	err    error // the last renewal's failure, for the message
	fenced chan struct{}
	once   sync.Once
}

// ErrFenced says a command lost its lease: it must write nothing more.
var ErrFenced = errors.New("lock lost")

// start begins with the write that took the lease, sent at sent.
func (f *fence) start(dir, id string, ttl time.Duration, sent time.Time) {
	f.id, f.ttl, f.fenced = id, ttl, make(chan struct{})
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err == nil {
			f.path = filepath.Join(dir, id+".json")
		}
		sweepFences(dir, time.Now())
	}
	f.renewed(sent)
}

// sweepFences removes the fence files killed commands left (a command that
// ends in order removes its own) once their kill deadline is a minute past:
// by then the shim or its keeper has killed whatever ran under them, and a
// keeper still watching one takes its removal as a release and exits.
func sweepFences(dir string, now time.Time) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		ff, err := stack.ReadFenceFile(p)
		if err != nil || ff == nil || now.Sub(ff.KillAt) < time.Minute {
			continue
		}
		_ = os.Remove(p)
	}
}

// renewed records a renewal sent at sent that landed.
func (f *fence) renewed(sent time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lost || sent.Before(f.last) {
		return
	}
	f.last, f.err = sent, nil
	f.write(sent.Add(FenceAfter(f.ttl)), sent.Add(KillAfter(f.ttl)))
}

// failed records why a renewal did not land.
func (f *fence) failed(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
}

// lose fences at once: someone else holds the lease.
func (f *fence) lose() {
	f.mu.Lock()
	f.lost = true
	now := time.Now()
	f.write(now, now.Add(KillAfter(f.ttl)-FenceAfter(f.ttl)))
	f.mu.Unlock()
	f.close()
}

func (f *fence) close() { f.once.Do(func() { close(f.fenced) }) }

// write must be called with f.mu held. A failed write leaves the older,
// earlier deadlines in place: the fence errs on the side of stopping.
func (f *fence) write(interrupt, kill time.Time) {
	if f.path == "" {
		return
	}
	b, _ := json.Marshal(stack.FenceFile{Lease: f.id, InterruptAt: interrupt.UTC(), KillAt: kill.UTC()})
	tmp := f.path + ".tmp"
	if os.WriteFile(tmp, b, 0o600) == nil {
		_ = os.Rename(tmp, f.path)
	}
}

func (f *fence) remove() {
	if f.path != "" {
		_ = os.Remove(f.path)
	}
}

// watch closes fenced once no renewal has landed for FenceAfter.
func (f *fence) watch(stop <-chan struct{}) {
	t := time.NewTicker(max(f.ttl/20, 20*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if f.since() >= FenceAfter(f.ttl) {
				f.close()
				return
			}
		}
	}
}

func (f *fence) since() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lost {
		return f.ttl
	}
	return time.Since(f.last)
}

func (f *fence) expired() bool { return f.since() >= KillAfter(f.ttl) }

// Fenced is closed when the holder must stop: no renewal landed for
// FenceAfter, or another holder has the lease.
func (h *HeldLease) Fenced() <-chan struct{} { return h.fence.fenced }

// FencePath is the fence file the holder's runs watch ("" if none).
func (h *HeldLease) FencePath() string { return h.fence.path }

// LastRenewal is when the last renewal that landed was sent.
func (h *HeldLease) LastRenewal() time.Time {
	h.fence.mu.Lock()
	defer h.fence.mu.Unlock()
	return h.fence.last
}

// RenewalError is why the last renewal did not land (nil if it did, or
// none failed): what the store answered, for the message of a fenced command.
func (h *HeldLease) RenewalError() error {
	h.fence.mu.Lock()
	defer h.fence.mu.Unlock()
	return h.fence.err
}

// TTL is the lease's time to live.
func (h *HeldLease) TTL() time.Duration { return h.ttl }

// Valid says whether this holder may still write: its lease is its own and
// cannot have expired for anyone. Record writes check it, so a fenced command
// records nothing over a taker's work.
func (h *HeldLease) Valid() error {
	select {
	case <-h.Lost:
		return fmt.Errorf("the lock of stack %q is held by someone else now: %w", h.stack, ErrFenced)
	default:
	}
	if h.fence.expired() {
		return fmt.Errorf("this command lost the store: no renewal of the lock of stack %q landed since %s, so another workstation may hold it now: %w",
			h.stack, h.LastRenewal().Format(time.TimeOnly), ErrFenced)
	}
	return nil
}
