package terraform

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func write(t *testing.T, file, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func files(t *testing.T, root string) string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return err
	})
	sort.Strings(out)
	return strings.Join(out, ",")
}

// The working copy follows the module as it starts and stops calling a module
// outside its folder: symlinks copied as content, nothing of the old layout
// left, and a state an interrupted apply could not save kept where the next
// apply pushes it from.
func TestSyncModuleFollowsTheLayout(t *testing.T) {
	src := t.TempDir()
	mod := filepath.Join(src, "app")
	write(t, filepath.Join(src, "shared", "vars.tf"), `variable "v" {}`)
	write(t, filepath.Join(mod, "main.tf"), "output \"v\" {\n  value = var.v\n}\n")
	if err := os.Symlink(filepath.Join("..", "shared", "vars.tf"), filepath.Join(mod, "vars.tf")); err != nil {
		t.Skipf("no symlinks here: %v", err)
	}
	root := filepath.Join(t.TempDir(), "module")

	dir, err := syncModule(mod, root)
	if err != nil || dir != root {
		t.Fatalf("self-contained module: %q, %v; want the copy's root", dir, err)
	}
	if st, err := os.Lstat(filepath.Join(root, "vars.tf")); err != nil || !st.Mode().IsRegular() {
		t.Fatalf("symlinked vars.tf not copied as a file: %v", err)
	}
	write(t, filepath.Join(root, erroredState), "{}")

	write(t, filepath.Join(mod, "child.tf"), "module \"c\" {\n  source = \"../lib/c\"\n}\n")
	write(t, filepath.Join(src, "lib", "c", "main.tf"), `resource "terraform_data" "x" {}`)
	dir, err = syncModule(mod, root)
	if err != nil || dir != filepath.Join(root, "_") {
		t.Fatalf("module calling ../lib/c: %q, %v; want root/_", dir, err)
	}
	if got, want := files(t, root), "_/child.tf,_/errored.tfstate,_/main.tf,_/vars.tf,lib/c/main.tf"; got != want {
		t.Errorf("copy holds %s, want %s", got, want)
	}

	if err := os.Remove(filepath.Join(mod, "child.tf")); err != nil {
		t.Fatal(err)
	}
	if dir, err = syncModule(mod, root); err != nil || dir != root {
		t.Fatalf("back to self-contained: %q, %v", dir, err)
	}
	if got, want := files(t, root), "errored.tfstate,main.tf,vars.tf"; got != want {
		t.Errorf("copy holds %s, want %s", got, want)
	}
}
