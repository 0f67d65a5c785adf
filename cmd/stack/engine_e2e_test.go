package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stack-tools/stack/engine"
	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/state"
)

type statusJSON struct {
	state.Record
	Location string `json:"location"`
}

func (w *workstation) status(name string) statusJSON {
	w.t.Helper()
	r := w.must("status", name, "--output", "json")
	var s statusJSON
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		w.t.Fatalf("status JSON: %v\n%s", err, r.stdout)
	}
	return s
}

// The README's demo command brings the demo up; status shows every step applied
// with outputs; an unchanged second up runs no Terraform; down leaves nothing.
func TestDemoUpStatusDown(t *testing.T) {
	stateDir := t.TempDir()
	w := newWorkstation(t, stateDir)
	up := w.must("up", "stacks/demo.json")
	// Plain output (no terminal): step transitions, not Terraform's own lines.
	if !strings.Contains(up.stderr, "network: applied") || strings.Contains(up.stderr, "terraform_data.") {
		t.Errorf("up's plain output should show transitions and no Terraform lines:\n%s", up.stderr)
	}
	if !strings.Contains(up.stderr, "load-report.html\n") {
		t.Errorf("up does not end with where the load report is:\n%s", up.stderr)
	}
	s := w.status("demo")
	if len(s.Steps) < 6 {
		t.Fatalf("demo has %d steps, want at least 6", len(s.Steps))
	}
	for name, st := range s.Steps {
		if st.Status != state.StatusApplied {
			t.Errorf("step %s is %s", name, st.Status)
		}
		if len(st.Outputs) == 0 {
			t.Errorf("step %s shows no outputs", name)
		}
		if _, err := os.Stat(st.Log); err != nil {
			t.Errorf("step %s: log %q: %v", name, st.Log, err)
		}
	}
	checkStatusPhases(t, w, "demo", s)
	text := w.must("status", "demo").stdout
	if !strings.Contains(text, "output webhook_url") || !strings.Contains(text, "(sensitive)") {
		t.Errorf("status text lacks outputs or hides nothing:\n%s", text)
	}
	// The load step traced its messages through the web step's pipeline to the sink.
	if !strings.Contains(text, "output e2e_arrived") || strings.Contains(text, "e2e_arrived = 0\n") {
		t.Errorf("status text lacks the load step's e2e arrivals:\n%s", text)
	}

	// No Terraform may run: point the kind at a binary that does not exist.
	r := w.runEnv([]string{"STACK_TERRAFORM=/nonexistent/terraform"}, "up", "stacks/demo.json")
	if r.code != 0 {
		t.Fatalf("second up ran Terraform or failed: %d\n%s", r.code, r.stderr)
	}
	if n := strings.Count(r.stderr, "unchanged"); n != len(s.Steps) {
		t.Errorf("second up: %d steps unchanged, want %d:\n%s", n, len(s.Steps), r.stderr)
	}

	// With -v, plain output has Terraform's lines too; rerun-step ends with a summary.
	if r := w.must("rerun-step", "demo", "network", "-v"); !strings.Contains(r.stderr, "network: progress terraform_data.vpc: ") ||
		!strings.Contains(r.stderr, `step network of stack "demo" re-applied (`) {
		t.Errorf("rerun-step -v: want Terraform's lines and a summary line:\n%s", r.stderr)
	}

	w.must("down", "demo")
	var left []string
	_ = filepath.WalkDir(stateDir, func(p string, d fs.DirEntry, err error) error {
		// The store's lock file and digest key belong to the store, not the stack.
		if err == nil && !d.IsDir() && d.Name() != ".lock" && !strings.HasSuffix(filepath.ToSlash(p), stack.DigestKeyName) {
			left = append(left, p)
		}
		return nil
	})
	if len(left) > 0 {
		t.Errorf("down left state behind: %v", left)
	}
	if _, err := os.Stat(filepath.Join(stateDir, "tfstate", "demo")); err == nil {
		t.Error("down left the Terraform workspaces")
	}
	if r := w.run("status", "demo"); r.code == 0 {
		t.Error("status of a removed stack should fail")
	}
}

// dirHash summarises every file under dir, to prove a command changed nothing.
func dirHash(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		b, _ := os.ReadFile(p)
		fmt.Fprintf(h, "%s %x\n", p, sha256.Sum256(b))
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))
}

// Each kind of invalid definition exits 2, names the place, and changes no state,
// even for an existing stack of the same name.
func TestInvalidDefinitionsExit2AndChangeNothing(t *testing.T) {
	stateDir := t.TempDir()
	w := newWorkstation(t, stateDir)
	w.must("up", "stacks/demo.json", "--only", "queue")
	before := dirHash(t, stateDir)

	demo, err := os.ReadFile(filepath.Join(repoRoot(t), "stacks", "demo.json"))
	if err != nil {
		t.Fatal(err)
	}
	abs := func(s string) string {
		// Module paths in the copies must point back into the repository.
		return strings.ReplaceAll(s, `"../modules/`, `"`+filepath.Join(repoRoot(t), "modules")+"/")
	}
	src := abs(string(demo))
	cases := []struct {
		name, def string
		want      []string
	}{
		{"syntax error", strings.Replace(src, `"steps": [`, `"steps": [,`, 1), []string{"bad.json:", "syntax"}},
		{"cycle", strings.Replace(src, `"name": "network",`, `"name": "network", "after": ["dns"],`, 1), []string{"cycle", "network -> ", "-> dns -> network"}},
		{"dangling reference", strings.Replace(src, "${steps.queue.outputs.queue_url}", "${steps.kueue.outputs.queue_url}", 1), []string{"steps[4].vars.queue_url", `"kueue" does not exist`}},
		{"unknown field", strings.Replace(src, `"name": "queue",`, `"name": "queue", "modul": "x",`, 1), []string{"steps[3]", `"modul"`}},
		{"missing module", strings.Replace(src, "modules/local/queue", "modules/local/kueue", 1), []string{"steps[3].module", "kueue", "does not exist"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "bad.json")
			if err := os.WriteFile(f, []byte(c.def), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{{"up", f}, {"validate", f}} {
				r := w.run(args...)
				if r.code != 2 {
					t.Errorf("%s: exit %d, want 2\n%s", args[0], r.code, r.stderr)
				}
				for _, s := range c.want {
					if !strings.Contains(r.stderr, s) {
						t.Errorf("%s: message does not mention %q:\n%s", args[0], s, r.stderr)
					}
				}
			}
			if after := dirHash(t, stateDir); after != before {
				t.Error("an invalid definition changed the state")
			}
		})
	}
	if r := w.run("up", "stacks/demo.json", "--parallelism", "0"); r.code != 2 || !strings.Contains(r.stderr, "--parallelism") {
		t.Errorf("bad flag: exit %d %s", r.code, r.stderr)
	}
	w.must("down", "demo")
}

// A stack up killed with SIGKILL mid-apply is completed by the next up.
func TestKilledUpResumes(t *testing.T) {
	stateDir := t.TempDir()
	dir := t.TempDir()
	sleep := filepath.Join(repoRoot(t), "testdata", "modules", "sleep")
	def := filepath.Join(dir, "slow.json")
	_ = os.WriteFile(def, []byte(fmt.Sprintf(`{"name":"slow","steps":[
	  {"name":"first","module":%q,"vars":{"seconds":0,"tag":"1"}},
	  {"name":"long","module":%q,"vars":{"seconds":4,"tag":"${steps.first.outputs.tag}"}},
	  {"name":"last","module":%q,"vars":{"seconds":0,"tag":"${steps.long.outputs.tag}"}}]}`, sleep, sleep, sleep)), 0o644)
	// A holder fences itself when no renewal lands for half its lease (issue
	// 20): 10s leaves a loaded machine room; a dead holder on this host is
	// taken over at once whatever the TTL.
	w := newWorkstation(t, stateDir, "STACK_LEASE_TTL=10s")
	c := w.cmd(t.Context(), nil, "up", def)
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until "long" is applying, then kill the whole process group member.
	deadline := time.Now().Add(60 * time.Second)
	for {
		r := w.run("status", "slow", "--output", "json")
		if r.code == 0 && strings.Contains(r.stdout, `"long"`) {
			var s statusJSON
			_ = json.Unmarshal([]byte(r.stdout), &s)
			if st := s.Steps["long"]; st != nil && st.Status == state.StatusRunning && strings.Contains(st.Progress, "Creating") {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("long never started")
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = c.Process.Signal(syscall.SIGKILL)
	_ = c.Wait()

	r := w.run("up", def)
	if r.code != 0 {
		t.Fatalf("resume failed: %d\n%s", r.code, r.stderr)
	}
	s := w.status("slow")
	for _, n := range []string{"first", "long", "last"} {
		if s.Steps[n].Status != state.StatusApplied {
			t.Errorf("%s is %s after resume", n, s.Steps[n].Status)
		}
	}
	if s.Steps["first"].Applies != 1 {
		t.Errorf("first was applied %d times; finished steps must be skipped", s.Steps["first"].Applies)
	}
	w.must("down", "slow")
}

// Ctrl-C stops gracefully: Terraform is interrupted and saves its state, the
// step is recorded as interrupted, the lock is released, and up resumes.
func TestInterruptedUpReleasesLockAndResumes(t *testing.T) {
	stateDir := t.TempDir()
	dir := t.TempDir()
	sleep := filepath.Join(repoRoot(t), "testdata", "modules", "sleep")
	def := filepath.Join(dir, "int.json")
	_ = os.WriteFile(def, []byte(fmt.Sprintf(`{"name":"int","steps":[
	  {"name":"long","module":%q,"vars":{"seconds":120,"tag":"x"}}]}`, sleep)), 0o644)
	w := newWorkstation(t, stateDir)
	c := w.cmd(t.Context(), nil, "up", def)
	var stderr strings.Builder
	c.Stderr = &stderr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		r := w.run("status", "int", "--output", "json")
		var s statusJSON
		if r.code == 0 && json.Unmarshal([]byte(r.stdout), &s) == nil {
			if st := s.Steps["long"]; st != nil && strings.Contains(st.Progress, "Creating") {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("long never started")
		}
		time.Sleep(100 * time.Millisecond)
	}
	start := time.Now()
	_ = c.Process.Signal(syscall.SIGINT)
	err := c.Wait()
	if ee, ok := err.(interface{ ExitCode() int }); !ok || ee.ExitCode() != 1 {
		t.Errorf("interrupted up: %v, want exit 1", err)
	}
	// Uninterrupted, the step would sleep 120 s; the bound leaves a busy
	// machine plenty of time to stop Terraform and save the records.
	if time.Since(start) > 100*time.Second {
		t.Errorf("Ctrl-C took %s: the 120 s sleep was not interrupted", time.Since(start))
	}
	// The message says what happened and how to go on, not "fix the cause"
	// with the kill's echo from Terraform.
	msg := stderr.String()
	if !strings.Contains(msg, `stack "int": interrupted; stopped long; run `+"`stack up "+def) ||
		strings.Contains(msg, "fix the cause") || strings.Contains(msg, "signal:") || strings.Contains(msg, "step(s) failed") {
		t.Errorf("Ctrl-C message:\n%s", msg)
	}
	s := w.status("int")
	if st := s.Steps["long"]; st.Status != state.StatusFailed || !strings.Contains(st.Error, "interrupted") {
		t.Errorf("long after Ctrl-C: %s %q", st.Status, st.Error)
	}
	var list []engine.Summary
	_ = json.Unmarshal([]byte(w.must("list", "--output", "json").stdout), &list)
	if len(list) != 1 || list[0].Locked != "" {
		t.Errorf("the lock is still held after Ctrl-C: %+v", list)
	}
	// Resume with a short sleep: Terraform's own lock must not be left behind.
	_ = os.WriteFile(def, []byte(fmt.Sprintf(`{"name":"int","steps":[
	  {"name":"long","module":%q,"vars":{"seconds":0,"tag":"x"}}]}`, sleep)), 0o644)
	w.must("up", def)
	if st := w.status("int").Steps["long"]; st.Status != state.StatusApplied {
		t.Errorf("resume: %s", st.Status)
	}
	w.must("down", "int")
}
