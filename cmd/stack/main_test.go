package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stack-tools/stack/steps/terraform"
)

// stackBin is the stack binary built once for this package's tests, shimBin
// the Terraform shim it runs.
var stackBin, shimBin string

func TestMain(m *testing.M) {
	// Tests that run commands in this process (newRegistry) make this test
	// binary Terraform's shim, as main does with the stack binary.
	terraform.RunShimIfAsked()
	dir, err := os.MkdirTemp("", "stack-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	stackBin = filepath.Join(dir, "stack")
	out, err := exec.Command("go", "build", "-o", stackBin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building stack: %v\n%s", err, out)
		os.Exit(1)
	}
	// The small Terraform shim, built once here rather than into each test
	// workstation's cache.
	shimBin = filepath.Join(dir, "stack-tfshim")
	if err := terraform.BuildShim(context.Background(), shimBin); err != nil {
		fmt.Fprintf(os.Stderr, "building the Terraform shim: %v\n", err)
		os.Exit(1)
	}
	os.Setenv(terraform.ShimEnv, shimBin)
	code := m.Run()
	stopServers()
	os.RemoveAll(dir)
	os.Exit(code)
}

// stopServers is extended by test files that start servers for this package.
var serverStops []func()

func stopServers() {
	for _, s := range serverStops {
		s()
	}
}

// workstation is one user's environment: its own HOME and cache, a shared store.
type workstation struct {
	t     *testing.T
	home  string
	state string
	env   []string
}

func newWorkstation(t *testing.T, state string, extraEnv ...string) *workstation {
	t.Helper()
	home := t.TempDir()
	env := []string{}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "STACK_") || strings.HasPrefix(kv, "HOME=") || strings.HasPrefix(kv, "XDG_") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "HOME="+home, "XDG_CACHE_HOME="+filepath.Join(home, ".cache"), "STACK_STATE="+state, terraform.ShimEnv+"="+shimBin)
	env = append(env, extraEnv...)
	return &workstation{t: t, home: home, state: state, env: env}
}

type result struct {
	code           int
	stdout, stderr string
}

func (w *workstation) cmd(ctx context.Context, env []string, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, stackBin, args...)
	c.Dir = repoRoot(w.t)
	c.Env = append(append([]string{}, w.env...), env...)
	return c
}

// run runs stack with args and returns its exit code and output.
func (w *workstation) run(args ...string) result { return w.runEnv(nil, args...) }

func (w *workstation) runEnv(env []string, args ...string) result {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := w.cmd(ctx, env, args...)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	err := c.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		w.t.Fatalf("running stack %v: %v", args, err)
	}
	return result{code, out.String(), errb.String()}
}

// must runs stack and fails the test unless it exits 0.
func (w *workstation) must(args ...string) result {
	w.t.Helper()
	r := w.run(args...)
	if r.code != 0 {
		w.t.Fatalf("stack %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

func repoRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(filepath.Dir(wd)) // cmd/stack -> repo
}
