package terraform

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/terraform-config-inspect/tfconfig"

	"github.com/stack-tools/stack/stack"
)

// InspectModule reads the variables and outputs a module declares without
// providers, network or `terraform init`, so `stack validate` can check a
// definition offline. A parse error names the file and line. A module that
// declares its own backend is rejected: the engine generates the backend so
// that every stack and step gets its own state.
func InspectModule(dir string) (stack.ModuleInfo, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return stack.ModuleInfo{}, fmt.Errorf("module %s: %w (check the step's \"module\" path; it is relative to the definition file's folder)", dir, err)
	}
	if !st.IsDir() {
		return stack.ModuleInfo{}, fmt.Errorf("module %s is a file; \"module\" must name the folder that holds the .tf files", dir)
	}
	if !tfconfig.IsModuleDir(dir) {
		return stack.ModuleInfo{}, fmt.Errorf("module %s has no .tf or .tf.json files; point \"module\" at a Terraform module folder", dir)
	}
	mod, diags := tfconfig.LoadModule(dir)
	if diags.HasErrors() {
		return stack.ModuleInfo{}, fmt.Errorf("module %s cannot be read:\n  %s\nfix the file, then run `terraform fmt` and `stack validate` again", dir, strings.Join(diagLines(diags), "\n  "))
	}
	if err := checkJSONBackends(dir); err != nil {
		return stack.ModuleInfo{}, err
	}
	problems, err := checkReferences(dir)
	if err != nil {
		return stack.ModuleInfo{}, err
	}
	if len(problems) > 0 {
		return stack.ModuleInfo{}, fmt.Errorf("module %s would fail `terraform validate`:\n  %s", dir, strings.Join(problems, "\n  "))
	}
	info := stack.ModuleInfo{
		Variables: make(map[string]bool, len(mod.Variables)),
		Outputs:   make(map[string]bool, len(mod.Outputs)),
	}
	for name, v := range mod.Variables {
		info.Variables[name] = v.Required
	}
	for name, o := range mod.Outputs {
		info.Outputs[name] = o.Sensitive
	}
	addTypes(dir, mod, &info)
	return info, nil
}

// InspectModule makes the Terraform kind a stack.ModuleInspector: `stack
// validate` then checks each step's vars and every ${steps.S.outputs.O}
// against the module offline.
func (k *Kind) InspectModule(dir string) (stack.ModuleInfo, error) { return InspectModule(dir) }

// diagLines formats error diagnostics as "file:line: summary: detail".
func diagLines(diags tfconfig.Diagnostics) []string {
	var out []string
	for _, d := range diags {
		if d.Severity != tfconfig.DiagError {
			continue
		}
		var b strings.Builder
		if d.Pos != nil {
			fmt.Fprintf(&b, "%s:%d: ", d.Pos.Filename, d.Pos.Line)
		}
		b.WriteString(d.Summary)
		if d.Detail != "" {
			b.WriteString(": ")
			b.WriteString(d.Detail)
		}
		out = append(out, b.String())
	}
	return out
}

var terraformBlockSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "terraform"}}}

var backendBlockSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
	{Type: "backend", LabelNames: []string{"type"}},
	{Type: "cloud"},
}}

// backendError rejects a backend or cloud block: the engine writes the
// backend configuration itself, and a second one makes `terraform init` fail
// or, worse, share state between stacks.
func backendError(b *hcl.Block) error {
	return fmt.Errorf("%s:%d: the module declares a %q block; remove it: stack generates the backend for every stack and step", b.DefRange.Filename, b.DefRange.Start.Line, b.Type)
}

// backendBlocks returns the backend and cloud blocks inside a file's terraform blocks.
func backendBlocks(f *hcl.File) []*hcl.Block {
	var out []*hcl.Block
	top, _, _ := f.Body.PartialContent(terraformBlockSchema)
	for _, tb := range top.Blocks {
		inner, _, _ := tb.Body.PartialContent(backendBlockSchema)
		out = append(out, inner.Blocks...)
	}
	return out
}

// checkJSONBackends looks for backend and cloud blocks in .tf.json files;
// native .tf files are checked while their references are (checkReferences).
func checkJSONBackends(dir string) error {
	paths, _ := filepath.Glob(filepath.Join(dir, "*.tf.json"))
	p := hclparse.NewParser()
	for _, path := range paths {
		f, diags := p.ParseJSONFile(path)
		if diags.HasErrors() || f == nil {
			continue // LoadModule already reported syntax errors
		}
		if bs := backendBlocks(f); len(bs) > 0 {
			return backendError(bs[0])
		}
	}
	return nil
}
