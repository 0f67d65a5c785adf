package stack

import (
	"math"
	"sync"
	"time"
)

// Phase is one stretch of a step's run (prepare, init, workspace, apply,
// outputs, handlers, record), so users can see where a step's time went.
type Phase struct {
	Name string `json:"name"`
	// Start is when the phase began, in seconds after the step started. For
	// phases done ahead of time (while upstream steps ran) it is negative.
	Start   float64 `json:"start"`
	Seconds float64 `json:"seconds"`
}

// Phase marks the start of a phase of the run; it ends the phase before it.
// Kinds call it as they go (run.Phase("init") ... run.Phase("apply")), so
// phases never overlap. An empty name only ends the current phase.
func (r *StepRun) Phase(name string) {
	if r != nil && r.clock != nil {
		r.clock.lap(name)
	}
}

// phaseClock records consecutive phases of one run.
type phaseClock struct {
	mu     sync.Mutex
	phases []clockPhase
	open   bool
}

type clockPhase struct {
	name       string
	start, end time.Time
	stand      bool // a stand-in (see standIn)
}

func (c *phaseClock) lap(name string) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open {
		last := &c.phases[len(c.phases)-1]
		if last.stand && name != "" {
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
}

// standIn opens a phase that covers a kind's whole run unless the kind names
// phases of its own, which then take its place.
func (c *phaseClock) standIn(name string) {
	c.lap(name)
	c.mu.Lock()
	c.phases[len(c.phases)-1].stand = true
	c.mu.Unlock()
}

// since returns the phases relative to start, the open one ending now.
func (c *phaseClock) since(start time.Time) []Phase {
	if c == nil {
		return nil
	}
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Phase, 0, len(c.phases))
	for _, p := range c.phases {
		end := p.end
		if end.IsZero() {
			end = now
		}
		out = append(out, Phase{Name: p.name, Start: round3(p.start.Sub(start).Seconds()), Seconds: round3(end.Sub(p.start).Seconds())})
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
func (t *timings) of(step string) *phaseClock { return t.clock(&t.run, step) }

// aheadOf returns the clock of a step's preparation.
func (t *timings) aheadOf(step string) *phaseClock { return t.clock(&t.ahead, step) }

// record stores a step's phases so far, relative to its start, in st.
func (t *timings) record(step string, start time.Time, st *StepState) {
	t.mu.Lock()
	run, ahead := t.run[step], t.ahead[step]
	t.mu.Unlock()
	st.Phases = run.since(start)
	st.Ahead = ahead.since(start)
}
