// Package terraform is the step kind that applies a Terraform module in its own
// working copy, data directory and workspace, with a backend its state store provides.
//
// The files follow Terraform's commands, as terraform-exec's do: binary.go
// finds Terraform, env.go builds its environment, init.go, workspace.go,
// apply.go, destroy.go and plan.go run one command each, stream.go reads the
// -json lines they print, lock.go reads and clears state locks, vars.go hands
// over the variables and sync.go keeps the working copy.
package terraform

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-version"
	"github.com/hashicorp/terraform-exec/tfexec"

	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/steps/terraform/tfbackend"
)

// MinVersion is the oldest Terraform the kind accepts: 1.11 brought the S3
// backend's use_lockfile.
const MinVersion = ">= 1.11"

// Kind applies Terraform modules.
type Kind struct {
	// CacheDir holds the shared provider plugin cache and a downloaded Terraform.
	CacheDir string
	// ExecPath, if set, is the terraform binary to use.
	ExecPath string

	// Shim, if set, is an executable that runs RunShimIfAsked first: Terraform
	// then runs in a process group of its own that outlives a killed stack
	// (see shim.go). Without it Terraform runs directly.
	Shim string
	// LightShim, with Shim set, runs Terraform under the small shim built
	// from package tfshim instead (see shimbuild.go), falling back to Shim.
	LightShim bool
	// InterruptGrace is how long Terraform may take to stop after Ctrl-C before
	// its process group is killed (default 2m).
	InterruptGrace time.Duration

	shimOnce  sync.Once
	lightShim string // the small shim's path, "" if there is none

	findOnce  sync.Once
	execPath  string
	findErr   error
	tfVersion *version.Version // execPath's, nil if it could not be asked
	// versionRuns counts `terraform version` runs (see binaryVersion).
	versionRuns atomic.Int32
	// initMu serialises `terraform init` in this process: the plugin cache is not
	// safe for concurrent installs. A file lock covers other processes.
	initMu sync.Mutex
	// handles holds Terraform handles from preparations (see handOver).
	handles sync.Map
	// inited maps an init digest to a data directory initialised with it
	// (see initFromSibling).
	inited sync.Map
	// initTurns holds a mutex per init digest (see ensureInit).
	initTurns sync.Map
	// created holds the work folders whose workspace a preparation just
	// created (a *createdWorkspace): their state has no resources, and the
	// apply need not read it.
	created sync.Map
	// bundle is the CA bundle of backends that open no TLS connection
	// (cabundle.go), "" if there is none.
	bundleOnce sync.Once
	bundle     string
}

// New returns the kind, keeping its caches under cacheDir.
func New(cacheDir string) *Kind { return &Kind{CacheDir: cacheDir} }

// Validate accepts no kind-specific fields: a Terraform step is its module and vars.
func (k *Kind) Validate(config json.RawMessage) error {
	var none struct{}
	if err := stack.DecodeStrict(config, &none); err != nil {
		return fmt.Errorf("%w (terraform steps take name, kind, module, vars, after, profiles, on_complete)", err)
	}
	return nil
}

// NeedsModule is true: every Terraform step names a module folder.
func (k *Kind) NeedsModule() bool { return true }

// workspace is the Terraform workspace of a step: the backend already keeps
// each stack's state apart, so the step name is enough.
func workspace(run *stack.StepRun) string { return run.Step }

// Files the kind writes into the working copy of the module.
const (
	backendFile = "zz_stack_backend.tf.json"
	varsFile    = "zz_stack.auto.tfvars.json"
)

// session is one prepared working copy.
type session struct {
	tf      *tfexec.Terraform
	run     *stack.StepRun
	backend tfbackend.Backend
	srcDir  string
	dataDir string
	version *version.Version // Terraform's, if known
	// created is set when this command just created the workspace: its
	// state has no resources.
	created *createdWorkspace
	// journal is the running command's (unsaved.go), nil if none.
	journal *journal
}

// prepare syncs the module into the step's working copy, writes the backend and
// variables, and runs init when the module or backend changed.
func (k *Kind) prepare(ctx context.Context, run *stack.StepRun) (*session, error) {
	bin, err := k.terraform(ctx)
	if err != nil {
		return nil, err
	}
	tfb, err := backendOf(run)
	if err != nil {
		return nil, err
	}
	tfb = k.withNoTLSBundle(tfb)
	s := &session{run: run, backend: tfb, srcDir: filepath.Join(run.WorkDir, "module"), dataDir: filepath.Join(run.WorkDir, "data"), version: k.tfVersion}
	if v, ok := k.created.LoadAndDelete(run.WorkDir); ok {
		s.created = v.(*createdWorkspace)
	}
	// A Terraform left by a dead command may still be applying from this copy.
	if err := waitSurvivor(ctx, run); err != nil {
		return nil, err
	}
	if s.srcDir, err = syncModule(run.Module, s.srcDir); err != nil {
		return nil, fmt.Errorf("copying module %s to the working copy %s: %w", run.Module, s.srcDir, err)
	}
	if err := writeBackend(s.srcDir, s.backend); err != nil {
		return nil, err
	}
	if run.Vars == nil {
		// Preparing: variables are written when the step runs.
		_ = os.Remove(filepath.Join(s.srcDir, varsFile))
	} else if err := writeVars(s.srcDir, run); err != nil {
		return nil, err
	}
	if s.tf, err = k.handle(bin, s); err != nil {
		return nil, err
	}
	if err := k.ensureInit(ctx, s); err != nil {
		return nil, err
	}
	return s, nil
}

// writeBackend writes the backend the state store gave as a file of the module.
func writeBackend(dir string, b tfbackend.Backend) error {
	backend, err := json.MarshalIndent(map[string]any{
		"terraform": map[string]any{"backend": map[string]any{b.Type: b.Config}},
	}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, backendFile), backend, 0o600)
}

// handle returns the Terraform handle for the session, set up with the step's
// environment and writers.
func (k *Kind) handle(bin string, s *session) (*tfexec.Terraform, error) {
	env := k.env(s.run, s.dataDir, s.backend.Env)
	// A handle handed over by the preparation runs the same launcher (the
	// shim); SetEnv below gives it this run's environment.
	tf, err := k.newTerraform(s.run.WorkDir, s.srcDir, k.launcher(bin, s.run, env))
	if err != nil {
		return nil, err
	}
	seedVersion(tf, k.tfVersion)
	if err := tf.SetEnv(env); err != nil {
		return nil, err
	}
	// Time to write state after SIGINT; the shim kills the group at grace.
	_ = tf.SetWaitDelay(k.grace() + 30*time.Second)
	// Only init, apply and destroy write to the log (see stream): `terraform
	// output` prints sensitive values and must never reach it.
	tf.SetStderr(s.run.Log)
	return tf, nil
}

// Prepare copies the module, runs init and creates the workspace, so that
// Apply only has to apply.
func (k *Kind) Prepare(ctx context.Context, run *stack.StepRun) error {
	if survivor(run) != nil {
		return nil // Apply waits for it, and says so
	}
	run.Phase("prepare")
	s, err := k.prepare(ctx, run)
	if err != nil {
		return err
	}
	run.Phase("workspace")
	if _, err = s.selectWorkspace(ctx, true); err == nil {
		k.handOver(run.WorkDir, s.tf)
		if s.created != nil {
			k.created.Store(run.WorkDir, s.created)
		}
	}
	return err
}

// createdWorkspace is what a command knows of a workspace it just created;
// a preparation hands it to the apply (Kind.created).
type createdWorkspace struct {
	// known is the workspace's state, for the first read of it
	// (remoteState): a round trip saved. nil once read.
	known *tfState
	// unlocked says no lock is on its state: the first apply need not take
	// one (applyOptions).
	unlocked bool
}
