package terraform

import (
	"sort"
	"strings"

	"github.com/hashicorp/terraform-config-inspect/tfconfig"

	"github.com/stack-tools/stack/stack"
)

var (
	_ stack.ModuleFilter      = (*Kind)(nil)
	_ stack.LocalModuleCaller = (*Kind)(nil)
)

// moduleFiles is what the engine needs to know about a Terraform module's
// files.
var moduleFiles = stack.ModuleFiles{Skip: skipModuleFile, Calls: localModuleCalls}

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

// LocalModuleCalls lets the engine digest, snapshot and copy the local
// modules a module calls outside its folder along with it.
func (k *Kind) LocalModuleCalls(dir string) ([]string, error) { return localModuleCalls(dir) }

// localModuleCalls returns the sources of the local modules ("./x", "../x")
// that the module in dir calls, sorted; registry, Git and other sources are
// not local. Only a file that cannot be read is an error: from a module that
// does not parse it returns the calls that could be read, and Terraform
// reports the syntax error when it runs.
func localModuleCalls(dir string) ([]string, error) {
	fsys := &readErrFS{FS: tfconfig.NewOsFs()}
	mod, _ := tfconfig.LoadModuleFromFilesystem(fsys, dir)
	if fsys.err != nil {
		return nil, fsys.err
	}
	var calls []string
	for _, c := range mod.ModuleCalls {
		if strings.HasPrefix(c.Source, "./") || strings.HasPrefix(c.Source, "../") {
			calls = append(calls, c.Source)
		}
	}
	sort.Strings(calls)
	return calls, nil
}

// readErrFS keeps the first error reading a file, which tfconfig only
// reports as a diagnostic, among syntax errors.
type readErrFS struct {
	tfconfig.FS
	err error
}

func (f *readErrFS) ReadFile(name string) ([]byte, error) {
	b, err := f.FS.ReadFile(name)
	if err != nil && f.err == nil {
		f.err = err
	}
	return b, err
}
