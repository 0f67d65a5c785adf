package main

import (
	"path/filepath"
	"testing"
)

// `stack up` applies a module laid out like modules/aws: variables from a
// symlinked file (common.tf -> ../_shared/common.tf) and a local module
// outside its folder (source = "../internal/child"), from the checkout as it
// is; `stack down` removes it.
func TestUpModuleWithSymlinkAndOutsideModule(t *testing.T) {
	dir := t.TempDir()
	module := filepath.Join(repoRoot(t), "testdata", "modules", "tree", "app")
	def := writeFile(t, filepath.Join(dir, "tree.json"), `{"name":"tree","steps":[
	 {"name":"a","module":"`+filepath.ToSlash(module)+`","vars":{"value":"A"}}]}`)
	w := newWorkstation(t, filepath.Join(dir, "state"))
	w.must("up", def)
	if v := w.status("tree").Steps["a"].Outputs["value"].Value; v != "p-A!" {
		t.Errorf("a.value = %v, want p-A! (prefix from the symlinked file, ! from the child module's template)", v)
	}
	w.must("down", "tree")
}
