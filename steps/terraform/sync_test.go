package terraform

import (
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"
)

func TestSyncDir(t *testing.T) {
	src := writeModule(t, map[string]string{"main.tf": "a", "terraform.tfstate": "{}", "x.tfstate.backup": "{}"})
	if err := os.MkdirAll(filepath.Join(src, "sub", ".terraform"), 0o700); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"sub/b.tf": "b", "sub/.terraform/p": "p", ".terraform.lock.hcl": "l"} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	dst := writeModule(t, map[string]string{"old.tf": "gone", backendFile: "kept", varsFile: "kept", erroredState: "kept", "main.tf": "a"})
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	if err := os.Chtimes(filepath.Join(dst, "main.tf"), old, old); err != nil {
		t.Fatal(err)
	}
	if err := syncDir(src, dst); err != nil {
		t.Fatal(err)
	}
	var got []string
	_ = filepath.WalkDir(dst, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dst, p)
			got = append(got, rel)
		}
		return err
	})
	sort.Strings(got)
	want := []string{".terraform.lock.hcl", erroredState, "main.tf", "sub/b.tf", varsFile, backendFile}
	sort.Strings(want)
	if len(got) != len(want) {
		t.Fatalf("working copy holds %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("working copy holds %q, want %q", got, want)
		}
	}
	if fi, _ := os.Stat(filepath.Join(dst, "main.tf")); !fi.ModTime().Equal(old) {
		t.Error("an unchanged file was written again")
	}
}
