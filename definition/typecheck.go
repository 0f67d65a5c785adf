package definition

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/stack-tools/stack/stack"
)

// refRE finds ${...} references as stack.FindRefs does.
var refRE = regexp.MustCompile(`\$?\$\{([^}]*)\}`)

// parseType reads a type constraint in Terraform's type language with
// HashiCorp's own parser, defaults of optional attributes included.
func parseType(src string) (cty.Type, *typeexpr.Defaults, error) {
	expr, diags := hclsyntax.ParseExpression([]byte(src), "type", hcl.InitialPos)
	if diags.HasErrors() {
		return cty.NilType, nil, fmt.Errorf("type %q: %w", src, diags)
	}
	ty, defaults, diags := typeexpr.TypeConstraintWithDefaults(expr)
	if diags.HasErrors() {
		return cty.NilType, nil, fmt.Errorf("type %q: %w", src, diags)
	}
	return ty, defaults, nil
}

// typeOfRef is the value a reference stands for while checking types: a
// known value (a stack variable), an unknown value of a known type, or
// cty.DynamicVal when its type cannot be known offline.
type typeOfRef func(stack.Ref) cty.Value

// ctyValue turns a JSON value from the definition into a cty value, each
// reference replaced as refs says. A string holding text around references
// is an unknown string.
func ctyValue(v any, refs typeOfRef) cty.Value {
	switch x := v.(type) {
	case nil:
		return cty.NullVal(cty.DynamicPseudoType)
	case bool:
		return cty.BoolVal(x)
	case json.Number:
		n, err := cty.ParseNumberVal(x.String())
		if err != nil {
			return cty.DynamicVal
		}
		return n
	case float64:
		return cty.NumberFloatVal(x)
	case string:
		return stringValue(x, refs)
	case []any:
		if len(x) == 0 {
			return cty.EmptyTupleVal
		}
		elems := make([]cty.Value, len(x))
		for i, e := range x {
			elems[i] = ctyValue(e, refs)
		}
		return cty.TupleVal(elems)
	case map[string]any:
		if len(x) == 0 {
			return cty.EmptyObjectVal
		}
		attrs := make(map[string]cty.Value, len(x))
		for k, e := range x {
			attrs[k] = ctyValue(e, refs)
		}
		return cty.ObjectVal(attrs)
	}
	return cty.DynamicVal
}

func stringValue(s string, refs typeOfRef) cty.Value {
	locs := refRE.FindAllStringSubmatchIndex(s, -1)
	if len(locs) == 0 {
		return cty.StringVal(s)
	}
	if len(locs) == 1 && locs[0][0] == 0 && locs[0][1] == len(s) && !strings.HasPrefix(s, "$$") {
		rf, err := stack.ParseRef(s[locs[0][2]:locs[0][3]])
		if err != nil {
			return cty.DynamicVal
		}
		return refs(rf)
	}
	return cty.UnknownVal(cty.String)
}

// checkType reports whether val fits the declared type src, as Terraform
// would convert it; the error says why not.
func checkType(src string, val cty.Value) error {
	ty, defaults, err := parseType(src)
	if err != nil {
		return nil // the module's own problem, which Terraform reports
	}
	if defaults != nil && val.IsWhollyKnown() {
		val = defaults.Apply(val)
	}
	if _, err := convert.Convert(val, ty); err != nil {
		return err
	}
	return nil
}

// typeMismatch is the message for a var whose value does not fit the
// module's declared type.
func typeMismatch(s *Step, name, declared string, given any, stands string, err error) string {
	b, _ := json.Marshal(given)
	return fmt.Sprintf("%s: variable %q is declared %s, but the value given is %s%s: %s; give a value of type %s",
		s.where(), name, declared, b, stands, convertMessage(err), declared)
}

// standsFor says what a value that is one reference stands for, when known:
// " = VALUE" for a stack variable, " (an output of type T)" for an upstream
// output of known type.
func standsFor(v any, val cty.Value, def *Definition) string {
	str, ok := v.(string)
	if !ok {
		return ""
	}
	m := refRE.FindStringSubmatch(str)
	if m == nil || m[0] != str {
		return ""
	}
	rf, err := stack.ParseRef(m[1])
	switch {
	case err != nil:
		return ""
	case rf.Kind == "var" && def.Sensitive[rf.Name]:
		return " (sensitive)"
	case rf.Kind == "var":
		b, _ := json.Marshal(def.Variables[rf.Name])
		return " = " + string(b)
	case rf.Kind == "step" && !val.IsKnown() && val.Type() != cty.DynamicPseudoType:
		return fmt.Sprintf(" (an output of type %s)", typeexpr.TypeString(val.Type()))
	}
	return ""
}

func convertMessage(err error) string {
	msg := err.Error()
	if pe, ok := err.(cty.PathError); ok && len(pe.Path) > 0 {
		return fmt.Sprintf("at %s: %s", pathText(pe.Path), msg)
	}
	return msg
}

func pathText(p cty.Path) string {
	var b strings.Builder
	for _, st := range p {
		switch s := st.(type) {
		case cty.GetAttrStep:
			b.WriteString("." + s.Name)
		case cty.IndexStep:
			if s.Key.Type() == cty.String {
				b.WriteString("." + s.Key.AsString())
			} else {
				b.WriteString(fmt.Sprintf("[%s]", s.Key.AsBigFloat().String()))
			}
		}
	}
	return strings.TrimPrefix(b.String(), ".")
}

// types checks a step's vars against its module's declared types.
func (v *validator) types(p *Graph, s *Step) {
	if s.Module == "" {
		return
	}
	kind, _ := v.reg.Step(s.Kind)
	insp, ok := kind.(stack.ModuleInspector)
	if !ok {
		return
	}
	if info, err := v.inspect(insp, s.Module); err == nil {
		v.checkVarTypes(p, s, info)
		v.checkSensitive(p, s, info)
	}
}

// checkSensitive refuses a sensitive stack variable given to a module
// variable not declared sensitive: Terraform would show it in plans and
// logs, and return it in outputs the stack stores.
func (v *validator) checkSensitive(p *Graph, s *Step, info stack.ModuleInfo) {
	if info.SensitiveVars == nil || len(p.Def.Sensitive) == 0 {
		return
	}
	for _, name := range slices.Sorted(maps.Keys(s.Vars)) {
		if info.SensitiveVars[name] {
			continue
		}
		stack.FindRefs(s.Vars[name], "", func(r stack.Ref, _ string, err error) {
			if err == nil && r.Kind == "var" && p.Def.Sensitive[r.Name] {
				v.add(s.varPath[name], "%s: variable %q gets the sensitive variable %q, but the module does not declare it sensitive; add `sensitive = true` to variable %q in the module, so that Terraform keeps the value out of plans, logs and outputs", s.where(), name, r.Name, name)
			}
		})
	}
}

// checkVarTypes checks every var a step gives its module against the type
// the module declares. A reference counts as a value of its type when that is
// known offline (a stack variable, an upstream output whose type the module
// states); others fit any type.
func (v *validator) checkVarTypes(p *Graph, s *Step, info stack.ModuleInfo) {
	refs := func(rf stack.Ref) cty.Value {
		switch rf.Kind {
		case "var":
			if val, ok := p.Def.Variables[rf.Name]; ok {
				return ctyValue(val, func(stack.Ref) cty.Value { return cty.DynamicVal })
			}
		case "stack":
			return cty.UnknownVal(cty.String)
		case "step":
			if ty, ok := v.outputType(p, rf); ok {
				return cty.UnknownVal(ty)
			}
		}
		return cty.DynamicVal
	}
	for _, name := range slices.Sorted(maps.Keys(s.Vars)) {
		declared := info.VarTypes[name]
		if declared == "" {
			continue
		}
		val := ctyValue(s.Vars[name], refs)
		if err := checkType(declared, val); err != nil {
			v.add(s.varPath[name], "%s", typeMismatch(s, name, declared, s.Vars[name], standsFor(s.Vars[name], val, p.Def), err))
		}
	}
}

// outputType is the type of an upstream output when its module states it.
func (v *validator) outputType(p *Graph, rf stack.Ref) (cty.Type, bool) {
	up := p.ByName[rf.Step]
	if up == nil || up.Module == "" {
		return cty.NilType, false
	}
	kind, _ := v.reg.Step(up.Kind)
	insp, ok := kind.(stack.ModuleInspector)
	if !ok {
		return cty.NilType, false
	}
	info, err := v.inspect(insp, up.Module)
	if err != nil || info.OutputTypes[rf.Name] == "" {
		return cty.NilType, false
	}
	ty, _, err := parseType(info.OutputTypes[rf.Name])
	if err != nil {
		return cty.NilType, false
	}
	return ty, true
}
