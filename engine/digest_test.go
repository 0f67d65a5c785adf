package engine_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stack-tools/stack/engine"
	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/stores/localstore"
)

// Each store has its own random digest key, made once: every command (and
// every racing workstation) on one store gets the same key, another store a
// different one.
func TestDigestKeyIsPerStoreAndStable(t *testing.T) {
	ctx := context.Background()
	open := func(dir string) stack.Store {
		st, err := localstore.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	one, other := open(t.TempDir()), open(t.TempDir())
	keys := make([][]byte, 8)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := stack.LoadDigestKey(ctx, one)
			if err != nil {
				t.Error(err)
			}
			keys[i] = k
		}()
	}
	wg.Wait()
	for _, k := range keys[1:] {
		if !bytes.Equal(k, keys[0]) {
			t.Fatal("commands racing on one store got different digest keys")
		}
	}
	again, err := stack.LoadDigestKey(ctx, one)
	if err != nil || !bytes.Equal(again, keys[0]) {
		t.Fatalf("the key changed between commands (%v)", err)
	}
	theirs, err := stack.LoadDigestKey(ctx, other)
	if err != nil || bytes.Equal(theirs, keys[0]) {
		t.Fatalf("two stores share a digest key (%v)", err)
	}
}

// The digest of one sensitive value differs between stores (no fixed key to
// guess it with offline) and stays the same within a store, so an unchanged
// stack stays unchanged, also for a step that consumes the sensitive value.
func TestSensitiveDigestsDifferBetweenStoresAndStayStable(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	mod := copyModule(t, "echo", dir)
	def := writeDef(t, dir, fmt.Sprintf(`{"name":"dg","steps":[
	 {"name":"a","module":%q,"vars":{"value":"A","secret":"weak"}},
	 {"name":"b","module":%q,"vars":{"value":"B","secret":"${steps.a.outputs.secret}"}}]}`, mod, mod))
	digest := func(h *harness) string {
		rec, err := h.e.Status(ctx, "dg")
		if err != nil {
			t.Fatal(err)
		}
		o := rec.Steps["a"].Outputs["secret"]
		if !o.Sensitive || o.Value != nil || o.Digest == "" {
			t.Fatalf("a.secret stored as %+v, want only a digest", o)
		}
		return o.Digest
	}
	one := newHarness(t, filepath.Join(dir, "one"))
	other := newHarness(t, filepath.Join(dir, "other"))
	for _, h := range []*harness{one, other} {
		if err := h.e.Up(ctx, engine.UpOptions{Def: def}); err != nil {
			t.Fatal(err)
		}
	}
	first := digest(one)
	if first == digest(other) {
		t.Error("the same sensitive value has the same digest in two stores")
	}
	// A new process on the same store (fresh engine) finds nothing to do.
	again := newHarness(t, filepath.Join(dir, "one"))
	if err := again.e.Up(ctx, engine.UpOptions{Def: def}); err != nil {
		t.Fatal(err)
	}
	if got := again.ran(engine.EventApplied); len(got) != 0 {
		t.Errorf("an unchanged stack re-applied %v: a sensitive digest changed between commands", got)
	}
	if digest(again) != first {
		t.Error("the digest changed within one store")
	}
	for _, h := range []*harness{one, other} {
		if err := h.e.Down(ctx, "dg"); err != nil {
			t.Fatal(err)
		}
	}
}
