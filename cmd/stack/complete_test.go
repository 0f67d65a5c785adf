package main

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stack-tools/stack/engine"
	"github.com/stack-tools/stack/stores/localstore"
)

// loadStack brings up a stack of two load steps at a local target in a
// fresh local store, and returns the store's folder and the definition.
func loadStack(t *testing.T, name string) (state, def string) {
	t.Helper()
	srv := httptest.NewServer(&recorder{})
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	def = writeFile(t, filepath.Join(dir, name+".json"), `{"name": "`+name+`", "steps": [
  {"name": "load", "kind": "generator", "scenario": "sms-inbound", "target": "`+srv.URL+`", "rate": 200, "requests": 20, "seed": 3,
   "profiles": {"minimal": {"rate": 100}, "production": {"rate": 300}}},
  {"name": "soak", "kind": "generator", "after": ["load"], "scenario": "track-events", "target": "`+srv.URL+`", "rate": 200, "requests": 10}]}`)
	state = filepath.Join(dir, "state")
	st, err := localstore.Open(state)
	if err != nil {
		t.Fatal(err)
	}
	te := newTestEnv(t)
	g := &globalOptions{cacheDir: t.TempDir()}
	te.Engine = func(context.Context) (*engine.Engine, error) {
		return &engine.Engine{Store: st, Registry: newRegistry(g), CacheDir: g.cacheDir}, nil
	}
	if err := runUp(context.Background(), &upOptions{runEnv: te.runEnv, File: def, lockOptions: lockOptions{Parallelism: 4}}); err != nil {
		t.Fatalf("up: %v\n%s", err, te.errOut)
	}
	return state, def
}

// complete runs cobra's hidden __complete command as a shell would and
// returns the candidates it offers (without the directive line).
func complete(t *testing.T, state string, args ...string) []string {
	t.Helper()
	t.Setenv("STACK_STATE", state)
	out, _, err := runRoot(t, append([]string{"__complete"}, args...)...)
	if err != nil {
		t.Fatalf("__complete %v: %v", args, err)
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l != "" && !strings.HasPrefix(l, ":") {
			name, _, _ := strings.Cut(l, "\t")
			got = append(got, name)
		}
	}
	return got
}

func wantCompletions(t *testing.T, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("completions %q, want %q", got, want)
	}
}

func TestCompletionStackAndStepNames(t *testing.T) {
	state, _ := loadStack(t, "bfcm")
	for _, cmd := range []string{"status", "down", "outputs", "rerun-step", "plan", "graph", "unlock", "report"} {
		wantCompletions(t, complete(t, state, cmd, ""), "bfcm")
		wantCompletions(t, complete(t, state, cmd, "x"))
	}
	for _, cmd := range []string{"status", "outputs", "rerun-step"} {
		wantCompletions(t, complete(t, state, cmd, "bfcm", ""), "load", "soak")
		wantCompletions(t, complete(t, state, cmd, "bfcm", "so"), "soak")
		wantCompletions(t, complete(t, state, cmd, "nosuch", ""))
	}
	wantCompletions(t, complete(t, state, "trace", ""), "bfcm")
	wantCompletions(t, complete(t, state, "trace", "bfcm", ""), "load", "soak")
	// report: the load steps, then their runs.
	wantCompletions(t, complete(t, state, "report", "bfcm", ""), "load", "soak")
	runs := complete(t, state, "report", "bfcm", "load", "")
	if len(runs) != 1 || !strings.HasPrefix(runs[0], "r-") {
		t.Errorf("report's runs: %q", runs)
	}
	wantCompletions(t, complete(t, state, "report", "bfcm", "load", "--compare", ""), runs...)
}

func TestCompletionStepsAndProfilesFromTheFile(t *testing.T) {
	state, def := loadStack(t, "gen")
	wantCompletions(t, complete(t, state, "up", def, "--only", ""), "load", "soak")
	wantCompletions(t, complete(t, state, "up", def, "--skip", "load,"), "load,load", "load,soak")
	wantCompletions(t, complete(t, state, "validate", def, "--profile", ""), "minimal", "production")
	// From the definition stored with the stack.
	wantCompletions(t, complete(t, state, "plan", "gen", "--profile", "p"), "production")
	wantCompletions(t, complete(t, state, "graph", "gen", "--profile", ""), "minimal", "production")
}

func TestCompletionClosedValueSets(t *testing.T) {
	state := t.TempDir()
	wantCompletions(t, complete(t, state, "graph", "x.json", "--format", ""), "dot", "mermaid")
	wantCompletions(t, complete(t, state, "list", "-o", ""), "text", "json")
	wantCompletions(t, complete(t, state, "status", "x", "--output", "j"), "json")
	wantCompletions(t, complete(t, state, "load", "--shape", ""), "constant", "steps", "ramp", "trickle")
	wantCompletions(t, complete(t, state, "load", "--order", ""), "random", "grouped")
	wantCompletions(t, complete(t, state, "load", "--scenario", ""), "sms-inbound", "track-events")
	wantCompletions(t, complete(t, state, "load", "--scenario", "tr"), "track-events")
	// An empty store completes no stack, and says nothing on stderr.
	wantCompletions(t, complete(t, state, "status", ""))
	if _, err := os.Stat(filepath.Join(state, "objects", "stacks")); err == nil {
		t.Error("completion created stacks in the store")
	}
}
