//go:build unix

package tfshim

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// The fence keeper enforces the lease's fence on Terraform's process group
// once the shim is gone. The shim dies with `stack` (terraform-exec gives it
// a parent-death signal) while Terraform lives on to save its state; without
// the keeper nothing would stop that Terraform when the lease it ran under
// ends, and a workstation taking the stack over would break its lock while
// it still writes. The keeper runs in a session of its own, learns that the
// shim is gone when the pipe from it reaches end of file (however the shim
// died), and then interrupts and kills the group at the fence's deadlines.
// It exits once the group is gone, or the fence file is: the command that
// held the lease released it.
const (
	keeperPGIDEnv  = "STACK_TERRAFORM_KEEPER_PGID"
	keeperFenceEnv = "STACK_TERRAFORM_KEEPER_FENCE"
)

// keepFence starts a keeper for group pgid if there is a fence to keep; the
// returned function ends this shim's watch (the keeper takes over then, and
// also if this process dies first).
func keepFence(pgid int, fencePath string) func() {
	if fencePath == "" || pgid <= 0 {
		return func() {}
	}
	w, err := startKeeper(pgid, fencePath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "stack: starting the fence keeper: %v (Terraform is not fenced if stack dies)\n", err)
		return func() {}
	}
	return func() { w.Close() }
}

// startKeeper starts the keeper for group pgid; the returned pipe must stay
// open for as long as this shim supervises the group itself.
func startKeeper(pgid int, fencePath string) (*os.File, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	k := exec.Command(self)
	k.Env = append(os.Environ(), keeperPGIDEnv+"="+strconv.Itoa(pgid), keeperFenceEnv+"="+fencePath)
	k.Stdin = r
	k.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // not in the group, not with stack
	if err := k.Start(); err != nil {
		w.Close()
		return nil, err
	}
	go func() { _ = k.Wait() }()
	return w, nil
}

// runKeeperIfAsked turns this process into a fence keeper when a shim
// started it as one, and then exits.
func runKeeperIfAsked() {
	pgid, err := strconv.Atoi(os.Getenv(keeperPGIDEnv))
	if err != nil {
		return
	}
	os.Exit(runKeeper(pgid, os.Getenv(keeperFenceEnv), os.Stdin))
}

func runKeeper(pgid int, fencePath string, shim io.Reader) int {
	_, _ = io.Copy(io.Discard, shim) // until the shim is gone
	interrupted := false
	var last *Fence
	for ; groupAlive(pgid); time.Sleep(fenceCheckEvery) {
		f, err := ReadFence(fencePath)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return 0 // released: the lease ended in order
		case err == nil:
			last = f
		}
		// A file caught mid-write (by a writer that does not rename) or
		// garbled releases nothing: the last deadlines read hold.
		if last == nil {
			continue
		}
		now := time.Now()
		switch {
		case now.After(last.KillAt):
			fmt.Fprintf(os.Stderr, "stack: fence keeper: the lease Terraform (process group %d) ran under may expire now: killing it\n", pgid)
			_ = killGroup(pgid)
		case now.After(last.InterruptAt) && !interrupted:
			interrupted = true
			_ = interruptGroup(pgid)
		}
	}
	return 0
}
