package exec

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	osexec "os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stack-tools/stack/stack"
)

// memArtifacts keeps artifacts in memory: the store itself is tested elsewhere.
type memArtifacts struct {
	mu    sync.Mutex
	files map[string][]byte
}

func (m *memArtifacts) PutArtifact(_ context.Context, name string, data []byte) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.files == nil {
		m.files = map[string][]byte{}
	}
	m.files[name] = append([]byte(nil), data...)
	return "mem://" + name, nil
}

// newRun is a step run of config over a module folder holding files.
func newRun(t *testing.T, config string, files map[string]string, vars map[string]any, sensitive ...string) (*stack.StepRun, *memArtifacts, *bytes.Buffer) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the test scripts are sh")
	}
	module := t.TempDir()
	for name, body := range files {
		p := filepath.Join(module, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	sens := map[string]bool{}
	for _, s := range sensitive {
		sens[s] = true
	}
	art := &memArtifacts{}
	var log bytes.Buffer
	return &stack.StepRun{Stack: "s1", Step: "tests", Module: module, WorkDir: t.TempDir(), Config: json.RawMessage(config),
		Vars: vars, SensitiveVars: sens, Log: &log, Artifacts: art}, art, &log
}

const suite = `#!/bin/sh
# Writes a JUnit file with one test per argument: NAME=ok or NAME=fail.
mkdir -p out
{
  echo '<?xml version="1.0"?><testsuites><testsuite name="smoke">'
  for t in "$@"; do
    name=${t%%=*}
    case ${t#*=} in
      ok) echo "<testcase classname=\"smoke\" name=\"$name\" time=\"0.01\"/>" ;;
      *) echo "<testcase classname=\"smoke\" name=\"$name\"><failure message=\"$name broke\">details</failure></testcase>"; failed=1 ;;
    esac
  done
  echo '</testsuite></testsuites>'
} > out/junit.xml
echo "base url is $BASE_URL"
exit ${failed:-0}
`

func TestPassingSuite(t *testing.T) {
	run, art, _ := newRun(t, `{"command": ["./suite.sh", "health=ok", "login=ok"], "junit": "out/junit.xml"}`,
		map[string]string{"suite.sh": suite}, map[string]any{"BASE_URL": "http://127.0.0.1:1/x"})
	outs, err := New().Apply(context.Background(), run)
	if err != nil {
		t.Fatal(err)
	}
	s, ok := Summarize(outs)
	if !ok || s.Tests != 2 || s.Passed != 2 || s.Failed != 0 || len(s.FailedTests) != 0 {
		t.Fatalf("summary %+v ok=%v", s, ok)
	}
	if s.Results["smoke.health"] != Passed {
		t.Errorf("results %v", s.Results)
	}
	if got := string(art.files["stdout.txt"]); !strings.Contains(got, "base url is http://127.0.0.1:1/x") {
		t.Errorf("stdout artifact %q lacks the var from the environment", got)
	}
	for _, name := range []string{"stderr.txt", "junit.xml", "results.json"} {
		if _, ok := art.files[name]; !ok {
			t.Errorf("no artifact %s", name)
		}
	}
}

func TestFailingSuiteFailsWithItsResults(t *testing.T) {
	run, _, _ := newRun(t, `{"command": ["./suite.sh", "health=ok", "login=fail", "signup=fail"], "junit": "out/junit.xml"}`,
		map[string]string{"suite.sh": suite}, nil)
	_, err := New().Apply(context.Background(), run)
	var fr *stack.FailedRun
	if !errors.As(err, &fr) {
		t.Fatalf("err = %v, want a FailedRun", err)
	}
	for _, want := range []string{"exited with status 1", "2 of 3 tests failed", "smoke.login", "smoke.signup"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	s, _ := Summarize(fr.Outputs)
	if s.Failed != 2 || s.Passed != 1 || strings.Join(s.FailedTests, ",") != "smoke.login,smoke.signup" {
		t.Errorf("summary %+v", s)
	}
}

// A zero exit with a missing JUnit file is a failure: the path is wrong, or
// the suite never ran.
func TestMissingJUnitFails(t *testing.T) {
	run, _, _ := newRun(t, `{"shell": "echo no results", "junit": "out/junit.xml"}`, map[string]string{"x": ""}, nil)
	_, err := New().Apply(context.Background(), run)
	if err == nil || !strings.Contains(err.Error(), "wrote no JUnit results at out/junit.xml") {
		t.Fatalf("err = %v", err)
	}
}

// The secret reaches the command only through the 0600 file: it is on no
// process's command line or environment while the command runs (sampled
// from /proc, as ps does), and not in what the step stores even when the
// command prints it.
func TestSecretOnlyThroughFile(t *testing.T) {
	if _, err := os.Stat("/proc/self/cmdline"); err != nil {
		t.Skip("no /proc here")
	}
	const secret = "s3cr3t-Value-9f8e7d"
	sync := t.TempDir()
	script := `#!/bin/sh
stat -c %a "$STACK_SECRETS" > mode.txt
token=$(sed -n 's/.*"TOKEN": "\(.*\)".*/\1/p' "$STACK_SECRETS")
# a child that holds the secret in a variable while the test looks around
touch "$SYNC/ready"
while [ ! -e "$SYNC/go" ]; do sleep 0.05; done
echo "token is $token"
echo "token again $token" >&2
mkdir -p out
echo "<testsuite><testcase name=\"t\"><failure message=\"got $token\"/></testcase></testsuite>" > out/junit.xml
cp mode.txt "$SYNC/mode.txt"
`
	run, art, log := newRun(t, `{"command": ["./s.sh"], "junit": "out/junit.xml", "timeout": "2m"}`,
		map[string]string{"s.sh": script}, map[string]any{"TOKEN": secret, "SYNC": sync}, "TOKEN")
	done := make(chan error, 1)
	go func() { _, err := New().Apply(context.Background(), run); done <- err }()
	waitFile(t, filepath.Join(sync, "ready"), done)
	procs, _ := filepath.Glob("/proc/[0-9]*")
	seen := 0
	for _, p := range procs {
		for _, f := range []string{"cmdline", "environ"} {
			b, err := os.ReadFile(filepath.Join(p, f))
			if err != nil {
				continue
			}
			seen++
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("the secret is in %s/%s", p, f)
			}
		}
	}
	if seen == 0 {
		t.Fatal("read no process's command line")
	}
	if ps, err := osexec.LookPath("ps"); err == nil {
		out, err := osexec.Command(ps, "-eo", "pid,args").Output()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(out, []byte("s.sh")) {
			t.Errorf("ps does not show the running command:\n%s", out)
		}
		if bytes.Contains(out, []byte(secret)) {
			t.Errorf("ps shows the secret:\n%s", out)
		}
	}
	if err := os.WriteFile(filepath.Join(sync, "go"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	err := <-done
	if err == nil {
		t.Fatal("the failing test passed")
	}
	if mode, _ := os.ReadFile(filepath.Join(sync, "mode.txt")); strings.TrimSpace(string(mode)) != "600" {
		t.Errorf("secrets file mode %q, want 600", mode)
	}
	everything := [][]byte{[]byte(err.Error()), log.Bytes()}
	for name, b := range art.files {
		everything = append(everything, b)
		if name == "stdout.txt" && !strings.Contains(string(b), "token is (sensitive)") {
			t.Errorf("stdout %q: the secret was not replaced", b)
		}
	}
	var fr *stack.FailedRun
	if errors.As(err, &fr) {
		b, _ := json.Marshal(fr.Outputs)
		everything = append(everything, b)
	}
	for _, b := range everything {
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("the secret leaked into what the step keeps: %q", b)
		}
	}
	if _, err := os.Stat(filepath.Join(run.WorkDir, "secrets.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("secrets file left behind: %v", err)
	}
}

func waitFile(t *testing.T, path string, done <-chan error) {
	t.Helper()
	deadline := time.After(2 * time.Minute) // a bound, not a measure
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		select {
		case err := <-done:
			t.Fatalf("the command ended before %s appeared: %v", path, err)
		case <-deadline:
			t.Fatalf("%s never appeared", path)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func TestTimeoutKillsTheGroup(t *testing.T) {
	run, _, _ := newRun(t, `{"shell": "sleep 600 & sleep 600", "timeout": "300ms"}`, map[string]string{"x": ""}, nil)
	_, err := New().Apply(context.Background(), run)
	if err == nil || !strings.Contains(err.Error(), "timed out after 300ms") {
		t.Fatalf("err = %v", err)
	}
}

func TestDestroyRunsItsCommand(t *testing.T) {
	mark := filepath.Join(t.TempDir(), "destroyed")
	run, _, _ := newRun(t, `{"command": ["true"], "destroy": {"shell": "echo \"$STACK_STEP\" > \"$MARK\""}}`,
		map[string]string{"x": ""}, map[string]any{"MARK": mark})
	if err := New().Destroy(context.Background(), run); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(mark); strings.TrimSpace(string(b)) != "tests" {
		t.Errorf("destroy wrote %q", b)
	}
}

func TestValidate(t *testing.T) {
	for cfg, want := range map[string]string{
		`{}`:                               `give "command"`,
		`{"command": ["a"], "shell": "b"}`: "not both",
		`{"command": ["curl", "${steps.web.outputs.url}"]}`: "pass it in \"vars\"",
		`{"shell": "x", "run": "sometimes"}`:                `"run" "sometimes"`,
		`{"shell": "x", "junit": "../x.xml"}`:               "inside the working copy",
		`{"shell": "x", "destroy": {}}`:                     `"destroy.command"`,
		`{"shell": "x", "comand": ["a"]}`:                   "comand",
	} {
		err := New().Validate(json.RawMessage(cfg))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", cfg, err, want)
		}
	}
	if err := New().Validate(json.RawMessage(`{"command": ["./t.sh", "${var.x}"], "run": "always"}`)); err != nil {
		t.Error(err)
	}
	if !New().RunsAlways(json.RawMessage(`{"run": "always"}`)) || New().RunsAlways(json.RawMessage(`{}`)) {
		t.Error("RunsAlways")
	}
}

func TestParseJUnitShapes(t *testing.T) {
	for name, doc := range map[string]string{
		"suite root": `<testsuite name="a"><testcase classname="p" name="ok"/><testcase classname="p" name="bad"><error message="boom"/></testcase><testcase name="s"><skipped/></testcase></testsuite>`,
		"nested":     `<testsuites><testsuite><testsuite><testcase classname="p" name="ok"/><testcase classname="p" name="bad"><error>boom</error></testcase><testcase name="s"><skipped/></testcase></testsuite></testsuite></testsuites>`,
	} {
		r, err := ParseJUnit([]byte(doc))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if r.Passed != 1 || r.Errors != 1 || r.Skipped != 1 || strings.Join(r.Failing(), ",") != "p.bad" || r.Tests[1].Message != "boom" {
			t.Errorf("%s: %+v", name, r)
		}
	}
	if _, err := ParseJUnit([]byte("not xml")); err == nil {
		t.Error("garbage parsed")
	}
}
