//go:build unix

package tfshim

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

// shimSupported says whether Kind.Shim is used on this platform.
const shimSupported = true

func runShim(bin string) int {
	procPath := os.Getenv(ProcFileEnv)
	grace, err := time.ParseDuration(os.Getenv(GraceEnv))
	if err != nil || grace <= 0 {
		grace = DefaultGrace
	}
	for _, e := range []string{ExecEnv, ProcFileEnv, GraceEnv} {
		_ = os.Unsetenv(e)
	}
	if !durable(os.Args[1:]) {
		// Quick commands that change nothing (and some print sensitive
		// values: output, state pull) become Terraform itself: they may die
		// with stack, and their output never touches a file.
		err := syscall.Exec(bin, append([]string{bin}, os.Args[1:]...), os.Environ())
		fmt.Fprintf(os.Stderr, "stack: running %s: %v\n", bin, err)
		return 1
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	signal.Ignore(syscall.SIGPIPE, syscall.SIGHUP) // stack may be gone; keep relaying nothing quietly

	pgid, err := ownGroup()
	if err != nil {
		pgid = 0 // no group of our own: interrupts go to Terraform alone
	}
	rec := &ProcessFile{Host: host(), PGID: pgid, ShimPID: os.Getpid(), Command: command(os.Args[1:]), Started: time.Now().UTC()}
	if procPath != "" {
		// Recorded before Terraform starts: if stack dies from here on, the
		// next command knows which group to wait for.
		if err := writeProcessFile(procPath, rec); err != nil {
			fmt.Fprintf(os.Stderr, "stack: recording the Terraform process in %s: %v\n", procPath, err)
			return 1
		}
	}
	// Terraform writes to files, never to a pipe: a pipe whose reader (stack,
	// then this shim) died would kill it with SIGPIPE at its next line.
	dir := os.TempDir()
	if procPath != "" {
		dir = filepath.Dir(procPath)
	}
	outPath := filepath.Join(dir, fmt.Sprintf("terraform-%d.stdout", os.Getpid()))
	errPath := filepath.Join(dir, fmt.Sprintf("terraform-%d.stderr", os.Getpid()))
	outW, err1 := os.OpenFile(outPath, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	errW, err2 := os.OpenFile(errPath, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err := errors.Join(err1, err2); err != nil {
		fmt.Fprintf(os.Stderr, "stack: %v\n", err)
		return 1
	}
	cmd := exec.Command(bin, os.Args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, outW, errW
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "stack: starting %s: %v\n", bin, err)
		return 1
	}
	outW.Close()
	errW.Close()
	if procPath != "" {
		rec.PID = cmd.Process.Pid
		_ = writeProcessFile(procPath, rec)
	}
	exited := make(chan struct{})
	relayed := make(chan struct{}, 2)
	go func() { tail(outPath, os.Stdout, exited); relayed <- struct{}{} }()
	go func() { tail(errPath, os.Stderr, exited); relayed <- struct{}{} }()

	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	interrupted := false
	var werr error
loop:
	for {
		select {
		case werr = <-waited:
			break loop
		case <-sigs:
			if interrupted {
				continue // our own broadcast, or a repeat: Terraform has it already
			}
			interrupted = true
			if pgid > 0 {
				_ = interruptGroup(pgid)
				time.AfterFunc(grace, func() { _ = killGroup(pgid) })
			} else {
				_ = cmd.Process.Signal(os.Interrupt)
				time.AfterFunc(grace, func() { _ = cmd.Process.Kill() })
			}
		}
	}
	close(exited)
	<-relayed
	<-relayed
	_ = os.Remove(outPath)
	_ = os.Remove(errPath)
	code := exitCode(werr)
	if procPath != "" {
		// Done: nothing for a later command to wait for. (A shim killed with
		// stack never gets here, and its Terraform stays on record.)
		if p, err := ReadProcessFile(procPath); err == nil && p.ShimPID == os.Getpid() {
			_ = os.Remove(procPath)
		}
	}
	if interrupted && pgid > 0 {
		// Whatever Terraform's provisioners left in the group goes too (this
		// shim with it; terraform-exec reports the interrupt).
		_ = killGroup(pgid)
	}
	return code
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	return 1
}

// tail copies what is appended to path to dst until exited is closed, then
// the rest.
func tail(path string, dst io.Writer, exited <-chan struct{}) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	buf := make([]byte, 32*1024)
	for {
		n, err := f.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
			continue
		}
		if err != nil && err != io.EOF {
			return
		}
		select {
		case <-exited:
			_, _ = io.Copy(dst, f)
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}
