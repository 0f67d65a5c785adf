// Package terraform is the step kind that applies a Terraform module in its own
// working copy, data directory and workspace, with a backend the engine generates.
package terraform

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-version"
	install "github.com/hashicorp/hc-install"
	hcfs "github.com/hashicorp/hc-install/fs"
	"github.com/hashicorp/hc-install/product"
	"github.com/hashicorp/hc-install/releases"
	"github.com/hashicorp/hc-install/src"
	"github.com/hashicorp/terraform-exec/tfexec"

	"github.com/stack-tools/stack/stack"
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
	// InterruptGrace is how long Terraform may take to stop after Ctrl-C before
	// its process group is killed (default 2m).
	InterruptGrace time.Duration

	findOnce sync.Once
	execPath string
	findErr  error
	// initMu serialises `terraform init` in this process: the plugin cache is not
	// safe for concurrent installs. A file lock covers other processes.
	initMu sync.Mutex
	// handles holds Terraform handles from preparations (see handOver).
	handles sync.Map
	// inited maps an init digest to a data directory initialised with it
	// (see initFromSibling).
	inited sync.Map
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

// terraform finds the binary once: installed copies first, then a release download.
func (k *Kind) terraform(ctx context.Context) (string, error) {
	k.findOnce.Do(func() {
		if k.ExecPath != "" {
			k.execPath = k.ExecPath
			return
		}
		if p := os.Getenv("STACK_TERRAFORM"); p != "" {
			k.execPath, k.findErr = p, checkBinary(ctx, p, "STACK_TERRAFORM")
			return
		}
		if p, ok := k.cachedTerraform(); ok {
			k.execPath = p
			return
		}
		constraints := version.MustConstraints(version.NewConstraint(MinVersion))
		dl := filepath.Join(k.CacheDir, "terraform-bin")
		_ = os.MkdirAll(dl, 0o755)
		k.execPath, k.findErr = install.NewInstaller().Ensure(ctx, []src.Source{
			&hcfs.Version{Product: product.Terraform, Constraints: constraints, ExtraPaths: []string{"/usr/local/bin", dl},
				Timeout: time.Minute}, // `terraform version` on a loaded machine can take more than the default 10 s
			&releases.LatestVersion{Product: product.Terraform, Constraints: constraints, InstallDir: dl},
		})
		if k.findErr == nil {
			k.rememberTerraform(k.execPath)
		}
		if k.findErr != nil {
			k.findErr = fmt.Errorf("no Terraform %s found on PATH or /usr/local/bin, and downloading it failed: %w; install Terraform 1.11 or later, or set STACK_TERRAFORM to its path", MinVersion, k.findErr)
		}
	})
	return k.execPath, k.findErr
}

// workspace is the Terraform workspace of a step: the backend already keeps
// each stack's state apart, so the step name is enough.
func workspace(run *stack.StepRun) string { return run.Step }

// session is one prepared working copy.
type session struct {
	tf      *tfexec.Terraform
	run     *stack.StepRun
	srcDir  string
	dataDir string
}

// prepare syncs the module into the step's working copy, writes the backend and
// variables, and runs init when the module or backend changed.
func (k *Kind) prepare(ctx context.Context, run *stack.StepRun) (*session, error) {
	bin, err := k.terraform(ctx)
	if err != nil {
		return nil, err
	}
	s := &session{run: run, srcDir: filepath.Join(run.WorkDir, "module"), dataDir: filepath.Join(run.WorkDir, "data")}
	// A Terraform left by a dead command may still be applying from this copy.
	if err := waitSurvivor(ctx, run); err != nil {
		return nil, err
	}
	if s.srcDir, err = syncModule(run.Module, s.srcDir); err != nil {
		return nil, fmt.Errorf("copying module %s to the working copy %s: %w", run.Module, s.srcDir, err)
	}
	backend, err := json.MarshalIndent(map[string]any{
		"terraform": map[string]any{"backend": map[string]any{run.Backend.Type: run.Backend.Config}},
	}, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(s.srcDir, "zz_stack_backend.tf.json"), backend, 0o600); err != nil {
		return nil, err
	}
	if run.Vars == nil {
		// Preparing: variables are written when the step runs.
		_ = os.Remove(filepath.Join(s.srcDir, "zz_stack.auto.tfvars.json"))
	} else if err := writeVars(s.srcDir, run); err != nil {
		return nil, err
	}
	env := k.env(run, s.dataDir)
	// A handle handed over by the preparation runs the same launcher (the
	// shim); SetEnv below gives it this run's environment.
	s.tf, err = k.newTerraform(run.WorkDir, s.srcDir, k.launcher(bin, run, env))
	if err != nil {
		return nil, err
	}
	if err := s.tf.SetEnv(env); err != nil {
		return nil, err
	}
	// Time to write state after SIGINT; the shim kills the group at grace.
	_ = s.tf.SetWaitDelay(k.grace() + 30*time.Second)
	// Only init, apply and destroy write to the log (see below): `terraform
	// output` prints sensitive values and must never reach it.
	s.tf.SetStderr(run.Log)

	// The variables file does not change what init does.
	digest, err := stack.DirDigest(s.srcDir, "zz_stack.auto.tfvars.json")
	if err != nil {
		return nil, err
	}
	marker := filepath.Join(s.dataDir, "stack-init")
	if old, _ := os.ReadFile(marker); string(old) == digest {
		return s, nil
	}
	run.Phase("init")
	if !k.initFromSibling(s, digest) {
		run.Progress("terraform init")
		if err := k.init(ctx, s); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(marker, []byte(digest), 0o600); err != nil {
		return nil, err
	}
	k.noteInit(digest, s.dataDir)
	return s, nil
}

// writeVars writes the step's variables for Terraform. Sensitive values never
// touch disk: they go on the command line instead (see varOptions).
func writeVars(dir string, run *stack.StepRun) error {
	plain := map[string]any{}
	for name, v := range run.Vars {
		if !run.SensitiveVars[name] {
			plain[name] = v
		}
	}
	addIdentity(dir, run, plain)
	vars, err := json.MarshalIndent(plain, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "zz_stack.auto.tfvars.json"), vars, 0o600)
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
	}
	return err
}

func (k *Kind) init(ctx context.Context, s *session) error {
	// Only provider installs touch the shared plugin cache; modules that use
	// nothing but built-in resources initialise in parallel.
	if usesProviders(s.srcDir) {
		k.initMu.Lock()
		defer k.initMu.Unlock()
		unlock, err := flock(filepath.Join(k.CacheDir, "plugin-cache.lock"))
		if err != nil {
			return err
		}
		defer unlock()
	}
	if err := s.stream(func(w io.Writer) error {
		return s.tf.InitJSON(ctx, w, tfexec.Reconfigure(true), tfexec.Upgrade(false))
	}); err != nil {
		return fmt.Errorf("terraform init in %s failed (see the step's log): %w", s.srcDir, err)
	}
	return nil
}

var providerRE = regexp.MustCompile(`(?m)^\s*(required_providers\b|provider\s+"|module\s+"|(resource|data)\s+"([a-z0-9]+)_)`)

// usesProviders reports whether a module needs any provider besides Terraform's
// built-in one (terraform_data, terraform_remote_state). A module call counts:
// what the called module needs is not looked at.
func usesProviders(dir string) bool {
	files, _ := filepath.Glob(filepath.Join(dir, "*.tf"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return true
		}
		for _, m := range providerRE.FindAllStringSubmatch(string(b), -1) {
			if m[3] != "terraform" {
				return true
			}
		}
	}
	json, _ := filepath.Glob(filepath.Join(dir, "*.tf.json"))
	for _, f := range json {
		if !strings.HasPrefix(filepath.Base(f), "zz_stack") {
			return true // cannot tell cheaply: be safe
		}
	}
	return false
}

// prohibited are variables terraform-exec sets itself and refuses from callers.
var prohibited = regexp.MustCompile(`^TF_(CLI_ARGS.*|INPUT|IN_AUTOMATION|LOG.*|REATTACH_PROVIDERS|APPEND_USER_AGENT|WORKSPACE|DISABLE_PLUGIN_TLS|SKIP_PROVIDER_VERIFY|VAR_.*)$`)

func (k *Kind) env(run *stack.StepRun, dataDir string) map[string]string {
	env := map[string]string{}
	for _, kv := range os.Environ() {
		name, val, _ := strings.Cut(kv, "=")
		if !prohibited.MatchString(name) {
			env[name] = val
		}
	}
	env["TF_DATA_DIR"] = dataDir
	env["TF_PLUGIN_CACHE_DIR"] = filepath.Join(k.CacheDir, "plugin-cache")
	_ = os.MkdirAll(env["TF_PLUGIN_CACHE_DIR"], 0o755)
	env["CHECKPOINT_DISABLE"] = "1"
	if f := env["TF_CLI_CONFIG_FILE"]; f != "" {
		if _, err := os.Stat(f); err != nil {
			delete(env, "TF_CLI_CONFIG_FILE") // a missing file only makes Terraform warn
		}
	}
	if exe, err := os.Executable(); err == nil && env["STACK_BIN"] == "" {
		env["STACK_BIN"] = exe
	}
	for k, v := range run.Backend.Env {
		env[k] = v
	}
	return env
}

// selectWorkspace selects the step's workspace, creating it if create is set.
// It reports false when the workspace does not exist and create is not set.
func (s *session) selectWorkspace(ctx context.Context, create bool) (bool, error) {
	ws := workspace(s.run)
	marker := filepath.Join(s.dataDir, "environment")
	if cur, err := os.ReadFile(marker); err == nil && strings.TrimSpace(string(cur)) == ws {
		return true, nil
	}
	if create && s.noState(ctx) {
		// Most likely a new workspace: create it without asking first.
		err := s.newWorkspace(ctx, ws)
		if err == nil {
			return true, nil
		}
		if !strings.Contains(err.Error(), "already exists") {
			return false, fmt.Errorf("creating workspace %q: %w", ws, err)
		}
	}
	err := s.tf.WorkspaceSelect(ctx, ws)
	if err == nil {
		return true, nil
	}
	if !strings.Contains(err.Error(), "doesn't exist") {
		return false, fmt.Errorf("selecting workspace %q: %w", ws, err)
	}
	if !create {
		return false, nil
	}
	if err := s.newWorkspace(ctx, ws); err != nil {
		return false, fmt.Errorf("creating workspace %q: %w", ws, err)
	}
	return true, nil
}

// newWorkspace creates the step's workspace. Creating one locks its future
// state; a command killed right then leaves a lock that no later run can get
// past and `terraform force-unlock` cannot reach (there is no workspace to
// select yet). Once no Terraform of the killed run is left, the backend drops
// that lock and the workspace is created again.
func (s *session) newWorkspace(ctx context.Context, ws string) error {
	err := s.tf.WorkspaceNew(ctx, ws)
	if err == nil || s.run.Backend.DropNewWorkspaceLock == nil {
		return err
	}
	m := lockInfoIDRE.FindStringSubmatch(err.Error())
	if m == nil {
		return err
	}
	if survivor(s.run) != nil {
		if werr := waitSurvivor(ctx, s.run); werr != nil {
			return werr
		}
	} else {
		s.run.Progress("removing the Terraform lock %s a killed run left on workspace %q before its state existed", m[1], ws)
		if derr := s.run.Backend.DropNewWorkspaceLock(ctx, ws); derr != nil {
			return fmt.Errorf("%w (removing that stale lock also failed: %v)", err, derr)
		}
	}
	return s.tf.WorkspaceNew(ctx, ws)
}

var lockInfoIDRE = regexp.MustCompile(`(?s)Lock Info:\s+ID:\s+([0-9a-fA-F-]{8,})`)

// secrets starts serving the step's sensitive variables for a -var-file; the
// caller closes it. It is nil when the step has none.
func (s *session) secrets() (*secretPipe, error) {
	vars := map[string]any{}
	for name, v := range s.run.Vars {
		if s.run.SensitiveVars[name] {
			vars[name] = v
		}
	}
	if len(vars) == 0 {
		return nil, nil
	}
	return serveSecrets(s.run.WorkDir, vars)
}

// Apply applies the module and returns its outputs.
func (k *Kind) Apply(ctx context.Context, run *stack.StepRun) (stack.Outputs, error) {
	run.Phase("prepare")
	s, err := k.prepare(ctx, run)
	if err != nil {
		return nil, err
	}
	run.Phase("workspace")
	if _, err := s.selectWorkspace(ctx, true); err != nil {
		return nil, err
	}
	if err := s.pushErroredState(ctx); err != nil {
		return nil, err
	}
	secrets, err := s.secrets()
	if err != nil {
		return nil, err
	}
	defer secrets.close()
	if run.Interrupted {
		if err := s.reconcile(ctx, secrets); err != nil {
			return nil, err
		}
	}
	fresh := s.emptyState(ctx)
	run.Progress("terraform apply")
	defer k.watchProcess(run)()
	run.Phase("plan") // until Terraform starts changing resources: see progressWriter
	var streamed map[string]streamedOutput
	err = s.retryLocked(ctx, func() error {
		var opts []tfexec.ApplyOption
		if fresh {
			// Nothing to refresh: the state has no resources.
			opts = append(opts, tfexec.Refresh(false))
		}
		if secrets != nil {
			opts = append(opts, tfexec.VarFile(secrets.path))
		}
		return s.stream(func(w io.Writer) error {
			err := s.tf.ApplyJSON(ctx, w, opts...)
			streamed = w.(*progressWriter).outputs
			return err
		})
	})
	if err != nil {
		return nil, err
	}
	// The apply stream carries the outputs unless some are sensitive (it
	// redacts those); only then is a separate `terraform output` needed.
	if outs, ok := plainOutputs(streamed); ok {
		return outs, nil
	}
	run.Phase("outputs")
	if outs, ok := s.stateOutputs(ctx); ok {
		return outs, nil
	}
	return s.outputs(ctx)
}

// ReadOutputs reads a finished step's outputs again, sensitive values included.
func (k *Kind) ReadOutputs(ctx context.Context, run *stack.StepRun) (stack.Outputs, error) {
	if outs, ok := (&session{run: run}).stateOutputs(ctx); ok {
		return outs, nil
	}
	s, err := k.prepare(ctx, run)
	if err != nil {
		return nil, err
	}
	if ok, err := s.selectWorkspace(ctx, false); err != nil || !ok {
		return nil, fmt.Errorf("workspace %q does not exist: %w", workspace(run), err)
	}
	return s.outputs(ctx)
}

func (s *session) outputs(ctx context.Context) (stack.Outputs, error) {
	meta, err := s.tf.Output(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading outputs: %w", err)
	}
	outs := stack.Outputs{}
	for name, m := range meta {
		var v any
		if err := json.Unmarshal(m.Value, &v); err != nil {
			return nil, fmt.Errorf("output %q: %w", name, err)
		}
		outs[name] = stack.Output{Value: v, Sensitive: m.Sensitive}
	}
	return outs, nil
}

// Destroy destroys the step's resources and deletes its workspace.
func (k *Kind) Destroy(ctx context.Context, run *stack.StepRun) error {
	s, err := k.prepare(ctx, run)
	if err != nil {
		return err
	}
	ok, err := s.selectWorkspace(ctx, false)
	if err != nil {
		return err
	}
	if ok {
		if err := s.pushErroredState(ctx); err != nil {
			return err
		}
		secrets, err := s.secrets()
		if err != nil {
			return err
		}
		run.Progress("terraform destroy")
		unwatch := k.watchProcess(run)
		err = s.retryLocked(ctx, func() error {
			var opts []tfexec.DestroyOption
			if secrets != nil {
				opts = append(opts, tfexec.VarFile(secrets.path))
			}
			return s.stream(func(w io.Writer) error { return s.tf.DestroyJSON(ctx, w, opts...) })
		})
		unwatch()
		secrets.close()
		if err != nil {
			return err
		}
		if err := s.tf.WorkspaceSelect(ctx, "default"); err != nil {
			return fmt.Errorf("selecting the default workspace: %w", err)
		}
		if err := s.tf.WorkspaceDelete(ctx, workspace(run), tfexec.Force(true)); err != nil {
			return fmt.Errorf("deleting workspace %q: %w", workspace(run), err)
		}
	}
	return os.RemoveAll(run.WorkDir)
}

// erroredState is where Terraform leaves the state it could not save (the
// backend was unreachable). It must reach the backend before the next apply, or
// resources are created twice.
const erroredState = "errored.tfstate"

func (s *session) pushErroredState(ctx context.Context) error {
	p := filepath.Join(s.srcDir, erroredState)
	if _, err := os.Stat(p); err != nil {
		return nil
	}
	s.run.Progress("saving the state an interrupted apply left in %s", p)
	if err := s.retryLocked(ctx, func() error { return s.tf.StatePush(ctx, p) }); err != nil {
		return fmt.Errorf("pushing %s (the state an earlier apply could not save) to the backend: %w; run the command again when the backend is reachable", p, err)
	}
	return os.Remove(p)
}

var lockIDRE = regexp.MustCompile(`(?s)Error acquiring the state lock.*?Lock Info:\s+ID:\s+([0-9a-fA-F-]{8,})`)

// retryLocked runs fn and, if Terraform finds its state locked, clears the
// lock (see clearStaleLock) and runs fn again.
func (s *session) retryLocked(ctx context.Context, fn func() error) error {
	err := fn()
	for attempt := 0; err != nil && attempt < 2; attempt++ {
		m := lockIDRE.FindStringSubmatch(err.Error())
		if m == nil {
			return err
		}
		if cerr := s.clearStaleLock(ctx, m[1], err); cerr != nil {
			return cerr
		}
		err = fn()
	}
	return err
}

// stream runs a Terraform command whose JSON lines become log lines and
// progress. terraform-exec keeps the writer for later commands, so it is reset:
// `terraform output` must never write to the log.
func (s *session) stream(fn func(w io.Writer) error) error {
	w := newProgressWriter(s.run)
	err := fn(w)
	s.tf.SetStdout(io.Discard)
	return w.wrap(err)
}

// streamedOutput is one output in Terraform's JSON "outputs" message.
type streamedOutput struct {
	Sensitive bool            `json:"sensitive"`
	Value     json.RawMessage `json:"value"`
}

// plainOutputs converts streamed outputs; ok is false when there were none
// streamed or any is sensitive.
func plainOutputs(streamed map[string]streamedOutput) (stack.Outputs, bool) {
	if streamed == nil {
		return nil, false
	}
	outs := stack.Outputs{}
	for name, o := range streamed {
		if o.Sensitive {
			return nil, false
		}
		var v any
		if err := json.Unmarshal(o.Value, &v); err != nil {
			return nil, false
		}
		outs[name] = stack.Output{Value: v}
	}
	return outs, true
}

// progressWriter turns Terraform's JSON lines into log lines and progress, and
// keeps error diagnostics for the error message and the outputs message.
type progressWriter struct {
	run     *stack.StepRun
	pw      *io.PipeWriter
	done    chan struct{}
	diags   []string
	outputs map[string]streamedOutput
	began   bool // an apply_start was seen
}

func newProgressWriter(run *stack.StepRun) *progressWriter {
	pr, pw := io.Pipe()
	w := &progressWriter{run: run, pw: pw, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
		for sc.Scan() {
			w.line(sc.Bytes())
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	return w
}

func (w *progressWriter) Write(p []byte) (int, error) { return w.pw.Write(p) }

func (w *progressWriter) line(b []byte) {
	var m struct {
		Level   string                    `json:"@level"`
		Message string                    `json:"@message"`
		Type    string                    `json:"type"`
		Outputs map[string]streamedOutput `json:"outputs"`
		Diag    struct {
			Severity string `json:"severity"`
			Summary  string `json:"summary"`
			Detail   string `json:"detail"`
		} `json:"diagnostic"`
	}
	if json.Unmarshal(b, &m) != nil {
		fmt.Fprintf(w.run.Log, "%s\n", b)
		return
	}
	fmt.Fprintf(w.run.Log, "%s\n", m.Message)
	switch m.Type {
	case "outputs":
		w.outputs = m.Outputs
		if w.outputs == nil {
			w.outputs = map[string]streamedOutput{}
		}
	case "apply_start", "apply_progress", "apply_complete", "refresh_start", "init_output":
		if m.Type == "apply_start" && !w.began {
			w.began = true
			w.run.Phase("apply") // the plan is done
		}
		w.run.Progress("%s", m.Message)
	case "diagnostic":
		if m.Diag.Severity == "error" {
			w.diags = append(w.diags, strings.TrimSpace(m.Diag.Summary+": "+m.Diag.Detail))
			fmt.Fprintf(w.run.Log, "  %s\n", m.Diag.Detail)
		}
	}
}

// wrap closes the writer and adds Terraform's diagnostics to err.
func (w *progressWriter) wrap(err error) error {
	w.pw.Close()
	<-w.done
	if err == nil {
		return nil
	}
	if len(w.diags) > 0 {
		return fmt.Errorf("terraform: %s: %w", strings.Join(w.diags, "; "), err)
	}
	return fmt.Errorf("terraform: %w", err)
}

// syncDir makes dst a copy of src's files, leaving Terraform's data alone.
func syncDir(src, dst string) error {
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return err
	}
	// Remove files the module no longer has.
	entries, _ := os.ReadDir(dst)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "zz_stack") || e.Name() == erroredState {
			continue
		}
		if _, err := os.Stat(filepath.Join(src, e.Name())); errors.Is(err, fs.ErrNotExist) {
			_ = os.RemoveAll(filepath.Join(dst, e.Name()))
		}
	}
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			if d.Name() == ".terraform" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		if strings.HasSuffix(d.Name(), ".tfstate") || strings.HasSuffix(d.Name(), ".tfstate.backup") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if old, err := os.ReadFile(target); err == nil && sha256.Sum256(old) == sha256.Sum256(data) {
			return nil
		}
		return os.WriteFile(target, data, 0o600)
	})
}
