package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stack-tools/stack/engine"
	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/state"
)

// list's filters through its options: an empty --owner or --profile is a
// usage error naming the flag; the table and the JSON keep name order; no
// match says so. reap --parallelism 0 is refused naming the flag.
func TestListFiltersAndFlags(t *testing.T) {
	ctx := context.Background()
	te := newTestEnv(t)
	e, err := te.Engine(ctx)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	expired := now.Add(-time.Minute)
	for _, r := range []*state.Record{
		{Name: "zulu", CreatedBy: "alice@laptop", Profile: "minimal", TTL: "1h", ExpiresAt: &expired},
		{Name: "mike", CreatedBy: "bob@desk", Profile: "production"},
		{Name: "alpha", CreatedBy: "alice@desk", Profile: "production"},
	} {
		r.CreatedAt, r.UpdatedAt, r.Status = now.Add(-time.Hour), now.Add(-time.Hour), state.StatusApplied
		data, _ := json.Marshal(r)
		if _, err := e.Store.Put(ctx, state.RecordKey(r.Name), data, stack.AnyVersion); err != nil {
			t.Fatal(err)
		}
	}
	list := func(o listOptions) string {
		t.Helper()
		te.reset()
		o.runEnv = te.runEnv
		if err := runList(ctx, &o); err != nil {
			t.Fatalf("list %+v: %v", o.ListFilter, err)
		}
		var rows []string
		for _, l := range strings.Split(strings.TrimSpace(te.out.String()), "\n")[1:] {
			rows = append(rows, strings.Fields(l)[0])
		}
		return strings.Join(rows, ",")
	}
	if got := list(listOptions{}); got != "alpha,mike,zulu" {
		t.Errorf("list = %s\n%s", got, te.out)
	}
	if got := list(listOptions{ListFilter: engine.ListFilter{Owner: "alice"}}); got != "alpha,zulu" {
		t.Errorf("list --owner alice = %s", got)
	}
	if got := list(listOptions{ListFilter: engine.ListFilter{Profile: "production", Owner: "bob@desk"}}); got != "mike" {
		t.Errorf("list --profile production --owner bob@desk = %s", got)
	}
	if got := list(listOptions{ListFilter: engine.ListFilter{Expired: true}}); got != "zulu" {
		t.Errorf("list --expired = %s", got)
	}
	te.reset()
	te.JSON = true
	if err := runList(ctx, &listOptions{runEnv: te.runEnv, ListFilter: engine.ListFilter{Profile: "production"}}); err != nil {
		t.Fatal(err)
	}
	var js []engine.Summary
	if err := json.Unmarshal(te.out.Bytes(), &js); err != nil || len(js) != 2 || js[0].Name != "alpha" || js[1].Name != "mike" {
		t.Errorf("list --profile production --output json: %v\n%s", err, te.out)
	}
	te.reset()
	if err := runList(ctx, &listOptions{runEnv: te.runEnv, ListFilter: engine.ListFilter{Locked: true}}); err != nil || strings.TrimSpace(te.out.String()) != "[]" {
		t.Errorf("list --locked --output json with nothing locked: %v %q", err, te.out)
	}
	te.JSON = false
	te.reset()
	if err := runList(ctx, &listOptions{runEnv: te.runEnv, ListFilter: engine.ListFilter{Owner: "nobody"}}); err != nil || !strings.Contains(te.errOut.String(), "match the filters") {
		t.Errorf("list --owner nobody: %v %q", err, te.errOut)
	}
	wantUsage(t, "list --owner ''", runList(ctx, &listOptions{runEnv: te.runEnv, OwnerSet: true}), "--owner")
	wantUsage(t, "list --profile ' '", runList(ctx, &listOptions{runEnv: te.runEnv, ProfileSet: true, ListFilter: engine.ListFilter{Profile: " "}}), "--profile")
	wantUsage(t, "reap --parallelism 0", runReap(ctx, &reapOptions{runEnv: te.runEnv, DryRun: true}), "--parallelism")
}

// The same mistakes on the command line exit 2 naming the flag.
func TestListAndReapFlagMistakesExit2(t *testing.T) {
	w := newWorkstation(t, t.TempDir())
	for _, c := range []struct {
		args   []string
		naming string
	}{
		{[]string{"list", "--owner", ""}, "--owner"},
		{[]string{"list", "--profile="}, "--profile"},
		{[]string{"list", "--expired=maybe"}, "--expired"},
		{[]string{"reap", "--dry-run", "--parallelism", "0"}, "--parallelism"},
	} {
		if r := w.run(c.args...); r.code != 2 || !strings.Contains(r.stderr, c.naming) {
			t.Errorf("stack %s: exit %d, want 2 naming %s\n%s", strings.Join(c.args, " "), r.code, c.naming, r.stderr)
		}
	}
	if r := w.run("list", "--owner", "alice", "--locked", "--expired", "--profile", "minimal"); r.code != 0 || !strings.Contains(r.stderr, "no stacks") {
		t.Errorf("list with every filter on an empty store: exit %d\n%s", r.code, r.stderr)
	}
}
