package load

import (
	"context"
	"fmt"
	"time"
)

// Persistent makes a run last until it is stopped (ctx cancelled: SIGTERM,
// Ctrl-C, `stack down`) instead of a duration or a request count: a
// "persistent" trickle. Being stopped is how such a run ends, so it passes.
// Its windows are rolled out every RollEvery so memory stays flat: Roll
// gets a report of the windows since the last roll with the run's totals so
// far (the running summary), and the final report holds the windows since
// the last roll.
type Persistent struct {
	// RollEvery defaults to an hour.
	RollEvery time.Duration
	// Roll may be nil (the windows are then dropped unseen). It runs on the
	// goroutine that counts results: write the report and return.
	Roll func(*Report)
}

// DefaultRollEvery is how often a persistent run rolls its report.
const DefaultRollEvery = time.Hour

// stopped is the verdict of a run whose context ended: an interruption,
// except for a persistent run, which ends that way.
func (c *Config) stopped(ctx context.Context) (verdict, reason string) {
	if c.Forever != nil {
		return Passed, "stopped: " + context.Cause(ctx).Error()
	}
	return Errored, "interrupted: " + context.Cause(ctx).Error()
}

// checkForever sets a persistent run's defaults; ok says the run may end
// by being stopped.
func (c *Config) checkForever() (ok bool, err error) {
	if c.Forever == nil {
		return false, nil
	}
	if c.Duration != 0 || c.Requests != 0 {
		return false, fmt.Errorf("a persistent run has no duration or request count: it runs until stopped")
	}
	if c.Forever.RollEvery <= 0 {
		c.Forever.RollEvery = DefaultRollEvery
	}
	if c.Window == 0 && c.Stop == nil {
		c.Window = min(10*time.Second, c.Forever.RollEvery)
	}
	return true, nil
}

// roll hands the windows since the last roll, with the totals so far, to
// a persistent run's Roll and forgets them.
func (c *collector) roll(start, now time.Time) {
	f := c.cfg.Forever
	if f == nil {
		return
	}
	if c.lastRoll.IsZero() {
		c.lastRoll = start
	}
	if now.Sub(c.lastRoll) < f.RollEvery {
		return
	}
	if f.Roll != nil {
		rep := c.report(start, now)
		rep.Scenario, rep.Target, rep.Verdict = c.cfg.Scenario.Name, redactURL(c.cfg.Target), "running"
		f.Roll(rep)
	}
	c.windows, c.lastRoll = nil, now
}
