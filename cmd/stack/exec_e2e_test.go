package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// smokeSuite tests the demo's outputs and writes JUnit XML; in mode "fail"
// two of its tests expect what the demo does not give. It copies the
// database password to $TRUTH (outside the stack's state, for the test to
// know it) and prints it, which the stored output must not show.
const smokeSuite = `#!/bin/sh
mode=$1
pw=$(sed -n 's/.*"DB_PASSWORD": "\(.*\)".*/\1/p' "$STACK_SECRETS")
printf %s "$pw" > "$TRUTH"
echo "connecting with password $pw"
mkdir -p out
exec > out/junit.xml
echo '<testsuites><testsuite name="demo">'
check() { # name, condition
  if eval "$2"; then echo "<testcase classname=\"demo\" name=\"$1\"/>"
  else echo "<testcase classname=\"demo\" name=\"$1\"><failure message=\"$1 does not hold\"/></testcase>"; fi
}
check subnets 'echo "$SUBNETS" | grep -q subnet-'
check db_endpoint 'case $DB_HOST in db.*.internal) true;; *) false;; esac'
check db_password '[ ${#pw} -eq 64 ]'
if [ "$mode" = fail ]; then
  check db_in_three_azs '[ "$DB_HOST" = db.3az.internal ]'
  check password_in_env '[ -n "$DB_PASSWORD" ]'
fi
echo '</testsuite></testsuites>'
failed=$(grep -c '<failure' out/junit.xml)
exit $failed
`

func writeExecDef(t *testing.T, dir, mode, run string) string {
	t.Helper()
	mods := filepath.Join(repoRoot(t), "modules", "local")
	smoke := map[string]any{"name": "smoke", "kind": "exec", "module": "smoke",
		"command": []string{"./suite.sh", mode}, "junit": "out/junit.xml", "timeout": "5m",
		"vars": map[string]any{"SUBNETS": "${steps.network.outputs.private_subnet_ids}",
			"DB_HOST": "${steps.database.outputs.endpoint}", "DB_PASSWORD": "${steps.database.outputs.password}",
			"TRUTH": filepath.Join(dir, "truth"), "MARK": filepath.Join(dir, "destroyed")},
		"destroy": map[string]any{"shell": `echo "bye $STACK_NAME" > "$MARK"`}}
	if run != "" {
		smoke["run"] = run
	}
	def := map[string]any{"name": "exectest", "steps": []any{
		map[string]any{"name": "network", "module": filepath.Join(mods, "network"), "vars": map[string]any{"stack_name": "${stack.name}", "cidr": "10.9.0.0/16"}},
		map[string]any{"name": "database", "module": filepath.Join(mods, "database"), "vars": map[string]any{"subnet_ids": "${steps.network.outputs.private_subnet_ids}"}},
		smoke,
	}}
	b, _ := json.MarshalIndent(def, "", "  ")
	p := filepath.Join(dir, fmt.Sprintf("exec-%s-%s.json", mode, run))
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// An exec step runs a JUnit suite against the demo's outputs: passing, it is
// applied and status lists its tests; unchanged, it does not run again unless
// it says "run": "always"; failing, up exits 1 and status names the failed
// tests; down runs its destroy command. The database password, a sensitive
// input, is in none of what the stack stores.
func TestExecStepJUnitSuite(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "smoke"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "smoke", "suite.sh"), []byte(smokeSuite), 0o755); err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	w := newWorkstation(t, state)

	if r := w.must("up", writeExecDef(t, dir, "pass", "")); !strings.Contains(r.stderr, "test step smoke: 3 passed, 0 failed, 0 skipped") {
		t.Errorf("up does not end with the tests' summary:\n%s", r.stderr)
	}
	text := w.must("status", "exectest", "smoke").stdout
	for _, want := range []string{"tests: 3 passed, 0 failed, 0 skipped of 3", "ok    demo.db_endpoint", "exit code 0"} {
		if !strings.Contains(text, want) {
			t.Errorf("status smoke lacks %q:\n%s", want, text)
		}
	}
	if r := w.must("up", writeExecDef(t, dir, "pass", "")); !strings.Contains(r.stderr, "unchanged") || w.status("exectest").Steps["smoke"].Applies != 1 {
		t.Errorf("an unchanged exec step ran again:\n%s", r.stderr)
	}
	always := writeExecDef(t, dir, "pass", "always")
	w.must("up", always)
	w.must("up", always)
	if n := w.status("exectest").Steps["smoke"].Applies; n != 3 {
		t.Errorf("with \"run\": \"always\" the step ran %d times in all, want 3", n)
	}

	r := w.run("up", writeExecDef(t, dir, "fail", ""))
	if r.code != 1 {
		t.Fatalf("up with a failing suite: exit %d, want 1\n%s", r.code, r.stderr)
	}
	text = w.must("status", "exectest", "smoke").stdout
	for _, want := range []string{"failed", "tests: 3 passed, 2 failed", "FAIL  demo.db_in_three_azs", "FAIL  demo.password_in_env"} {
		if !strings.Contains(text, want) {
			t.Errorf("status smoke lacks %q:\n%s", want, text)
		}
	}
	var js struct {
		Status  string `json:"status"`
		Outputs map[string]struct {
			Value any `json:"value"`
		} `json:"outputs"`
	}
	out := w.must("status", "exectest", "smoke", "--output", "json").stdout
	if err := json.Unmarshal([]byte(out), &js); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(js.Outputs["failed_tests"].Value); js.Status != "failed" || got != "[demo.db_in_three_azs demo.password_in_env]" {
		t.Errorf("status --output json: %s, failed_tests %s", js.Status, got)
	}
	checkNoSecret(t, dir, state)

	w.must("down", "exectest")
	if b, _ := os.ReadFile(filepath.Join(dir, "destroyed")); strings.TrimSpace(string(b)) != "bye exectest" {
		t.Errorf("down did not run the destroy command: %q", b)
	}
}

// checkNoSecret looks for the password in the records, logs and artifacts
// of the stack (Terraform's own state holds it, as Terraform keeps it).
func checkNoSecret(t *testing.T, dir, state string) {
	t.Helper()
	secret, err := os.ReadFile(filepath.Join(dir, "truth"))
	if err != nil || len(secret) != 64 {
		t.Fatalf("the suite left no password to look for: %q %v", secret, err)
	}
	looked := 0
	_ = filepath.WalkDir(state, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.Contains(p, "tfstate") {
			return nil
		}
		b, _ := os.ReadFile(p)
		looked++
		if bytes.Contains(b, secret) {
			t.Errorf("the password is in %s", p)
		}
		if strings.HasSuffix(p, "stdout.txt") && !bytes.Contains(b, []byte("password (sensitive)")) {
			t.Errorf("%s: %q", p, b)
		}
		return nil
	})
	if looked < 5 {
		t.Errorf("looked at %d files only", looked)
	}
}
