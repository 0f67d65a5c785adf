package engine_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stack-tools/stack/engine"
)

// A module laid out like modules/aws (its variables in a symlinked file, its
// work in a local module outside its folder, source "../internal/child")
// applies through up; a change to either file re-applies it; and it travels
// with the stack to a workstation without the checkout.
func TestModuleWithSymlinkAndOutsideModule(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	h := newHarness(t, state)
	checkout := filepath.Join(dir, "checkout")
	copyTree(t, filepath.Join("..", "testdata", "modules", "tree"), checkout)
	if st, err := os.Lstat(filepath.Join(checkout, "app", "common.tf")); err != nil || st.Mode()&fs.ModeSymlink == 0 {
		t.Fatalf("app/common.tf is not a symlink in the copy (%v); on Windows, check out with core.symlinks", err)
	}
	def := writeDef(t, checkout, `{"name":"t10","steps":[{"name":"a","module":"app","vars":{"value":"A"}}]}`)

	up := func(want string, applied string) {
		t.Helper()
		h.reset()
		if err := h.e.Up(ctx, engine.UpOptions{Def: def}); err != nil {
			t.Fatal(err)
		}
		if got := sorted(h.ran(engine.EventApplied)); got != applied {
			t.Errorf("up applied %q, want %q", got, applied)
		}
		rec, err := h.e.Status(ctx, "t10")
		if err != nil {
			t.Fatal(err)
		}
		if v := rec.Steps["a"].Outputs["value"].Value; v != want {
			t.Errorf("a.value = %v, want %v", v, want)
		}
	}
	up("p-A!", "a")
	up("p-A!", "")
	edit(t, filepath.Join(checkout, "_shared", "common.tf"), `default = "p"`, `default = "q"`)
	up("q-A!", "a")
	edit(t, filepath.Join(checkout, "internal", "child", "value.tftpl"), "!", "?")
	up("q-A?", "a")

	if err := os.RemoveAll(checkout); err != nil {
		t.Fatal(err)
	}
	other := newHarness(t, state)
	if err := other.e.RerunStep(ctx, "t10", "a", engine.RerunOptions{}); err != nil {
		t.Fatalf("rerun-step without the checkout: %v", err)
	}
	rec, err := other.e.Status(ctx, "t10")
	if err != nil {
		t.Fatal(err)
	}
	if v := rec.Steps["a"].Outputs["value"].Value; v != "q-A?" {
		t.Errorf("a.value from the stored module = %v, want q-A?", v)
	}
	if err := other.e.Down(ctx, "t10"); err != nil {
		t.Fatalf("down without the checkout: %v", err)
	}
}

// copyTree copies a folder of test modules into dst, symlinks as symlinks.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func edit(t *testing.T, file, old, new string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s does not contain %q", file, old)
	}
	if err := os.WriteFile(file, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}
