package definition_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stack-tools/stack/definition"
	"github.com/stack-tools/stack/handlers/zookeeper"
	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/steps/generator"
	"github.com/stack-tools/stack/steps/terraform"
)

// typeMutations change one var of stacks/demo.json to a value its module's
// declared type refuses. Each is also in the FuzzDefinition corpus (named
// type-NAME there); go test -run TestTypeMutations -update-corpus rewrites them.
var typeMutations = []struct {
	name     string
	old, new string
	varName  string
	declared string
	given    string
}{
	{"subnet-ids-string", `"vars": {"subnet_ids": "${steps.network.outputs.private_subnet_ids}"},
      "on_complete"`, `"vars": {"subnet_ids": "123"},
      "on_complete"`, "subnet_ids", "list(string)", `"123"`},
	{"azs-string", `{"minimal": {"vars": {"azs": 1}}`, `{"minimal": {"vars": {"azs": "x"}}`, "azs", "number", `"x"`},
	{"cidr-list", `"cidr": "${var.cidr}"}`, `"cidr": ["10.0.0.0/16"]}`, "cidr", "string", `["10.0.0.0/16"]`},
	{"instances-word", `{"instances": 1, "instance_class": "db.t4g.medium"}`, `{"instances": "one", "instance_class": "db.t4g.medium"}`, "instances", "number", `"one"`},
	{"instance-class-object", `"instance_class": "db.t4g.medium"}`, `"instance_class": {"size": "medium"}}`, "instance_class", "string", `{"size":"medium"}`},
	{"identity-missing-attribute", `"vars": {"stack_name": "${stack.name}", "cidr": "${var.cidr}"}`, `"vars": {"stack_name": "${stack.name}", "cidr": "${var.cidr}", "stack_identity": {"stack": "demo"}}`, "stack_identity", "object({ stack = string, step = string })", `{"stack":"demo"}`},
	{"list-output-into-string", `"db_endpoint": "${steps.database.outputs.endpoint}",
        "cache_endpoint"`, `"db_endpoint": "${steps.database.outputs.instance_ids}",
        "cache_endpoint"`, "db_endpoint", "string", `"${steps.database.outputs.instance_ids}"`},
	{"string-var-into-list", `"vars": {"subnet_ids": "${steps.network.outputs.private_subnet_ids}"},
      "profiles": {"minimal": {"vars": {"nodes"`, `"vars": {"subnet_ids": "${var.region}"},
      "profiles": {"minimal": {"vars": {"nodes"`, "subnet_ids", "list(string)", `"${var.region}"`},
}

// The demo with one var of the wrong type fails validation before anything
// runs, naming the var, the type the module declares and the value given.
func TestTypeMutations(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "stacks", "demo.json"))
	if err != nil {
		t.Fatal(err)
	}
	reg := stack.NewRegistry()
	reg.RegisterStep("terraform", terraform.New(t.TempDir()))
	reg.RegisterStep("generator", generator.New())
	reg.RegisterHandler("zookeeper", zookeeper.New(zookeeper.Options{}))
	dir, _ := filepath.Abs(filepath.Join("..", "stacks"))
	def, err := definition.ParseDefinition("demo.json", dir, raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := definition.NewGraph(def, reg, definition.GraphOptions{Profile: "minimal"}); err != nil {
		t.Fatalf("the demo itself: %v", err)
	}
	for _, m := range typeMutations {
		t.Run(m.name, func(t *testing.T) {
			if !strings.Contains(string(raw), m.old) {
				t.Fatalf("the demo no longer has %q", m.old)
			}
			src := strings.Replace(string(raw), m.old, m.new, 1)
			writeCorpus(t, "type-"+m.name, src, "minimal")
			def, err := definition.ParseDefinition("demo.json", dir, []byte(src))
			if err == nil {
				_, err = definition.NewGraph(def, reg, definition.GraphOptions{Profile: "minimal"})
			}
			if err == nil || !definition.IsInvalid(err) {
				t.Fatalf("validates (or fails without exit 2): %v", err)
			}
			for _, want := range []string{fmt.Sprintf("variable %q", m.varName), "declared " + m.declared, m.given} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error lacks %q:\n%v", want, err)
				}
			}
		})
	}
}

var updateCorpus = flag.Bool("update-corpus", false, "rewrite the FuzzDefinition corpus entries of TestTypeMutations")

// writeCorpus checks that a rejected definition is in the fuzz corpus, or
// puts it there with -update-corpus.
func writeCorpus(t *testing.T, name, src, profile string) {
	t.Helper()
	body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\nstring(%q)\nstring(%q)\n", src, profile, "")
	path := filepath.Join("testdata", "fuzz", "FuzzDefinition", name)
	if old, err := os.ReadFile(path); err == nil && string(old) == body {
		return
	}
	if !*updateCorpus {
		t.Errorf("%s is missing or out of date; run go test ./definition -run TestTypeMutations -update-corpus", path)
		return
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A var the module does not declare is named with the closest one it does.
func TestUnknownModuleVariableSuggests(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "stacks", "demo.json"))
	if err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(string(raw), `"instances": 1, "instance_class"`, `"instances": 1, "instance_clas"`, 1)
	dir, _ := filepath.Abs(filepath.Join("..", "stacks"))
	def, err := definition.ParseDefinition("demo.json", dir, []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	reg := stack.NewRegistry()
	reg.RegisterStep("terraform", terraform.New(t.TempDir()))
	reg.RegisterStep("generator", generator.New())
	reg.RegisterHandler("zookeeper", zookeeper.New(zookeeper.Options{}))
	_, err = definition.NewGraph(def, reg, definition.GraphOptions{Profile: "minimal"})
	want := `steps[1].profiles.minimal.vars.instance_clas: step "database" (module ../modules/local/database, profile minimal): module has no variable "instance_clas" (did you mean "instance_class"?)`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}

// A sensitive stack variable may only reach module variables declared sensitive.
func TestSensitiveVariableNeedsSensitiveModuleVariable(t *testing.T) {
	echo, _ := filepath.Abs(filepath.Join("..", "testdata", "modules", "echo"))
	reg := stack.NewRegistry()
	reg.RegisterStep("terraform", terraform.New(t.TempDir()))
	for _, c := range []struct {
		vars string
		ok   bool
	}{
		{`{"value": "v", "secret": "${var.token}"}`, true},
		{`{"value": "prefix-${var.token}"}`, false},
	} {
		def, err := definition.ParseDefinition("s.json", t.TempDir(), []byte(`{"name": "s", "variables": {"token": "t"}, "sensitive_variables": ["token"],
		  "steps": [{"name": "a", "module": "`+echo+`", "vars": `+c.vars+`}]}`))
		if err != nil {
			t.Fatal(err)
		}
		_, err = definition.NewGraph(def, reg, definition.GraphOptions{})
		if c.ok != (err == nil) || (err != nil && (!strings.Contains(err.Error(), `steps[0].vars.value: `) || !strings.Contains(err.Error(), "sensitive = true"))) {
			t.Errorf("vars %s: %v", c.vars, err)
		}
	}
}
