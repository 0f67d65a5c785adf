package terraform

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stack-tools/stack/stack"
)

// Running Terraform in a module folder by hand leaves files that are not the
// module's: the module's fingerprint ignores them, and nothing else.
func TestModuleDigestSkipsTerraformWorkingFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, data string) {
		t.Helper()
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	digest := func() string {
		t.Helper()
		d, err := stack.DirDigest(dir, stack.ModuleFiles{Skip: New(t.TempDir()).SkipModuleFile})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	write("main.tf", `resource "terraform_data" "x" {}`)
	write("sub/vars.tf", `variable "v" {}`)
	before := digest()
	write(".terraform/providers/p", "binary")
	write("terraform.tfstate", "{}")
	write("terraform.tfstate.backup", "{}")
	write("sub/errored.tfstate", "{}")
	write(".git/HEAD", "ref")
	if after := digest(); after != before {
		t.Fatal("Terraform's working files changed the module's digest")
	}
	write("sub/vars.tf", `variable "w" {}`)
	if digest() == before {
		t.Fatal("a changed module file left the digest as it was")
	}
}

// Local module calls are read from HCL and JSON files alike; other sources
// are not local.
func TestLocalModuleCalls(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "main.tf"), `
module "asg" {
  source = "../internal/asg"
}
module "sub" {
  source = "./sub"
}
module "vpc" {
  source  = "terraform-aws-modules/vpc/aws"
  version = "5.0.0"
}
module "git" {
  source = "git::https://example.com/m.git"
}
`)
	write(t, filepath.Join(dir, "more.tf.json"), `{"module": {"lb": {"source": "../internal/lb"}, "reg": {"source": "hashicorp/consul/aws"}}}`)
	got, err := localModuleCalls(dir)
	if want := "../internal/asg,../internal/lb,./sub"; err != nil || strings.Join(got, ",") != want {
		t.Errorf("calls = %q, %v; want %s", got, err, want)
	}

	none := t.TempDir()
	write(t, filepath.Join(none, "main.tf"), `resource "terraform_data" "x" {}`)
	if got, err := localModuleCalls(none); err != nil || len(got) != 0 {
		t.Errorf("module without calls: %q, %v; want none", got, err)
	}

	// A syntax error is Terraform's to report; the calls it could read stay.
	write(t, filepath.Join(dir, "broken.tf"), `resource "x" {`)
	if got, err := localModuleCalls(dir); err != nil || len(got) != 3 {
		t.Errorf("module with a syntax error: %q, %v; want its 3 calls", got, err)
	}
	// A file that cannot be read is an error, as it is for the digest.
	if err := os.Symlink("missing.tf", filepath.Join(dir, "dangling.tf")); err != nil {
		t.Skipf("no symlinks here: %v", err)
	}
	if _, err := localModuleCalls(dir); err == nil {
		t.Error("a .tf file that cannot be read: no error")
	}
}
