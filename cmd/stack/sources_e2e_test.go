package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stack-tools/stack/internal/testenv"
)

// A module from a git repository at a tag is applied; when the tag moves,
// plan says "module changed" for that step; another workstation, with another
// cache and without the repository, brings the stack down from the copy
// stored with it.
func TestGitModuleSource(t *testing.T) {
	repo := t.TempDir()
	mod := filepath.Join(repo, "modules", "echo")
	if err := os.MkdirAll(mod, 0o755); err != nil {
		t.Fatal(err)
	}
	tf := "variable \"value\" {\n  type = string\n}\n\nresource \"terraform_data\" \"v\" {\n  input = var.value\n}\n\noutput \"value\" {\n  value = terraform_data.v.output\n}\n"
	if err := os.WriteFile(filepath.Join(mod, "main.tf"), []byte(tf), 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.Git(t, repo, "init", "-q", "-b", "main")
	testenv.Git(t, repo, "add", ".")
	testenv.Git(t, repo, "commit", "-q", "-m", "echo")
	testenv.Git(t, repo, "tag", "v1")

	defDir := t.TempDir()
	file := filepath.Join(defDir, "remote.json")
	def := `{"name": "remote", "steps": [{"name": "a", "module": "git::file://` + repo + `//modules/echo?ref=v1", "vars": {"value": "x"}}]}`
	if err := os.WriteFile(file, []byte(def), 0o644); err != nil {
		t.Fatal(err)
	}
	stateDir := t.TempDir()
	w := newWorkstation(t, stateDir)
	w.must("validate", file)
	w.must("up", file)
	first := w.status("remote").Steps["a"]
	if got := first.Outputs["value"].Value; got != "x" {
		t.Fatalf("output value = %v, want x", got)
	}
	if want := testenv.Git(t, repo, "rev-parse", "v1"); first.ModuleRevision != want {
		t.Errorf("status says the module came from commit %q, want v1's %s", first.ModuleRevision, want)
	}
	if r := w.run("plan", "remote", file); r.code != 0 {
		t.Fatalf("plan before the tag moved: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// Move the tag to a commit that changes the module.
	if err := os.WriteFile(filepath.Join(mod, "more.tf"), []byte("output \"extra\" {\n  value = \"more\"\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.Git(t, repo, "add", ".")
	testenv.Git(t, repo, "commit", "-q", "-m", "more")
	testenv.Git(t, repo, "tag", "-f", "v1")
	r := w.run("plan", "remote", file)
	if r.code != 2 || !strings.Contains(r.stdout, "module changed") {
		t.Fatalf("plan after the tag moved: exit %d, want 2 and \"module changed\"\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, line := range strings.Split(r.stdout, "\n") {
		if strings.HasPrefix(line, "a ") && !strings.Contains(line, "module changed") {
			t.Errorf("step a: %q, want module changed", line)
		}
	}

	// up re-applies the step with the module the tag points at now.
	w.must("up", file)
	st := w.status("remote").Steps["a"]
	if st.Applies != 2 {
		t.Errorf("step a applied %d times, want 2 (the moved tag re-applies it)", st.Applies)
	}
	if want := testenv.Git(t, repo, "rev-parse", "v1"); st.ModuleRevision != want || want == first.ModuleRevision {
		t.Errorf("after the tag moved, status says commit %q, want the tag's new %s", st.ModuleRevision, want)
	}
	if text := w.must("status", "remote").stdout; !strings.Contains(text, "module commit: "+st.ModuleRevision) {
		t.Errorf("status does not name the module's commit:\n%s", text)
	}
	if r := w.run("plan", "remote", file); r.code != 0 {
		t.Errorf("plan after up: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	if err := os.RemoveAll(repo); err != nil {
		t.Fatal(err)
	}
	other := newWorkstation(t, stateDir)
	other.must("down", "remote")
}
