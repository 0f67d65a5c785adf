//go:build unix

package terraform

import "syscall"

const oNonblock = syscall.O_NONBLOCK

func mkfifo(path string) error { return syscall.Mkfifo(path, 0o600) }
