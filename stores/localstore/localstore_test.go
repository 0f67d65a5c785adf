package localstore

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/steps/terraform"
)

// The terraform step kind finds where to keep state through this interface.
var _ terraform.BackendSource = (*Store)(nil)

func TestConditionalWrites(t *testing.T) {
	ctx := context.Background()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	v1, err := s.Put(ctx, "stacks/a/stack.json", []byte("1"), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "stacks/a/stack.json", []byte("x"), ""); !errors.Is(err, stack.ErrConflict) {
		t.Errorf("create of an existing key: %v, want ErrConflict", err)
	}
	v2, err := s.Put(ctx, "stacks/a/stack.json", []byte("2"), v1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "stacks/a/stack.json", []byte("3"), v1); !errors.Is(err, stack.ErrConflict) {
		t.Errorf("update with a stale version: %v, want ErrConflict", err)
	}
	if err := s.Delete(ctx, "stacks/a/stack.json", v1); !errors.Is(err, stack.ErrConflict) {
		t.Errorf("delete with a stale version: %v, want ErrConflict", err)
	}
	data, ver, err := s.Get(ctx, "stacks/a/stack.json")
	if err != nil || string(data) != "2" || ver != v2 {
		t.Errorf("get = %q %q %v", data, ver, err)
	}
	if keys, _ := s.List(ctx, "stacks/"); len(keys) != 1 || keys[0] != "stacks/a/stack.json" {
		t.Errorf("list = %v", keys)
	}
	if err := s.Delete(ctx, "stacks/a/stack.json", v2); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Get(ctx, "stacks/a/stack.json"); !errors.Is(err, stack.ErrNotFound) {
		t.Errorf("get after delete: %v", err)
	}
	if err := s.Delete(ctx, "stacks/a/stack.json", stack.AnyVersion); err != nil {
		t.Errorf("deleting a missing key: %v", err)
	}
	if _, err := s.Put(ctx, "../escape", []byte("x"), stack.AnyVersion); err == nil {
		t.Error("a key with .. must be refused")
	}
}

// Twenty writers doing read-modify-write with compare-and-swap never lose an update.
func TestConcurrentWritersLoseNothing(t *testing.T) {
	ctx := context.Background()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 20, 10
	if _, err := s.Put(ctx, "counter", []byte("0"), ""); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				for {
					data, ver, err := s.Get(ctx, "counter")
					if err != nil {
						t.Error(err)
						return
					}
					n, _ := strconv.Atoi(string(data))
					_, err = s.Put(ctx, "counter", []byte(strconv.Itoa(n+1)), ver)
					if err == nil {
						break
					}
					if !errors.Is(err, stack.ErrConflict) {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	data, _, _ := s.Get(ctx, "counter")
	if string(data) != strconv.Itoa(writers*each) {
		t.Errorf("counter = %s, want %d", data, writers*each)
	}
}

// ListDirs reads one folder; stack.ListDirs falls back on List for a store
// without it, with the same answer.
func TestListDirsAndItsFallback(t *testing.T) {
	ctx := context.Background()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.ListDirs(ctx, "stacks/"); err != nil || len(got) != 0 {
		t.Fatalf("ListDirs of an empty store = %q, %v", got, err)
	}
	for _, k := range []string{"stacks/a/stack.json", "stacks/a/logs/x.log", "stacks/a-b/lease.json", "stacks/b/stack.json",
		"stacks/c/artifacts/s/r.html", "stacks/loose", "tfstate/d/x"} {
		if _, err := s.Put(ctx, k, []byte(k), ""); err != nil {
			t.Fatal(err)
		}
	}
	direct, err := s.ListDirs(ctx, "stacks/")
	if err != nil {
		t.Fatal(err)
	}
	// A store that only has the Store methods.
	fallback, err := stack.ListDirs(ctx, struct{ stack.Store }{s}, "stacks/")
	if err != nil {
		t.Fatal(err)
	}
	for _, got := range [][]string{direct, fallback} {
		if want := "a,a-b,b,c"; strings.Join(got, ",") != want {
			t.Errorf("ListDirs(stacks/) = %q, want %s", got, want)
		}
	}
}
