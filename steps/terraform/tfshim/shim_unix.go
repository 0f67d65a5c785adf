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
	"sync/atomic"
	"syscall"
	"time"
)

// shimSupported says whether Kind.Shim is used on this platform.
const shimSupported = true

func runShim(bin string) int {
	procPath, fencePath, grace := settings()
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
	outPath, errPath, outW, errW, err := outputFiles(dir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "stack: %v\n", err)
		return 1
	}
	// The keeper starts before Terraform: a shim killed the moment Terraform
	// started must not leave it unfenced.
	defer keepFence(pgid, fencePath)()
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

	sup := &supervisor{cmd: cmd, pgid: pgid, grace: grace}
	werr := sup.run(sigs, fencePath)
	close(exited)
	<-relayed
	<-relayed
	_ = os.Remove(outPath)
	_ = os.Remove(errPath)
	code := exitCode(werr)
	forget(procPath)
	if sup.interrupted && pgid > 0 {
		// Whatever Terraform's provisioners left in the group goes too (this
		// shim with it; terraform-exec reports the interrupt).
		_ = killGroup(pgid)
	}
	return code
}

// settings reads what the terraform kind tells the shim, and removes it from
// the environment Terraform inherits.
func settings() (procPath, fencePath string, grace time.Duration) {
	procPath, fencePath = os.Getenv(ProcFileEnv), os.Getenv(FenceEnv)
	grace, err := time.ParseDuration(os.Getenv(GraceEnv))
	if err != nil || grace <= 0 {
		grace = DefaultGrace
	}
	for _, e := range []string{ExecEnv, ProcFileEnv, GraceEnv, FenceEnv} {
		_ = os.Unsetenv(e)
	}
	return procPath, fencePath, grace
}

// outputFiles creates the files Terraform writes its output to, in dir.
func outputFiles(dir string) (outPath, errPath string, outW, errW *os.File, err error) {
	outPath = filepath.Join(dir, fmt.Sprintf("terraform-%d.stdout", os.Getpid()))
	errPath = filepath.Join(dir, fmt.Sprintf("terraform-%d.stderr", os.Getpid()))
	outW, err1 := os.OpenFile(outPath, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	errW, err2 := os.OpenFile(errPath, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	return outPath, errPath, outW, errW, errors.Join(err1, err2)
}

// forget removes the process record once Terraform is done: nothing for a
// later command to wait for. (A shim killed with stack never gets here, and
// its Terraform stays on record.)
func forget(procPath string) {
	if procPath == "" {
		return
	}
	if p, err := ReadProcessFile(procPath); err == nil && p.ShimPID == os.Getpid() {
		_ = os.Remove(procPath)
	}
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

// supervisor relays interrupts to Terraform's process group and enforces the
// lease's fence: the shim runs apart from stack, so a stack that is paused or
// cut off from the store cannot keep Terraform writing past its lease.
type supervisor struct {
	cmd         *exec.Cmd
	pgid        int
	grace       time.Duration
	interrupted bool
	killed      atomic.Bool // set from the grace timer too
}

// run waits for Terraform, interrupting it on a signal or at the fence's
// interrupt deadline, and killing it a grace period after an interrupt or at
// the fence's kill deadline, whichever comes first.
func (s *supervisor) run(sigs <-chan os.Signal, fencePath string) error {
	waited := make(chan error, 1)
	go func() { waited <- s.cmd.Wait() }()
	tick := time.NewTicker(fenceCheckEvery)
	defer tick.Stop()
	for {
		select {
		case err := <-waited:
			return err
		case <-sigs:
			s.interrupt() // a repeat, or our own broadcast, changes nothing
		case <-tick.C:
			s.checkFence(fencePath)
		}
	}
}

func (s *supervisor) checkFence(path string) {
	if path == "" || s.killed.Load() {
		return
	}
	f, err := ReadFence(path)
	if err != nil {
		return // released: stack is done with the lease
	}
	now := time.Now()
	if now.After(f.KillAt) {
		fmt.Fprintf(os.Stderr, "stack: the lock of this stack may expire now (not renewed in time): killing %s\n", command(s.cmd.Args[1:]))
		s.kill()
		return
	}
	if now.After(f.InterruptAt) && !s.interrupted {
		fmt.Fprintf(os.Stderr, "stack: the lock of this stack was not renewed in time: interrupting %s (killed at %s if still running)\n",
			command(s.cmd.Args[1:]), f.KillAt.Local().Format(time.TimeOnly))
		s.interrupt()
	}
}

func (s *supervisor) interrupt() {
	if s.interrupted {
		return
	}
	s.interrupted = true
	if s.pgid > 0 {
		_ = interruptGroup(s.pgid)
	} else {
		_ = s.cmd.Process.Signal(os.Interrupt)
	}
	time.AfterFunc(s.grace, s.kill)
}

func (s *supervisor) kill() {
	s.killed.Store(true)
	if s.pgid > 0 {
		_ = killGroup(s.pgid)
	} else {
		_ = s.cmd.Process.Kill()
	}
}
