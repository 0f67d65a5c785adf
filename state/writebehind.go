package state

import (
	"context"
	"sync"
	"time"
)

// Linger is how long a background write waits for more updates to go out
// with it when nobody waits for it: on S3 every write is the whole record, so
// a step's progress, process, outputs and completion go out together rather
// than as four round trips (and four uploads a shared store pays for). A
// waiter (Written, Drain) ends the wait at once.
const Linger = 100 * time.Millisecond

// WriteBehind writes a command's step updates to the record in the
// background, so a step's record writes never hold up the steps after it.
// Updates land in the order they were queued; those queued while a write is
// in flight, or within Linger of the first when nobody waits, go out together
// in the next one. The zero value is ready; drain before the lease is
// released.
type WriteBehind struct {
	mu      sync.Mutex
	pending []func(*Record)
	busy    bool
	idle    chan struct{} // closed when the queue empties; nil when idle
	err     error         // the first write that failed
	// queued and done count updates queued and written; waiters wait for
	// done to reach a count (see written).
	queued, done uint64
	waiters      []writeWaiter
	drainers     int           // Drain calls waiting
	hurry        chan struct{} // signalled when someone starts waiting
}

type writeWaiter struct {
	seq uint64
	ch  chan struct{}
}

// step queues fn for a step's state. It returns the error of an earlier
// background write, if one failed: the store is gone, so stop.
func (q *WriteBehind) UpdateStep(ctx context.Context, w *RecordWriter, name string, fn func(*StepState)) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.err != nil {
		return q.err
	}
	q.queued++
	q.pending = append(q.pending, func(r *Record) {
		s := r.Steps[name]
		if s == nil {
			s = &StepState{Status: StatusPending}
			r.Steps[name] = s
		}
		fn(s)
	})
	if !q.busy {
		q.busy = true
		q.idle = make(chan struct{})
		if q.hurry == nil {
			q.hurry = make(chan struct{}, 1)
		}
		go q.run(context.WithoutCancel(ctx), w)
	}
	return nil
}

// linger waits up to Linger for more updates unless someone already waits
// for the queued ones, or starts to.
func (q *WriteBehind) linger() {
	q.mu.Lock()
	waited := len(q.waiters) > 0 || q.drainers > 0
	hurry := q.hurry
	q.mu.Unlock()
	if waited {
		return
	}
	t := time.NewTimer(Linger)
	defer t.Stop()
	select {
	case <-t.C:
	case <-hurry:
	}
}

// wake ends a linger; q.mu is held.
func (q *WriteBehind) wake() {
	select {
	case q.hurry <- struct{}{}:
	default:
	}
}

func (q *WriteBehind) run(ctx context.Context, w *RecordWriter) {
	for {
		q.mu.Lock()
		if len(q.pending) == 0 {
			q.busy = false
			close(q.idle)
			q.idle = nil
			q.mu.Unlock()
			return
		}
		q.mu.Unlock()
		q.linger()
		q.mu.Lock()
		batch := q.pending
		q.pending = nil
		q.mu.Unlock()
		err := w.Update(ctx, func(r *Record) {
			for _, fn := range batch {
				fn(r)
			}
		})
		q.mu.Lock()
		if err != nil && q.err == nil {
			q.err = err
		}
		q.done += uint64(len(batch))
		waiting := q.waiters[:0]
		for _, w := range q.waiters {
			if w.seq <= q.done {
				close(w.ch)
			} else {
				waiting = append(waiting, w)
			}
		}
		q.waiters = waiting
		q.mu.Unlock()
	}
}

// written returns a function that waits until every update queued so far
// (not those queued later) is written, and returns the first write error.
func (q *WriteBehind) Written() func() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.done >= q.queued {
		err := q.err
		return func() error { return err }
	}
	w := writeWaiter{seq: q.queued, ch: make(chan struct{})}
	q.waiters = append(q.waiters, w)
	q.wake()
	return func() error {
		<-w.ch
		q.mu.Lock()
		defer q.mu.Unlock()
		return q.err
	}
}

// drain waits until every queued update is written and returns the first
// write error.
func (q *WriteBehind) Drain() error {
	q.mu.Lock()
	idle := q.idle
	if idle == nil {
		defer q.mu.Unlock()
		return q.err
	}
	q.drainers++
	q.wake()
	q.mu.Unlock()
	<-idle
	q.mu.Lock()
	defer q.mu.Unlock()
	q.drainers--
	return q.err
}
