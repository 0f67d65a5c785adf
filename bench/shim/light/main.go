// Command light is what a lighter Terraform shim would cost at least: a
// small Go program (no stack packages) doing the durable path's system work
// (its own process group, the process file written before and after the
// start, output to files copied back, wait, clean up), for bench/shim to set
// beside the stack binary's shim (steps/terraform/shim_unix.go).
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

func main() {
	bin, procPath := os.Getenv("STACK_TERRAFORM_SHIM_EXEC"), os.Getenv("STACK_TERRAFORM_SHIM_PROCFILE")
	_ = syscall.Setpgid(0, 0)
	rec := map[string]any{"pgid": os.Getpid(), "shim_pid": os.Getpid(), "started": time.Now().UTC()}
	write := func() {
		b, _ := json.Marshal(rec)
		_ = os.WriteFile(procPath+".tmp", b, 0o600)
		_ = os.Rename(procPath+".tmp", procPath)
	}
	write()
	dir := filepath.Dir(procPath)
	outPath := filepath.Join(dir, fmt.Sprintf("t-%d.stdout", os.Getpid()))
	errPath := filepath.Join(dir, fmt.Sprintf("t-%d.stderr", os.Getpid()))
	outW, _ := os.Create(outPath)
	errW, _ := os.Create(errPath)
	cmd := exec.Command(bin, os.Args[1:]...)
	cmd.Stdout, cmd.Stderr = outW, errW
	if err := cmd.Start(); err != nil {
		os.Exit(1)
	}
	rec["pid"] = cmd.Process.Pid
	write()
	err := cmd.Wait()
	for _, p := range []struct {
		path string
		dst  io.Writer
	}{{outPath, os.Stdout}, {errPath, os.Stderr}} {
		if f, err := os.Open(p.path); err == nil {
			_, _ = io.Copy(p.dst, f)
			f.Close()
		}
		_ = os.Remove(p.path)
	}
	_ = os.Remove(procPath)
	if err != nil {
		os.Exit(1)
	}
}
