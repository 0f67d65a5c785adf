//go:build !linux

package proc

import "syscall"

// DiesWithParentAttr is nil where the kernel offers no parent-death signal:
// the child is stopped by its owner's cleanup only.
func DiesWithParentAttr() *syscall.SysProcAttr { return nil }
