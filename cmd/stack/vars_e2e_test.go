package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// varsDefinition writes a one-step definition over testdata/modules/echo
// with a plain, a number and a sensitive variable.
func varsDefinition(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	echo := filepath.Join(repoRoot(t), "testdata", "modules", "echo")
	def := `{"name": "vars", "variables": {"greeting": "hello", "count": 1, "token": "none"},
  "sensitive_variables": ["token"],
  "steps": [{"name": "a", "module": "` + echo + `", "vars": {"value": "${var.greeting}-${var.count}", "secret": "${var.token}"}}]}`
	file := filepath.Join(dir, "vars.json")
	if err := os.WriteFile(file, []byte(def), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// --var wins over --var-file, which wins over STACK_VAR_; later flags win.
func TestVarPrecedenceUp(t *testing.T) {
	file := varsDefinition(t)
	w := newWorkstation(t, t.TempDir())
	varFile := filepath.Join(t.TempDir(), "dev.json")
	if err := os.WriteFile(varFile, []byte(`{"greeting": "from-file", "count": 7}`), 0o644); err != nil {
		t.Fatal(err)
	}
	r := w.runEnv([]string{"STACK_VAR_greeting=from-env", "STACK_VAR_count=5"}, "up", file, "--var-file", varFile, "--var", "greeting=first", "--var", "greeting=last")
	if r.code != 0 {
		t.Fatalf("up: exit %d\n%s", r.code, r.stderr)
	}
	if got := w.status("vars").Steps["a"].Outputs["value"].Value; got != "last-7" {
		t.Errorf("value = %v, want last-7 (--var over --var-file over STACK_VAR_)", got)
	}
	// A name the definition does not declare is refused before anything runs.
	r = w.run("up", file, "--var", "greting=x")
	if r.code != 2 || !strings.Contains(r.stderr, `did you mean "greeting"`) {
		t.Errorf("unknown --var: exit %d, want 2 with a suggestion:\n%s", r.code, r.stderr)
	}
}

// A later up without flags keeps the values the stack was brought up with
// and says so; a sensitive value is kept as a digest only, never written to
// the record, the logs or the terminal, and must be given again.
func TestVarsRememberedAcrossUps(t *testing.T) {
	const secret = "tok-S3CRET-4242"
	file := varsDefinition(t)
	stateDir := t.TempDir()
	w := newWorkstation(t, stateDir)
	var out strings.Builder
	run := func(env []string, args ...string) result {
		t.Helper()
		r := w.runEnv(env, args...)
		out.WriteString(r.stdout + r.stderr)
		return r
	}
	if r := run([]string{"STACK_VAR_token=" + secret}, "up", file, "--var", "greeting=hi", "--var", "count=3"); r.code != 0 {
		t.Fatalf("first up: exit %d\n%s", r.code, r.stderr)
	}
	r := run([]string{"STACK_VAR_token=" + secret}, "up", file)
	if r.code != 0 {
		t.Fatalf("second up: exit %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "keeping variables count=3, greeting=hi") || !strings.Contains(r.stderr, "unchanged") {
		t.Errorf("second up does not say it keeps the variables, or re-applied:\n%s", r.stderr)
	}
	if got := w.status("vars").Steps["a"].Outputs["value"].Value; got != "hi-3" {
		t.Errorf("value = %v, want hi-3", got)
	}
	// plan compares with the values the stack keeps, and with those given now.
	if r := run([]string{"STACK_VAR_token=" + secret}, "plan", "vars", file); r.code != 0 {
		t.Errorf("plan with the kept values: exit %d, want 0\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := run([]string{"STACK_VAR_token=" + secret}, "plan", "vars", file, "--var", "greeting=other"); r.code != 2 || !strings.Contains(r.stdout, "changed") {
		t.Errorf("plan with another value: exit %d, want 2\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = run(nil, "up", file)
	if r.code != 2 || !strings.Contains(r.stderr, "STACK_VAR_token") {
		t.Errorf("up without the sensitive value: exit %d, want 2 naming STACK_VAR_token:\n%s", r.code, r.stderr)
	}
	text := run(nil, "status", "vars").stdout
	if !strings.Contains(text, "variables count=3 · greeting=\"hi\" · token=(sensitive)") {
		t.Errorf("status does not show the variables:\n%s", text)
	}
	run(nil, "status", "vars", "--output", "json")
	checkVarNotStored(t, secret, out.String(), stateDir, w.home)
	if r := run([]string{"STACK_VAR_token=" + secret}, "down", "vars"); r.code != 0 {
		t.Fatalf("down: exit %d\n%s", r.code, r.stderr)
	}
}

// checkVarNotStored fails if secret is in the output or in any file of the
// given folders but Terraform's own state, which holds what modules output.
func checkVarNotStored(t *testing.T, secret, output string, dirs ...string) {
	t.Helper()
	if strings.Contains(output, secret) {
		t.Errorf("the sensitive value is in the command output")
	}
	for _, d := range dirs {
		_ = filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() || strings.Contains(e.Name(), ".tfstate") {
				return nil
			}
			if b, err := os.ReadFile(p); err == nil && strings.Contains(string(b), secret) {
				t.Errorf("the sensitive value is in %s", p)
			}
			return nil
		})
	}
}
