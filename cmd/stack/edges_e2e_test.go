package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stack-tools/stack/engine"
)

// Mistakes on the command line exit 2 with a message that says what is wrong,
// and change nothing.
func TestCommandLineMistakesExit2(t *testing.T) {
	dir := t.TempDir()
	w := newWorkstation(t, filepath.Join(dir, "state"))
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"nosuch"}, `unknown command "nosuch"`},
		{[]string{"--state", "s3:/bucket/x", "list"}, "s3://BUCKET/PREFIX"},
		{[]string{"--state", "s3:bucket", "list"}, "s3://BUCKET/PREFIX"},
		{[]string{"--state", "gs://bucket/x", "list"}, "s3://BUCKET/PREFIX"},
		{[]string{"--state", "https://example.com/x", "list"}, "s3://BUCKET/PREFIX"},
		// A seed above 2^53 would come back changed from the report's JSON.
		{[]string{"load", "--scenario", "track-events", "--target", "http://127.0.0.1:9/x", "--rate", "1", "--requests", "1", "--seed", "9007199254740993"}, "--seed: at most 9007199254740992"},
	}
	for _, c := range cases {
		r := w.run(c.args...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("stack %s: exit %d, want 2 with %q:\n%s", strings.Join(c.args, " "), r.code, c.want, r.stderr)
		}
	}
	// stack plan's 2 means drift (as with terraform plan -detailed-exitcode):
	// its mistakes exit 1, so a script cannot read a typo as drift.
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"name": "x", "steps": [{"name": "a", "modul": "m"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"plan"}, "plan takes NAME"},
		{[]string{"plan", "x", "--parallelism", "0"}, "--parallelism"},
		{[]string{"plan", "x", "--nosuch"}, "--nosuch"},
		{[]string{"plan", "x", bad}, "modul"},
	} {
		r := w.run(c.args...)
		if r.code != 1 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("stack %s: exit %d, want 1 with %q:\n%s", strings.Join(c.args, " "), r.code, c.want, r.stderr)
		}
	}
	// A mistyped S3 URL must not quietly become a local folder.
	entries, _ := os.ReadDir(repoRoot(t))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "s3:") || strings.HasPrefix(e.Name(), "gs:") || strings.HasPrefix(e.Name(), "https:") {
			t.Errorf("a --state URL made the folder %s", e.Name())
		}
	}
	r := w.must("--version")
	if !strings.HasPrefix(r.stdout, "stack version ") {
		t.Errorf("--version printed %q", r.stdout)
	}
}

// The rough edges a first user met, on one small stack: rerun-step of a step
// that does not exist, unlock of a stack that does not exist, the prune hint,
// JSON events on stdout, and text without \u003c escapes.
func TestCommandMessagesOnAStack(t *testing.T) {
	state := t.TempDir()
	dir := t.TempDir()
	sleep := filepath.Join(repoRoot(t), "testdata", "modules", "sleep")
	def := filepath.Join(dir, "edges.json")
	write := func(steps string) {
		t.Helper()
		if err := os.WriteFile(def, []byte(`{"name":"edges","steps":[`+steps+`]}`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	one := fmt.Sprintf(`{"name":"web","module":%q,"vars":{"seconds":0,"tag":"<b>&amp;"}}`, sleep)
	two := fmt.Sprintf(`{"name":"extra","module":%q,"vars":{"seconds":0,"tag":"x"}}`, sleep)
	write(one + "," + two)
	w := newWorkstation(t, state)
	w.must("up", def, "--name", "edges-b")

	r := w.run("rerun-step", "edges-b", "nosuch")
	if r.code != 2 || !strings.Contains(r.stderr, `no step "nosuch"`) || !strings.Contains(r.stderr, "web, extra") ||
		strings.Contains(r.stderr, "invalid stack definition") {
		t.Errorf("rerun-step of a missing step: exit %d, want 2 naming the step and listing the steps:\n%s", r.code, r.stderr)
	}
	r = w.run("unlock", "nosuch")
	if r.code == 0 || !strings.Contains(r.stderr, "no such stack") {
		t.Errorf("unlock of a missing stack: exit %d:\n%s", r.code, r.stderr)
	}
	if r := w.run("unlock", "edges-b"); r.code != 0 || !strings.Contains(r.stderr, "was not locked") {
		t.Errorf("unlock of an unlocked stack: exit %d:\n%s", r.code, r.stderr)
	}

	// Text shows "<b>&amp;" as written.
	for _, args := range [][]string{{"status", "edges-b"}, {"outputs", "edges-b"}} {
		out := w.must(args...).stdout
		if strings.Contains(out, `\u003c`) || strings.Contains(out, `\u0026`) || !strings.Contains(out, `"<b>&amp;"`) {
			t.Errorf("stack %s escapes its text:\n%s", args[0], out)
		}
	}

	// up -o json: event lines on stdout, one JSON object each; nothing else there.
	r = w.must("up", def, "--name", "edges-b", "-o", "json")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	unchanged := 0
	for _, l := range lines {
		var ev engine.Event
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("up -o json: stdout line %q is not an event: %v\nstdout:\n%s", l, err, r.stdout)
		}
		if ev.Type == engine.EventUnchanged {
			unchanged++
		}
	}
	if unchanged != 2 || strings.Contains(r.stderr, `"type"`) {
		t.Errorf("up -o json: %d unchanged events on stdout (want 2); stderr:\n%s", unchanged, r.stderr)
	}

	// Dropping a step: the hint repeats --name, so following it prunes this stack.
	write(one)
	r = w.run("up", def, "--name", "edges-b")
	want := "stack up " + def + " --name edges-b --prune"
	if r.code != 2 || !strings.Contains(r.stderr, want) {
		t.Fatalf("up without a step: exit %d, want 2 with the hint %q:\n%s", r.code, want, r.stderr)
	}
	w.must("up", def, "--name", "edges-b", "--prune")
	if s := w.status("edges-b"); len(s.Steps) != 1 {
		t.Errorf("after the hinted prune the stack has steps %v", s.Steps)
	}
	w.must("down", "edges-b")
}

// A STACK_TERRAFORM that points nowhere is named as the problem.
func TestWrongStackTerraformIsNamed(t *testing.T) {
	dir := t.TempDir()
	sleep := filepath.Join(repoRoot(t), "testdata", "modules", "sleep")
	def := filepath.Join(dir, "tf.json")
	_ = os.WriteFile(def, []byte(fmt.Sprintf(`{"name":"tfpath","steps":[{"name":"a","module":%q,"vars":{"seconds":0}}]}`, sleep)), 0o644)
	w := newWorkstation(t, filepath.Join(dir, "state"))
	r := w.runEnv([]string{"STACK_TERRAFORM=/nonexistent/terraform"}, "up", def)
	if r.code != 1 || !strings.Contains(r.stderr, "STACK_TERRAFORM=/nonexistent/terraform") || strings.Contains(r.stderr, "1.9.0") {
		t.Errorf("up with a wrong STACK_TERRAFORM: exit %d:\n%s", r.code, r.stderr)
	}
}
