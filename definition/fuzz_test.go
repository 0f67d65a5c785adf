package definition_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stack-tools/stack/definition"
	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/steps/terraform"
)

// FuzzDefinition feeds arbitrary files through parsing and full validation
// (the work of `stack validate` and of `up` before it touches anything): no
// input may panic, and every rejection is an InvalidError (exit 2) whose
// problems each name where they are: a JSON path, a flag, or file:line:col.
//
// Seeds: testdata/fuzz/FuzzDefinition plus the definitions below.
// Run longer with: go test ./definition -run '^$' -fuzz FuzzDefinition -fuzztime 1m
func FuzzDefinition(f *testing.F) {
	for _, seed := range []string{
		`{"name":"a","steps":[{"name":"x","module":"modules/echo","vars":{"value":"v"}}]}`,
		`{"name":"a","variables":{"v":"1"},"steps":[
		  {"name":"x","module":"modules/echo","vars":{"value":"${var.v}"},"profiles":{"minimal":{"vars":{"value":"m"}}}},
		  {"name":"y","module":"modules/echo","vars":{"value":"${steps.x.outputs.value}"},"after":["x"],
		   "on_complete":[{"handler":"record","value":"${outputs.value}"}]}]}`,
		`{"name":"a","steps":[{"name":"x","module":"modules/echo","after":["y"]},{"name":"y","module":"modules/echo","after":["x"]}]}`,
		`{"name":"A b","steps":[{"name":"x","kind":"nosuch"}]}`,
		`{"name":"a","steps":[{"name":"x","module":"modules/echo","vars":{"value":"$${literal} ${stack.name}"}}]}`,
		`{"name":"a","steps":[`,
		`[]`, `null`, ``,
	} {
		f.Add([]byte(seed), "", "")
	}
	f.Add([]byte(`{"name":"a","steps":[{"name":"x","module":"modules/echo","vars":{"value":"v"},"profiles":{"p":{"module":"modules/sleep"}}}]}`), "p", "x")
	reg := stack.NewRegistry()
	reg.RegisterStep("terraform", terraform.New(f.TempDir()))
	reg.RegisterHandler("record", recorder{})
	dir, err := filepath.Abs(filepath.Join("..", "testdata"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw []byte, profile, only string) {
		def, err := definition.ParseDefinition("fuzz.json", dir, raw)
		if err != nil {
			checkRejection(t, err)
			return
		}
		opts := definition.GraphOptions{Profile: profile}
		if only != "" {
			opts.Only = strings.Split(only, ",")
		}
		plan, err := definition.NewGraph(def, reg, opts)
		if err != nil {
			checkRejection(t, err)
			return
		}
		// A valid plan is a graph that can run: every step in the order once,
		// after the steps it depends on.
		pos := map[string]int{}
		for i, s := range plan.Order() {
			pos[s.Name] = i
		}
		if len(pos) != len(plan.Steps) {
			t.Fatalf("order has %d steps, plan %d", len(pos), len(plan.Steps))
		}
		for _, s := range plan.Steps {
			for _, d := range s.Deps {
				if pos[d] >= pos[s.Name] {
					t.Fatalf("step %s runs before its dependency %s", s.Name, d)
				}
			}
		}
	})
}

func checkRejection(t *testing.T, err error) {
	t.Helper()
	var inv *definition.InvalidError
	if !errors.As(err, &inv) {
		t.Fatalf("rejected with %T, not an invalid-definition error (exit 2): %v", err, err)
	}
	if len(inv.Problems) == 0 {
		t.Fatalf("an invalid-definition error without problems: %v", err)
	}
	for _, p := range inv.Problems {
		if p.Path == "" && !strings.Contains(p.File, ":") {
			t.Fatalf("problem %q names neither a field nor a place in the file", p.String())
		}
		if strings.TrimSpace(p.Msg) == "" {
			t.Fatalf("problem at %s has no message", p.Path)
		}
	}
}

// recorder is the smallest completion handler validation needs: a config
// with one "value" field.
type recorder struct{}

func (recorder) Validate(cfg json.RawMessage) error {
	var c struct {
		Value any `json:"value"`
	}
	return stack.DecodeStrict(cfg, &c)
}

func (recorder) Run(context.Context, *stack.HandlerRun) (stack.HandlerResult, error) {
	return stack.HandlerResult{}, nil
}

func (recorder) Teardown(context.Context, *stack.HandlerRun, json.RawMessage) error { return nil }
