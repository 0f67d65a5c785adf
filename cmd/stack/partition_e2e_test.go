//go:build unix

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stack-tools/stack/internal/proc"
	"github.com/stack-tools/stack/internal/testenv"
	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/state"
)

// Issue 20: two workstations share a stack through S3; the holder of its
// lease is cut off from the store (a black hole: requests are sent and never
// answered) or paused, for longer than the lease, and the other workstation
// takes over. The holder must stop writing before its lease can end; what it
// could not save is pushed or reported. After both commands and one more up,
// every resource with a side effect (a file named by the resource's id) is in
// exactly one step's state or reported as an orphan naming its id; after
// down none is left.
//
// One machine plays both workstations: proc.HostEnv (STACK_TEST_HOSTNAME)
// gives each its own host name, so neither judges the other's lease or
// Terraform by its pid.

// partitionTTL is the lease TTL of these tests: short so the tests do not take
// minutes, long enough that renewals land on a loaded machine. No assertion
// depends on it: every wait is for an event, with a generous deadline.
const partitionTTL = 8 * time.Second

// partitionModule creates resources that take a while and leave a file named
// by their id, removed when they are destroyed.
const partitionModule = `
variable "step" { type = string }
variable "dir" { type = string }
variable "seconds" { type = number }
variable "after" {
  type    = any
  default = null
}
resource "terraform_data" "r" {
  count = 2
  input = { dir = var.dir, name = "${var.step}-${count.index}" }
  provisioner "local-exec" {
    command = "sleep ${var.seconds} && touch ${self.input.dir}/${self.input.name}.${self.id}"
  }
  provisioner "local-exec" {
    when    = destroy
    command = "rm -f ${self.input.dir}/${self.input.name}.${self.id}"
  }
}
output "ids" { value = terraform_data.r[*].id }
`

// partitionSteps: a is quick and finishes before the cut; b, c and d are
// slow and run when it comes.
var partitionSteps = []string{"a", "b", "c", "d"}

func newPartitionStack(t *testing.T, name string, seconds int) killPointStack {
	t.Helper()
	dir := t.TempDir()
	effects := filepath.Join(dir, "effects")
	for _, d := range []string{effects, filepath.Join(dir, "module")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "module", "main.tf"), []byte(partitionModule), 0o644); err != nil {
		t.Fatal(err)
	}
	var steps []string
	for _, s := range partitionSteps {
		vars := fmt.Sprintf(`"step":%q,"dir":%q,"seconds":%d`, s, effects, seconds)
		if s != "a" {
			vars += `,"after":"${steps.a.outputs.ids}"`
		} else {
			vars = fmt.Sprintf(`"step":%q,"dir":%q,"seconds":0`, s, effects)
		}
		steps = append(steps, fmt.Sprintf(`{"name":%q,"module":"module","vars":{%s}}`, s, vars))
	}
	def := filepath.Join(dir, name+".json")
	if err := os.WriteFile(def, []byte(fmt.Sprintf(`{"name":%q,"steps":[%s]}`, name, strings.Join(steps, ","))), 0o644); err != nil {
		t.Fatal(err)
	}
	return killPointStack{def: def, effects: effects}
}

// twoHosts is the shared store, the holder (hostA, behind a proxy) and the
// other workstation (hostB, straight to the store).
type twoHosts struct {
	proxy *testenv.Proxy
	m     *testenv.Minio
	a, b  *workstation
}

func newTwoHosts(t *testing.T) twoHosts {
	t.Helper()
	m, stateURL := startS3(t)
	u, err := url.Parse(m.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	p, err := testenv.StartProxy(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	ttl := "STACK_LEASE_TTL=" + partitionTTL.String()
	a := s3Workstation(t, m, stateURL, "alice", ttl, proc.HostEnv+"=hostA", "AWS_ENDPOINT_URL_S3=http://"+p.Addr)
	b := s3Workstation(t, m, stateURL, "bob", ttl, proc.HostEnv+"=hostB")
	return twoHosts{proxy: p, m: m, a: a, b: b}
}

// started is a stack command running in the background with its output kept.
type started struct {
	cmd  *exec.Cmd
	out  *strings.Builder
	done chan struct{}
}

func start(t *testing.T, w *workstation, args ...string) *started {
	t.Helper()
	c := w.cmd(context.Background(), nil, args...)
	s := &started{cmd: c, out: &strings.Builder{}, done: make(chan struct{})}
	c.Stdout, c.Stderr = s.out, s.out
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = c.Wait(); close(s.done) }()
	t.Cleanup(func() {
		_ = c.Process.Signal(syscall.SIGCONT)
		_ = c.Process.Kill()
		<-s.done
	})
	return s
}

// wait waits for the command to end (within a deadline far above anything
// the test needs) and returns its exit code.
func (s *started) wait(t *testing.T, what string) int {
	t.Helper()
	select {
	case <-s.done:
		return s.cmd.ProcessState.ExitCode()
	case <-time.After(5 * time.Minute):
		t.Fatalf("%s never ended; its output so far:\n%s", what, s.out.String())
		return -1
	}
}

// stateAndOrphans is what status says about the resources: the ids each
// step's state holds, and the orphans reported.
func stateAndOrphans(t *testing.T, w *workstation, name string) (inState map[string]string, orphans map[string]stack.Orphan) {
	t.Helper()
	s := w.status(name)
	inState, orphans = map[string]string{}, map[string]stack.Orphan{}
	for step, st := range s.Steps {
		if st.Status == state.StatusApplied {
			ids, _ := st.Outputs["ids"].Value.([]any)
			for _, id := range ids {
				if prev, dup := inState[id.(string)]; dup {
					t.Errorf("resource %s is in the states of steps %s and %s", id, prev, step)
				}
				inState[id.(string)] = step
			}
		}
		for _, o := range st.Orphans {
			orphans[o.ID] = o
		}
	}
	return inState, orphans
}

// checkEveryEffectAccounted: each side-effect file's resource is in exactly
// one step's state, or reported as an orphan naming its id; and status says
// so in its text too.
func checkEveryEffectAccounted(t *testing.T, w *workstation, name, effects string) {
	t.Helper()
	inState, orphans := stateAndOrphans(t, w, name)
	text := w.must("status", name).stdout
	for _, f := range sideEffects(t, effects) {
		id := f[strings.LastIndexByte(f, '.')+1:]
		step, known := inState[id]
		o, orphan := orphans[id]
		switch {
		case known && orphan:
			t.Errorf("resource %s (%s) is in the state of step %s and reported as an orphan (%s)", id, f, step, o.Where())
		case !known && !orphan:
			t.Errorf("resource %s (%s) is in no state and not reported as an orphan:\n%s", id, f, text)
		case orphan && !strings.Contains(text, id):
			t.Errorf("status does not name orphan %s:\n%s", id, text)
		}
	}
	for _, step := range partitionSteps {
		n := 0
		for _, s := range inState {
			if s == step {
				n++
			}
		}
		if n != 2 {
			t.Errorf("step %s has %d resources in its state, want 2", step, n)
		}
	}
}

// downLeavesNothing: down exits 0 and no side effect, state or lease is left.
func downLeavesNothing(t *testing.T, h twoHosts, name, effects string) {
	t.Helper()
	r := h.b.must("down", name)
	t.Logf("down's report:\n%s%s", r.stdout, r.stderr)
	if left := sideEffects(t, effects); len(left) > 0 {
		t.Errorf("resources left after down: %v\n%s", left, r.stderr)
	}
	if left := objects(t, h.m, ""); len(left) > 0 {
		t.Errorf("down left objects in the store:\n%s", strings.Join(left, "\n"))
	}
}

func sortedKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// waitCreating waits until step of stack name is running and Terraform
// creates its resources, as w sees it.
func waitCreating(t *testing.T, w *workstation, name, step string, s *started) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			t.Fatalf("up ended before step %s ran:\n%s", step, s.out.String())
		default:
		}
		r := w.run("status", name, "--output", "json")
		var st statusJSON
		if r.code == 0 && json.Unmarshal([]byte(r.stdout), &st) == nil {
			if ss := st.Steps[step]; ss != nil && ss.Status == state.StatusRunning && strings.Contains(ss.Progress, "Creating") {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("step %s of %s never started", step, name)
}

// Partition longer than the lease: hostA's link to the store becomes a black
// hole while it applies; hostB waits the lease out, takes over and brings
// the stack up; when the link heals hostA has stopped, saying it lost the
// store. One more up from hostA settles what its stopped Terraform left.
func TestPartitionLongerThanLeaseOtherSideTakesOver(t *testing.T) {
	h := newTwoHosts(t)
	ks := newPartitionStack(t, "split", 6)
	upA := start(t, h.a, "up", ks.def)
	waitCreating(t, h.b, "split", "b", upA)
	h.proxy.Blackhole()
	upB := start(t, h.b, "up", ks.def, "--lock-timeout", "5m")
	if code := upB.wait(t, "hostB's up"); code != 0 {
		t.Fatalf("hostB's up during the partition: exit %d\n%s", code, upB.out.String())
	}
	t.Logf("hostB's up:\n%s", upB.out.String())
	h.proxy.Heal()
	codeA := upA.wait(t, "hostA's up")
	t.Logf("hostA's up (exit %d):\n%s", codeA, upA.out.String())
	if codeA == 0 || !strings.Contains(upA.out.String(), "lost the store") {
		t.Errorf("hostA, cut off past its lease: exit %d, want a failure saying it lost the store", codeA)
	}
	if r := h.a.must("up", ks.def); true {
		t.Logf("one more up from hostA:\n%s%s", r.stdout, r.stderr)
	}
	checkEveryEffectAccounted(t, h.b, "split", ks.effects)
	downLeavesNothing(t, h, "split", ks.effects)
}

// Partition shorter than the fence bound: the holder rides it out and
// finishes; the other side waits for it and finds the stack up.
func TestPartitionShorterThanLeaseHolderFinishes(t *testing.T) {
	h := newTwoHosts(t)
	ks := newPartitionStack(t, "blip", 4)
	upA := start(t, h.a, "up", ks.def)
	waitCreating(t, h.b, "blip", "b", upA)
	h.proxy.Blackhole()
	upB := start(t, h.b, "up", ks.def, "--lock-timeout", "5m")
	// Well inside the fence bound (TTL/2): at most one renewal is lost.
	time.Sleep(partitionTTL / 8)
	h.proxy.Heal()
	if code := upA.wait(t, "hostA's up"); code != 0 {
		t.Fatalf("hostA's up through a short partition: exit %d\n%s", code, upA.out.String())
	}
	if code := upB.wait(t, "hostB's up"); code != 0 {
		t.Fatalf("hostB's up after waiting for hostA: exit %d\n%s", code, upB.out.String())
	}
	if strings.Contains(upB.out.String(), "breaking the Terraform lock") {
		t.Errorf("hostB broke a lock of the live holder:\n%s", upB.out.String())
	}
	checkEveryEffectAccounted(t, h.b, "blip", ks.effects)
	if _, orphans := stateAndOrphans(t, h.b, "blip"); len(orphans) > 0 {
		t.Errorf("orphans after a partition the holder rode out: %v", sortedKeys(orphans))
	}
	if n := len(sideEffects(t, ks.effects)); n != 2*len(partitionSteps) {
		t.Errorf("%d resources exist, want %d (each created once)", n, 2*len(partitionSteps))
	}
	downLeavesNothing(t, h, "blip", ks.effects)
}

// A process pause: hostA's stack is stopped (SIGSTOP) past its lease while
// its Terraform runs on; the shim fences Terraform, hostB takes over; when
// hostA continues it finds its lease gone and stops without writing.
func TestPausedHolderOtherSideTakesOver(t *testing.T) {
	h := newTwoHosts(t)
	ks := newPartitionStack(t, "pause", 6)
	upA := start(t, h.a, "up", ks.def)
	waitCreating(t, h.b, "pause", "b", upA)
	if err := upA.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	upB := start(t, h.b, "up", ks.def, "--lock-timeout", "5m")
	if code := upB.wait(t, "hostB's up"); code != 0 {
		t.Fatalf("hostB's up while hostA is paused: exit %d\n%s", code, upB.out.String())
	}
	t.Logf("hostB's up:\n%s", upB.out.String())
	if err := upA.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	codeA := upA.wait(t, "hostA's up")
	t.Logf("hostA's up (exit %d):\n%s", codeA, upA.out.String())
	if codeA == 0 {
		t.Errorf("hostA, paused past its lease, exited 0")
	}
	h.a.must("up", ks.def)
	checkEveryEffectAccounted(t, h.b, "pause", ks.effects)
	downLeavesNothing(t, h, "pause", ks.effects)
}

// An errored.tfstate whose backend state moved on since (another lineage
// here, as after a taker's fresh apply) is not pushed over it: the resource
// only it knows is kept in a workspace of its own, reported as an orphan by
// status (by id), and destroyed by down.
func TestErroredStateTheBackendMovedPastIsKeptAndDestroyed(t *testing.T) {
	w := newWorkstation(t, t.TempDir())
	ks := newPartitionStack(t, "ghost", 0)
	w.must("up", ks.def)
	const ghost = "0f0f0f0f-1111-2222-3333-444444444444"
	input := map[string]string{"dir": ks.effects, "name": "b-1"}
	errored := map[string]any{
		"version": 4, "terraform_version": "1.11.4", "serial": 3, "lineage": "d1f0e9c8-0000-0000-0000-000000000000",
		"outputs": map[string]any{},
		"resources": []any{map[string]any{
			"mode": "managed", "type": "terraform_data", "name": "r", "provider": `provider["terraform.io/builtin/terraform"]`,
			"instances": []any{map[string]any{
				"index_key": 1, "schema_version": 0, "sensitive_attributes": []any{},
				"attributes": map[string]any{"id": ghost, "input": map[string]any{"value": input, "type": []any{"object", map[string]string{"dir": "string", "name": "string"}}},
					"output": map[string]any{"value": input, "type": []any{"object", map[string]string{"dir": "string", "name": "string"}}}, "triggers_replace": nil},
			}},
		}},
	}
	data, _ := json.MarshalIndent(errored, "", "  ")
	module := filepath.Join(w.home, ".cache", "stack", "work", "ghost", "b", "module")
	if err := os.WriteFile(filepath.Join(module, "errored.tfstate"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ks.effects, "b-1."+ghost), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r := w.must("up", ks.def)
	if !strings.Contains(r.stdout+r.stderr, ghost) {
		t.Errorf("up does not report the resource only errored.tfstate knew (%s):\n%s%s", ghost, r.stdout, r.stderr)
	}
	_, orphans := stateAndOrphans(t, w, "ghost")
	if o, ok := orphans[ghost]; !ok || !strings.Contains(o.Kept, "b--unsaved-") || o.Address != "terraform_data.r[1]" {
		t.Errorf("orphans %+v, want %s at terraform_data.r[1] kept in a workspace b--unsaved-*", orphans, ghost)
	}
	checkEveryEffectAccounted(t, w, "ghost", ks.effects)
	if _, err := os.Stat(filepath.Join(module, "errored.tfstate")); err == nil {
		t.Error("errored.tfstate is still in the working copy: the next command would settle it again")
	}
	down := w.must("down", "ghost")
	if !strings.Contains(down.stdout+down.stderr, ghost) {
		t.Errorf("down's report does not name %s:\n%s%s", ghost, down.stdout, down.stderr)
	}
	if left := sideEffects(t, ks.effects); len(left) > 0 {
		t.Errorf("resources left after down: %v", left)
	}
}

// A resource an apply created and did not save (Terraform was killed before
// it wrote its state; the journal in the step's working copy names it) is
// imported into the step's state when the step is applied again: it is not
// created a second time, no orphan is left, and down destroys it.
func TestAResourceAKilledApplyDidNotSaveIsAdopted(t *testing.T) {
	w := newWorkstation(t, t.TempDir())
	ks := newPartitionStack(t, "lost", 0)
	w.must("up", ks.def)
	// Step b's state without r[1], as if the apply that created it had been
	// killed before it saved; its side effect stays, and the journal that
	// apply left names it.
	statePath := filepath.Join(w.state, "tfstate", "lost", "b", "terraform.tfstate")
	data, err := os.ReadFile(statePath)
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	res := st["resources"].([]any)[0].(map[string]any)
	var kept []any
	lost := ""
	for _, in := range res["instances"].([]any) {
		if in.(map[string]any)["index_key"] == float64(1) {
			lost = in.(map[string]any)["attributes"].(map[string]any)["id"].(string)
			continue
		}
		kept = append(kept, in)
	}
	res["instances"], st["serial"] = kept, st["serial"].(float64)+1
	if data, err = json.Marshal(st); err != nil || lost == "" {
		t.Fatalf("no r[1] in b's state (%v)", err)
	}
	if err := os.WriteFile(statePath, data, 0o600); err != nil {
		t.Fatal(err)
	}
	journal := fmt.Sprintf(`{"workspace":"b","command":"terraform apply","started":"2026-12-06T10:00:00Z",
		"base":{"lineage":%q,"serial":%v},"created":[{"step":"b","address":"terraform_data.r[1]","id":%q}]}`, st["lineage"], st["serial"], lost)
	if err := os.WriteFile(filepath.Join(w.home, ".cache", "stack", "work", "lost", "b", "unsaved.json"), []byte(journal), 0o600); err != nil {
		t.Fatal(err)
	}

	r := w.must("rerun-step", "lost", "b")
	if want := "importing terraform_data.r[1] (id " + lost + ")"; !strings.Contains(r.stdout+r.stderr, want) {
		t.Errorf("rerun-step does not say %q:\n%s%s", want, r.stdout, r.stderr)
	}
	inState, orphans := stateAndOrphans(t, w, "lost")
	if inState[lost] != "b" || len(orphans) > 0 {
		t.Errorf("resource %s in the state of step %q (want b), orphans %v", lost, inState[lost], sortedKeys(orphans))
	}
	checkEveryEffectAccounted(t, w, "lost", ks.effects)
	w.must("down", "lost")
	if left := sideEffects(t, ks.effects); len(left) > 0 {
		t.Errorf("resources left after down: %v", left)
	}
}
