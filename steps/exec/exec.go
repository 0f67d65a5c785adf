// Package exec is the "exec" step kind: it runs a command (a test suite, a
// smoke script) in a working copy of the step's module folder, with the step's
// resolved vars as environment variables and as a JSON file, and takes its
// exit code as the step's verdict. Sensitive vars reach the command only
// through a file of mode 0600 (never its argv or environment). Its stdout and
// stderr are stored with the stack; JUnit XML results, when the step names
// the file the command writes them to, become per-test outputs.
package exec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/stack-tools/stack/stack"
)

// Command is what runs: an argv, or a shell script for `sh -c`.
type Command struct {
	// Command is the argv; the program is looked up in PATH, or relative to
	// the working copy when it contains a slash ("./smoke.sh").
	Command []string `json:"command,omitempty"`
	// Shell is a script run by `/bin/sh -c` when pipes or globbing are wanted.
	Shell string `json:"shell,omitempty"`
	// Timeout stops the command (its whole process group) after this long (default 30m).
	Timeout Duration `json:"timeout,omitempty"`
}

// Config is the kind-specific part of an exec step.
type Config struct {
	Command
	// JUnit is where the command writes JUnit XML results, relative to the
	// working copy ("out/junit.xml").
	JUnit string `json:"junit,omitempty"`
	// Run is "on-change" (the default: like any step, run again only when
	// the module folder, the step or its inputs change) or "always" (on every up).
	Run string `json:"run,omitempty"`
	// Destroy runs on `stack down`, in a fresh working copy with the same inputs.
	Destroy *Command `json:"destroy,omitempty"`
}

// Duration is a Go duration string in JSON ("30s", "10m").
type Duration time.Duration

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration string such as \"30s\" or \"10m\", got %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want a duration such as \"30s\" or \"10m\": %w", err)
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// DefaultTimeout bounds commands whose step names no timeout.
const DefaultTimeout = 30 * time.Minute

// Kind implements stack.StepKind.
type Kind struct{}

// New returns the exec step kind.
func New() *Kind { return &Kind{} }

// NeedsModule implements stack.StepKind: the module is the folder holding
// the command's files (tests, scripts), copied into the step's working copy.
func (*Kind) NeedsModule() bool { return true }

const fields = "command, shell, timeout, junit, run, destroy"

func decode(raw json.RawMessage) (*Config, error) {
	var c Config
	if err := stack.DecodeStrict(raw, &c); err != nil {
		return nil, fmt.Errorf("exec step: %w (fields: %s)", err, fields)
	}
	return &c, nil
}

// RunsAlways implements stack.AlwaysRunner.
func (*Kind) RunsAlways(raw json.RawMessage) bool {
	var c struct {
		Run string `json:"run"`
	}
	return json.Unmarshal(raw, &c) == nil && c.Run == "always"
}

// Validate implements stack.StepKind.
func (*Kind) Validate(raw json.RawMessage) error {
	c, err := decode(raw)
	if err != nil {
		return err
	}
	return c.check()
}

// outputRef finds references to step outputs: the command line may name
// variables and the stack, but outputs (some sensitive) must come in as vars.
var outputRef = regexp.MustCompile(`\$\{\s*(steps|outputs)\.[^}]*\}`)

func (c *Config) check() error {
	fail := func(format string, args ...any) error { return fmt.Errorf("exec step: "+format, args...) }
	if err := c.Command.check("", "\"command\": [\"./smoke.sh\", \"--fast\"]"); err != nil {
		return fail("%w", err)
	}
	if c.Destroy != nil {
		if err := c.Destroy.check("destroy.", "\"destroy\": {\"command\": [\"./cleanup.sh\"]}"); err != nil {
			return fail("%w", err)
		}
	}
	if c.Run != "" && c.Run != "on-change" && c.Run != "always" {
		return fail("\"run\" %q: use \"on-change\" (the default) or \"always\"", c.Run)
	}
	if c.JUnit != "" {
		if filepath.IsAbs(c.JUnit) || strings.HasPrefix(filepath.Clean(c.JUnit), "..") {
			return fail("\"junit\" %q must be a path inside the working copy, such as \"out/junit.xml\"", c.JUnit)
		}
	}
	return nil
}

func (c *Command) check(prefix, example string) error {
	switch {
	case len(c.Command) == 0 && c.Shell == "":
		return fmt.Errorf("give %q (an argv) or %q (a script for sh -c), such as %s", prefix+"command", prefix+"shell", example)
	case len(c.Command) > 0 && c.Shell != "":
		return fmt.Errorf("give %q or %q, not both", prefix+"command", prefix+"shell")
	case len(c.Command) > 0 && c.Command[0] == "":
		return fmt.Errorf("%q: the program (first element) is empty", prefix+"command")
	case c.Timeout < 0:
		return fmt.Errorf("%q must be positive", prefix+"timeout")
	}
	for _, s := range append([]string{c.Shell}, c.Command...) {
		if m := outputRef.FindString(s); m != "" {
			return fmt.Errorf("%q names %s: step outputs (some of them sensitive) must not reach a command line; pass it in \"vars\" instead and read it from the environment or $STACK_INPUTS", prefix+"command", m)
		}
	}
	return nil
}

// Apply implements stack.StepKind: it runs the command and reports its verdict.
func (k *Kind) Apply(ctx context.Context, run *stack.StepRun) (stack.Outputs, error) {
	c, err := decode(run.Config)
	if err != nil {
		return nil, err
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	res, err := execute(ctx, run, &c.Command, c.JUnit, "")
	if err != nil {
		return nil, fmt.Errorf("exec step: %w", err)
	}
	outs, err := res.store(ctx, run)
	if err != nil {
		return nil, fmt.Errorf("exec step: %w", err)
	}
	if why := res.verdict(c.JUnit); why != "" {
		return nil, &stack.FailedRun{Err: errors.New(why), Outputs: outs}
	}
	return outs, nil
}

// Destroy implements stack.StepKind: it runs the "destroy" command, if any.
func (k *Kind) Destroy(ctx context.Context, run *stack.StepRun) error {
	c, err := decode(run.Config)
	if err != nil {
		return err
	}
	if c.Destroy == nil {
		return nil
	}
	res, err := execute(ctx, run, c.Destroy, "", "destroy-")
	if err != nil {
		return fmt.Errorf("exec step destroy: %w", err)
	}
	res.logTails(run.Log)
	if why := res.verdict(""); why != "" {
		return fmt.Errorf("exec step destroy: %s (see the step's destroy log)", why)
	}
	return nil
}
