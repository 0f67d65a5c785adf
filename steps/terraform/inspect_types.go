package terraform

import (
	"path/filepath"
	"slices"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/terraform-config-inspect/tfconfig"
	"github.com/zclconf/go-cty/cty"

	"github.com/stack-tools/stack/stack"
)

// addTypes fills in the declared type of each variable, the type of each
// output whose value expression says it offline, and the managed resources.
func addTypes(dir string, mod *tfconfig.Module, info *stack.ModuleInfo) {
	info.VarTypes = make(map[string]string, len(mod.Variables))
	info.SensitiveVars = map[string]bool{}
	varTypes := map[string]cty.Type{}
	for name, v := range mod.Variables {
		info.VarTypes[name] = v.Type
		info.SensitiveVars[name] = v.Sensitive
		if v.Type == "" {
			continue
		}
		expr, diags := hclsyntax.ParseExpression([]byte(v.Type), name, hcl.InitialPos)
		if diags.HasErrors() {
			continue
		}
		if ty, diags := typeexpr.TypeConstraint(expr); !diags.HasErrors() {
			varTypes[name] = ty
		}
	}
	for _, r := range mod.ManagedResources {
		info.Resources = append(info.Resources, r.Type+"."+r.Name)
	}
	slices.Sort(info.Resources)
	info.OutputTypes = map[string]string{}
	for name, expr := range outputExprs(dir) {
		if ty, ok := exprType(expr, varTypes); ok {
			info.OutputTypes[name] = typeexpr.TypeString(ty)
		}
	}
}

var outputSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "output", LabelNames: []string{"name"}}}}

var outputValueSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "value"}}}

// outputExprs returns the value expression of each output of the module's
// native .tf files (outputs in .tf.json files are left unknown).
func outputExprs(dir string) map[string]hclsyntax.Expression {
	out := map[string]hclsyntax.Expression{}
	paths, _ := filepath.Glob(filepath.Join(dir, "*.tf"))
	p := hclparse.NewParser()
	for _, path := range paths {
		f, diags := p.ParseHCLFile(path)
		if diags.HasErrors() || f == nil {
			continue
		}
		content, _, _ := f.Body.PartialContent(outputSchema)
		for _, b := range content.Blocks {
			attrs, _, _ := b.Body.PartialContent(outputValueSchema)
			if a, ok := attrs.Attributes["value"]; ok {
				if e, ok := a.Expr.(hclsyntax.Expression); ok {
					out[b.Labels[0]] = e
				}
			}
		}
	}
	return out
}

// exprType is the type of an output's value when its expression alone says
// it: a string template, a list built by [...], for or a splat, a literal, or
// a variable of declared type.
func exprType(expr hclsyntax.Expression, vars map[string]cty.Type) (cty.Type, bool) {
	switch e := expr.(type) {
	case *hclsyntax.TemplateExpr:
		if len(e.Parts) == 1 {
			return exprType(e.Parts[0], vars)
		}
		return cty.String, true
	case *hclsyntax.TemplateWrapExpr:
		return exprType(e.Wrapped, vars)
	case *hclsyntax.LiteralValueExpr:
		if e.Val.IsNull() {
			return cty.NilType, false
		}
		return e.Val.Type(), true
	case *hclsyntax.TupleConsExpr, *hclsyntax.SplatExpr:
		return cty.List(cty.DynamicPseudoType), true
	case *hclsyntax.ForExpr:
		if e.KeyExpr != nil {
			return cty.Map(cty.DynamicPseudoType), true
		}
		return cty.List(cty.DynamicPseudoType), true
	case *hclsyntax.ScopeTraversalExpr:
		if len(e.Traversal) == 2 && e.Traversal.RootName() == "var" {
			if a, ok := e.Traversal[1].(hcl.TraverseAttr); ok {
				ty, known := vars[a.Name]
				return ty, known && ty != cty.DynamicPseudoType
			}
		}
	}
	return cty.NilType, false
}
