package terraform

import (
	"strings"
	"testing"

	"github.com/stack-tools/stack/stack"
)

func kinds(kind string) stack.ModuleInspector {
	if kind == "terraform" {
		return InspectorFunc(InspectModule)
	}
	return nil
}

// A handler sees the module's outputs and those of the handlers before it, not
// those of handlers after it; a handler that cannot name its outputs turns the
// check off rather than failing a valid definition.
func TestCheckDefinitionHandlerOutputsInOrder(t *testing.T) {
	mod := writeModule(t, map[string]string{"main.tf": "output \"subnet_group\" {\n  value = \"g\"\n}\n"})
	outputs := func(h stack.HandlerDef) ([]string, bool) {
		switch h.Handler {
		case "restore":
			return []string{"endpoint"}, true
		case "publish":
			return nil, true
		}
		return nil, false
	}
	def := func(handlers string) *stack.Definition {
		t.Helper()
		raw := `{"name": "s", "steps": [{"name": "db", "module": "` + mod + `", "on_complete": [` + handlers + `]}]}`
		d, err := stack.ParseDefinition("s.json", t.TempDir(), []byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	for _, tc := range []struct {
		name, handlers, wantPath string
	}{
		{"restore then publish", `{"handler": "restore", "group": "${outputs.subnet_group}"}, {"handler": "publish", "v": "${outputs.endpoint}"}`, ""},
		{"publish before restore", `{"handler": "publish", "v": "${outputs.endpoint}"}, {"handler": "restore", "group": "${outputs.subnet_group}"}`, "steps[0].on_complete[0].v"},
		{"unknown handler outputs", `{"handler": "mystery"}, {"handler": "publish", "v": "${outputs.anything}"}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			probs := CheckDefinition(def(tc.handlers), "", kinds, outputs)
			switch {
			case tc.wantPath == "" && len(probs) > 0:
				t.Errorf("want no problems, got %v", probs)
			case tc.wantPath != "" && (len(probs) != 1 || probs[0].Path != tc.wantPath):
				t.Errorf("want one problem at %s, got %v", tc.wantPath, probs)
			case tc.wantPath != "" && !strings.Contains(probs[0].Msg, `no output "endpoint" at this point; available: subnet_group`):
				t.Errorf("message %q should say which outputs exist at that point", probs[0].Msg)
			}
		})
	}
}

func TestCheckDefinitionReportsUnreadableModuleAtItsPath(t *testing.T) {
	mod := writeModule(t, map[string]string{"main.tf": "output \"x\" {\n"})
	raw := `{"name": "s", "steps": [{"name": "a", "module": "` + mod + `", "profiles": {"p": {"module": "` + mod + `"}}}]}`
	d, err := stack.ParseDefinition("s.json", t.TempDir(), []byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	probs := CheckDefinition(d, "p", kinds, nil)
	if len(probs) != 1 || probs[0].Path != "steps[0].profiles.p.module" || !strings.Contains(probs[0].Msg, "main.tf:") {
		t.Errorf("want one problem at steps[0].profiles.p.module naming main.tf and the line, got %v", probs)
	}
}
