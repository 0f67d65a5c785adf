package terraform

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// declarations are the names a module defines, by the way they are referenced.
type declarations struct {
	vars, locals, modules map[string]bool
	resources, data       map[string]bool // "TYPE.NAME"
	iterators             map[string]bool // dynamic block iterators
	files                 []*hcl.File
}

// checkReferences reports what `terraform validate` would reject but needs no
// provider to find: references to variables, locals, resources, data sources
// and modules the module does not declare, and templatefile calls that leave
// a template variable unset. Only native-syntax .tf files are checked.
//
// A backend or cloud block is returned as an error.
func checkReferences(dir string) ([]string, error) {
	d := collectDeclarations(dir)
	for _, f := range d.files {
		if bs := backendBlocks(f); len(bs) > 0 {
			return nil, backendError(bs[0])
		}
	}
	var problems []string
	add := func(rng hcl.Range, format string, args ...any) {
		problems = append(problems, fmt.Sprintf("%s:%d: %s", rng.Filename, rng.Start.Line, fmt.Sprintf(format, args...)))
	}
	for _, f := range d.files {
		body := f.Body.(*hclsyntax.Body)
		for _, b := range body.Blocks {
			switch b.Type {
			case "terraform", "moved", "removed", "import", "check":
				continue // they name things that need not exist in this module
			}
			walkAttributes(b.Body, b.Type, func(attr *hclsyntax.Attribute) {
				for _, t := range hclsyntax.Variables(attr.Expr) {
					if msg := d.undeclared(t); msg != "" {
						add(t.SourceRange(), "%s", msg)
					}
				}
			})
		}
		for _, attr := range body.Attributes {
			add(attr.SrcRange, "unexpected top-level argument %q", attr.Name)
		}
		problems = append(problems, checkTemplateCalls(dir, body)...)
	}
	sort.Strings(problems)
	return problems, nil
}

func collectDeclarations(dir string) *declarations {
	d := &declarations{
		vars: map[string]bool{}, locals: map[string]bool{}, modules: map[string]bool{},
		resources: map[string]bool{}, data: map[string]bool{}, iterators: map[string]bool{},
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".tf") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		src, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		f, diags := hclsyntax.ParseConfig(src, filepath.Join(dir, e.Name()), hcl.InitialPos)
		if diags.HasErrors() {
			continue // syntax errors are reported by LoadModule
		}
		d.files = append(d.files, f)
		body := f.Body.(*hclsyntax.Body)
		for _, b := range body.Blocks {
			switch {
			case b.Type == "variable" && len(b.Labels) == 1:
				d.vars[b.Labels[0]] = true
			case b.Type == "locals":
				for name := range b.Body.Attributes {
					d.locals[name] = true
				}
			case b.Type == "resource" && len(b.Labels) == 2:
				d.resources[b.Labels[0]+"."+b.Labels[1]] = true
			case b.Type == "data" && len(b.Labels) == 2:
				d.data[b.Labels[0]+"."+b.Labels[1]] = true
			case b.Type == "module" && len(b.Labels) == 1:
				d.modules[b.Labels[0]] = true
			}
		}
		_ = hclsyntax.VisitAll(body, func(n hclsyntax.Node) hcl.Diagnostics {
			if b, ok := n.(*hclsyntax.Block); ok && b.Type == "dynamic" && len(b.Labels) == 1 {
				d.iterators[b.Labels[0]] = true
				if it, ok := b.Body.Attributes["iterator"]; ok {
					d.iterators[hcl.ExprAsKeyword(it.Expr)] = true
				}
			}
			return nil
		})
	}
	return d
}

// walkAttributes calls fn for every attribute in body and its nested blocks,
// except those whose expressions are keywords or addresses, not references: a
// variable's type, a resource's provider, lifecycle.ignore_changes, a
// provisioner's when and on_failure.
func walkAttributes(body *hclsyntax.Body, blockType string, fn func(*hclsyntax.Attribute)) {
	for name, attr := range body.Attributes {
		switch {
		case blockType == "variable" && name == "type",
			name == "provider", name == "providers",
			blockType == "lifecycle" && name == "ignore_changes",
			blockType == "provisioner" && (name == "when" || name == "on_failure"),
			blockType == "dynamic" && name == "iterator":
			continue
		}
		fn(attr)
	}
	for _, b := range body.Blocks {
		walkAttributes(b.Body, b.Type, fn)
	}
}

// undeclared returns a message when t refers to something the module does not
// declare, or "".
func (d *declarations) undeclared(t hcl.Traversal) string {
	root := t.RootName()
	attr := func(i int) string {
		if len(t) > i {
			if a, ok := t[i].(hcl.TraverseAttr); ok {
				return a.Name
			}
		}
		return ""
	}
	switch root {
	case "path", "terraform", "count", "each", "self", "ephemeral", "action":
		return ""
	case "var":
		if n := attr(1); n != "" && !d.vars[n] {
			return fmt.Sprintf("reference to undeclared input variable %q; declare it in variables.tf or fix the name (declared: %s)", n, listOrNone(sortedNames(d.vars)))
		}
	case "local":
		if n := attr(1); n != "" && !d.locals[n] {
			return fmt.Sprintf("reference to undeclared local value %q (declared: %s)", n, listOrNone(sortedNames(d.locals)))
		}
	case "module":
		if n := attr(1); n != "" && !d.modules[n] {
			return fmt.Sprintf("reference to undeclared module %q", n)
		}
	case "data":
		if typ, n := attr(1), attr(2); typ != "" && n != "" && !d.data[typ+"."+n] {
			return fmt.Sprintf("reference to undeclared data source data.%s.%s", typ, n)
		}
	default:
		if d.iterators[root] {
			return ""
		}
		if n := attr(1); n != "" && !d.resources[root+"."+n] {
			return fmt.Sprintf("reference to undeclared resource %s.%s", root, n)
		}
		if attr(1) == "" {
			return fmt.Sprintf("unknown name %q", root)
		}
	}
	return ""
}

// checkTemplateCalls finds templatefile("${path.module}/F", {k = ...}) calls
// and reports template variables the call does not pass. Calls whose path or
// variables are not written literally are skipped.
func checkTemplateCalls(dir string, body *hclsyntax.Body) []string {
	var problems []string
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{
		"path": cty.ObjectVal(map[string]cty.Value{"module": cty.StringVal(dir)}),
	}}
	_ = hclsyntax.VisitAll(body, func(n hclsyntax.Node) hcl.Diagnostics {
		call, ok := n.(*hclsyntax.FunctionCallExpr)
		if !ok || call.Name != "templatefile" || len(call.Args) != 2 {
			return nil
		}
		pathVal, diags := call.Args[0].Value(ctx)
		if diags.HasErrors() || !pathVal.Type().Equals(cty.String) || !pathVal.IsKnown() {
			return nil
		}
		obj, ok := call.Args[1].(*hclsyntax.ObjectConsExpr)
		if !ok {
			return nil
		}
		passed := map[string]bool{}
		for _, item := range obj.Items {
			if k := hcl.ExprAsKeyword(item.KeyExpr); k != "" {
				passed[k] = true
			}
		}
		at := call.Range()
		file := pathVal.AsString()
		src, err := os.ReadFile(file)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s:%d: templatefile: %v", at.Filename, at.Start.Line, err))
			return nil
		}
		tmpl, tdiags := hclsyntax.ParseTemplate(src, file, hcl.InitialPos)
		if tdiags.HasErrors() {
			problems = append(problems, fmt.Sprintf("%s: template syntax: %s", file, tdiags.Error()))
			return nil
		}
		seen := map[string]bool{}
		for _, t := range tmpl.Variables() {
			name := t.RootName()
			if passed[name] || seen[name] {
				continue
			}
			seen[name] = true
			r := t.SourceRange()
			problems = append(problems, fmt.Sprintf("%s:%d: template %s uses ${%s}, which the templatefile call at line %d does not pass (passed: %s)",
				r.Filename, r.Start.Line, filepath.Base(file), name, at.Start.Line, listOrNone(sortedNames(passed))))
		}
		return nil
	})
	return problems
}

func sortedNames[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

func listOrNone(names []string) string {
	if len(names) == 0 {
		return "(none)"
	}
	return strings.Join(names, ", ")
}
