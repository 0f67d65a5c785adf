package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stack-tools/stack/engine"
	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/state"
	"github.com/stack-tools/stack/stores/localstore"
)

// writeFile writes a test file, failing the test on error.
func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// copyModule copies a repository module into dir, so a test can edit it.
func copyModule(t *testing.T, module, dir string) string {
	t.Helper()
	src := filepath.Join(repoRoot(t), module)
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, e.Name()), string(b))
	}
	return dir
}

// planJSON runs `stack plan --output json` and returns its exit code and report.
func (w *workstation) plan(args ...string) (int, engine.DriftReport) {
	w.t.Helper()
	r := w.run(append([]string{"plan", "--output", "json"}, args...)...)
	var rep engine.DriftReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		w.t.Fatalf("stack plan %v: exit %d, no JSON report (%v)\nstdout:\n%s\nstderr:\n%s", args, r.code, err, r.stdout, r.stderr)
	}
	return r.code, rep
}

// statuses maps each step of a report to its status.
func statuses(rep engine.DriftReport) map[string]string {
	out := map[string]string{}
	for _, l := range rep.Steps {
		out[l.Step] = l.Status
	}
	return out
}

func wantStatuses(t *testing.T, what string, code int, rep engine.DriftReport, wantCode int, want map[string]string) {
	t.Helper()
	got := statuses(rep)
	for step, st := range want {
		if got[step] != st {
			t.Errorf("%s: step %s is %q, want %q\nreport: %+v", what, step, got[step], st, rep.Steps)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%s: report has steps %v, want %v", what, got, want)
	}
	if code != wantCode {
		t.Errorf("%s: exit %d, want %d", what, code, wantCode)
	}
}

// holdLease makes this test process the holder of a stack's lease, as another
// workstation running `up` would be, and returns its release.
func holdLease(t *testing.T, st stack.Store, name string) func() {
	t.Helper()
	host, _ := os.Hostname()
	now := time.Now().UTC()
	l := state.Lease{ID: "test-holder", User: "carol", Host: host, PID: os.Getpid(), Command: "up", Started: now, Expires: now.Add(time.Hour)}
	data, _ := json.Marshal(l)
	key := "stacks/" + name + "/lease.json"
	if _, err := st.Put(context.Background(), key, data, ""); err != nil {
		t.Fatalf("taking the lease of %s: %v", name, err)
	}
	return func() { _ = st.Delete(context.Background(), key, stack.AnyVersion) }
}

// Acceptance: a resource changed behind Terraform's back is reported as
// infrastructure drift of exactly its step (exit 2) and is gone after
// `up --refresh`; a changed variable and an edited module are reported as code
// changes of that step and its dependents only, and `up` clears them; plan
// works while another process holds the stack's lease and changes nothing.
func TestPlanReportsDriftAndCodeChanges(t *testing.T) {
	stateDir := t.TempDir()
	w := newWorkstation(t, stateDir)
	tmp := t.TempDir()
	network := copyModule(t, "modules/local/network", filepath.Join(tmp, "network"))
	repo := filepath.Join(repoRoot(t), "modules", "local")
	defText := func(cidr string) string {
		return `{"name": "drift", "variables": {"cidr": "` + cidr + `"}, "steps": [
  {"name": "network", "module": "` + network + `", "vars": {"stack_name": "${stack.name}", "cidr": "${var.cidr}"}},
  {"name": "cache", "module": "` + repo + `/cache", "vars": {"subnet_ids": "${steps.network.outputs.private_subnet_ids}"}},
  {"name": "queue", "module": "` + repo + `/queue", "vars": {"name": "${stack.name}-inbound"}}]}`
	}
	def := writeFile(t, filepath.Join(tmp, "drift.json"), defText("10.42.0.0/16"))
	w.must("up", def)

	code, rep := w.plan("drift")
	wantStatuses(t, "fresh stack", code, rep, 0, map[string]string{"network": "unchanged", "cache": "unchanged", "queue": "unchanged"})

	// Another process holds the lease: up is refused, plan runs and changes nothing.
	st, err := localstore.Open(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	release := holdLease(t, st, "drift")
	if r := w.run("up", def); r.code != 1 || !strings.Contains(r.stderr, "locked by carol@") {
		t.Fatalf("up while the lease is held: exit %d, want 1 naming the holder\n%s", r.code, r.stderr)
	}
	before := dirHash(t, stateDir)
	code, rep = w.plan("drift", def)
	wantStatuses(t, "while locked", code, rep, 0, map[string]string{"network": "unchanged", "cache": "unchanged", "queue": "unchanged"})
	if dirHash(t, stateDir) != before {
		t.Error("plan changed the store or the Terraform state")
	}
	release()

	// Behind Terraform's back: the queue's recorded input is changed in its state.
	tfstate := filepath.Join(stateDir, "tfstate", "drift", "queue", "terraform.tfstate")
	editState(t, tfstate, "terraform_data.queue", "https://sqs.local/000000000000/tampered")
	code, rep = w.plan("drift")
	wantStatuses(t, "state edited", code, rep, 2, map[string]string{"network": "unchanged", "cache": "unchanged", "queue": "infrastructure drifted"})
	if q := rep.Steps[2]; q.Plan == nil || q.Plan.Change != 1 || q.Plan.Add != 0 || q.Plan.Destroy != 0 || !strings.Contains(strings.Join(q.Plan.Resources, " "), "terraform_data.queue") {
		t.Errorf("queue's plan: %+v, want 1 to change: terraform_data.queue", q.Plan)
	}
	text := w.run("plan", "drift")
	if text.code != 2 || !strings.Contains(text.stdout, "infrastructure drifted") || !strings.Contains(text.stdout, "stack up FILE --refresh") {
		t.Errorf("plan's table: exit %d\n%s", text.code, text.stdout)
	}
	// A plain up skips the step (its inputs did not change); up --refresh plans
	// the unchanged steps and applies the drifted one again.
	w.must("up", def)
	if code, _ := w.plan("drift"); code != 2 {
		t.Errorf("after a plain up: exit %d, want the drift still reported (2)", code)
	}
	r := w.must("up", def, "--refresh")
	if !strings.Contains(r.stderr, "queue: info infrastructure drifted (0 to add, 1 to change, 0 to destroy): applying again") || strings.Count(r.stderr, ": applied") != 1 {
		t.Errorf("up --refresh did not re-apply exactly the drifted step:\n%s", r.stderr)
	}
	code, rep = w.plan("drift")
	wantStatuses(t, "after up --refresh", code, rep, 0, map[string]string{"network": "unchanged", "cache": "unchanged", "queue": "unchanged"})

	// A changed variable: network would change; cache waits on network.
	def2 := writeFile(t, filepath.Join(tmp, "drift2.json"), defText("10.43.0.0/16"))
	code, rep = w.plan("drift", def2)
	wantStatuses(t, "changed var", code, rep, 2, map[string]string{"network": "code changed", "cache": "code changed", "queue": "unchanged"})
	if n := rep.Steps[0]; n.Plan == nil || n.Plan.Change+n.Plan.Add+n.Plan.Destroy == 0 {
		t.Errorf("network's plan with the changed cidr shows no change: %+v", n.Plan)
	}
	if c := rep.Steps[1]; !strings.Contains(c.Reason, "upstream step network") {
		t.Errorf("cache's reason %q does not name network", c.Reason)
	}
	w.must("up", def2)
	code, rep = w.plan("drift", def2)
	wantStatuses(t, "after up", code, rep, 0, map[string]string{"network": "unchanged", "cache": "unchanged", "queue": "unchanged"})

	// An edited module file.
	f, err := os.OpenFile(filepath.Join(network, "main.tf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("\n# edited by the test\n")
	f.Close()
	code, rep = w.plan("drift", def2)
	wantStatuses(t, "module edited", code, rep, 2, map[string]string{"network": "code changed", "cache": "code changed", "queue": "unchanged"})
	if n := rep.Steps[0]; n.Reason != "module changed" {
		t.Errorf("network's reason is %q, want module changed", n.Reason)
	}

	// A step whose Terraform state is gone cannot be checked: exit 1, the others still reported.
	if err := os.RemoveAll(filepath.Join(stateDir, "tfstate", "drift", "queue")); err != nil {
		t.Fatal(err)
	}
	code, rep = w.plan("drift", def2)
	wantStatuses(t, "state gone", code, rep, 1, map[string]string{"network": "code changed", "cache": "code changed", "queue": "error"})
	if q := rep.Steps[2]; !strings.Contains(q.Error, "workspace") {
		t.Errorf("queue's error %q does not say its workspace is missing", q.Error)
	}
}

// editState changes the input of a terraform_data resource in a state file,
// as someone editing the infrastructure by hand would.
func editState(t *testing.T, path, addr, input string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range st["resources"].([]any) {
		res := r.(map[string]any)
		if res["type"].(string)+"."+res["name"].(string) != addr {
			continue
		}
		for _, in := range res["instances"].([]any) {
			attrs := in.(map[string]any)["attributes"].(map[string]any)
			attrs["input"] = map[string]any{"value": input, "type": "string"}
			attrs["output"] = map[string]any{"value": input, "type": "string"}
			found = true
		}
	}
	if !found {
		t.Fatalf("%s has no %s", path, addr)
	}
	st["serial"] = st["serial"].(float64) + 1
	out, _ := json.MarshalIndent(st, "", "  ")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
}
