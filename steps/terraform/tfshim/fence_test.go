//go:build unix

package tfshim

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stack-tools/stack/internal/proc"
	"github.com/stack-tools/stack/stack"
)

// The package's test binary is also the shim (and its keeper).
func TestMain(m *testing.M) {
	RunIfAsked()
	os.Exit(m.Run())
}

// The fence file package state writes (stack.FenceFile) is the one the shim
// reads.
func TestFenceFileFormat(t *testing.T) {
	at := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	b, _ := json.Marshal(stack.FenceFile{Lease: "l", InterruptAt: at, KillAt: at.Add(time.Second)})
	p := filepath.Join(t.TempDir(), "f.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := ReadFence(p)
	if err != nil || !f.InterruptAt.Equal(at) || !f.KillAt.Equal(at.Add(time.Second)) {
		t.Fatalf("read %+v, %v", f, err)
	}
}

// The shim enforces the lease's fence file on its own (issue 20): past the
// interrupt deadline Terraform's group gets SIGINT, past the kill deadline it
// is killed, whatever the stack process is doing. The stand-in for Terraform
// notes the interrupt and ignores it, so only the kill ends it.
func TestShimEnforcesTheFence(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "interrupted")
	fake := filepath.Join(dir, "terraform")
	script := "#!/bin/sh\ntrap 'touch " + marker + "' INT\nwhile true; do sleep 0.1; done\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	fence := filepath.Join(dir, "fence.json")
	writeFence := func(interrupt, kill time.Time) {
		b, _ := json.Marshal(stack.FenceFile{Lease: "l", InterruptAt: interrupt, KillAt: kill})
		if err := os.WriteFile(fence, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeFence(time.Now().Add(-time.Second), time.Now().Add(time.Hour))
	shim := exec.Command(os.Args[0], "apply")
	shim.Env = append(os.Environ(), ExecEnv+"="+fake, FenceEnv+"="+fence, GraceEnv+"=1h")
	if err := shim.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- shim.Wait() }()
	t.Cleanup(func() { _ = shim.Process.Kill() })
	waitUntil(t, "the interrupt past the fence's interrupt deadline", func() bool {
		_, err := os.Stat(marker)
		return err == nil
	})
	select {
	case err := <-done:
		t.Fatalf("the shim ended before the kill deadline: %v", err)
	default:
	}
	writeFence(time.Now().Add(-time.Second), time.Now().Add(-time.Second))
	select {
	case err := <-done:
		if err == nil {
			t.Error("the shim exited 0 after its Terraform was killed")
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("Terraform still runs past the fence's kill deadline")
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(2 * time.Minute); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}

// The shim dies with stack; the fence keeper it started then enforces the
// fence on Terraform's group, so a killed stack's Terraform cannot write past
// the lease either. Only a missing fence file releases it: one read while
// being rewritten keeps the last deadlines.
func TestKeeperFencesTerraformAfterTheShimDied(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "terraform")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\ntrap '' INT\nwhile true; do sleep 0.1; done\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	fence := filepath.Join(dir, "fence.json")
	writeFence := func(at time.Time) {
		b, _ := json.Marshal(stack.FenceFile{Lease: "l", InterruptAt: at, KillAt: at})
		if err := os.WriteFile(fence, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeFence(time.Now().Add(time.Hour))
	shim := exec.Command(os.Args[0], "apply")
	shim.Env = append(os.Environ(), ExecEnv+"="+fake, FenceEnv+"="+fence, GraceEnv+"=1h")
	if err := shim.Start(); err != nil {
		t.Fatal(err)
	}
	pgid := shim.Process.Pid // the shim leads Terraform's group
	t.Cleanup(func() { _ = proc.KillGroup(pgid) })
	waitUntil(t, "Terraform to start under the shim", func() bool {
		out, _ := exec.Command("pgrep", "-g", strconv.Itoa(pgid)).Output()
		return len(strings.Fields(string(out))) >= 2
	})
	_ = shim.Process.Kill()
	_ = shim.Wait()
	if !proc.GroupAlive(pgid) {
		t.Fatal("Terraform died with the shim; it must live on to save its state")
	}
	// A fence caught mid-write (empty) is no release: the keeper stays.
	if err := os.WriteFile(fence, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * fenceCheckEvery)
	writeFence(time.Now().Add(-time.Second))
	waitUntil(t, "the keeper to kill Terraform past the fence", func() bool { return !proc.GroupAlive(pgid) })
}
