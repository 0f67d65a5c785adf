package proc

import "syscall"

// DiesWithParentAttr starts a child that the kernel kills when this process
// dies, however it dies.
func DiesWithParentAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
