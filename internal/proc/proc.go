// Package proc answers questions about processes on this machine: whether one
// is alive, whether any member of a process group is, and signals a group. The
// platform-specific parts live in build-tagged files so the module builds for
// every GOOS; where a platform has no process groups the answers are
// conservative (alive when unsure).
package proc

import (
	"context"
	"os"
	"path/filepath"
	"time"
)

// HostEnv overrides the host name, for tests only: it lets one machine play
// two workstations (leases, Terraform process records and lock judgements all
// go by host name) without UTS namespaces, which need root. Nothing else
// should set it.
const HostEnv = "STACK_TEST_HOSTNAME"

// Host is this machine's name as leases and records store it.
func Host() string {
	if h := os.Getenv(HostEnv); h != "" {
		return h
	}
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

// openLockFile opens (creating it and its folder) the file LockFile locks.
func openLockFile(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	return os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
}
