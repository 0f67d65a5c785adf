package main

import (
	"fmt"
	"io"
	"time"

	"github.com/stack-tools/stack/definition"
	"github.com/stack-tools/stack/state"
)

// parseTTLFlag reads `up --ttl`: nil when not given (set false), 0 for "no TTL".
func parseTTLFlag(v string, set bool) (*time.Duration, error) {
	if !set {
		return nil, nil
	}
	var d time.Duration
	if v != "0" && v != "none" {
		var err error
		if d, err = definition.ParseTTL(v); err != nil || d == 0 {
			return nil, &usageError{fmt.Errorf("--ttl %q: use a duration such as 8h or 90m, or 0 for none", v)}
		}
	}
	return &d, nil
}

// printExpiry ends `up` with when the stack expires.
func printExpiry(w io.Writer, rec *state.Record) {
	if rec.ExpiresAt == nil {
		return
	}
	fmt.Fprintf(w, "It expires %s (ttl %s, extended by every up and rerun-step); `stack reap` destroys it after that.\n",
		rec.ExpiresAt.Local().Format("2006-01-02 15:04 MST"), rec.TTL)
}

// expiry is the EXPIRES column of `stack list`.
func expiry(at *time.Time) string {
	switch {
	case at == nil:
		return "-"
	case time.Now().After(*at):
		return "EXPIRED"
	}
	return "in " + until(*at)
}

func until(t time.Time) string {
	d := time.Until(t)
	switch {
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Round(time.Minute).Minutes()))
	}
	d = d.Round(time.Minute)
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// costText is the COST column of `stack list`: per hour and so far.
func costText(c *state.Cost) string {
	if c == nil {
		return "-"
	}
	return fmt.Sprintf("$%.2f/h ($%.2f so far)", c.PerHour, c.SoFar)
}

// expiryAndCost is a line of `stack status`, empty when there is neither.
func expiryAndCost(ttl string, at *time.Time, c *state.Cost) string {
	var line string
	if at != nil {
		line = fmt.Sprintf("ttl %s · expires %s", ttl, at.Local().Format("2006-01-02 15:04 MST"))
		if time.Now().After(*at) {
			line += " · EXPIRED: `stack reap` will destroy it"
		} else {
			line += " (in " + until(*at) + ")"
		}
	}
	if c != nil {
		if line != "" {
			line += " · "
		}
		line += fmt.Sprintf("cost ≈ $%.2f/hour, ≈ $%.2f so far (%d step(s) declare a cost; rough list prices)", c.PerHour, c.SoFar, c.Steps)
	}
	return line
}
