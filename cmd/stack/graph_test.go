package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stack-tools/stack/stack"
)

// dotSVG renders dot text with Graphviz (Debian's graphviz, installed by
// scripts/test) and fails the test if dot rejects it.
func dotSVG(t *testing.T, dot string) string {
	t.Helper()
	bin, err := exec.LookPath("dot")
	if err != nil {
		t.Fatalf("Graphviz's dot is not installed (scripts/test installs Debian's graphviz): %v", err)
	}
	cmd := exec.Command(bin, "-Tsvg")
	cmd.Stdin = strings.NewReader(dot)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil || errb.Len() > 0 {
		t.Fatalf("dot -Tsvg rejected the graph: %v\n%s\ngraph:\n%s", err, errb.String(), dot)
	}
	return out.String()
}

// Acceptance: `stack graph stacks/demo.json --format dot` is accepted by
// `dot -Tsvg`; the Mermaid form has one node per step and one edge per
// dependency; the profile is applied.
func TestGraphOfADefinition(t *testing.T) {
	g := &globalOptions{cacheDir: t.TempDir()}
	render := func(format, profile string) string {
		var out bytes.Buffer
		o := &graphOptions{Target: filepath.Join(repoRoot(t), "stacks", "demo.json"), Format: format, Profile: profile,
			runEnv: runEnv{Out: &out, Registry: func() *stack.Registry { return newRegistry(g) }}}
		if err := runGraph(context.Background(), o); err != nil {
			t.Fatalf("graph --format %s: %v", format, err)
		}
		return out.String()
	}
	dot := render("dot", "production")
	svg := dotSVG(t, dot)
	for _, step := range []string{"network", "database", "web", "load"} {
		if !strings.Contains(svg, ">"+step+"</text>") {
			t.Errorf("the SVG has no node %s", step)
		}
	}
	if !strings.Contains(dot, `"network" -> "database"`) || !strings.Contains(dot, `"web" -> "load"`) || !strings.Contains(dot, "profile production") {
		t.Errorf("dot output lacks edges or the profile:\n%s", dot)
	}
	mm := render("mermaid", "")
	if !strings.Contains(mm, "flowchart LR") || strings.Count(mm, "[\"") != 9 || strings.Count(mm, " --> ") != 12 {
		t.Errorf("mermaid output: want 9 nodes and 12 edges (the web step posts replies to the sink):\n%s", mm)
	}

	var out bytes.Buffer
	err := runGraph(context.Background(), &graphOptions{Target: "stacks/demo.json", Format: "png", runEnv: runEnv{Out: &out}})
	if _, ok := err.(*usageError); !ok || !strings.Contains(err.Error(), "--format") {
		t.Errorf("--format png: %v, want a usage error naming --format", err)
	}
}

// Acceptance: `up` without --profile on a production-profile demo keeps
// production and says so, running nothing; changing it needs --profile and up
// says so. The stack's graph shows step status; plan calls the generator step
// not applicable.
func TestUpKeepsTheStacksProfile(t *testing.T) {
	state := t.TempDir()
	w := newWorkstation(t, state)
	w.must("up", "stacks/demo.json", "--profile", "production", "--only", "network,queue")

	r := w.runEnv([]string{"STACK_TERRAFORM=/nonexistent/terraform"}, "up", "stacks/demo.json", "--only", "network,queue")
	if r.code != 0 || !strings.Contains(r.stderr, "keeping profile production") {
		t.Fatalf("up without --profile: exit %d\n%s", r.code, r.stderr)
	}
	if s := w.status("demo"); s.Profile != "production" {
		t.Errorf("the stack's profile is now %q, want production", s.Profile)
	}

	r = w.must("graph", "demo")
	svg := dotSVG(t, r.stdout)
	if !strings.Contains(r.stdout, `"network" [label="network\nterraform network\napplied", fillcolor="#b7e1b0"]`) ||
		!strings.Contains(r.stdout, `"web" [label="web\nterraform web\npending", fillcolor="#e6e6e6"]`) || !strings.Contains(svg, "#b7e1b0") {
		t.Errorf("graph of the stack lacks status colours:\n%s", r.stdout)
	}

	code, rep := w.plan("demo")
	if code != 0 || statuses(rep)["load"] != "not applicable" || statuses(rep)["network"] != "unchanged" || statuses(rep)["web"] != "not applied" {
		t.Errorf("plan of the demo: exit %d %v", code, statuses(rep))
	}

	r = w.must("up", "stacks/demo.json", "--profile", "minimal", "--only", "network,queue")
	if !strings.Contains(r.stderr, "changing the profile from production to minimal") {
		t.Errorf("up --profile minimal does not say it changes the profile:\n%s", r.stderr)
	}
	if s := w.status("demo"); s.Profile != "minimal" {
		t.Errorf("the stack's profile is %q, want minimal", s.Profile)
	}
}

// `stack --help` lists the new commands, and each shows examples.
func TestHelpListsPlanGraphReap(t *testing.T) {
	w := newWorkstation(t, t.TempDir())
	help := w.must("--help").stdout
	for _, c := range []string{"plan", "graph", "reap"} {
		if !strings.Contains(help, "\n  "+c+" ") {
			t.Errorf("stack --help does not list %s:\n%s", c, help)
		}
		if h := w.must(c, "--help").stdout; !strings.Contains(h, "Examples:\n  stack "+c) {
			t.Errorf("stack %s --help has no examples:\n%s", c, h)
		}
	}
	if h := w.must("up", "--help").stdout; !strings.Contains(h, "--ttl") {
		t.Errorf("stack up --help does not show --ttl:\n%s", h)
	}
}
