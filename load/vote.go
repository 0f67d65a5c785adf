package load

import (
	"fmt"
	"time"

	"github.com/stack-tools/stack/load/pace"
)

// StopPolicy stops a run by vote: each window whose success ratio is below
// MinSuccess, or whose Percentile latency is above MaxLatency, adds a vote; a
// healthy window removes one (not below zero); at Votes votes the run stops.
// One bad window therefore does not end a run; a sustained problem does.
type StopPolicy struct {
	MinSuccess float64       `json:"min_success,omitempty"`
	MaxLatency pace.Duration `json:"max_latency,omitempty"`
	Percentile float64       `json:"percentile,omitempty"`
	Votes      int           `json:"votes,omitempty"`
	Window     pace.Duration `json:"window,omitempty"`
	// MaxE2ELatency and MaxLost bound the far end (runs with e2e probes):
	// a message arriving (or still missing) later than MaxE2ELatency votes,
	// and more than MaxLost lost arrivals vote and fail the run.
	MaxE2ELatency pace.Duration `json:"max_e2e_latency,omitempty"`
	MaxLost       *int          `json:"max_lost,omitempty"`
}

// Check validates the policy and fills in defaults (percentile 99, 3 votes, 1s windows).
func (p *StopPolicy) Check() error {
	if p.MinSuccess < 0 || p.MinSuccess > 1 {
		return fmt.Errorf("stop.min_success: want a ratio 0..1 (0.98 = 98%% of responses 2xx), got %g", p.MinSuccess)
	}
	if p.MaxLatency < 0 {
		return fmt.Errorf("stop.max_latency: must be positive, such as \"250ms\"")
	}
	if p.MaxE2ELatency < 0 || (p.MaxLost != nil && *p.MaxLost < 0) {
		return fmt.Errorf("stop.max_e2e_latency and stop.max_lost must not be negative")
	}
	if p.MinSuccess == 0 && p.MaxLatency == 0 && p.MaxE2ELatency == 0 && p.MaxLost == nil {
		return fmt.Errorf("stop: give min_success (such as 0.98), max_latency (such as \"250ms\"), or with e2e probes max_e2e_latency and max_lost")
	}
	if p.Percentile == 0 {
		p.Percentile = 99
	}
	if p.Percentile <= 0 || p.Percentile > 100 {
		return fmt.Errorf("stop.percentile: want 0 < percentile <= 100, got %g", p.Percentile)
	}
	if p.Votes == 0 {
		p.Votes = 3
	}
	if p.Votes < 1 {
		return fmt.Errorf("stop.votes: want at least 1, got %d", p.Votes)
	}
	if p.Window == 0 {
		p.Window = pace.Duration(time.Second)
	}
	if time.Duration(p.Window) < 100*time.Millisecond {
		return fmt.Errorf("stop.window: want at least 100ms, got %s", time.Duration(p.Window))
	}
	return nil
}

// windowHealth is what a window looked like to the voter.
type windowHealth struct {
	sent, responses, errors, success uint64
	latency                          time.Duration // at the policy's percentile
	inFlight                         int64
	e2e                              string // why the far end is unhealthy (e2e.Tracker.Judge)
}

// judge returns why a window is unhealthy, "" when healthy, and whether it
// carries information at all (an idle window neither adds nor removes a vote).
func (p *StopPolicy) judge(w windowHealth) (why string, counts bool) {
	if w.e2e != "" {
		return w.e2e, true
	}
	if w.responses+w.errors == 0 {
		if w.inFlight > 0 && w.sent > 0 {
			return fmt.Sprintf("no responses to %d requests in flight", w.inFlight), true
		}
		return "", false
	}
	if p.MinSuccess > 0 {
		if r := ratio(w.success, w.responses+w.errors); r < p.MinSuccess {
			return fmt.Sprintf("success %.1f%% < %.1f%% (%d responses, %d errors)", 100*r, 100*p.MinSuccess, w.responses, w.errors), true
		}
	}
	if p.MaxLatency > 0 && w.responses > 0 && w.latency > time.Duration(p.MaxLatency) {
		return fmt.Sprintf("p%g latency %s > %s", p.Percentile, w.latency.Round(time.Microsecond), time.Duration(p.MaxLatency)), true
	}
	return "", true
}

// voter keeps the tally.
type voter struct {
	policy *StopPolicy
	votes  int
}

// add records one window and says whether the run must stop, and why.
func (v *voter) add(w windowHealth) (votes int, why string, stop bool) {
	why, counts := v.policy.judge(w)
	switch {
	case !counts:
	case why != "":
		v.votes++
	case v.votes > 0:
		v.votes--
	}
	return v.votes, why, v.votes >= v.policy.Votes
}
