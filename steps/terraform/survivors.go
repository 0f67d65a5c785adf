package terraform

import (
	"context"
	"fmt"
	"time"

	"github.com/stack-tools/stack/internal/proc"
	"github.com/stack-tools/stack/stack"
)

// launcher returns the program terraform-exec runs and its environment: the
// shim when the Kind has one, else Terraform itself.
func (k *Kind) launcher(bin string, run *stack.StepRun, env map[string]string) string {
	if !shimSupported {
		return bin
	}
	shim := k.shimPath(run)
	if shim == "" {
		return bin
	}
	env[shimExecEnv] = bin
	env[shimProcFileEnv] = processFilePath(run.WorkDir)
	env[shimGraceEnv] = k.grace().String()
	if run.Fence != "" {
		env[shimFenceEnv] = run.Fence
	}
	return shim
}

func (k *Kind) grace() time.Duration {
	if k.InterruptGrace > 0 {
		return k.InterruptGrace
	}
	return interruptGrace
}

// survivor returns the Terraform process group a step's last command left
// running on this host, or nil.
func survivor(run *stack.StepRun) *processFile {
	p, err := readProcessFile(processFilePath(run.WorkDir))
	if err != nil || p.Host != proc.Host() || !proc.GroupAlive(p.PGID) {
		return nil
	}
	return p
}

// waitSurvivor waits until no Terraform of an earlier, dead `stack` command
// runs in the step's working copy: it is finishing its apply and saving its
// state, and running beside it (or breaking its lock) would create resources
// twice. Ctrl-C stops the wait and leaves it running.
func waitSurvivor(ctx context.Context, run *stack.StepRun) error {
	p := survivor(run)
	if p == nil {
		return nil
	}
	since := time.Since(p.Started).Round(time.Second)
	run.Progress("waiting for %s (pid %d, process group %d), started %s ago by a stack command that died, to finish and save its state", p.Command, p.PID, p.PGID, since)
	if err := proc.WaitGroupGone(ctx, p.PGID, 200*time.Millisecond); err != nil {
		return fmt.Errorf("stopped waiting for %s (process group %d), which a stack command that died left running; it is still running: let it finish and run the command again, or stop it with `kill -INT -%d` first: %w", p.Command, p.PGID, p.PGID, err)
	}
	run.Progress("%s left by the dead command has finished", p.Command)
	return nil
}

// watchProcess records the process group of the Terraform command about to
// run in the step's record once the shim has reported it, and clears it when
// the returned function is called after the command.
func (k *Kind) watchProcess(run *stack.StepRun) func() {
	if k.Shim == "" || !shimSupported || run.SetProcess == nil {
		return func() {}
	}
	begin := time.Now().UTC().Add(-time.Second)
	done := make(chan struct{})
	finished := make(chan bool, 1)
	go func() {
		set := false
		defer func() { finished <- set }()
		for {
			p, err := readProcessFile(processFilePath(run.WorkDir))
			if err == nil && p.PID > 0 && !p.Started.Before(begin) {
				run.SetProcess(&stack.Process{Host: p.Host, PID: p.PID, PGID: p.PGID, Command: p.Command, Started: p.Started})
				set = true
				return
			}
			select {
			case <-done:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return func() {
		close(done)
		if <-finished {
			run.SetProcess(nil)
		}
	}
}
