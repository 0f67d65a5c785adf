package state

import (
	"time"

	"github.com/stack-tools/stack/definition"
)

// extendTTL moves the expiry to now plus the TTL; a stack without TTL never expires.
func (r *Record) ExtendTTL(now time.Time) {
	d, err := definition.ParseTTL(r.TTL)
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
