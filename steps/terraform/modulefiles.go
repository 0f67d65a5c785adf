package terraform

import (
	"strings"

	"github.com/stack-tools/stack/stack"
)

var _ stack.ModuleFilter = (*Kind)(nil)

// SkipModuleFile leaves Terraform's working files out of a module's
// fingerprint and stored copy: the .terraform folder a `terraform init` in
// the module folder makes, and local state files.
func (k *Kind) SkipModuleFile(name string, isDir bool) bool { return skipModuleFile(name, isDir) }

func skipModuleFile(name string, isDir bool) bool {
	if isDir {
		return name == ".terraform"
	}
	return strings.HasSuffix(name, ".tfstate") || strings.HasSuffix(name, ".tfstate.backup")
}
