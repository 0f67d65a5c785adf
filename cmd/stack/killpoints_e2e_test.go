package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/stack-tools/stack/internal/proc"
	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/state"
)

// The kill-point test: `stack up` and `stack down` are killed with SIGKILL at
// seeded pseudo-random points of an 8-step stack whose resources each leave one
// side-effect file when created (named by the resource's id) and remove it when
// destroyed, like a cloud resource. After each kill the same command runs
// again and must converge: up exits 0 with every step applied and exactly one
// file per resource in the state (no orphan, no duplicate), no Terraform lock
// and no Terraform process left; down exits 0 and leaves no file and nothing
// in the store.
//
// A kill point is "after the k-th line of the command's output, plus up to
// 250 ms": k is drawn from the number of lines the last complete run of the
// command printed, so points fall evenly over the command's life on a fast or
// a slow machine. STACK_KILLPOINT_SEED repeats a run; the seed is logged.

// killPointModule creates resources that sleep briefly and record themselves.
const killPointModule = `
variable "step" { type = string }
variable "dir" { type = string }
variable "after" {
  type    = any
  default = null
}

resource "terraform_data" "r" {
  count = 2
  input = { dir = var.dir, name = "${var.step}-${count.index}" }
  provisioner "local-exec" {
    command = "sleep 0.3 && touch ${self.input.dir}/${self.input.name}.${self.id}"
  }
  provisioner "local-exec" {
    when    = destroy
    command = "rm ${self.input.dir}/${self.input.name}.${self.id}"
  }
}

output "ids" { value = terraform_data.r[*].id }
`

// killPointSteps is a graph of 8 steps, 4 wide at most.
var killPointSteps = []struct{ name, after string }{
	{"a", ""}, {"b", "a"}, {"c", "a"}, {"d", "a"},
	{"e", "b"}, {"f", "c"}, {"g", "d"}, {"h", "e"},
}

type killPointStack struct {
	def, effects string
}

func newKillPointStack(t *testing.T, name string) killPointStack {
	t.Helper()
	dir := t.TempDir()
	effects := filepath.Join(dir, "effects")
	for _, d := range []string{effects, filepath.Join(dir, "module")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "module", "main.tf"), []byte(killPointModule), 0o644); err != nil {
		t.Fatal(err)
	}
	var steps []string
	for _, s := range killPointSteps {
		vars := fmt.Sprintf(`"step":%q,"dir":%q`, s.name, effects)
		if s.after != "" {
			// A reference, so dependents also wait for and use upstream outputs.
			vars += fmt.Sprintf(`,"after":"${steps.%s.outputs.ids}"`, s.after)
		}
		steps = append(steps, fmt.Sprintf(`{"name":%q,"module":"module","vars":{%s}}`, s.name, vars))
	}
	def := filepath.Join(dir, name+".json")
	body := fmt.Sprintf(`{"name":%q,"steps":[%s]}`, name, strings.Join(steps, ","))
	if err := os.WriteFile(def, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return killPointStack{def: def, effects: effects}
}

// killPointCounts is how many kill points run over up and down: the full
// counts in CI (or with STACK_KILLPOINTS=full), one cycle's worth in a plain
// `go test`.
func killPointCounts() (up, down int) {
	if os.Getenv("CI") != "" || os.Getenv("STACK_KILLPOINTS") == "full" {
		return 20, 10
	}
	return 4, 2
}

func killPointSeed(t *testing.T) uint64 {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("STACK_KILLPOINT_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("STACK_KILLPOINT_SEED=%q is not a number", s)
		}
		seed = v
	}
	t.Logf("kill-point seed %d (repeat with STACK_KILLPOINT_SEED=%d)", seed, seed)
	return seed
}

func TestKillPointsLocalStore(t *testing.T) {
	t.Parallel() // with the S3 run: Terraform waits more than it computes
	w := newWorkstation(t, t.TempDir())
	runKillPoints(t, w, func() []string {
		var left []string
		_ = filepath.WalkDir(w.state, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && !strings.HasSuffix(p, "/.lock") && !strings.HasSuffix(p, stack.DigestKeyName) {
				left = append(left, strings.TrimPrefix(p, w.state))
			}
			return nil
		})
		return left
	})
}

func TestKillPointsS3(t *testing.T) {
	t.Parallel()
	m, stateDir := startS3(t)
	w := s3Workstation(t, m, stateDir, "alice")
	runKillPoints(t, w, func() []string {
		// The store's digest key belongs to the store, not to the stack.
		return slices.DeleteFunc(objects(t, m, ""), func(k string) bool { return strings.HasSuffix(k, stack.DigestKeyName) })
	})
}

// runKillPoints runs kill cycles on w until the counts of kills that landed
// are reached; stored lists what the store holds. A cycle kills up several
// times in a row (each kill hits the rerun of the one before, so later kills
// land in resumed runs, on steps left interrupted), then lets up finish and
// checks it converged; then the same for down. Chaining keeps the test short:
// a cycle costs about one full up and one full down.
func runKillPoints(t *testing.T, w *workstation, stored func() []string) {
	ups, downs := killPointCounts()
	const upsPerCycle, downsPerCycle = 10, 5
	rng := rand.New(rand.NewPCG(killPointSeed(t), 0))
	ks := newKillPointStack(t, "kp")
	lines := map[string]int{"up": 60, "down": 50} // until a complete run says otherwise
	upKills, downKills := 0, 0
	for cycle := 0; upKills < ups || downKills < downs; cycle++ {
		var points []string
		left := lines["up"] // lines the resumed command still has to print, roughly
		for n := 0; n < upsPerCycle && upKills < ups; n++ {
			p, landed := killAt(t, w, rng, left, "up", ks.def)
			if !landed {
				break // it finished: the stack is up
			}
			upKills++
			points = append(points, p.String())
			left = max(left-p.line, 8)
		}
		when := fmt.Sprintf("cycle %d: up after kills %s", cycle, strings.Join(points, "; "))
		t.Log(when)
		r := w.run("up", ks.def)
		if r.code != 0 {
			t.Fatalf("%s: exit %d\n%s%s", when, r.code, r.stdout, r.stderr)
		}
		checkConverged(t, w, ks, when)
		if len(points) == 0 {
			lines["up"] = max(countLines(r), 10)
		}

		points = nil
		left = lines["down"]
		finished := false
		for n := 0; n < downsPerCycle && downKills < downs && !finished; n++ {
			p, landed := killAt(t, w, rng, left, "down", "kp")
			if !landed {
				finished = true // it exited 0: the stack is down
				break
			}
			downKills++
			points = append(points, p.String())
			left = max(left-p.line, 8)
		}
		when = fmt.Sprintf("cycle %d: down after kills %s", cycle, strings.Join(points, "; "))
		t.Log(when)
		if !finished {
			r = w.run("down", "kp")
			if r.code != 0 {
				t.Fatalf("%s: exit %d\n%s%s", when, r.code, r.stdout, r.stderr)
			}
			if len(points) == 0 {
				lines["down"] = max(countLines(r), 10)
			}
		}
		if left := sideEffects(t, ks.effects); len(left) > 0 {
			t.Fatalf("%s: resources left: %v", when, left)
		}
		if left := stored(); len(left) > 0 {
			t.Fatalf("%s: left in the store: %v", when, left)
		}
		if r := w.run("status", "kp"); r.code == 0 {
			t.Fatalf("%s: the stack is still there:\n%s", when, r.stdout)
		}
		noLiveTerraform(t, w, when)
	}
	t.Logf("%d kills landed in up, %d in down", upKills, downKills)
}

type killPoint struct {
	line  int
	extra time.Duration
}

func (p killPoint) String() string { return fmt.Sprintf("after output line %d + %s", p.line, p.extra) }

// killAt starts stack with args and SIGKILLs it (only it: Terraform runs in a
// group of its own) at a point drawn from rng among the first n output lines.
// landed is false when the command finished first.
func killAt(t *testing.T, w *workstation, rng *rand.Rand, n int, args ...string) (p killPoint, landed bool) {
	t.Helper()
	t.Helper()
	p = killPoint{line: 1 + rng.IntN(max(n-1, 1)), extra: time.Duration(rng.IntN(250)) * time.Millisecond}
	c := w.cmd(t.Context(), nil, args...)
	pr, pw := io.Pipe()
	c.Stdout, c.Stderr = pw, pw
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan struct{})
	go func() { _ = c.Wait(); pw.Close(); close(waited) }()
	sc := bufio.NewScanner(pr)
	for seen := 0; seen < p.line && sc.Scan(); seen++ {
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	select {
	case <-time.After(p.extra):
		_ = c.Process.Signal(syscall.SIGKILL)
	case <-waited:
	}
	<-waited
	ws, ok := c.ProcessState.Sys().(syscall.WaitStatus)
	if ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
		return p, true
	}
	if code := c.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("stack %s (resuming after a kill) failed before the kill point: exit %d", strings.Join(args, " "), code)
	}
	return p, false
}

func countLines(r result) int {
	return strings.Count(r.stdout, "\n") + strings.Count(r.stderr, "\n")
}

// sideEffects lists the resource files in dir.
func sideEffects(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

// checkConverged: every step applied, one side effect per resource in the
// state and none besides, no Terraform lock, no Terraform left running.
func checkConverged(t *testing.T, w *workstation, ks killPointStack, when string) {
	t.Helper()
	s := w.status("kp")
	var want []string
	for _, step := range killPointSteps {
		st := s.Steps[step.name]
		if st == nil || st.Status != state.StatusApplied {
			t.Fatalf("%s: step %s is not applied: %+v", when, step.name, st)
		}
		ids, _ := st.Outputs["ids"].Value.([]any)
		if len(ids) != 2 {
			t.Fatalf("%s: step %s has ids %v", when, step.name, st.Outputs["ids"].Value)
		}
		for i, id := range ids {
			want = append(want, fmt.Sprintf("%s-%d.%s", step.name, i, id))
		}
	}
	sort.Strings(want)
	if got := sideEffects(t, ks.effects); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("%s: resources with side effects:\n  %s\nwant exactly those in the state:\n  %s", when, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if s.Status != state.StatusApplied {
		t.Errorf("%s: stack status %s", when, s.Status)
	}
	for _, lock := range terraformLocks(t, w) {
		t.Errorf("%s: Terraform lock left: %s", when, lock)
	}
	noLiveTerraform(t, w, when)
}

// terraformLocks lists Terraform state locks left in the store.
func terraformLocks(t *testing.T, w *workstation) []string {
	var locks []string
	if strings.HasPrefix(w.state, "s3://") {
		m := sharedMinio(t)
		for _, k := range objects(t, m, "tfstate/") {
			if strings.HasSuffix(k, ".tflock") {
				locks = append(locks, k)
			}
		}
		return locks
	}
	_ = filepath.WalkDir(w.state, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".lock.info") {
			locks = append(locks, p)
		}
		return nil
	})
	return locks
}

// noLiveTerraform checks that no Terraform process group a stack command
// recorded on this workstation is still running once a command has finished.
func noLiveTerraform(t *testing.T, w *workstation, when string) {
	t.Helper()
	_ = filepath.WalkDir(w.home, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Name() != "terraform-process.json" {
			return nil
		}
		var pf struct {
			PGID    int    `json:"pgid"`
			Command string `json:"command"`
		}
		if b, err := os.ReadFile(p); err == nil && json.Unmarshal(b, &pf) == nil && proc.GroupAlive(pf.PGID) {
			t.Errorf("%s: %s (process group %d) is still running: %s", when, pf.Command, pf.PGID, p)
		}
		return nil
	})
}

// The stack process is killed while Terraform applies: Terraform lives on
// (in its own process group) and finishes; status says the holder died; the
// rerun waits for that Terraform instead of breaking its lock, and the
// resource exists once. The provisioner holds the apply open until the test
// releases it, after the rerun said it waits, so no timing is assumed.
func TestKilledStackRerunWaitsForItsTerraform(t *testing.T) {
	w := newWorkstation(t, t.TempDir())
	dir := t.TempDir()
	effects := filepath.Join(dir, "effects")
	release := filepath.Join(dir, "release")
	_ = os.MkdirAll(filepath.Join(dir, "module"), 0o755)
	_ = os.MkdirAll(effects, 0o755)
	_ = os.WriteFile(filepath.Join(dir, "module", "main.tf"), []byte(fmt.Sprintf(`
resource "terraform_data" "slow" {
  provisioner "local-exec" {
    command = "while [ ! -f %s ]; do sleep 0.1; done; touch %s/slow.${self.id}"
  }
}
output "id" { value = terraform_data.slow.id }
`, release, effects)), 0o644)
	t.Cleanup(func() { _ = os.WriteFile(release, nil, 0o644) }) // never leave it hanging
	def := filepath.Join(dir, "mid.json")
	_ = os.WriteFile(def, []byte(`{"name":"mid","steps":[{"name":"slow","module":"module"}]}`), 0o644)

	up := w.cmd(t.Context(), nil, "up", def)
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	var pgid int
	deadline := time.Now().Add(2 * time.Minute)
	for pgid == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the apply never started")
		}
		time.Sleep(100 * time.Millisecond)
		r := w.run("status", "mid", "--output", "json")
		var s statusJSON
		if r.code == 0 && json.Unmarshal([]byte(r.stdout), &s) == nil {
			if st := s.Steps["slow"]; st != nil && st.Process != nil && strings.Contains(st.Progress, "Creating") {
				pgid = st.Process.PGID
			}
		}
	}
	_ = up.Process.Signal(syscall.SIGKILL)
	_ = up.Wait()
	if !proc.GroupAlive(pgid) {
		t.Fatalf("Terraform (process group %d) died with the stack process; it must live on and save its state", pgid)
	}

	status := w.must("status", "mid").stdout
	if !strings.Contains(status, "holder died; the next command takes over") || strings.Contains(status, "locked by") {
		t.Errorf("status after the holder was killed:\n%s\nwant \"holder died; the next command takes over\"", status)
	}
	if !strings.Contains(status, fmt.Sprintf("process group %d", pgid)) {
		t.Errorf("status does not name the Terraform process group %d:\n%s", pgid, status)
	}

	rerun := w.cmd(t.Context(), nil, "up", def)
	pr, pw := io.Pipe()
	rerun.Stdout, rerun.Stderr = pw, pw
	if err := rerun.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = rerun.Wait(); pw.Close() }()
	var out strings.Builder
	waited := false
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		if !waited && strings.Contains(sc.Text(), "waiting for terraform apply") {
			waited = true
			if !proc.GroupAlive(pgid) {
				t.Errorf("the rerun waits, but process group %d is gone", pgid)
			}
			_ = os.WriteFile(release, nil, 0o644) // let the surviving apply finish
		}
	}
	if code := rerun.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("rerun: exit %d\n%s", code, out.String())
	}
	if !waited {
		t.Errorf("the rerun did not wait for the surviving Terraform:\n%s", out.String())
	}
	if strings.Contains(out.String(), "breaking the Terraform lock") {
		t.Errorf("the rerun broke the lock of a live Terraform:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "reconciled") {
		t.Errorf("the rerun did not report what the interrupted apply left:\n%s", out.String())
	}
	if proc.GroupAlive(pgid) {
		t.Errorf("process group %d still runs after the rerun finished", pgid)
	}
	s := w.status("mid")
	id, _ := s.Steps["slow"].Outputs["id"].Value.(string)
	if got := sideEffects(t, effects); len(got) != 1 || got[0] != "slow."+id {
		t.Errorf("side effects %v, want exactly the resource in the state (slow.%s)", got, id)
	}
	w.must("down", "mid")
}

// Ctrl-C: Terraform is interrupted, and nothing its local-exec started
// outlives the command, not even a background job that ignores SIGINT.
func TestInterruptLeavesNoProvisionerProcess(t *testing.T) {
	w := newWorkstation(t, t.TempDir())
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "sleeper.pid")
	_ = os.MkdirAll(filepath.Join(dir, "module"), 0o755)
	_ = os.WriteFile(filepath.Join(dir, "module", "main.tf"), []byte(fmt.Sprintf(`
resource "terraform_data" "hang" {
  provisioner "local-exec" {
    command = "sleep 300 & echo $! > %s; wait"
  }
}
`, pidFile)), 0o644)
	def := filepath.Join(dir, "hang.json")
	_ = os.WriteFile(def, []byte(`{"name":"hang","steps":[{"name":"hang","module":"module"}]}`), 0o644)
	up := w.cmd(t.Context(), nil, "up", def)
	out := &strings.Builder{}
	up.Stdout, up.Stderr = out, out
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	var pid int
	deadline := time.Now().Add(2 * time.Minute)
	for pid == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the provisioner never started")
		}
		time.Sleep(100 * time.Millisecond)
		if b, err := os.ReadFile(pidFile); err == nil && strings.HasSuffix(string(b), "\n") {
			pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
	}
	_ = up.Process.Signal(os.Interrupt)
	err := up.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Errorf("interrupted up: %v, want exit 1\n%s", err, out)
	}
	if !exits(pid) {
		if p, err := os.FindProcess(pid); err == nil {
			_ = p.Kill()
		}
		t.Errorf("the provisioner's background process %d outlived Ctrl-C", pid)
	}
	w.must("down", "hang")
}

// exits reports whether process pid is gone (or a zombie: dead, not yet
// reaped) within a generous bound; a kill is delivered at once, but reaping
// by init can lag on a busy machine.
func exits(pid int) bool {
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil && !proc.Alive(pid) {
			return true
		}
		if f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:])); len(f) > 0 && f[0] == "Z" {
			return true
		}
	}
	return false
}

// A run killed while Terraform created a step's workspace leaves a lock on a
// state that does not exist yet, which `terraform force-unlock` cannot reach
// (found by the kill-point test on MinIO). The next up removes it and goes on:
// where the store creates workspaces itself (issue 21), by creating the state
// and then breaking the lock as any stale one; elsewhere before creating it.
func TestS3StaleLockOnANewWorkspaceIsCleared(t *testing.T) {
	t.Parallel()
	m, stateDir := startS3(t)
	w := s3Workstation(t, m, stateDir, "alice")
	ks := newKillPointStack(t, "nw")
	first := killPointSteps[0].name
	lockKey := s3Prefix(t) + "/tfstate/nw/" + first + "/terraform.tfstate.tflock"
	// What Terraform 1.11 writes when it creates a workspace's state (Operation "init").
	lock := fmt.Sprintf(`{"ID":"6fa3d669-13de-6503-fb23-358f790aa278","Operation":"init","Info":"","Who":"root@vm","Version":"1.11.4","Created":%q,"Path":%q}`,
		time.Now().UTC().Format(time.RFC3339Nano), m.Bucket+"/"+strings.TrimSuffix(lockKey, ".tflock"))
	if _, err := m.Client().PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(m.Bucket), Key: aws.String(lockKey), Body: strings.NewReader(lock),
	}); err != nil {
		t.Fatal(err)
	}
	r := w.run("up", ks.def)
	if r.code != 0 {
		t.Fatalf("up with a stale lock on a new workspace: exit %d\n%s", r.code, r.stderr)
	}
	if out := r.stderr + r.stdout; !strings.Contains(out, "removing the Terraform lock 6fa3d669") && !strings.Contains(out, "breaking the Terraform lock 6fa3d669") {
		t.Errorf("up did not say it removed the stale lock:\n%s", r.stderr)
	}
	stepsApplied(t, w.status("nw"), first)
	w.must("down", "nw")
}
