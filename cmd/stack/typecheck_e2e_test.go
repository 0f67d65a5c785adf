package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `stack validate` refuses the demo with a var of the wrong type with exit 2,
// naming the var, the type the module declares and the value given.
func TestValidateRefusesWrongTypes(t *testing.T) {
	root := repoRoot(t)
	raw, err := os.ReadFile(filepath.Join(root, "stacks", "demo.json"))
	if err != nil {
		t.Fatal(err)
	}
	demo := strings.ReplaceAll(string(raw), `"../modules/`, `"`+filepath.Join(root, "modules")+`/`)
	w := newWorkstation(t, t.TempDir())
	for _, c := range []struct{ old, new, want string }{
		{`"vars": {"subnet_ids": "${steps.network.outputs.private_subnet_ids}"},
      "on_complete"`, `"vars": {"subnet_ids": "123"},
      "on_complete"`, `steps[1].vars.subnet_ids: step "database"`},
		{`{"minimal": {"vars": {"azs": 1}}`, `{"minimal": {"vars": {"azs": "x"}}`, `steps[0].profiles.minimal.vars.azs: step "network"`},
	} {
		if !strings.Contains(demo, c.old) {
			t.Fatalf("the demo no longer has %q", c.old)
		}
		file := filepath.Join(t.TempDir(), "demo.json")
		if err := os.WriteFile(file, []byte(strings.Replace(demo, c.old, c.new, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		r := w.run("validate", file, "--profile", "minimal")
		if r.code != 2 || !strings.Contains(r.stderr, c.want) || !strings.Contains(r.stderr, "is declared") {
			t.Errorf("validate: exit %d, want 2 with %q:\n%s", r.code, c.want, r.stderr)
		}
	}
	// Values given in a var file are checked too.
	varFile := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(varFile, []byte(`{"cidr": ["10.0.0.0/16"]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	r := w.run("validate", filepath.Join(root, "stacks", "demo.json"), "--var-file", varFile)
	if r.code != 2 || !strings.Contains(r.stderr, `variable "cidr" is declared string, but the value given is "${var.cidr}" = ["10.0.0.0/16"]`) {
		t.Errorf("validate --var-file: exit %d:\n%s", r.code, r.stderr)
	}
}
