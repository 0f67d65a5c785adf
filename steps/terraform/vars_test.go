package terraform

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/stack-tools/stack/stack"
)

// Sensitive variables never reach the working copy's variables file.
func TestWriteVarsLeavesSensitiveOut(t *testing.T) {
	tests := []struct {
		name      string
		module    string
		run       stack.StepRun
		want      map[string]any
		sensitive map[string]any
	}{
		{name: "plain and sensitive", module: `variable "name" {}`,
			run:  stack.StepRun{Vars: map[string]any{"name": "web", "password": "hunter2", "size": 2.0}, SensitiveVars: map[string]bool{"password": true}},
			want: map[string]any{"name": "web", "size": 2.0}, sensitive: map[string]any{"password": "hunter2"}},
		{name: "none", module: `variable "name" {}`, run: stack.StepRun{Vars: map[string]any{}},
			want: map[string]any{}, sensitive: map[string]any{}},
		{name: "identity added", module: `variable "stack_identity" {}`,
			run:  stack.StepRun{Stack: "s", Step: "db", Vars: map[string]any{"token": "t0k"}, SensitiveVars: map[string]bool{"token": true}},
			want: map[string]any{"stack_identity": map[string]any{"stack": "s", "step": "db"}}, sensitive: map[string]any{"token": "t0k"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeModule(t, map[string]string{"main.tf": tt.module})
			if err := writeVars(dir, &tt.run); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join(dir, varsFile))
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("%s = %v, want %v", varsFile, got, tt.want)
			}
			for _, v := range tt.sensitive {
				if strings.Contains(string(b), v.(string)) {
					t.Errorf("%s holds the sensitive value %q", varsFile, v)
				}
			}
			if _, sensitive := splitVars(&tt.run); !reflect.DeepEqual(sensitive, tt.sensitive) {
				t.Errorf("sensitive vars = %v, want %v", sensitive, tt.sensitive)
			}
		})
	}
}
