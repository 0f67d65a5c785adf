//go:build !linux

package testenv

import "syscall"

// The servers run under Linux only (CI, the development machine); elsewhere
// the package still builds, so `GOOS=darwin go build ./...` checks the rest.

func ownGroup() *syscall.SysProcAttr    { return nil }
func dieWithTest() *syscall.SysProcAttr { return nil }
