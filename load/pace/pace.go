// Package pace schedules requests for an open-model load test: every request has
// an intended send time fixed in advance, whatever the target does.
//
// Each shape is a vegeta.Pacer, and also answers Due(n), the intended offset of
// the n-th request, so latency can be measured from the intended time rather than
// from the moment a busy sender got round to it (coordinated omission).
package pace

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Schedule is a pacing shape.
type Schedule interface {
	vegeta.Pacer
	// Due is the intended offset from the start of the n-th request (0-based).
	Due(n uint64) time.Duration
	String() string
}

// Duration is a time.Duration that reads and writes JSON as "5m", "250ms".
type Duration time.Duration

// UnmarshalJSON accepts a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration string such as \"30s\" or \"5m\", got %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want a duration such as \"30s\" or \"5m\": %w", err)
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// Spec describes a shape, as written in a generator step's "rate" field. A bare
// number means a constant rate.
type Spec struct {
	// Shape is constant (default), steps, ramp or trickle.
	Shape string `json:"shape,omitempty"`
	// Rate is the constant rate in requests per second (constant, trickle).
	Rate float64 `json:"rate,omitempty"`
	// Start, Step and Max are requests per second: steps starts at Start and adds
	// Step every Every up to Max; ramp grows linearly from Start to Max over Over.
	Start float64 `json:"start,omitempty"`
	Step  float64 `json:"step,omitempty"`
	Max   float64 `json:"max,omitempty"`
	// Every is the step interval (steps) or the gap between requests (trickle).
	Every Duration `json:"every,omitempty"`
	// Over is how long the ramp takes to reach Max.
	Over Duration `json:"over,omitempty"`
	// Part and Parts (Parts > 1) build only part Part of the schedule (see
	// type Part): how a run is split among several processes.
	Part  int `json:"-"`
	Parts int `json:"-"`
}

// UnmarshalJSON accepts a number (constant rate) or an object.
func (s *Spec) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] != '{' {
		// A number, or a number in a string (a resolved "${var.rate}").
		v, err := strconv.ParseFloat(strings.Trim(string(b), `"`), 64)
		if err != nil {
			return fmt.Errorf("rate: want a number of requests per second or an object with \"shape\", got %s", b)
		}
		*s = Spec{Shape: "constant", Rate: v}
		return nil
	}
	type plain Spec
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var p plain
	if err := dec.Decode(&p); err != nil {
		return fmt.Errorf("rate: %w (fields: shape, rate, start, step, every, max, over)", err)
	}
	*s = Spec(p)
	return nil
}

// Build checks the spec and returns its schedule, or only part Part of it when
// Parts > 1. runFor is the run's duration, used as the ramp's length when Over
// is not given (0 = unknown).
func (s Spec) Build(runFor time.Duration) (Schedule, error) {
	if s.Parts > 1 {
		return s.part(runFor)
	}
	switch s.Shape {
	case "", "constant":
		if s.Rate <= 0 {
			return nil, fmt.Errorf("rate: a constant rate needs \"rate\" > 0 requests per second")
		}
		return Constant(s.Rate), nil
	case "trickle":
		switch {
		case s.Rate > 0 && s.Every > 0:
			return nil, fmt.Errorf("rate: a trickle takes either \"rate\" or \"every\", not both")
		case s.Every > 0:
			return Constant(float64(time.Second) / float64(s.Every)), nil
		case s.Rate > 0:
			return Constant(s.Rate), nil
		}
		return nil, fmt.Errorf("rate: a trickle needs \"every\" (a gap such as \"10s\") or a low \"rate\"")
	case "steps":
		if s.Start <= 0 || s.Step <= 0 || s.Every <= 0 {
			return nil, fmt.Errorf("rate: steps need \"start\" > 0, \"step\" > 0 and \"every\" (such as \"5m\")")
		}
		if s.Max != 0 && s.Max < s.Start {
			return nil, fmt.Errorf("rate: steps \"max\" (%g) is below \"start\" (%g)", s.Max, s.Start)
		}
		return newSteps(s.Start, s.Step, time.Duration(s.Every), s.Max), nil
	case "ramp":
		over := time.Duration(s.Over)
		if over == 0 {
			over = runFor
		}
		if s.Start < 0 || s.Max <= 0 || over <= 0 {
			return nil, fmt.Errorf("rate: a ramp needs \"start\" >= 0, \"max\" > 0 and \"over\" (or a duration for the run)")
		}
		return Ramp{Start: s.Start, Max: s.Max, Over: over}, nil
	}
	return nil, fmt.Errorf("rate: unknown shape %q (use constant, steps, ramp or trickle)", s.Shape)
}

// pace implements vegeta.Pacer.Pace from Due.
func pace(s Schedule, elapsed time.Duration, hits uint64) (time.Duration, bool) {
	due := s.Due(hits)
	if due <= elapsed {
		return 0, false
	}
	return due - elapsed, false
}

// Constant sends a fixed number of requests per second.
type Constant float64

// Due implements Schedule.
func (c Constant) Due(n uint64) time.Duration {
	return time.Duration(float64(n) * float64(time.Second) / float64(c))
}

// Pace implements vegeta.Pacer.
func (c Constant) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	return pace(c, elapsed, hits)
}

// Rate implements vegeta.Pacer.
func (c Constant) Rate(time.Duration) float64 { return float64(c) }

func (c Constant) String() string { return fmt.Sprintf("constant %g/s", float64(c)) }

// Steps starts at one rate and adds a fixed increment at each interval, up to a
// maximum (0 = no maximum): the users' "stepwise" tests.
type Steps struct {
	Start, Step, Max float64
	Every            time.Duration
	// firsts[k] is the index of the first request of step k.
	firsts []float64
}

func newSteps(start, step float64, every time.Duration, max float64) *Steps {
	s := &Steps{Start: start, Step: step, Max: max, Every: every}
	// Precompute step boundaries while the rate still grows (bounded: 10,000 steps).
	total := 0.0
	for k := 0; k < 10000; k++ {
		s.firsts = append(s.firsts, total)
		r := s.rateOf(k)
		if s.Max > 0 && r >= s.Max {
			break
		}
		total += r * every.Seconds()
	}
	return s
}

func (s *Steps) rateOf(k int) float64 {
	r := s.Start + float64(k)*s.Step
	if s.Max > 0 && r > s.Max {
		r = s.Max
	}
	return r
}

// Due implements Schedule.
func (s *Steps) Due(n uint64) time.Duration {
	x := float64(n)
	k := sort.Search(len(s.firsts), func(i int) bool { return s.firsts[i] > x }) - 1
	if k < 0 {
		k = 0
	}
	sec := float64(k)*s.Every.Seconds() + (x-s.firsts[k])/s.rateOf(k)
	return time.Duration(sec * float64(time.Second))
}

// Pace implements vegeta.Pacer.
func (s *Steps) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	return pace(s, elapsed, hits)
}

// Rate implements vegeta.Pacer.
func (s *Steps) Rate(elapsed time.Duration) float64 { return s.rateOf(int(elapsed / s.Every)) }

func (s *Steps) String() string {
	return fmt.Sprintf("steps from %g/s, +%g/s every %s, max %g/s", s.Start, s.Step, s.Every, s.Max)
}

// Ramp grows the rate linearly from Start to Max over Over, then holds Max.
type Ramp struct {
	Start, Max float64
	Over       time.Duration
}

func (r Ramp) slope() float64 { return (r.Max - r.Start) / r.Over.Seconds() }

// Due implements Schedule: it solves start*t + slope/2*t² = n.
func (r Ramp) Due(n uint64) time.Duration {
	x := float64(n)
	T := r.Over.Seconds()
	a := r.slope() / 2
	inRamp := r.Start*T + a*T*T
	var sec float64
	switch {
	case x >= inRamp:
		sec = T + (x-inRamp)/r.Max
	case a == 0:
		sec = x / r.Start
	default:
		sec = (-r.Start + math.Sqrt(r.Start*r.Start+4*a*x)) / (2 * a)
	}
	return time.Duration(sec * float64(time.Second))
}

// Pace implements vegeta.Pacer.
func (r Ramp) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	return pace(r, elapsed, hits)
}

// Rate implements vegeta.Pacer.
func (r Ramp) Rate(elapsed time.Duration) float64 {
	if elapsed >= r.Over {
		return r.Max
	}
	return r.Start + r.slope()*elapsed.Seconds()
}

func (r Ramp) String() string {
	return fmt.Sprintf("ramp %g/s to %g/s over %s", r.Start, r.Max, r.Over)
}
