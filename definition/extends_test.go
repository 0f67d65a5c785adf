package definition_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/stack-tools/stack/definition"
	"github.com/stack-tools/stack/handlers/aurora"
	"github.com/stack-tools/stack/handlers/zookeeper"
	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/steps/generator"
	"github.com/stack-tools/stack/steps/terraform"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// A chain of three files merges variables, steps, step fields and profiles
// by name or key; null removes; "remove": true drops a step.
func TestExtendsMergeRules(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"base/base.json": `{"name": "base", "ttl": "8h", "variables": {"a": "base", "b": "base", "gone": 1},
		  "steps": [
		    {"name": "x", "module": "../mods/x", "vars": {"v": "base", "w": "base"}, "after": ["y"],
		     "profiles": {"p": {"vars": {"v": "p-base", "k": 1}, "module": "../mods/px"}, "q": {"vars": {"v": "q"}}}},
		    {"name": "y", "module": "../mods/y"},
		    {"name": "z", "module": "../mods/z"}]}`,
		"mid.json": `{"extends": "base/base.json", "name": "mid", "variables": {"b": "mid", "gone": null},
		  "steps": [{"name": "y", "remove": true}, {"name": "x", "after": null}]}`,
		"top.json": `{"extends": "mid.json", "name": "top", "ttl": null,
		  "steps": [{"name": "x", "vars": {"w": null, "n": 2}, "profiles": {"p": {"vars": {"k": 2}}, "q": null}},
		    {"name": "new", "module": "mods/new"}]}`,
	})
	def, err := definition.LoadDefinition(filepath.Join(dir, "top.json"))
	if err != nil {
		t.Fatal(err)
	}
	if def.Name != "top" || def.TTL != "" {
		t.Errorf("name %q ttl %q, want top and none", def.Name, def.TTL)
	}
	if want := map[string]any{"a": "base", "b": "mid"}; !reflect.DeepEqual(def.Variables, want) {
		t.Errorf("variables %v, want %v", def.Variables, want)
	}
	var names []string
	for _, s := range def.Steps {
		names = append(names, s.Name)
	}
	if strings.Join(names, ",") != "x,z,new" {
		t.Fatalf("steps %v, want x,z,new", names)
	}
	x := def.Steps[0]
	if !reflect.DeepEqual(x.Vars, map[string]any{"v": "base", "n": jsonNumber("2")}) || x.After != nil {
		t.Errorf("step x vars %v after %v", x.Vars, x.After)
	}
	if _, ok := x.Profiles["q"]; ok {
		t.Errorf("profile q was not removed")
	}
	if p := x.Profiles["p"]; !reflect.DeepEqual(p.Vars, map[string]any{"v": "p-base", "k": jsonNumber("2")}) || p.Module != "mods/px" {
		t.Errorf("profile p: vars %v module %q", p.Vars, p.Module)
	}
	// Module paths of a file in another folder stay relative to the extending file.
	if x.Module != "mods/x" || def.Steps[2].Module != "mods/new" {
		t.Errorf("modules %q %q, want mods/x and mods/new (relative to top.json)", x.Module, def.Steps[2].Module)
	}
	var b strings.Builder
	def.Explain(&b)
	for _, want := range []string{
		`steps[0].vars.n = 2  # ` + filepath.Join(dir, "top.json"),
		`steps[0].vars.v = "base"  # ` + filepath.Join(dir, "base/base.json"),
		`variables.b = "mid"  # ` + filepath.Join(dir, "mid.json"),
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("explain lacks %q:\n%s", want, b.String())
		}
	}
}

// Files that extend each other are refused with the chain spelled out.
func TestExtendsCycle(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"a.json": `{"extends": "b.json", "name": "a", "steps": []}`,
		"b.json": `{"extends": "c.json", "name": "b", "steps": []}`,
		"c.json": `{"extends": "a.json", "name": "c", "steps": []}`,
	})
	_, err := definition.LoadDefinition(filepath.Join(dir, "a.json"))
	want := strings.Join([]string{filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json"), filepath.Join(dir, "c.json"), filepath.Join(dir, "a.json")}, " -> ")
	if err == nil || !definition.IsInvalid(err) || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v, want an exit-2 error with %s", err, want)
	}
}

// A problem names the file that wrote the value and its path there, through extends.
func TestExtendsProblemsNameTheFile(t *testing.T) {
	echo, _ := filepath.Abs(filepath.Join("..", "testdata", "modules", "echo"))
	dir := writeFiles(t, map[string]string{
		"base.json": `{"name": "b", "steps": [{"name": "one", "module": "` + echo + `", "vars": {"value": "v"}},
		  {"name": "two", "module": "` + echo + `", "vars": {"value": "v", "secrt": "s"}}]}`,
		"child.json": `{"extends": "base.json", "name": "c", "steps": [{"name": "three", "module": "` + echo + `", "vars": {"value": ["not", "a", "string"]}},
		  {"name": "one", "modul": "x"}]}`,
	})
	reg := stack.NewRegistry()
	reg.RegisterStep("terraform", terraform.New(t.TempDir()))
	child := filepath.Join(dir, "child.json")
	def, err := definition.LoadDefinition(child)
	if err == nil {
		_, err = definition.NewGraph(def, reg, definition.GraphOptions{})
	}
	if err == nil || !strings.Contains(err.Error(), child+": steps[1]: ") || !strings.Contains(err.Error(), "modul") {
		t.Fatalf("unknown field in the child: %v", err)
	}
	os.WriteFile(child, []byte(`{"extends": "base.json", "name": "c", "steps": [{"name": "three", "module": "`+echo+`", "vars": {"value": ["not", "a", "string"]}}]}`), 0o644)
	def, err = definition.LoadDefinition(child)
	if err != nil {
		t.Fatal(err)
	}
	_, err = definition.NewGraph(def, reg, definition.GraphOptions{})
	for _, want := range []string{
		filepath.Join(dir, "base.json") + " (extended by " + child + "): steps[1].vars.secrt: ",
		`did you mean "secret"?`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	os.WriteFile(child, []byte(`{"extends": "base.json", "name": "c", "steps": [{"name": "three", "module": "`+echo+`", "vars": {"value": ["not", "a", "string"]}},
	  {"name": "two", "vars": {"secrt": null}}]}`), 0o644)
	if def, err = definition.LoadDefinition(child); err != nil {
		t.Fatal(err)
	}
	_, err = definition.NewGraph(def, reg, definition.GraphOptions{})
	for _, want := range []string{
		child + ": steps[0].vars.value: ",
		`declared string, but the value given is ["not","a","string"]`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// stacks/sms-inbound.bfcm.json validates offline under both profiles.
func TestBFCMDefinitionValidates(t *testing.T) {
	reg := stack.NewRegistry()
	reg.RegisterStep("terraform", terraform.New(t.TempDir()))
	reg.RegisterStep("generator", generator.New())
	reg.RegisterHandler("zookeeper", zookeeper.New(zookeeper.Options{}))
	reg.RegisterHandler("aurora", aurora.New(aurora.Options{}))
	def, err := definition.Load(context.Background(), filepath.Join("..", "stacks", "sms-inbound.bfcm.json"), definition.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	snaps, _ := def.Variables["aurora_snapshots"].(map[string]any)
	if def.Name != "sms-inbound-bfcm" || def.TTL == "" || !strings.Contains(snaps["seeded"].(string), "bfcm") {
		t.Errorf("name %q ttl %q snapshots %v", def.Name, def.TTL, snaps)
	}
	for _, p := range []string{"minimal", "production"} {
		if _, err := definition.NewGraph(def, reg, definition.GraphOptions{Profile: p}); err != nil {
			t.Errorf("profile %s: %v", p, err)
		}
	}
}

// A parent in another folder has its generator's scenario folder, targets
// file and senders file rewritten for the child's folder, as module paths
// are; a built-in scenario's name is left alone.
func TestExtendsRebasesPathFields(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"shared/base.json": `{"name": "base", "steps": [
		    {"name": "load", "kind": "generator", "scenario": "scenarios/checkout", "senders": {"file": "numbers.csv"},
		     "profiles": {"production": {"targets_file": "targets.txt"}}},
		    {"name": "builtin", "kind": "generator", "scenario": "sms-inbound"}]}`,
		"shared/scenarios/checkout/scenario.json": `{}`,
		"shared/numbers.csv":                      "+15550000001\n",
		"shared/targets.txt":                      "GET http://127.0.0.1:1/\n",
		"teams/web/top.json":                      `{"extends": "../../shared/base.json", "name": "top"}`,
	})
	def, err := definition.Load(context.Background(), filepath.Join(dir, "teams/web/top.json"),
		definition.LoadOptions{PathFields: generator.PathFields()})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]string{
		"load":    {"scenario": `"../../shared/scenarios/checkout"`, "senders": `{"file":"../../shared/numbers.csv"}`},
		"builtin": {"scenario": `"sms-inbound"`},
	}
	for _, s := range def.Steps {
		for field, w := range want[s.Name] {
			if got := string(s.Extra[field]); got != w {
				t.Errorf("step %s %s = %s, want %s", s.Name, field, got, w)
			}
		}
		if s.Name == "load" {
			if got := string(s.Profiles["production"].Extra["targets_file"]); got != `"../../shared/targets.txt"` {
				t.Errorf("production targets_file = %s, want the path from teams/web", got)
			}
		}
	}
}
