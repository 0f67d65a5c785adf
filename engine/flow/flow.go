// Package flow is the one scheduler stack walks a step graph with: up and
// rerun-step (dependents start as soon as the upstream outputs they read are
// known), down and prune (dependents first), drift checks and orphan reports
// (no order at all). It knows tasks by name only, so it is tested without a
// step kind, a store or Terraform.
package flow

import (
	"context"
	"fmt"
)

// Gate is how far an upstream task must have got before a dependent may start.
type Gate int

const (
	// Outputs: the upstream step's module outputs are known; its completion
	// handlers may still be running.
	Outputs Gate = 1
	// Done: the upstream task finished. A task also passes Done when it calls
	// release(Done) before returning: what is left of it (record writes,
	// uploads) then runs beside the next tasks without holding a slot.
	Done Gate = 2
)

// Task is one node of the graph.
type Task struct {
	Name string
	// Needs maps an upstream task to the gate it must reach first. Names that
	// are not among the tasks run are ignored (done before, or not selected).
	Needs map[string]Gate
}

// Func runs one task. release reports that it passed a gate.
type Func func(ctx context.Context, name string, release func(Gate)) error

// Run runs fn for each task once each of its needs has reached its gate, at
// most par at a time, picking ready tasks in the order given. After a failure
// it starts nothing new and waits for the tasks running; a cancelled ctx also
// stops new starts. A panic in fn fails that task only. Run returns the
// failures, by task name.
func Run(ctx context.Context, tasks []Task, par int, fn Func) map[string]string {
	w := newWalk(tasks, par)
	for {
		for w.canStart(ctx) {
			t := w.next()
			if t == nil {
				break
			}
			w.start(ctx, *t, fn)
		}
		if w.alive == 0 {
			return w.failed
		}
		w.receive(<-w.msgs)
	}
}

// Independent returns tasks that wait for nothing, for Run.
func Independent(names []string) []Task {
	out := make([]Task, len(names))
	for i, n := range names {
		out[i] = Task{Name: n}
	}
	return out
}

// msg is what a running task tells the walk: a gate passed, or its end.
type msg struct {
	name string
	gate Gate
	end  bool
	err  error
}

// walk is the state of one Run.
type walk struct {
	tasks   []Task
	in      map[string]bool
	par     int
	msgs    chan msg
	reached map[string]Gate
	started map[string]bool
	slot    map[string]bool // tasks holding a slot
	failed  map[string]string
	busy    int // tasks holding a slot
	alive   int // tasks whose fn has not returned
}

func newWalk(tasks []Task, par int) *walk {
	w := &walk{tasks: tasks, in: map[string]bool{}, par: max(par, 1), msgs: make(chan msg),
		reached: map[string]Gate{}, started: map[string]bool{}, slot: map[string]bool{}, failed: map[string]string{}}
	for _, t := range tasks {
		w.in[t.Name] = true
	}
	return w
}

func (w *walk) canStart(ctx context.Context) bool {
	return w.busy < w.par && len(w.failed) == 0 && ctx.Err() == nil
}

// next is the first task not started whose needs are met, or nil.
func (w *walk) next() *Task {
	for i, t := range w.tasks {
		if w.started[t.Name] {
			continue
		}
		ready := true
		for d, g := range t.Needs {
			if w.in[d] && w.reached[d] < g {
				ready = false
				break
			}
		}
		if ready {
			return &w.tasks[i]
		}
	}
	return nil
}

func (w *walk) start(ctx context.Context, t Task, fn Func) {
	w.started[t.Name], w.slot[t.Name] = true, true
	w.busy++
	w.alive++
	go func() {
		var err error
		defer func() {
			// A bug in a kind or handler fails its step, not the whole command.
			if p := recover(); p != nil {
				err = fmt.Errorf("internal error (please report it): %v", p)
			}
			w.msgs <- msg{name: t.Name, end: true, err: err}
		}()
		err = fn(ctx, t.Name, func(g Gate) { w.msgs <- msg{name: t.Name, gate: g} })
	}()
}

func (w *walk) receive(m msg) {
	switch {
	case m.end && m.err != nil:
		w.failed[m.name] = m.err.Error()
	case m.end:
		m.gate = Done
	}
	if m.end {
		w.alive--
	}
	if m.err == nil && m.gate > w.reached[m.name] {
		w.reached[m.name] = m.gate
	}
	if w.slot[m.name] && (m.end || m.gate == Done) {
		w.slot[m.name] = false
		w.busy--
	}
}
