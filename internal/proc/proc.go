// Package proc answers questions about processes on this machine: whether one
// is alive, whether any member of a process group is, and signals a group. The
// platform-specific parts live in build-tagged files so the module builds for
// every GOOS; where a platform has no process groups the answers are
// conservative (alive when unsure).
package proc

import (
	"context"
	"os"
	"time"
)

// Host is this machine's name as leases and records store it.
func Host() string {
	h, _ := os.Hostname()
	return h
}

// WaitGroupGone polls until no process of group pgid is left, or ctx ends.
func WaitGroupGone(ctx context.Context, pgid int, every time.Duration) error {
	for GroupAlive(pgid) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(every):
		}
	}
	return nil
}
