//go:build !unix

package proc

import (
	"errors"
	"os"
	"sync"
	"syscall"
	"time"
)

// Alive reports whether process pid exists. Without a cheap portable probe it
// says yes when the process can be found at all, and a holder that cannot be
// judged waits for its lease to expire instead.
func Alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	_ = p.Release()
	return true
}

// GroupAlive is false: this platform runs Terraform without a process group of
// its own, so there is no group to wait for.
func GroupAlive(pgid int) bool { return false }

// InterruptGroup is not possible here.
func InterruptGroup(pgid int) error { return errUnsupported }

// KillGroup is not possible here.
func KillGroup(pgid int) error { return errUnsupported }

// OwnGroup is not possible here.
func OwnGroup() (int, error) { return 0, errUnsupported }

var errUnsupported = errors.New("process groups are not supported on this platform")

// fileLocks stands in for file locks this platform lacks here: it serialises
// within this process only.
var fileLocks sync.Mutex

// LockFile serialises callers in this process (no cross-process lock here).
func LockFile(path string) (unlock func(), err error) {
	f, err := openLockFile(path)
	if err != nil {
		return nil, err
	}
	fileLocks.Lock()
	return func() { fileLocks.Unlock(); f.Close() }, nil
}

// OwnGroupAttr is nil here: children start normally.
func OwnGroupAttr() *syscall.SysProcAttr { return nil }

// NewSessionAttr is nil here: children start normally.
func NewSessionAttr() *syscall.SysProcAttr { return nil }

// Terminate kills process pid (there is no polite signal here).
func Terminate(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return nil
	}
	return p.Kill()
}

// OpenFileLimit is unknown here.
func OpenFileLimit() (uint64, bool) { return 0, false }

// Started is unknown on this platform.
func Started(pid int) (time.Time, bool) { return time.Time{}, false }
