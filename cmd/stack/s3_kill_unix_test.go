//go:build unix

package main

import (
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stack-tools/stack/internal/testenv"
)

// Acceptance: a holder killed with SIGKILL (with its Terraform: the whole
// machine gone) keeps the stack locked until its lease expires; then the next
// command takes over, clears the stale Terraform lock and completes the stack.
// The holder runs under another host name so the lease cannot be judged stale
// by looking up its pid on this machine.
func TestS3KilledHolderLeaseExpires(t *testing.T) {
	if _, err := exec.LookPath("unshare"); err != nil {
		testenv.Missing(t, err)
	}
	m, stateDir := startS3(t)
	def, applied := slowStack(t, "crash", 5)
	const ttl = 4 * time.Second
	a := s3Workstation(t, m, stateDir, "alice", "STACK_LEASE_TTL="+ttl.String())
	b := s3Workstation(t, m, stateDir, "bob", "STACK_LEASE_TTL="+ttl.String())

	up := a.cmd(t.Context(), nil, "up", def)
	// A UTS namespace of its own gives A the host name ws-a.
	up.Args = append([]string{"unshare", "-u", "sh", "-c", `hostname ws-a && exec "$0" "$@"`}, up.Args...)
	up.Path, _ = exec.LookPath("unshare")
	up.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	waitStepRunning(t, b, "crash", "long", up)
	// Terraform runs in a process group of its own, recorded with the step;
	// the whole machine going away takes it too.
	tf := waitStepProcess(t, b, "crash", "long")
	if err := syscall.Kill(-up.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = syscall.Kill(-tf, syscall.SIGKILL)
	_ = up.Wait()
	killed := time.Now()
	if !hasObject(t, m, "tfstate/crash/long/terraform.tfstate.tflock") {
		t.Log("no Terraform lock left by the killed apply")
	}

	r := b.run("up", def)
	if time.Since(killed) < ttl {
		if r.code != 1 || !strings.Contains(r.stderr, "locked by alice@ws-a") {
			t.Errorf("up before the dead holder's lease expired: exit %d, want 1 naming alice@ws-a:\n%s", r.code, r.stderr)
		}
		time.Sleep(time.Until(killed.Add(ttl + time.Second)))
		r = b.run("up", def)
	}
	if r.code != 0 {
		t.Fatalf("up after the lease expired: exit %d\n%s", r.code, r.stderr)
	}
	stepsApplied(t, b.status("crash"), "first", "long", "last")
	// The killed apply of long may have created its resource without recording
	// it (a real crash can too), so only the finished steps are counted.
	if n := appliesPerStep(t, applied); n["first"] != 1 || n["last"] != 1 || n["long"] < 1 {
		t.Errorf("real applies per step = %v, want first and last once (finished steps are not redone)", n)
	}
	b.must("down", "crash")
	if left := objects(t, m, ""); len(left) > 0 {
		t.Errorf("down left objects in the store:\n%s", strings.Join(left, "\n"))
	}
}
