package terraform

import (
	"os"
	"path/filepath"
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
		d, err := stack.DirDigest(dir, New(t.TempDir()).SkipModuleFile)
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
