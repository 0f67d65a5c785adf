package main

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stack-tools/stack/engine"
	"github.com/stack-tools/stack/state"
	"github.com/stack-tools/stack/stores/localstore"

	"github.com/stack-tools/stack/definition"
)

// The plan and reap run functions, without cobra: options in, table out, the
// exit status carried by the error.
func TestRunPlanAndReapWithoutCobra(t *testing.T) {
	ctx := context.Background()
	st, err := localstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	g := &globalOptions{cacheDir: t.TempDir()}
	open := func(context.Context) (*engine.Engine, error) {
		return &engine.Engine{Store: st, Registry: newRegistry(g), CacheDir: g.cacheDir}, nil
	}
	var out, errOut bytes.Buffer
	env := runEnv{Out: &out, ErrOut: &errOut, Engine: open}
	po := &planOptions{runEnv: env, Name: "nosuch", Parallelism: 0}
	var usage *usageError
	if err := runPlan(ctx, po); !errors.As(err, &usage) || !strings.Contains(err.Error(), "--parallelism") {
		t.Errorf("--parallelism 0: %v, want a usage error", err)
	}
	po.Parallelism = 2
	if err := runPlan(ctx, po); !errors.Is(err, state.ErrNoStack) {
		t.Errorf("plan of a missing stack: %v", err)
	}

	def := writeFile(t, filepath.Join(t.TempDir(), "q.json"), `{"name": "q", "steps": [
  {"name": "queue", "module": "`+filepath.Join(repoRoot(t), "modules/local/queue")+`", "vars": {"name": "${stack.name}"}}]}`)
	d, err := definition.LoadDefinition(def)
	if err != nil {
		t.Fatal(err)
	}
	e, _ := open(ctx)
	if err := e.Up(ctx, engine.UpOptions{Def: d}); err != nil {
		t.Fatal(err)
	}
	po.Name = "q"
	if err := runPlan(ctx, po); err != nil {
		t.Fatalf("plan of an unchanged stack: %v", err)
	}
	if !regexpMatch(`queue +terraform +unchanged +0 +0 +0`, out.String()) || !strings.Contains(out.String(), "1 unchanged") {
		t.Errorf("plan table:\n%s", out.String())
	}

	out.Reset()
	ro := &reapOptions{runEnv: env, DryRun: true, Stacks: 1}
	if err := runReap(ctx, ro); err != nil || !strings.Contains(errOut.String(), "no expired stacks") {
		t.Errorf("reap --dry-run with nothing expired: %v\n%s%s", err, out.String(), errOut.String())
	}
}

func regexpMatch(re, s string) bool { return regexp.MustCompile(re).MatchString(s) }
