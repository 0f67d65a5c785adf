package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stack-tools/stack/engine"
	"github.com/stack-tools/stack/load"
	"github.com/stack-tools/stack/load/pace"
	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/state"
	"github.com/stack-tools/stack/stores/localstore"
)

// testEnv is a runEnv on a fresh local store, writing into buffers.
type testEnv struct {
	runEnv
	out, errOut, progress *bytes.Buffer
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	st, err := localstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	g := &globalOptions{cacheDir: t.TempDir()}
	te := &testEnv{out: &bytes.Buffer{}, errOut: &bytes.Buffer{}, progress: &bytes.Buffer{}}
	te.runEnv = runEnv{Out: te.out, ErrOut: te.errOut, Progress: te.progress,
		Engine: func(context.Context) (*engine.Engine, error) {
			return &engine.Engine{Store: st, Registry: newRegistry(g), CacheDir: g.cacheDir}, nil
		},
		Registry: func() *stack.Registry { return newRegistry(g) }}
	return te
}

func (te *testEnv) reset() { te.out.Reset(); te.errOut.Reset(); te.progress.Reset() }

// wantUsage checks err is a usage error (exit 2) naming what to fix.
func wantUsage(t *testing.T, what string, err error, naming string) {
	t.Helper()
	var usage *usageError
	if !errors.As(err, &usage) || !strings.Contains(err.Error(), naming) {
		t.Errorf("%s: %v, want a usage error naming %s", what, err, naming)
	}
}

// The stack commands' run functions, without cobra: a generator stack goes
// up, is shown, listed, unlocked and torn down, each saying what a user sees.
func TestRunStackCommandsWithoutCobra(t *testing.T) {
	ctx := context.Background()
	srv := httptest.NewServer(&recorder{})
	defer srv.Close()
	def := writeFile(t, filepath.Join(t.TempDir(), "gen.json"), `{"name": "gen", "steps": [
  {"name": "load", "kind": "generator", "scenario": "sms-inbound", "target": "`+srv.URL+`", "rate": 200, "requests": 20, "seed": 3}]}`)
	te := newTestEnv(t)

	up := &upOptions{runEnv: te.runEnv, File: def, lockOptions: lockOptions{Parallelism: 0}}
	wantUsage(t, "up --parallelism 0", runUp(ctx, up), "--parallelism")
	up.Parallelism, up.TTL, up.TTLSet = 4, "soon", true
	wantUsage(t, "up --ttl soon", runUp(ctx, up), "--ttl")
	up.TTL = "8h"
	if err := runUp(ctx, up); err != nil {
		t.Fatalf("up: %v\n%s", err, te.errOut)
	}
	for _, want := range []string{`stack "gen" is up (`, "It expires ", "(ttl 8h0m0s, ",
		"load step load: passed, 20 requests at ", "success 100.00%", " late\n  report: "} {
		if !strings.Contains(te.errOut.String(), want) {
			t.Errorf("up's closing lines lack %q:\n%s", want, te.errOut)
		}
	}
	if !strings.Contains(te.errOut.String(), "load-report.html\n") {
		t.Errorf("up does not end with the load report's place:\n%s", te.errOut)
	}
	if !strings.Contains(te.progress.String(), "load: applied") {
		t.Errorf("up's progress lacks the applied step:\n%s", te.progress)
	}

	te.reset()
	if err := runStatus(ctx, &statusOptions{runEnv: te.runEnv, Name: "gen"}); err != nil {
		t.Fatal(err)
	}
	if s := te.out.String(); !strings.HasPrefix(s, "Stack gen: applied\n") || !strings.Contains(s, `  output verdict = "passed"`) ||
		!regexpMatch(`load +generator +applied`, s) {
		t.Errorf("status:\n%s", s)
	}
	te.reset()
	te.JSON = true
	if err := runStatus(ctx, &statusOptions{runEnv: te.runEnv, Name: "gen"}); err != nil {
		t.Fatal(err)
	}
	var st struct {
		Name, Status, Location string
	}
	if err := json.Unmarshal(te.out.Bytes(), &st); err != nil || st.Name != "gen" || st.Status != state.StatusApplied || st.Location == "" {
		t.Errorf("status --output json: %v %+v\n%s", err, st, te.out)
	}
	te.JSON = false

	te.reset()
	wantUsage(t, "outputs of an unknown step", runOutputs(ctx, &outputsOptions{runEnv: te.runEnv, Name: "gen", Step: "nope"}), `no step "nope"`)
	if err := runOutputs(ctx, &outputsOptions{runEnv: te.runEnv, Name: "gen", Step: "load"}); err != nil {
		t.Fatal(err)
	}
	if s := te.out.String(); !strings.Contains(s, "load.sent = 20\n") || !strings.Contains(s, "load.seed = 3\n") {
		t.Errorf("outputs gen load:\n%s", s)
	}

	te.reset()
	te.JSON = true
	if err := runList(ctx, &listOptions{runEnv: te.runEnv}); err != nil {
		t.Fatal(err)
	}
	var list []engine.Summary
	if err := json.Unmarshal(te.out.Bytes(), &list); err != nil || len(list) != 1 || list[0].Name != "gen" || list[0].Applied != 1 {
		t.Errorf("list --output json: %v %+v", err, list)
	}
	te.JSON = false

	te.reset()
	if err := runUnlock(ctx, &unlockOptions{runEnv: te.runEnv, Name: "gen"}); err != nil || te.errOut.String() != "stack \"gen\" was not locked\n" {
		t.Errorf("unlock: %v %q", err, te.errOut)
	}
	if err := runDown(ctx, &downOptions{runEnv: te.runEnv, Name: "gen"}); err != nil || !strings.Contains(te.errOut.String(), `stack "gen" is down and its state deleted, with its logs and load reports.`) {
		t.Errorf("down: %v\n%s", err, te.errOut)
	}
	if err := runStatus(ctx, &statusOptions{runEnv: te.runEnv, Name: "gen"}); !errors.Is(err, state.ErrNoStack) {
		t.Errorf("status after down: %v", err)
	}
}

// validate without cobra: the steps in order as text, and as JSON.
func TestRunValidateWithoutCobra(t *testing.T) {
	te := newTestEnv(t)
	o := &validateOptions{runEnv: te.runEnv, File: filepath.Join(repoRoot(t), "stacks", "demo.json"), Profile: "production"}
	if err := runValidate(o); err != nil {
		t.Fatal(err)
	}
	if s := te.out.String(); !strings.Contains(s, `stack "demo" is valid (9 steps, profile production)`) || !strings.Contains(s, "  database (terraform) after network\n") {
		t.Errorf("validate:\n%s", s)
	}
	te.reset()
	o.JSON = true
	if err := runValidate(o); err != nil {
		t.Fatal(err)
	}
	var v struct {
		Valid bool
		Steps []struct{ Name string }
	}
	if err := json.Unmarshal(te.out.Bytes(), &v); err != nil || !v.Valid || len(v.Steps) != 9 {
		t.Errorf("validate --output json: %v %+v", err, v)
	}
}

// load without cobra: flag mistakes name the flag; a run prints its table
// with the generator's configuration built from the options.
func TestRunLoadWithoutCobra(t *testing.T) {
	ctx := context.Background()
	srv := httptest.NewServer(&recorder{})
	defer srv.Close()
	te := newTestEnv(t)
	o := &loadOptions{runEnv: te.runEnv}
	o.Run.Scenario = "sms-inbound"
	wantUsage(t, "no --target", runLoad(ctx, o), "--target")
	o.Run.Target = srv.URL
	wantUsage(t, "no end", runLoad(ctx, o), "--duration")
	o.Run.Requests = 30
	wantUsage(t, "no rate", runLoad(ctx, o), "--rate")
	o.Rate = pace.Spec{Rate: 300}
	o.Run.Options.Seed, o.Run.Options.Senders = 9, 2
	o.Stop = load.StopPolicy{MinSuccess: 0.5, Percentile: 99, Votes: 3, Window: pace.Duration(1e9)}
	if err := runLoad(ctx, o); err != nil {
		t.Fatalf("load: %v\n%s", err, te.errOut)
	}
	s := te.out.String()
	if !strings.HasPrefix(s, "sms-inbound: passed\n") || !regexpMatch(`(?m)^all +30 .* 200×30$`, s) {
		t.Errorf("load summary:\n%s", s)
	}
}

// The codes column lists status codes in order, whatever the map's.
func TestLoadSummaryCodesSorted(t *testing.T) {
	codes := map[string]uint64{"503": 1, "200": 7, "error": 2, "404": 3, "201": 4, "429": 5, "500": 6}
	rep := &load.Report{Scenario: "s", Verdict: load.Passed, Total: load.Stats{Codes: codes},
		Types: []load.TypeStats{{Name: "a", Stats: load.Stats{Codes: codes}}}}
	for i := 0; i < 5; i++ {
		var b bytes.Buffer
		printSummary(&b, rep)
		if got := strings.Count(b.String(), "  200×7 201×4 404×3 429×5 500×6 503×1 error×2\n"); got != 2 {
			t.Fatalf("codes not sorted:\n%s", b.String())
		}
	}
}
