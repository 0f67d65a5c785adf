//go:build unix

package proc

import (
	"context"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// A process group is alive while any member lives, even after its leader
// died; killing the group ends every member.
func TestGroupOutlivesLeaderUntilKilled(t *testing.T) {
	if !Alive(os.Getpid()) {
		t.Fatal("this process is not alive")
	}
	// The leader starts a member and exits at once.
	leader := exec.Command("sh", "-c", "sleep 60 >/dev/null 2>&1 & echo started")
	leader.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := leader.Output()
	if err != nil || string(out) != "started\n" {
		t.Fatalf("leader: %v %q", err, out)
	}
	pgid := leader.Process.Pid
	if Alive(pgid) {
		t.Errorf("the leader %d exited but is reported alive", pgid)
	}
	if !GroupAlive(pgid) {
		t.Fatal("the group is reported gone while its member sleeps")
	}
	if err := KillGroup(pgid); err != nil {
		t.Fatal(err)
	}
	// The member is killed at once; being reaped by init may take a moment.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := WaitGroupGone(ctx, pgid, 20*time.Millisecond); err != nil {
		t.Errorf("the group outlived SIGKILL: %v", err)
	}
	if err := KillGroup(pgid); err != nil {
		t.Errorf("killing a group that is gone: %v, want nil", err)
	}
}

// A group whose only member is a zombie (killed, not yet reaped: for good
// where the container's first process reaps nothing) is gone: it cannot write.
func TestZombieGroupIsGone(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc to tell zombies apart")
	}
	c := exec.Command("sleep", "60")
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	pgid := c.Process.Pid
	if !GroupAlive(pgid) || !Alive(pgid) {
		t.Fatal("a sleeping group is reported gone")
	}
	if err := KillGroup(pgid); err != nil {
		t.Fatal(err)
	}
	// Not reaped until Wait below: a zombie meanwhile.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := WaitGroupGone(ctx, pgid, 20*time.Millisecond); err != nil {
		t.Errorf("a group of one zombie is reported alive: %v", err)
	}
	if Alive(pgid) {
		t.Error("a zombie is reported alive")
	}
	_ = c.Wait()
}

// Started tells a process started now from one started earlier, so a pid
// reused after a reboot is not taken for the process that had it.
func TestStartedIsWhenTheProcessStarted(t *testing.T) {
	before := time.Now()
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	after := time.Now()
	got, ok := Started(cmd.Process.Pid)
	if !ok {
		t.Skip("no start times on this platform")
	}
	// /proc gives boot time to the second and start to the hundredth.
	if got.Before(before.Add(-2*time.Second)) || got.After(after.Add(2*time.Second)) {
		t.Errorf("Started = %s, want between %s and %s", got, before, after)
	}
	// The first process started before this test did.
	if first, ok := Started(1); !ok || !first.Before(before) {
		t.Errorf("process 1 started %s (%v), not before this test (%s)", first, ok, before)
	}
	if _, ok := Started(1 << 30); ok {
		t.Error("Started of a pid that cannot exist says it knows")
	}
}
