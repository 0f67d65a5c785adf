package terraform

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/steps/terraform/tfshim"
)

// ShimEnv names a prebuilt shim (built with BuildShim) to use instead of
// building one into the cache: for tests, and for packages that ship it.
const ShimEnv = "STACK_TERRAFORM_SHIM"

// The shim runs once per Terraform command. As the stack binary (53 MB, every
// package of stack initialised before main) it costs about 17 ms of CPU and,
// on a loaded machine, 50 ms of wall time per command; built from package
// tfshim alone (3 MB, the standard library) 2-4 ms and under 1 ms
// (bench/shim). So the kind builds that small shim once, with the Go toolchain
// stack itself was built with, into its cache, and uses the stack binary
// (Kind.Shim) only where it cannot.

// shimPath returns the shim Terraform runs under ("" for none): ShimEnv if
// set, else with LightShim the small shim (built on first use), else Shim.
func (k *Kind) shimPath(run *stack.StepRun) string {
	if k.Shim == "" || !k.LightShim {
		return k.Shim
	}
	k.shimOnce.Do(func() {
		k.lightShim = os.Getenv(ShimEnv)
		if k.lightShim != "" {
			return
		}
		bin := filepath.Join(k.CacheDir, "shim", tfshim.Digest(), "stack-tfshim")
		if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() {
			k.lightShim = bin
			return
		}
		run.Progress("building Terraform's shim into %s (once per stack version)", filepath.Dir(bin))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if err := BuildShim(ctx, bin); err != nil {
			run.Progress("Terraform runs under stack itself as its shim, which costs more CPU: %v", err)
			return
		}
		k.lightShim = bin
	})
	if k.lightShim != "" {
		return k.lightShim
	}
	return k.Shim
}

// BuildShim builds the shim (package tfshim's files and a main calling
// tfshim.RunIfAsked) to path with the `go` on PATH, which must be the Go
// release this program was built with.
func BuildShim(ctx context.Context, path string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("no Go toolchain on PATH to build it with (%w); install Go %s, or set %s to a shim built with it", err, runtime.Version(), ShimEnv)
	}
	out, err := exec.CommandContext(ctx, goBin, "env", "GOVERSION").Output()
	if v := strings.TrimSpace(string(out)); err != nil || v != runtime.Version() {
		return fmt.Errorf("the go on PATH is %q (%v), stack was built with %s; put that Go first on PATH", v, err, runtime.Version())
	}
	src, err := os.MkdirTemp("", "stack-tfshim-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(src)
	if err := writeShimSources(src); err != nil {
		return fmt.Errorf("writing the shim's sources to %s: %w", src, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := fmt.Sprintf("%s.%d", path, os.Getpid())
	cmd := exec.CommandContext(ctx, goBin, "build", "-trimpath", "-ldflags=-s -w", "-o", tmp, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOTOOLCHAIN=local", "GOWORK=off", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("go build of the shim failed: %w\n%s", err, out)
	}
	return os.Rename(tmp, path)
}

// writeShimSources lays out a module of its own in dir: tfshim's files and a
// main package.
func writeShimSources(dir string) error {
	goVersion := strings.TrimPrefix(runtime.Version(), "go")
	files := map[string]string{
		"go.mod":  "module stacktfshim\n\ngo " + goVersion + "\n",
		"main.go": shimMain,
	}
	err := fs.WalkDir(tfshim.Sources, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := tfshim.Sources.ReadFile(p)
		files[filepath.Join("tfshim", p)] = string(b)
		return err
	})
	if err != nil {
		return err
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

const shimMain = `// Command stack-tfshim runs Terraform for stack (see package tfshim).
package main

import (
	"fmt"
	"os"

	"stacktfshim/tfshim"
)

func main() {
	tfshim.RunIfAsked()
	fmt.Fprintln(os.Stderr, "stack-tfshim runs Terraform for stack; it is not a command of its own")
	os.Exit(2)
}
`
