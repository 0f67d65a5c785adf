package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/stack-tools/stack/internal/testenv"
	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/state"
)

// The tests in this file share stacks between "workstations" (separate HOME
// and cache, different USER) through the package's MinIO, each test under its
// own store prefix.

// startS3 returns the package's MinIO and this test's store URL. Tests that
// stop the server start it again; if one fails before it can, cleanup does.
func startS3(t *testing.T) (*testenv.Minio, string) {
	t.Helper()
	m := sharedMinio(t)
	t.Cleanup(func() { _ = m.Start() }) // "already running" is the usual case
	return m, "s3://" + m.Bucket + "/" + s3Prefix(t)
}

func s3Workstation(t *testing.T, m *testenv.Minio, stateDir, user string, env ...string) *workstation {
	t.Helper()
	env = append(append(m.Env(), "USER="+user), env...)
	return newWorkstation(t, stateDir, env...)
}

// objects lists the bucket's keys under the store prefix plus sub, read with
// the test's own client rather than the code under test.
func objects(t *testing.T, m *testenv.Minio, sub string) []string {
	t.Helper()
	var keys []string
	pages := s3.NewListObjectsV2Paginator(m.Client(), &s3.ListObjectsV2Input{
		Bucket: aws.String(m.Bucket),
		Prefix: aws.String(s3Prefix(t) + "/" + sub),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			k := strings.TrimPrefix(aws.ToString(o.Key), s3Prefix(t)+"/")
			if k == stack.DigestKeyName {
				continue // the store's own secret, not a stack's
			}
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

func hasObject(t *testing.T, m *testenv.Minio, sub string) bool {
	_, err := m.Client().HeadObject(context.Background(), &s3.HeadObjectInput{
		Bucket: aws.String(m.Bucket),
		Key:    aws.String(s3Prefix(t) + "/" + sub),
	}, func(o *s3.Options) { o.RetryMaxAttempts = 1 })
	return err == nil
}

// slowStack writes a three-step chain whose middle step sleeps, plus a file
// each step's Terraform resource appends to when it is created: the count of
// real applies, independent of what the engine records.
func slowStack(t *testing.T, name string, seconds int) (def, applied string) {
	t.Helper()
	dir := t.TempDir()
	module := filepath.Join(dir, "module")
	applied = filepath.Join(dir, "applied.txt")
	if err := os.MkdirAll(module, 0o755); err != nil {
		t.Fatal(err)
	}
	tf := `
variable "seconds" { type = number }
variable "tag" { type = string }
variable "step" { type = string }
variable "record" { type = string }
resource "terraform_data" "work" {
  input = var.tag
  provisioner "local-exec" {
    command = "sleep ${var.seconds} && echo ${var.step} >> ${var.record}"
  }
}
output "tag" { value = "${terraform_data.work.output}-${var.step}" }
`
	if err := os.WriteFile(filepath.Join(module, "main.tf"), []byte(tf), 0o644); err != nil {
		t.Fatal(err)
	}
	def = filepath.Join(dir, name+".json")
	step := func(name string, seconds int, tag string) string {
		return fmt.Sprintf(`{"name":%q,"module":"module","vars":{"seconds":%d,"tag":%q,"step":%q,"record":%q}}`,
			name, seconds, tag, name, applied)
	}
	body := fmt.Sprintf(`{"name":%q,"steps":[%s,%s,%s]}`, name,
		step("first", 0, "t"),
		step("long", seconds, "${steps.first.outputs.tag}"),
		step("last", 0, "${steps.long.outputs.tag}"))
	if err := os.WriteFile(def, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return def, applied
}

// appliesPerStep counts the Terraform creates each step really made.
func appliesPerStep(t *testing.T, applied string) map[string]int {
	t.Helper()
	data, err := os.ReadFile(applied)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, l := range strings.Fields(string(data)) {
		n[l]++
	}
	return n
}

// waitStepRunning polls status from w until step is running.
func waitStepRunning(t *testing.T, w *workstation, name, step string, up *exec.Cmd) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		r := w.run("status", name, "--output", "json")
		if r.code == 0 {
			var s statusJSON
			if json.Unmarshal([]byte(r.stdout), &s) == nil {
				if st := s.Steps[step]; st != nil && st.Status == state.StatusRunning && strings.Contains(st.Progress, "Creating") {
					return
				}
			}
		}
		if up.ProcessState != nil {
			t.Fatalf("up ended before %s ran", step)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("step %s of %s never started", step, name)
}

// noStateOrSecret checks that a workstation keeps no Terraform state with
// resources in it (that belongs in the bucket) and no copy of the secret key.
func noStateOrSecret(t *testing.T, home, secret string) {
	t.Helper()
	_ = filepath.WalkDir(home, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		if strings.Contains(string(data), secret) {
			t.Errorf("the secret key is written on a workstation: %s", p)
		}
		var st struct {
			Resources []json.RawMessage `json:"resources"`
		}
		if strings.Contains(d.Name(), ".tfstate") && json.Unmarshal(data, &st) == nil && len(st.Resources) > 0 {
			t.Errorf("Terraform state with resources on a workstation: %s", p)
		}
		return nil
	})
}

func stepsApplied(t *testing.T, s statusJSON, steps ...string) {
	t.Helper()
	for _, n := range steps {
		if st := s.Steps[n]; st == nil || st.Status != state.StatusApplied {
			t.Errorf("step %s is not applied: %+v", n, st)
		}
	}
}

// Acceptance: A brings a stack up; B sees it in list and status with all
// outputs, re-runs a step; A sees B's run; B takes it down. Terraform state is
// in the bucket under the stack's prefix, one workspace per step, nothing of it
// on either workstation, and down removes it all.
func TestS3TwoWorkstationsShareAStack(t *testing.T) {
	m, stateDir := startS3(t)
	a := s3Workstation(t, m, stateDir, "alice")
	b := s3Workstation(t, m, stateDir, "bob")

	a.must("up", "stacks/demo.json", "--name", "bfcm", "--profile", "minimal")

	list := b.must("list").stdout
	if !strings.Contains(list, "bfcm") || !strings.Contains(list, "alice@") || !strings.Contains(list, "minimal") {
		t.Errorf("B's list does not show A's stack with owner and profile:\n%s", list)
	}
	sb := b.status("bfcm")
	steps := make([]string, 0, len(sb.Steps))
	for n, st := range sb.Steps {
		steps = append(steps, n)
		if len(st.Outputs) == 0 {
			t.Errorf("B's status shows no outputs for %s", n)
		}
	}
	stepsApplied(t, sb, steps...)

	var wantState []string
	for _, n := range steps {
		if sb.Steps[n].Kind == "terraform" { // generator steps keep no Terraform state
			wantState = append(wantState, "tfstate/bfcm/"+n+"/terraform.tfstate")
		}
	}
	sort.Strings(wantState)
	if got := objects(t, m, "tfstate/"); strings.Join(got, "\n") != strings.Join(wantState, "\n") {
		t.Errorf("Terraform state objects:\n%s\nwant one per step, no lock left:\n%s", strings.Join(got, "\n"), strings.Join(wantState, "\n"))
	}
	for _, ws := range []*workstation{a, b} {
		noStateOrSecret(t, ws.home, m.SecretKey)
	}

	// B lists A's load run, kept in the bucket (down removes it below).
	if runs := b.must("report", "bfcm", "load").stdout; !strings.Contains(runs, "passed") || !strings.Contains(runs, "s3://") ||
		!strings.Contains(runs, "/artifacts/load/runs/r-") {
		t.Errorf("B's report list of A's load runs:\n%s", runs)
	}

	before := sb.Steps["queue"].Applies
	b.must("rerun-step", "bfcm", "queue")
	sa := a.status("bfcm")
	if q := sa.Steps["queue"]; q.Applies != before+1 || !strings.HasPrefix(q.RunBy, "bob@") {
		t.Errorf("A's status after B's rerun-step: queue applies=%d run_by=%q, want %d by bob", q.Applies, q.RunBy, before+1)
	}

	b.must("down", "bfcm")
	if left := objects(t, m, ""); len(left) > 0 {
		t.Errorf("down left objects in the store:\n%s", strings.Join(left, "\n"))
	}
	if r := a.run("status", "bfcm"); r.code == 0 {
		t.Error("A still sees the stack after B's down")
	}
}

// Acceptance: of two concurrent up commands on one stack exactly one runs; the
// other exits 1 naming the holder, or with --lock-timeout waits and succeeds.
func TestS3ConcurrentUp(t *testing.T) {
	m, stateDir := startS3(t)
	def, applied := slowStack(t, "race", 3)
	a := s3Workstation(t, m, stateDir, "alice")
	b := s3Workstation(t, m, stateDir, "bob")

	up := a.cmd(t.Context(), nil, "up", def)
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	waitStepRunning(t, b, "race", "long", up)

	r := b.run("up", def)
	if r.code != 1 || !strings.Contains(r.stderr, "locked by alice@") || !strings.Contains(r.stderr, "ago") {
		t.Errorf("second up while A holds the lock: exit %d, want 1 naming alice and when it started:\n%s", r.code, r.stderr)
	}
	r = b.run("up", def, "--lock-timeout", "2m")
	if r.code != 0 {
		t.Errorf("up --lock-timeout: exit %d\n%s", r.code, r.stderr)
	}
	if err := up.Wait(); err != nil {
		t.Fatalf("A's up: %v", err)
	}
	stepsApplied(t, b.status("race"), "first", "long", "last")
	if n := appliesPerStep(t, applied); n["first"] != 1 || n["long"] != 1 || n["last"] != 1 {
		t.Errorf("real applies per step = %v, want each once (B must find A's work done)", n)
	}
	if hasObject(t, m, "stacks/race/lease.json") {
		t.Error("the lease is still there after both commands ended")
	}
	b.must("down", "race")
}

// Acceptance: S3 goes away in the middle of an up. The command fails with an
// error naming the endpoint and what to do; once the server is back, up
// completes with every step applied and no step applied twice.
func TestS3OutageMidUp(t *testing.T) {
	m, stateDir := startS3(t)
	def, applied := slowStack(t, "outage", 3)
	a := s3Workstation(t, m, stateDir, "alice")

	// Fewer attempts (a standard SDK setting both stack and Terraform read) keep
	// the wait for the failure short; the default rides over a restart.
	up := a.cmd(t.Context(), []string{"AWS_MAX_ATTEMPTS=2"}, "up", def)
	var stderr strings.Builder
	up.Stderr = &stderr
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	waitStepRunning(t, a, "outage", "long", up)
	if err := m.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	err := up.Wait()
	t.Logf("up ended %s after the server went away", time.Since(killed).Round(time.Second))
	if up.ProcessState.ExitCode() != 1 {
		t.Errorf("up with the server gone: %v, want exit 1\n%s", err, stderr.String())
	}
	for _, want := range []string{m.Endpoint, "AWS_ENDPOINT_URL_S3"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("up with the server gone does not mention %q:\n%s", want, stderr.String())
		}
	}
	if r := a.run("status", "outage"); r.code != 1 || !strings.Contains(r.stderr, m.Endpoint) {
		t.Errorf("status with the server gone: exit %d, want 1 naming %s:\n%s", r.code, m.Endpoint, r.stderr)
	}

	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	a.must("up", def)
	stepsApplied(t, a.status("outage"), "first", "long", "last")
	if n := appliesPerStep(t, applied); n["first"] != 1 || n["long"] != 1 || n["last"] != 1 {
		t.Errorf("real applies per step = %v, want each exactly once", n)
	}
	a.must("down", "outage")
}

// A short outage (the server restarts while a step runs) is ridden over by the
// retries: up succeeds and nothing is applied twice.
func TestS3BriefOutageIsRiddenOver(t *testing.T) {
	m, stateDir := startS3(t)
	def, applied := slowStack(t, "blip", 3)
	a := s3Workstation(t, m, stateDir, "alice")

	// The SDK's default of 3 attempts with jittered backoff may give up within a
	// second; a busy machine can take longer than that to restart MinIO. More
	// attempts (stack and Terraform both read this) ride over any restart.
	up := a.cmd(t.Context(), []string{"AWS_MAX_ATTEMPTS=10"}, "up", def)
	var stderr strings.Builder
	up.Stderr = &stderr
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	waitStepRunning(t, a, "blip", "long", up)
	if err := m.Kill(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	if err := up.Wait(); err != nil {
		t.Fatalf("up across a server restart: %v\n%s", err, stderr.String())
	}
	stepsApplied(t, a.status("blip"), "first", "long", "last")
	if n := appliesPerStep(t, applied); n["first"] != 1 || n["long"] != 1 || n["last"] != 1 {
		t.Errorf("real applies per step = %v, want each exactly once", n)
	}
	a.must("down", "blip")
}

// waitStepProcess polls status from w until step has a process recorded and
// returns its process group.
func waitStepProcess(t *testing.T, w *workstation, name, step string) int {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		var s statusJSON
		if r := w.run("status", name, "--output", "json"); r.code == 0 && json.Unmarshal([]byte(r.stdout), &s) == nil {
			if st := s.Steps[step]; st != nil && st.Process != nil {
				return st.Process.PGID
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("step %s of %s never recorded its Terraform process", step, name)
	return 0
}
