package terraform

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/stack-tools/stack/stack"
)

// writeModule creates a module folder holding the given files.
func writeModule(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestInspectModuleReadsVariablesAndOutputs(t *testing.T) {
	dir := writeModule(t, map[string]string{
		"variables.tf": `
variable "name" {
  type = string
}

variable "size" {
  type    = number
  default = 1
}

variable "nullable_default" {
  type    = string
  default = null
}
`,
		"outputs.tf": `
output "url" {
  value = "http://${var.name}"
}

output "password" {
  value     = var.name
  sensitive = true
}
`,
		"extra.tf.json": `{"variable": {"from_json": {"type": "string"}}}`,
	})
	info, err := InspectModule(dir)
	if err != nil {
		t.Fatal(err)
	}
	wantVars := map[string]bool{"name": true, "size": false, "nullable_default": false, "from_json": true}
	if !reflect.DeepEqual(info.Variables, wantVars) {
		t.Errorf("variables (name -> required) = %v, want %v", info.Variables, wantVars)
	}
	wantOuts := map[string]bool{"url": false, "password": true}
	if !reflect.DeepEqual(info.Outputs, wantOuts) {
		t.Errorf("outputs (name -> sensitive) = %v, want %v", info.Outputs, wantOuts)
	}
}

func TestInspectModuleNamesFileAndLineOfSyntaxErrors(t *testing.T) {
	dir := writeModule(t, map[string]string{
		"main.tf": "variable \"ok\" {}\n\nresource \"x\" \"y\" {\n  a = \n",
	})
	_, err := InspectModule(dir)
	if err == nil {
		t.Fatal("a module with an unclosed block was accepted")
	}
	want := filepath.Join(dir, "main.tf") + ":"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not name the file (%s) and line", err, want)
	}
}

func TestInspectModuleRejectsBackendBlocks(t *testing.T) {
	for name, body := range map[string]string{
		"backend": "variable \"a\" {}\n\nterraform {\n  backend \"s3\" {\n    bucket = \"b\"\n  }\n}\n",
		"cloud":   "terraform {\n  cloud {\n    organization = \"o\"\n  }\n}\n",
	} {
		t.Run(name, func(t *testing.T) {
			dir := writeModule(t, map[string]string{"main.tf": body})
			_, err := InspectModule(dir)
			if err == nil {
				t.Fatalf("a module with a %s block was accepted", name)
			}
			for _, want := range []string{filepath.Join(dir, "main.tf") + ":", name, "remove it"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
		})
	}
}

func TestInspectModuleExplainsAMissingOrEmptyFolder(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	if _, err := InspectModule(missing); err == nil || !strings.Contains(err.Error(), "relative to the definition file") {
		t.Errorf("missing folder: error %v should explain where module paths are resolved from", err)
	}
	empty := t.TempDir()
	if _, err := InspectModule(empty); err == nil || !strings.Contains(err.Error(), "no .tf") {
		t.Errorf("empty folder: error %v should say there are no .tf files", err)
	}
}

func TestCheckVars(t *testing.T) {
	info := stack.ModuleInfo{Variables: map[string]bool{"name": true, "subnet_ids": true, "size": false}}
	undeclared, missing := CheckVars(info, []string{"name", "size", "node_count", "colour"})
	if want := []string{"colour", "node_count"}; !reflect.DeepEqual(undeclared, want) {
		t.Errorf("undeclared = %v, want %v", undeclared, want)
	}
	if want := []string{"subnet_ids"}; !reflect.DeepEqual(missing, want) {
		t.Errorf("missing = %v, want %v", missing, want)
	}
}
