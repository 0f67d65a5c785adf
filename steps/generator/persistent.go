package generator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/stack-tools/stack/internal/proc"
	"github.com/stack-tools/stack/load"
	"github.com/stack-tools/stack/load/report"
	"github.com/stack-tools/stack/stack"
)

// A generator step with "duration": "forever" is a persistent trickle: `up`
// starts it as a process of its own (`stack generator-run`, in a session
// of its own so it outlives the command) and returns; `down` stops it with
// SIGTERM, after which it writes its last report. Its reports (rolled out
// hourly, and the last) are kept in the user's cache folder
// (stack/reports/STACK/STEP), which `down` leaves in place, on the machine
// that ran `up`. A `down` on another workstation stops it through the store
// (watch.go).

// persistentRun is what Apply leaves for the detached process.
type persistentRun struct {
	Dir     string          `json:"dir"`
	Config  json.RawMessage `json:"config"`
	Reports string          `json:"reports"`
	// MetricsAddr is `up --metrics-addr` (a step's own metrics_addr wins).
	MetricsAddr string `json:"metrics_addr,omitempty"`
	// State (--state), Stack and Step say where the run keeps its mark, ID
	// names the run in it, CheckEvery is how often it reads it (watch.go).
	State      string        `json:"state,omitempty"`
	Stack      string        `json:"stack,omitempty"`
	Step       string        `json:"step,omitempty"`
	ID         string        `json:"id,omitempty"`
	CheckEvery time.Duration `json:"check_every_ns,omitempty"`
}

const persistentFolder = "persistent"

// stripForever takes "duration": "forever" out of a step's JSON (pace's
// durations are Go durations) and says whether it was there.
func stripForever(raw json.RawMessage) (json.RawMessage, bool) {
	var fields map[string]json.RawMessage
	if json.Unmarshal(raw, &fields) != nil {
		return raw, false
	}
	var d string
	if json.Unmarshal(fields["duration"], &d) != nil || d != "forever" {
		return raw, false
	}
	delete(fields, "duration")
	b, err := json.Marshal(fields)
	if err != nil {
		return raw, false
	}
	return b, true
}

func (c *Config) checkForever() error {
	switch {
	case !c.Forever:
		return nil
	case c.Requests != 0:
		return errors.New("\"duration\": \"forever\" runs until `stack down`: drop \"requests\"")
	case c.Workers != nil:
		return errors.New("\"duration\": \"forever\" is not available with \"workers\" yet")
	}
	return nil
}

// startPersistent starts the step's run in a process of its own and waits
// until it runs (or failed to start).
func (k *Kind) startPersistent(ctx context.Context, run *stack.StepRun) (stack.Outputs, error) {
	if k.Exe == "" {
		return nil, errors.New("generator step: this build cannot start a persistent run (no stack executable)")
	}
	if err := k.stopPersistent(ctx, run); err != nil {
		return nil, err
	}
	dir := filepath.Join(run.WorkDir, persistentFolder)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	reports, err := reportsDir(run)
	if err != nil {
		return nil, err
	}
	spec := persistentRun{Dir: run.Dir, Config: run.Config, Reports: reports, MetricsAddr: k.MetricsAddr,
		State: k.State, Stack: run.Stack, Step: run.Step, ID: newRunID(), CheckEvery: k.CheckEvery}
	b, _ := json.Marshal(spec)
	specPath := filepath.Join(dir, "run.json")
	_ = os.Remove(filepath.Join(dir, "ready"))
	if err := os.WriteFile(specPath, b, 0o600); err != nil { // holds the auth token
		return nil, err
	}
	logPath := filepath.Join(dir, "run.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd := exec.Command(k.Exe, "generator-run", specPath)
	cmd.Stdout, cmd.Stderr, cmd.SysProcAttr = logFile, logFile, proc.NewSessionAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("generator step: starting the persistent run: %w", err)
	}
	pid := cmd.Process.Pid
	if err := os.WriteFile(filepath.Join(dir, "pid"), []byte(strconv.Itoa(pid)), 0o600); err != nil {
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	if err := waitReady(ctx, filepath.Join(dir, "ready"), exited); err != nil {
		tail, _ := os.ReadFile(logPath)
		return nil, fmt.Errorf("generator step: the persistent run did not start: %w\n%s", err, lastBytes(tail, 2048))
	}
	fmt.Fprintf(run.Log, "load: persistent run started (pid %d on %s); reports roll into %s; `stack down` stops it\n", pid, proc.Host(), spec.Reports)
	return stack.Outputs{"verdict": {Value: "running"}, "pid": {Value: pid}, "host": {Value: proc.Host()},
		"reports": {Value: spec.Reports}, "run_log": {Value: logPath}}, nil
}

// reportsDir is where a persistent step's reports go: out of the stack's
// state and work folders, which `down` removes.
func reportsDir(run *stack.StepRun) (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("generator step: no cache folder for the persistent run's reports: %w", err)
	}
	return filepath.Join(cache, "stack", "reports", run.Stack, run.Step), nil
}

func waitReady(ctx context.Context, ready string, exited <-chan error) error {
	deadline := time.NewTimer(time.Minute)
	defer deadline.Stop()
	for {
		if _, err := os.Stat(ready); err == nil {
			return nil
		}
		select {
		case err := <-exited:
			return fmt.Errorf("it exited: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return errors.New("no sign of it after a minute")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func lastBytes(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// NotRunning says why a persistent step's run no longer runs, so that `up`
// starts it again (stack.LiveChecker): its process on this workstation is
// gone (killed, or the machine restarted; a pid that now names a process
// started after the run is another's). A run on another workstation cannot
// be seen from here and counts as running; a partition must not start a
// second one.
func (k *Kind) NotRunning(ctx context.Context, run *stack.StepRun) (string, error) {
	if _, forever := stripForever(run.Config); !forever {
		return "", nil
	}
	host, pid, since := proc.Host(), 0, time.Time{}
	if run.Store != nil {
		b, _, err := run.Store.Get(ctx, markKey(run.Stack, run.Step))
		switch {
		case err == nil:
			var m persistentMark
			if json.Unmarshal(b, &m) == nil {
				host, pid, since = m.Host, m.PID, m.Started
			}
		case !errors.Is(err, stack.ErrNotFound):
			return "", fmt.Errorf("reading the persistent run's mark %s: %w", run.Store.Location(markKey(run.Stack, run.Step)), err)
		}
	}
	if pid == 0 {
		// No mark (a run that could not write one): the process this
		// workstation started, if it did.
		var err error
		if pid, since, err = readPidFile(filepath.Join(run.WorkDir, persistentFolder)); err != nil {
			return "", nil
		}
	}
	if host != proc.Host() || pid <= 0 {
		return "", nil
	}
	if gone, detail := processGone(pid, since); gone {
		return fmt.Sprintf("its persistent run (pid %d on %s) no longer runs%s", pid, host, detail), nil
	}
	return "", nil
}

// readPidFile reads the pid of the run this workstation started from the
// working copy's folder dir, and when: the file is written just after the
// process started.
func readPidFile(dir string) (pid int, since time.Time, err error) {
	p := filepath.Join(dir, "pid")
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, time.Time{}, err
	}
	pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	if fi, err := os.Stat(p); err == nil {
		since = fi.ModTime()
	}
	return pid, since, nil
}

// processGone says whether the run that was process pid on this host,
// started by since (zero if unknown), is gone; detail says so when the pid
// names another process now.
func processGone(pid int, since time.Time) (gone bool, detail string) {
	if !proc.Alive(pid) {
		return true, ""
	}
	// The run notes its start after it has started. A minute of slack: a
	// wall clock stepped since (NTP after a laptop wakes) moves the start
	// /proc gives by as much, and a restart takes longer than that.
	if started, ok := proc.Started(pid); ok && !since.IsZero() && started.After(since.Add(time.Minute)) {
		return true, fmt.Sprintf(": pid %d is another process now, started %s", pid, started.Format(time.DateTime))
	}
	return false, ""
}

// stopPersistent stops the step's persistent run: one started on this
// machine with SIGTERM, one started elsewhere through the store.
func (k *Kind) stopPersistent(ctx context.Context, run *stack.StepRun) error {
	local, err := stopLocal(ctx, run)
	if err != nil {
		return err
	}
	return stopElsewhere(ctx, run, local)
}

// stopLocal stops the step's persistent run started on this machine, if
// any, says where its last report is and returns the run's ID.
func stopLocal(ctx context.Context, run *stack.StepRun) (string, error) {
	dir := filepath.Join(run.WorkDir, persistentFolder)
	pid, since, err := readPidFile(dir)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	// A pid that names another process now (the machine restarted) is
	// not signalled.
	if gone, _ := processGone(pid, since); pid > 0 && !gone {
		fmt.Fprintf(run.Log, "load: stopping the persistent run (pid %d)\n", pid)
		if err := proc.Terminate(pid); err != nil {
			return "", fmt.Errorf("generator step: stopping the persistent run (pid %d): %w", pid, err)
		}
		if err := waitGone(ctx, pid); err != nil {
			return "", err
		}
	}
	var spec persistentRun
	if b, err := os.ReadFile(filepath.Join(dir, "run.json")); err == nil && json.Unmarshal(b, &spec) == nil {
		at := filepath.Join(spec.Reports, "load-report.html")
		fmt.Fprintf(run.Log, "load: last report %s\n", at)
		if run.Progress != nil {
			run.Progress("persistent run stopped; last report %s", at)
		}
	}
	return spec.ID, os.Remove(filepath.Join(dir, "pid"))
}

// waitGone waits for pid to exit after SIGTERM (it writes its last report
// first), killing its group after two minutes.
func waitGone(ctx context.Context, pid int) error {
	deadline := time.Now().Add(2 * time.Minute)
	for proc.Alive(pid) {
		if time.Now().After(deadline) {
			_ = proc.KillGroup(pid)
			return fmt.Errorf("generator step: the persistent run (pid %d) did not stop within 2 minutes of SIGTERM; killed", pid)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

// RunPersistent is `stack generator-run FILE`: the persistent run a
// generator step's Apply started, until ctx ends (SIGTERM from `down`).
// Its reports roll into the folder Apply chose; the last one is written
// when it stops.
func (k *Kind) RunPersistent(ctx context.Context, specPath string, log io.Writer) error {
	b, err := os.ReadFile(specPath)
	if err != nil {
		return err
	}
	var spec persistentRun
	if err := json.Unmarshal(b, &spec); err != nil {
		return fmt.Errorf("%s: %w", specPath, err)
	}
	c, err := decode(spec.Config)
	if err != nil {
		return err
	}
	k.MetricsAddr = spec.MetricsAddr
	sc, targets, err := c.source(ctx, spec.Dir)
	if err != nil {
		return err
	}
	if err := c.LoadSenders(ctx, spec.Dir); err != nil {
		return err
	}
	cfg := c.LoadConfig(sc)
	if targets != nil {
		cfg.UseTargets(targets)
	}
	cfg.Forever = &load.Persistent{Roll: func(rep *load.Report) {
		name := "load-report-" + time.Now().UTC().Format("2006-01-02T150405") + ".json"
		if err := writeJSONReport(filepath.Join(spec.Reports, name), rep); err != nil {
			fmt.Fprintf(log, "rolling the report: %v\n", err)
		}
	}}
	cfg.Progress = func(p load.Progress) { fmt.Fprintln(log, p.String()) }
	if err := os.MkdirAll(spec.Reports, 0o700); err != nil {
		return err
	}
	ctx, watch, err := k.startWatch(ctx, &spec, log)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(specPath), "ready"), nil, 0o600); err != nil {
		return err
	}
	rep, err := k.run(ctx, &stack.StepRun{Dir: spec.Dir, Log: log}, c, cfg)
	if err != nil {
		return err
	}
	if watch != nil {
		// Told to stop through the store: the command that removed the
		// mark waits for word, with the last report's gist.
		var gone errMarkGone
		if errors.As(context.Cause(ctx), &gone) {
			defer watch.said(ctx, rep, spec.Reports)
		}
	}
	var page bytes.Buffer
	if err := report.HTML(&page, rep); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(spec.Reports, "load-report.html"), page.Bytes(), 0o600); err != nil {
		return err
	}
	fmt.Fprintf(log, "load: %s %s\n", rep.Verdict, rep.Reason)
	return writeJSONReport(filepath.Join(spec.Reports, "load-report.json"), rep)
}

func writeJSONReport(path string, rep *load.Report) error {
	var b bytes.Buffer
	if err := report.JSON(&b, rep); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b.Bytes(), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
