package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// runRoot runs the stack command in this process with args and returns what
// it printed on stdout and stderr.
func runRoot(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err = root.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

// everyCommand walks the command tree, root included.
func everyCommand(c *cobra.Command, fn func(*cobra.Command)) {
	fn(c)
	for _, sub := range c.Commands() {
		everyCommand(sub, fn)
	}
}

// A back-quoted word in a flag's usage becomes the flag's value name in
// --help (`--ttl stack reap`). Only upper-case placeholders are meant so.
func TestHelpFlagsHaveNoAccidentalValueNames(t *testing.T) {
	placeholder := regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)
	everyCommand(newRootCmd(), func(c *cobra.Command) {
		check := func(f *pflag.Flag) {
			name, _ := pflag.UnquoteUsage(f)
			if strings.Contains(f.Usage, "`") && !placeholder.MatchString(name) {
				t.Errorf("%s --%s: usage back-quotes %q, which --help shows as the flag's value name", c.CommandPath(), f.Name, name)
			}
		}
		c.LocalFlags().VisitAll(check)
		c.InheritedFlags().VisitAll(check)
	})
	// What a user sees: no command name in the flag column.
	out, _, err := runRoot(t, "up", "--help")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "--ttl stack") || strings.Contains(out, "--refresh stack") {
		t.Errorf("up --help shows a command as a value name:\n%s", out)
	}
}

// Every command, cobra's own included, shows at least one example.
func TestHelpEveryCommandHasAnExample(t *testing.T) {
	n := 0
	everyCommand(newRootCmd(), func(c *cobra.Command) {
		n++
		if strings.TrimSpace(c.Example) == "" {
			t.Errorf("%s has no Example", c.CommandPath())
		}
	})
	if n < 15 {
		t.Errorf("walked %d commands: the tree is smaller than expected", n)
	}
	out, _, err := runRoot(t, "down", "--help")
	if err != nil || !strings.Contains(out, "Examples:\n  stack down demo") {
		t.Errorf("down --help shows no example (%v):\n%s", err, out)
	}
}

// --lock-timeout says what happens by default on every command that has it.
func TestHelpLockTimeoutDescribesItsDefault(t *testing.T) {
	var seen []string
	everyCommand(newRootCmd(), func(c *cobra.Command) {
		if f := c.LocalFlags().Lookup("lock-timeout"); f != nil {
			seen = append(seen, c.Name())
			if !strings.Contains(f.Usage, "fail at once") {
				t.Errorf("%s --lock-timeout does not say its default: %q", c.CommandPath(), f.Usage)
			}
		}
	})
	if len(seen) < 4 {
		t.Errorf("--lock-timeout found on %v only; want up, down, rerun-step and reap", seen)
	}
}

// "workers" means fleet machines only; the connection cap is
// --max-connections, and the old --max-workers still works, hidden.
func TestHelpOneWordForWorkers(t *testing.T) {
	everyCommand(newRootCmd(), func(c *cobra.Command) {
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if strings.Contains(f.Name, "worker") && !f.Hidden && strings.Contains(f.Usage, "connection") {
				t.Errorf("%s --%s: a workers flag about connections", c.CommandPath(), f.Name)
			}
		})
	})
	load, _, err := newRootCmd().Find([]string{"load"})
	if err != nil {
		t.Fatal(err)
	}
	if load.Flags().Lookup("max-connections") == nil {
		t.Fatal("load has no --max-connections")
	}
	old := load.Flags().Lookup("max-workers")
	if old == nil || !old.Hidden || old.Deprecated == "" {
		t.Fatalf("load --max-workers should stay as a hidden, deprecated alias: %+v", old)
	}
	if err := load.Flags().Parse([]string{"--max-workers", "8"}); err != nil {
		t.Fatal(err)
	}
	if got := load.Flags().Lookup("max-connections").Value.String(); got != "8" {
		t.Errorf("--max-workers 8 set --max-connections to %s", got)
	}
	out, _, _ := runRoot(t, "load", "--help")
	if strings.Contains(out, "max-workers") {
		t.Errorf("load --help still shows --max-workers:\n%s", out)
	}
}

// graph -o json prints the graph as JSON instead of ignoring -o.
func TestHelpGraphOutputJSON(t *testing.T) {
	file := filepath.Join(repoRoot(t), "stacks", "demo.json")
	out, _, err := runRoot(t, "graph", file, "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Name  string
		Steps []struct {
			Name, Kind string
			After      []string
		}
	}
	if err := json.Unmarshal([]byte(out), &g); err != nil {
		t.Fatalf("graph -o json is not JSON (%v):\n%s", err, out)
	}
	if g.Name != "demo" || len(g.Steps) != 9 {
		t.Fatalf("graph -o json: %+v", g)
	}
	for _, s := range g.Steps {
		if s.Name == "load" && (s.Kind != "generator" || len(s.After) == 0) {
			t.Errorf("load step: %+v", s)
		}
	}
}
