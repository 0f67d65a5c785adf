package stack

import (
	"fmt"
	"time"
)

// ParseTTL reads a TTL as written in a definition or on the command line: a Go
// duration such as 8h or 90m; "" means none.
func ParseTTL(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("ttl %q is not a positive duration; use a Go duration such as 8h, 90m or 1h30m", s)
	}
	return d, nil
}

// extendTTL moves the expiry to now plus the TTL; a stack without TTL never expires.
func (r *Record) extendTTL(now time.Time) {
	d, err := ParseTTL(r.TTL)
	if err != nil || d == 0 {
		r.ExpiresAt = nil
		return
	}
	t := now.Add(d).UTC()
	r.ExpiresAt = &t
}

// Expired reports whether the stack's TTL ran out before now.
func (r *Record) Expired(now time.Time) bool {
	return r.ExpiresAt != nil && now.After(*r.ExpiresAt)
}
