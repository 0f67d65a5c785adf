package definition_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/stack-tools/stack/definition"
)

// Terraform's order: defaults < STACK_VAR_ < --var-file (in order) < --var (in order).
func TestVarSettingsPrecedence(t *testing.T) {
	def, err := definition.ParseDefinition("d.json", t.TempDir(), []byte(`{"name": "d",
	  "variables": {"a": "def", "b": "def", "c": "def", "d": "def", "azs": ["x"], "n": 1, "plain": "s"},
	  "steps": []}`))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	f1, f2 := filepath.Join(dir, "1.json"), filepath.Join(dir, "2.json")
	os.WriteFile(f1, []byte(`{"b": "file1", "c": "file1", "d": "file1"}`), 0o644)
	os.WriteFile(f2, []byte(`{"c": "file2", "d": "file2"}`), 0o644)
	got, err := def.VarSettings(definition.VarInputs{
		Env:   []string{"STACK_VAR_a=env", "STACK_VAR_b=env", "STACK_VAR_unknown=ignored", "PATH=/bin"},
		Files: []string{f1, f2},
		Flags: []string{"d=flag1", "d=flag2", `azs=["a","b"]`, "n=3", `plain=[1]`},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"a": "env", "b": "file1", "c": "file2", "d": "flag2", "plain": "[1]"}
	for k, v := range want {
		if got[k].Value != v {
			t.Errorf("%s = %v (from %s), want %v", k, got[k].Value, got[k].Origin, v)
		}
	}
	if !reflect.DeepEqual(got["azs"].Value, []any{"a", "b"}) {
		t.Errorf("azs = %#v, want a JSON list", got["azs"].Value)
	}
	if n := got["n"].Value; n == nil || n.(interface{ String() string }).String() != "3" {
		t.Errorf("n = %#v, want the JSON number 3", n)
	}
	if _, ok := got["unknown"]; ok {
		t.Errorf("an unknown STACK_VAR_ was taken")
	}
	_, err = def.VarSettings(definition.VarInputs{Flags: []string{"pain=1", "novalue"}})
	if err == nil || !strings.Contains(err.Error(), `did you mean "plain"`) || !strings.Contains(err.Error(), "--var NAME=VALUE") {
		t.Errorf("bad flags: %v", err)
	}
	if !definition.IsInvalid(err) {
		t.Errorf("bad flags are not an exit-2 error: %T", err)
	}
}

func jsonNumber(s string) any { return json.Number(s) }
