package state

import (
	"context"
	"sync"
)

// WriteBehind writes a command's step updates to the record in the
// background, so a step's record writes never hold up the steps after it.
// Updates land in the order they were queued; those queued while a write is
// in flight go out together in the next one. The zero value is ready; drain
// before the lease is released.
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
		go q.run(context.WithoutCancel(ctx), w)
	}
	return nil
}

func (q *WriteBehind) run(ctx context.Context, w *RecordWriter) {
	for {
		q.mu.Lock()
		batch := q.pending
		q.pending = nil
		if len(batch) == 0 {
			q.busy = false
			close(q.idle)
			q.idle = nil
			q.mu.Unlock()
			return
		}
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
	q.mu.Unlock()
	if idle != nil {
		<-idle
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.err
}
