//go:build unix

package proc

import (
	"errors"
	"syscall"
)

// Alive reports whether process pid exists (possibly owned by another user)
// and is more than a zombie.
func Alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return (err == nil || errors.Is(err, syscall.EPERM)) && living(pid)
}

// GroupAlive reports whether any process of group pgid exists and is more
// than a zombie.
func GroupAlive(pgid int) bool {
	if pgid <= 1 {
		return false
	}
	err := syscall.Kill(-pgid, 0)
	return (err == nil || errors.Is(err, syscall.EPERM)) && groupHasLiving(pgid)
}

// InterruptGroup sends SIGINT to every process of group pgid.
func InterruptGroup(pgid int) error { return signalGroup(pgid, syscall.SIGINT) }

// KillGroup sends SIGKILL to every process of group pgid.
func KillGroup(pgid int) error { return signalGroup(pgid, syscall.SIGKILL) }

func signalGroup(pgid int, sig syscall.Signal) error {
	if pgid <= 1 {
		return nil
	}
	err := syscall.Kill(-pgid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// OwnGroup makes the calling process the leader of a new process group, unless
// it leads one already, and returns the group's id.
func OwnGroup() (int, error) {
	if syscall.Getpgrp() == syscall.Getpid() {
		return syscall.Getpid(), nil
	}
	if err := syscall.Setpgid(0, 0); err != nil {
		return 0, err
	}
	return syscall.Getpgrp(), nil
}

// LockFile takes an exclusive lock on the file at path (created, with its
// folder, if missing) that other processes on this machine respect, waiting
// for it.
func LockFile(path string) (unlock func(), err error) {
	f, err := openLockFile(path)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

// OwnGroupAttr starts a child in a process group of its own, out of reach of
// a Ctrl-C at the terminal.
func OwnGroupAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// NewSessionAttr starts a child in a session of its own, detached from the
// terminal, so it can outlive this process.
func NewSessionAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }

// Terminate asks process pid to stop (SIGTERM); one that is gone is no error.
func Terminate(pid int) error {
	err := syscall.Kill(pid, syscall.SIGTERM)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// OpenFileLimit is the soft limit on open files.
func OpenFileLimit() (uint64, bool) {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) != nil {
		return 0, false
	}
	return uint64(lim.Cur), true
}
