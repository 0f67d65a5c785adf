//go:build unix

package terraform

import (
	"context"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/steps/terraform/tfshim"
	"github.com/stack-tools/stack/stores/localstore"
)

// The small shim, built from package tfshim with the Go toolchain and kept in
// the cache under its digest, runs Terraform in a process group of its own
// and records it, as the stack binary does as the shim.
func TestLightShim(t *testing.T) {
	bin := terraformBinary(t)
	root := t.TempDir()
	cache := filepath.Join(root, "cache")
	shim := filepath.Join(cache, "shim", tfshim.Digest(), "stack-tfshim")
	ctx := context.Background()
	if err := BuildShim(ctx, shim); err != nil {
		t.Fatal(err)
	}
	t.Setenv(ShimEnv, "")
	store, err := localstore.Open(filepath.Join(root, "state"))
	if err != nil {
		t.Fatal(err)
	}
	run, stepLog, _ := recordedRun()
	run.Stack, run.Step, run.WorkDir, run.Store, run.Vars = "s", "web", filepath.Join(root, "work"), store, map[string]any{}
	// Long enough for the kind to see the shim's record (it looks every 100 ms).
	run.Module = writeModule(t, map[string]string{"main.tf": `
resource "terraform_data" "a" {
  provisioner "local-exec" {
    command = "sleep 1"
  }
}
`})
	var mu sync.Mutex
	var procs []*stack.Process
	run.SetProcess = func(p *stack.Process) {
		mu.Lock()
		defer mu.Unlock()
		procs = append(procs, p)
	}
	// A Shim that does not exist: only the small shim can run Terraform.
	k := &Kind{ExecPath: bin, CacheDir: cache, Shim: filepath.Join(root, "no-such-stack"), LightShim: true}
	if _, err := k.Apply(ctx, run); err != nil {
		t.Fatalf("apply: %v\nlog:\n%s", err, stepLog)
	}
	if k.lightShim != shim {
		t.Errorf("Terraform ran under %q, want the cached %s", k.lightShim, shim)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(procs) == 0 || procs[0] == nil {
		t.Fatalf("the shim recorded no process group for the apply: %v", procs)
	}
	if p := procs[0]; p.Command != "terraform apply" || p.PGID <= 1 || p.PGID == syscall.Getpgrp() || p.PID == 0 {
		t.Errorf("recorded %+v, want terraform apply in a process group of its own", *p)
	}
}
