package exec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/stack-tools/stack/internal/proc"
	"github.com/stack-tools/stack/stack"
)

// Files and environment the command gets besides the step's vars.
const (
	// EnvInputs names the JSON file of the step's non-sensitive vars.
	EnvInputs = "STACK_INPUTS"
	// EnvSecrets names the JSON file (mode 0600) of the step's sensitive vars:
	// the only way they reach the command.
	EnvSecrets = "STACK_SECRETS"
)

// result is what one run of a command left.
type result struct {
	prefix   string // "" for apply, "destroy-" for destroy
	shown    string // the command as people see it
	exitCode int
	timedOut bool
	timeout  time.Duration
	stdout   []byte // redacted
	stderr   []byte // redacted
	junit    []byte // redacted JUnit XML as written, nil when none
	tests    *Results
	junitErr error
	// where the artifacts went (set by store)
	stdoutAt, stderrAt string
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// execute runs c in a fresh working copy of the step's module and collects
// what it printed and, when junit is set, the results it wrote there. The
// error is for a command that could not be run (or was interrupted), not for
// one that failed.
func execute(ctx context.Context, run *stack.StepRun, c *Command, junit, prefix string) (*result, error) {
	work := filepath.Join(run.WorkDir, "copy")
	if err := os.RemoveAll(work); err != nil {
		return nil, err
	}
	if err := copyDir(run.Module, work); err != nil {
		return nil, fmt.Errorf("making the working copy of %s: %w", run.Module, err)
	}
	env, secrets, cleanup, err := inputs(run, work)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	timeout := DefaultTimeout
	if c.Timeout > 0 {
		timeout = time.Duration(c.Timeout)
	}
	res := &result{prefix: prefix, shown: shown(c), timeout: timeout}
	outPath := filepath.Join(run.WorkDir, prefix+"stdout.txt")
	errPath := filepath.Join(run.WorkDir, prefix+"stderr.txt")
	if err := res.start(ctx, run, c, work, env, outPath, errPath); err != nil {
		return nil, err
	}
	red := newRedactor(secrets)
	for _, f := range []struct {
		path string
		into *[]byte
	}{{outPath, &res.stdout}, {errPath, &res.stderr}} {
		b, err := os.ReadFile(f.path)
		if err != nil {
			return nil, err
		}
		*f.into = red.apply(b)
		_ = os.WriteFile(f.path, *f.into, 0o600) // what stays on disk is redacted too
	}
	if junit != "" {
		b, err := os.ReadFile(filepath.Join(work, junit))
		switch {
		case errors.Is(err, os.ErrNotExist):
			res.junitErr = fmt.Errorf("the command wrote no JUnit results at %s (\"junit\")", junit)
		case err != nil:
			res.junitErr = err
		default:
			res.junit = red.apply(b)
			res.tests, res.junitErr = ParseJUnit(res.junit)
			if res.junitErr != nil {
				res.junitErr = fmt.Errorf("JUnit results at %s: %w", junit, res.junitErr)
			}
		}
	}
	return res, nil
}

// start runs the command to its end in a process group of its own, which is
// killed on timeout or interruption.
func (res *result) start(ctx context.Context, run *stack.StepRun, c *Command, work string, env []string, outPath, errPath string) error {
	stdout, err := os.OpenFile(outPath, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer stdout.Close()
	stderr, err := os.OpenFile(errPath, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer stderr.Close()
	tctx, cancel := context.WithTimeout(ctx, res.timeout)
	defer cancel()
	cmd := command(tctx, c, work)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = work, env, stdout, stderr
	cmd.SysProcAttr = proc.OwnGroupAttr()
	cmd.Cancel = func() error {
		if proc.KillGroup(cmd.Process.Pid) != nil {
			return cmd.Process.Kill()
		}
		return nil
	}
	cmd.WaitDelay = 5 * time.Second
	if run.Progress != nil {
		run.Progress("running %s", res.shown)
	}
	fmt.Fprintf(run.Log, "exec: %s%s (in %s, timeout %s)\n", res.prefix, res.shown, work, res.timeout)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", res.shown, err)
	}
	if run.SetProcess != nil {
		run.SetProcess(&stack.Process{Host: proc.Host(), PID: cmd.Process.Pid, PGID: cmd.Process.Pid,
			Command: res.shown, Started: time.Now().UTC()})
		defer run.SetProcess(nil)
	}
	err = cmd.Wait()
	if ctx.Err() != nil {
		return fmt.Errorf("%s: interrupted: %w", res.shown, context.Cause(ctx))
	}
	res.timedOut = tctx.Err() != nil
	var exit *osexec.ExitError
	switch {
	case errors.As(err, &exit):
		res.exitCode = exit.ExitCode()
	case err != nil && !res.timedOut:
		return fmt.Errorf("running %s: %w", res.shown, err)
	}
	fmt.Fprintf(run.Log, "exec: exit status %d\n", res.exitCode)
	return nil
}

func command(ctx context.Context, c *Command, work string) *osexec.Cmd {
	if c.Shell != "" {
		return osexec.CommandContext(ctx, "/bin/sh", "-c", c.Shell)
	}
	prog := c.Command[0]
	if strings.ContainsRune(prog, '/') && !filepath.IsAbs(prog) {
		prog = filepath.Join(work, prog)
	}
	return osexec.CommandContext(ctx, prog, c.Command[1:]...)
}

func shown(c *Command) string {
	if c.Shell != "" {
		return "sh -c " + quote(c.Shell)
	}
	parts := make([]string, len(c.Command))
	for i, a := range c.Command {
		parts[i] = quote(a)
	}
	return strings.Join(parts, " ")
}

func quote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// inputs writes the step's vars where the command finds them: non-sensitive
// ones as environment variables and in $STACK_INPUTS, sensitive ones only in
// $STACK_SECRETS (mode 0600, removed by cleanup). It returns the environment
// and the sensitive values (to redact from what the command prints).
func inputs(run *stack.StepRun, work string) (env []string, secrets []any, cleanup func(), err error) {
	plain, hidden := map[string]any{}, map[string]any{}
	env = os.Environ()
	names := make([]string, 0, len(run.Vars))
	for k := range run.Vars {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		v := run.Vars[k]
		if run.SensitiveVars[k] {
			hidden[k] = v
			secrets = append(secrets, v)
			continue
		}
		if !envName.MatchString(k) {
			return nil, nil, nil, fmt.Errorf("var %q cannot be an environment variable name: rename it in \"vars\" (letters, digits and _, not starting with a digit)", k)
		}
		plain[k] = v
		env = append(env, k+"="+text(v))
	}
	inPath := filepath.Join(run.WorkDir, "inputs.json")
	secPath := filepath.Join(run.WorkDir, "secrets.json")
	cleanup = func() { _ = os.Remove(secPath) }
	if err := writeJSON(inPath, plain); err != nil {
		return nil, nil, nil, err
	}
	if err := writeJSON(secPath, hidden); err != nil {
		cleanup()
		return nil, nil, nil, err
	}
	env = append(env, "STACK_NAME="+run.Stack, "STACK_STEP="+run.Step, "STACK_PROFILE="+run.Profile,
		EnvInputs+"="+inPath, EnvSecrets+"="+secPath, "STACK_WORKDIR="+work)
	return env, secrets, cleanup, nil
}

// writeJSON writes v to path with mode 0600, replacing what was there (a
// file of another mode is removed first: OpenFile keeps an existing mode).
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_ = os.Remove(path)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// text is a var's value as an environment variable: strings as they are,
// anything else as JSON.
func text(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}
