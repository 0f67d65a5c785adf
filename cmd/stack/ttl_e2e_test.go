package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stack-tools/stack/engine"
	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/state"
	"github.com/stack-tools/stack/stores/localstore"
)

func (w *workstation) list() map[string]engine.Summary {
	w.t.Helper()
	var l []engine.Summary
	r := w.must("list", "--output", "json")
	if err := json.Unmarshal([]byte(r.stdout), &l); err != nil {
		w.t.Fatalf("list JSON: %v\n%s", err, r.stdout)
	}
	out := map[string]engine.Summary{}
	for _, s := range l {
		out[s.Name] = s
	}
	return out
}

// waitExpired polls until the named stacks show as expired: a TTL of one
// second has surely run out once list says so, however loaded the machine.
func waitExpired(t *testing.T, w *workstation, names ...string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		l := w.list()
		all := true
		for _, n := range names {
			all = all && l[n].Expired
		}
		if all {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("stacks %v never expired: %+v", names, l)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Acceptance: `up --ttl 1s`, wait, `stack reap` destroys the stack (no
// Terraform state left, record gone); `reap --dry-run` changes nothing; a
// stack without TTL, or whose TTL has not run out, is never reaped; a stack
// that cannot be destroyed (its lease is held) does not stop the others and
// makes reap exit 1. list shows expiry and the declared cost, status the cost.
func TestReapDestroysExpiredStacks(t *testing.T) {
	stateDir := t.TempDir()
	w := newWorkstation(t, stateDir)
	tmp := t.TempDir()
	queue := copyModule(t, "modules/local/queue", filepath.Join(tmp, "queue"))
	// A dollar a second: the cost so far (JSON keeps 3 decimals) is above
	// zero a millisecond after the apply, however fast the machine.
	writeFile(t, filepath.Join(queue, stack.CostFile), `{"per_hour": {"default": 3600}, "note": "test figure"}`)
	def := writeFile(t, filepath.Join(tmp, "one.json"), `{"name": "one", "steps": [
  {"name": "queue", "module": "`+queue+`", "vars": {"name": "${stack.name}"}}]}`)

	w.must("up", def, "--name", "old", "--ttl", "1s")
	w.must("up", def, "--name", "stuck", "--ttl", "1s")
	w.must("up", def, "--name", "keep")
	r := w.must("up", def, "--name", "fresh", "--ttl", "8h")
	if !strings.Contains(r.stderr, "expires") {
		t.Errorf("up --ttl does not say when the stack expires:\n%s", r.stderr)
	}
	waitExpired(t, w, "old", "stuck")

	l := w.list()
	if l["keep"].ExpiresAt != nil || l["keep"].Expired || l["fresh"].Expired || l["fresh"].ExpiresAt == nil {
		t.Errorf("expiry in list: keep %+v, fresh %+v", l["keep"], l["fresh"])
	}
	if c := l["keep"].Cost; c == nil || c.PerHour != 3600 || c.SoFar <= 0 {
		t.Errorf("list shows cost %+v for keep, want $3600/h and something so far", c)
	}
	text := w.must("list").stdout
	for _, want := range []string{"EXPIRES", "EXPIRED", "$3600.00/h"} {
		if !strings.Contains(text, want) {
			t.Errorf("list does not show %q:\n%s", want, text)
		}
	}
	if !regexp.MustCompile(`fresh .* in (7h5\dm|8h00m) `).MatchString(text) {
		t.Errorf("list does not show fresh expiring in about 8h:\n%s", text)
	}
	if s := w.must("status", "keep").stdout; !strings.Contains(s, "cost ≈ $3600.00/hour") {
		t.Errorf("status does not show the cost:\n%s", s)
	}
	var sj struct {
		Cost *state.Cost `json:"cost"`
	}
	if err := json.Unmarshal([]byte(w.must("status", "keep", "--output", "json").stdout), &sj); err != nil || sj.Cost == nil || sj.Cost.PerHour != 3600 {
		t.Errorf("status --output json: cost %+v (%v), want $3600/h", sj.Cost, err)
	}

	before := dirHash(t, stateDir)
	r = w.must("reap", "--dry-run")
	if !strings.Contains(r.stdout, "old") || !strings.Contains(r.stdout, "stuck") || strings.Contains(r.stdout, "keep") || strings.Contains(r.stdout, "fresh") {
		t.Errorf("reap --dry-run lists:\n%s", r.stdout)
	}
	if dirHash(t, stateDir) != before {
		t.Error("reap --dry-run changed the store")
	}

	st, err := localstore.Open(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	release := holdLease(t, st, "stuck")
	r = w.run("reap")
	if r.code != 1 || !strings.Contains(r.stdout, "1 destroyed, 1 failed") || !strings.Contains(r.stdout, "locked by carol@") {
		t.Errorf("reap with one stack locked: exit %d, want 1 with a summary\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	l = w.list()
	if _, ok := l["old"]; ok {
		t.Error("reap left the expired stack old")
	}
	for _, n := range []string{"stuck", "keep", "fresh"} {
		if _, ok := l[n]; !ok {
			t.Errorf("reap removed %s", n)
		}
	}
	if _, err := os.Stat(filepath.Join(stateDir, "tfstate", "old")); !os.IsNotExist(err) {
		t.Errorf("reap left old's Terraform state: %v", err)
	}
	release()
	r = w.must("reap", "--output", "json")
	var res []engine.ReapResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || len(res) != 1 || res[0].Stack != "stuck" || res[0].Outcome != engine.ReapDestroyed {
		t.Errorf("second reap: %v %+v\n%s", err, res, r.stdout)
	}
	if r := w.must("reap"); !strings.Contains(r.stderr, "no expired stacks") {
		t.Errorf("reap with nothing expired:\n%s%s", r.stdout, r.stderr)
	}
	if l := w.list(); len(l) != 2 {
		t.Errorf("stacks left: %v, want keep and fresh", l)
	}
}

// A mutating command extends the TTL; --ttl 0 removes it; a bad TTL is a
// usage error (exit 2) naming the flag or the definition field.
func TestTTLIsExtendedAndValidated(t *testing.T) {
	stateDir := t.TempDir()
	w := newWorkstation(t, stateDir)
	tmp := t.TempDir()
	def := writeFile(t, filepath.Join(tmp, "ttl.json"), `{"name": "ttl", "ttl": "2h", "steps": [
  {"name": "queue", "module": "`+filepath.Join(repoRoot(t), "modules/local/queue")+`", "vars": {"name": "${stack.name}"}}]}`)
	w.must("up", def)
	first := w.status("ttl")
	if first.TTL != "2h" || first.ExpiresAt == nil {
		t.Fatalf("the definition's ttl was not applied: ttl %q expires %v", first.TTL, first.ExpiresAt)
	}
	w.must("rerun-step", "ttl", "queue")
	second := w.status("ttl")
	if !second.ExpiresAt.After(*first.ExpiresAt) {
		t.Errorf("rerun-step did not extend the expiry: %v then %v", first.ExpiresAt, second.ExpiresAt)
	}
	w.must("up", def, "--ttl", "0")
	if s := w.status("ttl"); s.ExpiresAt != nil || s.TTL != "" {
		t.Errorf("--ttl 0 left ttl %q expiring %v", s.TTL, s.ExpiresAt)
	}
	if r := w.run("up", def, "--ttl", "soon"); r.code != 2 || !strings.Contains(r.stderr, "--ttl") {
		t.Errorf("up --ttl soon: exit %d\n%s", r.code, r.stderr)
	}
	bad := writeFile(t, filepath.Join(tmp, "bad.json"), strings.Replace(mustRead(t, def), `"2h"`, `"-5m"`, 1))
	if r := w.run("validate", bad); r.code != 2 || !strings.Contains(r.stderr, "ttl") {
		t.Errorf("validate with ttl -5m: exit %d\n%s", r.code, r.stderr)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
