package stack

import (
	"fmt"
	"strings"
	"testing"
)

// FuzzReferences expands arbitrary strings the way a step's vars and a
// handler's config are expanded: no input may panic; text without "${" comes
// back as it was; an error names the field it is in; and a value that uses a
// sensitive output is marked sensitive, so it never reaches the store or a log.
//
// Seeds: testdata/fuzz/FuzzReferences plus the strings below.
// Run longer with: go test ./stack -run '^$' -fuzz FuzzReferences -fuzztime 1m
func FuzzReferences(f *testing.F) {
	for _, seed := range []string{
		"plain", "${var.v}", "${var.list}", "x-${var.list}-y", "$${var.v}", "$$${var.v}",
		"${steps.s.outputs.o}", "${steps.s.outputs.secret}", "pw=${steps.s.outputs.secret};",
		"${outputs.own}", "${stack.name}/${stack.profile}", "${steps.nosuch.outputs.o}",
		"${var.}", "${steps..outputs.o}", "${", "}${", "${${var.v}}", "${var.v", "${ var.v }",
	} {
		f.Add(seed)
	}
	outs := Outputs{"o": {Value: "val"}, "secret": {Value: "pw", Sensitive: true}, "n": {Value: 3.5}}
	r := &Resolver{
		Vars:  map[string]any{"v": "x", "list": []any{"a", "<b>"}, "obj": map[string]any{"k": true}},
		Stack: map[string]string{"name": "st", "profile": "minimal", "owner": "me"},
		Outputs: func(step string) (Outputs, error) {
			if step != "s" {
				return nil, fmt.Errorf("step %q has not been applied", step)
			}
			return outs, nil
		},
		Own: Outputs{"own": {Value: "mine"}},
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, sens, err := r.Resolve(map[string]any{"field": []any{s}}, "vars")
		if !strings.Contains(s, "${") {
			got, _ := v.(map[string]any)["field"].([]any)
			if err != nil || sens || len(got) != 1 || got[0] != s {
				t.Fatalf("%q without references came back as %#v, %v, %v", s, v, sens, err)
			}
			return
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "vars.field[0]: ") {
				t.Fatalf("error does not name the field: %v", err)
			}
			return
		}
		usesSecret := false
		FindRefs(s, "", func(rf Ref, _ string, err error) {
			if err == nil && rf.Kind == "step" && rf.Name == "secret" {
				usesSecret = true
			}
		})
		if usesSecret && !sens {
			t.Fatalf("%q uses a sensitive output but is not marked sensitive", s)
		}
	})
}
