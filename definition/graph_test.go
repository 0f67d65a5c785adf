package definition

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stack-tools/stack/stack"
)

// kindStub is a step kind for validation tests: validation never runs a step.
type validateOnly struct{ module bool }

func (k validateOnly) Validate(cfg json.RawMessage) error {
	var none struct{}
	return stack.DecodeStrict(cfg, &none)
}
func (k validateOnly) NeedsModule() bool { return k.module }
func (k validateOnly) Apply(ctx context.Context, run *stack.StepRun) (stack.Outputs, error) {
	panic("validation must not apply")
}
func (k validateOnly) Destroy(ctx context.Context, run *stack.StepRun) error {
	panic("validation must not destroy")
}

func testRegistry() *stack.Registry {
	r := stack.NewRegistry()
	r.RegisterStep("terraform", validateOnly{module: true})
	return r
}

func parse(t *testing.T, src string) (*Definition, error) {
	t.Helper()
	dir := t.TempDir()
	for _, m := range []string{"m1", "m2"} {
		if err := os.MkdirAll(filepath.Join(dir, m), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return ParseDefinition("test.json", dir, []byte(src))
}

func TestDefinitionProblemsNameThePlace(t *testing.T) {
	cases := []struct {
		name string
		src  string
		opts GraphOptions
		want []string // substrings of the error
	}{
		{"syntax error has line and column", "{\n  \"name\": \"x\",\n  \"steps\": [\n    {\"name\": \"a\",, }\n  ]\n}", GraphOptions{}, []string{"test.json:4:18", "syntax"}},
		{"truncated file", `{"name": "x", "steps": [`, GraphOptions{}, []string{"test.json", "complete"}},
		{"unknown top-level field", `{"name":"x","stepz":[],"steps":[{"name":"a","module":"m1"}]}`, GraphOptions{}, []string{"stepz", "unknown field", "allowed here"}},
		{"unknown step field", `{"name":"x","steps":[{"name":"a","module":"m1","varz":{}}]}`, GraphOptions{}, []string{"steps[0]", "varz"}},
		{"duplicate step", `{"name":"x","steps":[{"name":"a","module":"m1"},{"name":"a","module":"m2"}]}`, GraphOptions{}, []string{"steps[1].name", "duplicate"}},
		{"invalid step name", `{"name":"x","steps":[{"name":"A_b","module":"m1"}]}`, GraphOptions{}, []string{"steps[0].name", "not valid"}},
		{"unknown kind", `{"name":"x","steps":[{"name":"a","kind":"ansible","module":"m1"}]}`, GraphOptions{}, []string{"steps[0].kind", "ansible", "known kinds: terraform"}},
		{"missing module", `{"name":"x","steps":[{"name":"a","module":"nope"}]}`, GraphOptions{}, []string{"steps[0].module", "nope", "does not exist"}},
		{"dangling after", `{"name":"x","steps":[{"name":"a","module":"m1","after":["b"]}]}`, GraphOptions{}, []string{"steps[0].after[0]", `"b" does not exist`}},
		{"dangling reference", `{"name":"x","steps":[{"name":"a","module":"m1","vars":{"v":"${steps.b.outputs.o}"}}]}`, GraphOptions{}, []string{"steps[0].vars.v", "step \"b\" does not exist"}},
		{"undefined variable", `{"name":"x","steps":[{"name":"a","module":"m1","vars":{"v":"${var.region}"}}]}`, GraphOptions{}, []string{"steps[0].vars.v", "no variable \"region\""}},
		{"bad reference", `{"name":"x","steps":[{"name":"a","module":"m1","vars":{"v":"${step.b}"}}]}`, GraphOptions{}, []string{"steps[0].vars.v", "unknown reference"}},
		{"own outputs outside handlers", `{"name":"x","steps":[{"name":"a","module":"m1","vars":{"v":"${outputs.o}"}}]}`, GraphOptions{}, []string{"only allowed in on_complete"}},
		{"cycle is named", `{"name":"x","steps":[{"name":"a","module":"m1","after":["c"]},{"name":"b","module":"m1","vars":{"v":"${steps.a.outputs.o}"}},{"name":"c","module":"m2","after":["b"]}]}`, GraphOptions{}, []string{"cycle", "a -> b -> c -> a"}},
		{"unknown handler", `{"name":"x","steps":[{"name":"a","module":"m1","on_complete":[{"handler":"consul"}]}]}`, GraphOptions{}, []string{"steps[0].on_complete[0].handler", "consul"}},
		{"only drops a dependency", `{"name":"x","steps":[{"name":"a","module":"m1"},{"name":"b","module":"m1","after":["a"]}]}`, GraphOptions{Only: []string{"b"}}, []string{"--only", `"b" needs step "a"`, `add "a" to --only`}},
		{"skip drops a dependency", `{"name":"x","steps":[{"name":"a","module":"m1"},{"name":"b","module":"m1","after":["a"]}]}`, GraphOptions{Skip: []string{"a"}}, []string{"--skip", `do not skip "a"`}},
		{"unknown profile", `{"name":"x","steps":[{"name":"a","module":"m1","profiles":{"minimal":{}}}]}`, GraphOptions{Profile: "prod"}, []string{"--profile", "prod", "minimal"}},
		{"profile may not rename", `{"name":"x","steps":[{"name":"a","module":"m1","profiles":{"minimal":{"name":"b"}}}]}`, GraphOptions{}, []string{"profiles.minimal.name", "cannot change"}},
		{"kind rejects its unknown fields", `{"name":"x","steps":[{"name":"a","module":"m1","scenario":"s"}]}`, GraphOptions{}, []string{"steps[0]", "scenario"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			def, err := parse(t, c.src)
			if err == nil {
				_, err = NewGraph(def, testRegistry(), c.opts)
			}
			if err == nil {
				t.Fatal("expected an error")
			}
			if !IsInvalid(err) {
				t.Fatalf("error is not an InvalidError (exit 2): %v", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestPlanDepsProfilesAndOrder(t *testing.T) {
	def, err := parse(t, `{"name":"x","variables":{"r":"eu"},"steps":[
		{"name":"net","module":"m1","vars":{"region":"${var.r}"},"profiles":{"minimal":{"vars":{"azs":1}},"production":{"vars":{"azs":3},"module":"m2"}}},
		{"name":"db","module":"m1","vars":{"subnets":"${steps.net.outputs.ids}"}},
		{"name":"q","module":"m1"},
		{"name":"web","module":"m1","after":["q"],"vars":{"db":"host=${steps.db.outputs.endpoint}"}}]}`)
	if err != nil {
		t.Fatal(err)
	}
	min, err := NewGraph(def, testRegistry(), GraphOptions{Profile: "minimal"})
	if err != nil {
		t.Fatal(err)
	}
	prod, err := NewGraph(def, testRegistry(), GraphOptions{Profile: "production"})
	if err != nil {
		t.Fatal(err)
	}
	if min.ByName["net"].Vars["azs"] == prod.ByName["net"].Vars["azs"] || min.ByName["net"].Module == prod.ByName["net"].Module {
		t.Errorf("profiles did not change vars/module: %v %v", min.ByName["net"], prod.ByName["net"])
	}
	if got := strings.Join(min.ByName["web"].Deps, ","); got != "db,q" {
		t.Errorf("web deps = %s, want db,q (from after and from a reference inside a string)", got)
	}
	var order []string
	for _, s := range min.Order() {
		order = append(order, s.Name)
	}
	if got := strings.Join(order, ","); got != "net,db,q,web" {
		t.Errorf("order = %s", got)
	}
	if d := min.Descendants("net"); !d["db"] || !d["web"] || d["q"] {
		t.Errorf("descendants of net = %v", d)
	}
}

func TestResolveKeepsTypesAndSensitivity(t *testing.T) {
	r := &stack.Resolver{
		Vars:  map[string]any{"region": "us-east-1"},
		Stack: map[string]string{"name": "bfcm"},
		Outputs: func(s string) (stack.Outputs, error) {
			return stack.Outputs{"ids": {Value: []any{"a", "b"}}, "pw": {Value: "hunter2", Sensitive: true}}, nil
		},
	}
	v, sens, err := r.Resolve("${steps.net.outputs.ids}", "")
	if err != nil || sens {
		t.Fatal(err, sens)
	}
	if l, ok := v.([]any); !ok || len(l) != 2 {
		t.Errorf("a whole-string reference should keep the list, got %#v", v)
	}
	v, _, _ = r.Resolve("${stack.name}.${var.region} $${literal}", "")
	if v != "bfcm.us-east-1 ${literal}" {
		t.Errorf("interpolation = %q", v)
	}
	_, sens, _ = r.Resolve(map[string]any{"dsn": "u:${steps.db.outputs.pw}@h"}, "")
	if !sens {
		t.Error("a value built from a sensitive output must be sensitive")
	}
	if red := (stack.Outputs{"pw": {Value: "hunter2", Sensitive: true}}).Redacted([]byte("test-key-test-key-test-key-32byt")); red["pw"].Value != nil || red["pw"].Digest == "" {
		t.Errorf("redacted = %#v", red)
	}
}

// inspecting is a step kind whose modules declare fixed outputs, or fail to read.
type inspecting struct {
	validateOnly
	outputs []string
	err     error
}

func (k inspecting) InspectModule(dir string) (stack.ModuleInfo, error) {
	info := stack.ModuleInfo{Variables: map[string]bool{}, Outputs: map[string]bool{}}
	for _, o := range k.outputs {
		info.Outputs[o] = false
	}
	return info, k.err
}

// namedOutputs is a handler that cannot name its outputs; declaring can.
type namedOutputs struct {
	names []string
}

func (h namedOutputs) Validate(json.RawMessage) error { return nil }
func (h namedOutputs) Run(context.Context, *stack.HandlerRun) (stack.HandlerResult, error) {
	panic("validation must not run handlers")
}
func (h namedOutputs) Teardown(context.Context, *stack.HandlerRun, json.RawMessage) error { return nil }

type declaring struct{ namedOutputs }

func (h declaring) OutputNames(json.RawMessage) []string { return h.names }

// A handler sees the module's outputs and those of the handlers before it, not
// those after it; a handler that cannot name its outputs turns the check off.
func TestHandlerOutputsAreCheckedInOrder(t *testing.T) {
	reg := stack.NewRegistry()
	reg.RegisterStep("terraform", inspecting{validateOnly: validateOnly{module: true}, outputs: []string{"subnet_group"}})
	reg.RegisterHandler("restore", declaring{namedOutputs{names: []string{"endpoint"}}})
	reg.RegisterHandler("publish", declaring{})
	reg.RegisterHandler("mystery", namedOutputs{})
	for _, tc := range []struct{ name, handlers, wantPath string }{
		{"restore then publish", `{"handler": "restore", "group": "${outputs.subnet_group}"}, {"handler": "publish", "v": "${outputs.endpoint}"}`, ""},
		{"publish before restore", `{"handler": "publish", "v": "${outputs.endpoint}"}, {"handler": "restore", "group": "${outputs.subnet_group}"}`, "steps[0].on_complete[0].v"},
		{"unknown handler outputs", `{"handler": "mystery"}, {"handler": "publish", "v": "${outputs.anything}"}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			def, err := parse(t, `{"name": "s", "steps": [{"name": "db", "module": "m1", "on_complete": [`+tc.handlers+`]}]}`)
			if err != nil {
				t.Fatal(err)
			}
			_, err = NewGraph(def, reg, GraphOptions{})
			var ie *InvalidError
			switch {
			case tc.wantPath == "" && err != nil:
				t.Errorf("want no problems, got %v", err)
			case tc.wantPath != "" && (!errors.As(err, &ie) || len(ie.Problems) != 1 || ie.Problems[0].Path != tc.wantPath):
				t.Errorf("want one problem at %s, got %v", tc.wantPath, err)
			case tc.wantPath != "" && !strings.Contains(ie.Problems[0].Msg, `no output "endpoint" at this point; available: subnet_group`):
				t.Errorf("message %q should say which outputs exist at that point", ie.Problems[0].Msg)
			}
		})
	}
}

// A module a profile chose that cannot be read is reported where the profile
// names it.
func TestUnreadableModuleIsReportedWhereTheProfileSetsIt(t *testing.T) {
	reg := stack.NewRegistry()
	reg.RegisterStep("terraform", inspecting{validateOnly: validateOnly{module: true}, err: errors.New("main.tf:3: unclosed block")})
	def, err := parse(t, `{"name": "s", "steps": [{"name": "a", "module": "m1", "profiles": {"p": {"module": "m2"}}}]}`)
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewGraph(def, reg, GraphOptions{Profile: "p"})
	var ie *InvalidError
	if !errors.As(err, &ie) || ie.Problems[0].Path != "steps[0].profiles.p.module" || !strings.Contains(ie.Problems[0].Msg, "main.tf:3") || !strings.Contains(ie.Problems[0].Msg, "profile p") {
		t.Errorf("want a problem at steps[0].profiles.p.module naming main.tf:3 and the profile, got %v", err)
	}
}
