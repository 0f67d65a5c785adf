package testenv

import "syscall"

// ownGroup puts a server in a process group of its own, so a test runner's
// Ctrl-C does not race the harness's Stop.
func ownGroup() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// dieWithTest kills a server when the test binary dies, even by SIGKILL.
func dieWithTest() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
