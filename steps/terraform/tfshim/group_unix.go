//go:build unix

package tfshim

import (
	"errors"
	"os"
	"syscall"
)

// host names this machine in process files.
func host() string {
	h, _ := os.Hostname()
	return h
}

// The process-group calls of internal/proc the shim needs, here again: the
// shim is built on its own from this package's files alone (see Sources).

// ownGroup makes this process the leader of a process group of its own.
func ownGroup() (int, error) {
	if syscall.Getpgrp() == syscall.Getpid() {
		return syscall.Getpid(), nil
	}
	if err := syscall.Setpgid(0, 0); err != nil {
		return 0, err
	}
	return syscall.Getpgrp(), nil
}

func interruptGroup(pgid int) error { return signalGroup(pgid, syscall.SIGINT) }

func killGroup(pgid int) error { return signalGroup(pgid, syscall.SIGKILL) }

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

// groupAlive reports whether any process of group pgid exists and is more
// than a zombie.
func groupAlive(pgid int) bool {
	if pgid <= 1 {
		return false
	}
	err := syscall.Kill(-pgid, 0)
	return (err == nil || errors.Is(err, syscall.EPERM)) && groupHasLiving(pgid)
}
