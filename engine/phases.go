package engine

import (
	"context"
	"math"
	"sync"
	"time"

	"github.com/stack-tools/stack/state"
)

// phaseClock records consecutive phases of one run.
type phaseClock struct {
	mu     sync.Mutex
	phases []clockPhase
	open   bool
	onLap  func(name string) // called after each lap but a stand-in's
}

type clockPhase struct {
	name       string
	start, end time.Time
	stand      bool // a stand-in (see standIn)
}

func (c *phaseClock) lap(name string) { c.mark(name, false) }

// mark ends the open phase and starts name; a kind's mark (byKind) takes the
// place of a stand-in.
func (c *phaseClock) mark(name string, byKind bool) {
	now := time.Now()
	c.mu.Lock()
	if c.open {
		last := &c.phases[len(c.phases)-1]
		if last.stand && byKind && name != "" {
			// The kind names its own phases: they replace the stand-in.
			now = last.start
			c.phases = c.phases[:len(c.phases)-1]
		} else {
			last.end = now
		}
		c.open = false
	}
	if name != "" {
		c.phases = append(c.phases, clockPhase{name: name, start: now})
		c.open = true
	}
	onLap := c.onLap
	c.mu.Unlock()
	if onLap != nil {
		onLap(name)
	}
}

// standIn opens a phase that covers a kind's whole run unless the kind names
// phases of its own, which then take its place.
func (c *phaseClock) standIn(name string) {
	c.mu.Lock()
	onLap := c.onLap
	c.onLap = nil
	c.mu.Unlock()
	c.lap(name)
	c.mu.Lock()
	c.phases[len(c.phases)-1].stand = true
	c.onLap = onLap
	c.mu.Unlock()
}

// since returns the phases relative to start, the open one ending now.
func (c *phaseClock) since(start time.Time) []state.Phase {
	if c == nil {
		return nil
	}
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]state.Phase, 0, len(c.phases))
	for _, p := range c.phases {
		end := p.end
		if end.IsZero() {
			end = now
		}
		out = append(out, state.Phase{Name: p.name, Start: round3(p.start.Sub(start).Seconds()), Seconds: round3(end.Sub(p.start).Seconds())})
	}
	return out
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

// timings keeps the phase clocks of the steps one command runs: the step's
// own run and the preparation done ahead of it. The zero value is ready.
type timings struct {
	mu    sync.Mutex
	run   map[string]*phaseClock
	ahead map[string]*phaseClock
	setup map[string]bool // steps busy with their own set-up (see enter)
}

func (t *timings) clock(m *map[string]*phaseClock, step string) *phaseClock {
	t.mu.Lock()
	defer t.mu.Unlock()
	if *m == nil {
		*m = map[string]*phaseClock{}
	}
	c := (*m)[step]
	if c == nil {
		c = &phaseClock{}
		(*m)[step] = c
	}
	return c
}

// of returns the clock of a step's run.
func (t *timings) of(step string) *phaseClock {
	c := t.clock(&t.run, step)
	c.mu.Lock()
	if c.onLap == nil {
		c.onLap = func(name string) {
			if name == "apply" || name == "handlers" || name == "" {
				t.leave(step)
			}
		}
	}
	c.mu.Unlock()
	return c
}

// enter notes a step that is about to set itself up (init, workspace) on the
// critical path; leave, that it is done with that (its apply began, or it
// ended). Preparation ahead of time waits while any step is in set-up, so
// that it does not take CPU from it.
func (t *timings) enter(step string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.setup == nil {
		t.setup = map[string]bool{}
	}
	t.setup[step] = true
}

func (t *timings) leave(step string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.setup, step)
}

// settled waits until no step is in set-up, or ctx ends.
func (t *timings) settled(ctx context.Context) {
	for ctx.Err() == nil {
		t.mu.Lock()
		n := len(t.setup)
		t.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// aheadOf returns the clock of a step's preparation.
func (t *timings) aheadOf(step string) *phaseClock { return t.clock(&t.ahead, step) }

// record stores a step's phases so far, relative to its start, in st.
func (t *timings) record(step string, start time.Time, st *state.StepState) {
	t.mu.Lock()
	run, ahead := t.run[step], t.ahead[step]
	t.mu.Unlock()
	st.Phases = run.since(start)
	st.Ahead = ahead.since(start)
}

// kindMark is a StepRun's OnPhase: a phase the kind itself marked.
func (c *phaseClock) kindMark(name string) { c.mark(name, true) }
