package terraform

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
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
	for _, tc := range []struct{ name, file, body, block string }{
		{"backend", "main.tf", "variable \"a\" {}\n\nterraform {\n  backend \"s3\" {\n    bucket = \"b\"\n  }\n}\n", "backend"},
		{"cloud", "main.tf", "terraform {\n  cloud {\n    organization = \"o\"\n  }\n}\n", "cloud"},
		{"json backend", "backend.tf.json", `{"terraform": {"backend": {"s3": {"bucket": "b"}}}}`, "backend"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeModule(t, map[string]string{tc.file: tc.body})
			_, err := InspectModule(dir)
			if err == nil {
				t.Fatalf("a module with a %s block was accepted", tc.block)
			}
			for _, want := range []string{filepath.Join(dir, tc.file) + ":", `"` + tc.block + `" block`, "remove it"} {
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

// What `terraform validate` would reject without needing a provider: each
// mistake is reported with its file and line.
func TestInspectModuleFindsUndeclaredReferences(t *testing.T) {
	valid := `
variable "subnets" {
  type = list(string)
}

locals {
  count = length(var.subnets)
}

data "aws_region" "current" {}

resource "aws_instance" "web" {
  count     = local.count
  subnet_id = var.subnets[count.index]
  provider  = aws.west

  dynamic "ebs_block_device" {
    for_each = { for i, s in var.subnets : s => i }
    content {
      device_name = ebs_block_device.key
    }
  }

  provisioner "local-exec" {
    when       = destroy
    on_failure = continue
    command    = "echo ${self.id}"
  }

  lifecycle {
    ignore_changes = [tags]
  }
}

moved {
  from = aws_instance.old
  to   = aws_instance.web
}

output "ids" {
  value = [for w in aws_instance.web : "${w.id}@${data.aws_region.current.name}${path.module}"]
}
`
	cases := []struct{ name, replace, with, want string }{
		{"valid", "", "", ""},
		{"variable", "var.subnets[count.index]", "var.subnet[count.index]", `main.tf:14: reference to undeclared input variable "subnet"`},
		{"local", "local.count", "local.cnt", `main.tf:13: reference to undeclared local value "cnt"`},
		{"resource", "aws_instance.web : ", "aws_instance.webs : ", "main.tf:41: reference to undeclared resource aws_instance.webs"},
		{"data source", "data.aws_region.current.name", "data.aws_region.here.name", "main.tf:41: reference to undeclared data source data.aws_region.here"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := valid
			if tc.replace != "" {
				if !strings.Contains(src, tc.replace) {
					t.Fatalf("fixture lacks %q", tc.replace)
				}
				src = strings.Replace(src, tc.replace, tc.with, 1)
			}
			dir := writeModule(t, map[string]string{"main.tf": src})
			_, err := InspectModule(dir)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("valid module rejected: %v", err)
			case tc.want != "" && err == nil:
				t.Fatalf("module with a bad reference accepted")
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestInspectModuleChecksTemplatefileVariables(t *testing.T) {
	files := map[string]string{
		"main.tf": `
variable "port" {
  type = number
}

output "user_data" {
  value = templatefile("${path.module}/boot.sh.tftpl", { port = var.port })
}
`,
		"boot.sh.tftpl": "#!/bin/sh\nserve --port ${port} \\\n  --queue ${queue_url}\n",
	}
	dir := writeModule(t, files)
	_, err := InspectModule(dir)
	if err == nil {
		t.Fatal("a template variable the call does not pass was accepted")
	}
	want := filepath.Join(dir, "boot.sh.tftpl") + ":3: template boot.sh.tftpl uses ${queue_url}, which the templatefile call at line 7 does not pass (passed: port)"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not contain %q", err, want)
	}

	files["main.tf"] = strings.Replace(files["main.tf"], "{ port = var.port }", "{ port = var.port, queue_url = \"q\" }", 1)
	if _, err := InspectModule(writeModule(t, files)); err != nil {
		t.Errorf("a call passing every template variable was rejected: %v", err)
	}
}

// BenchmarkInspectModule measures one inspection of the largest AWS module;
// `stack validate` inspects each step's module once per reference to it.
func BenchmarkInspectModule(b *testing.B) {
	dir := filepath.Join("..", "..", "modules", "aws", "webhook_service")
	for b.Loop() {
		if _, err := InspectModule(dir); err != nil {
			b.Fatal(err)
		}
	}
}
