package stack

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// refRE finds ${...} references; $${ is an escaped literal "${".
var refRE = regexp.MustCompile(`\$?\$\{([^}]*)\}`)

// Ref is one parsed reference.
type Ref struct {
	Kind   string // var, stack, step, own
	Name   string // variable, stack attribute, or output name
	Step   string // for kind "step"
	Source string // the text inside ${}
}

func ParseRef(expr string) (Ref, error) {
	parts := strings.Split(strings.TrimSpace(expr), ".")
	r := Ref{Source: expr}
	switch {
	case len(parts) == 2 && parts[0] == "var":
		r.Kind, r.Name = "var", parts[1]
	case len(parts) == 2 && parts[0] == "stack" && (parts[1] == "name" || parts[1] == "profile" || parts[1] == "owner"):
		r.Kind, r.Name = "stack", parts[1]
	case len(parts) == 4 && parts[0] == "steps" && parts[2] == "outputs":
		r.Kind, r.Step, r.Name = "step", parts[1], parts[3]
	case len(parts) == 2 && parts[0] == "outputs":
		r.Kind, r.Name = "own", parts[1]
	default:
		return r, fmt.Errorf("unknown reference ${%s}: use ${var.NAME}, ${stack.name}, ${stack.profile}, ${steps.STEP.outputs.NAME} or, in on_complete, ${outputs.NAME}", expr)
	}
	if r.Name == "" || (r.Kind == "step" && r.Step == "") {
		return r, fmt.Errorf("incomplete reference ${%s}", expr)
	}
	return r, nil
}

// FindRefs walks a JSON-like value and calls fn for every reference with its path.
func FindRefs(v any, path string, fn func(r Ref, path string, err error)) {
	switch x := v.(type) {
	case string:
		for _, m := range refRE.FindAllStringSubmatch(x, -1) {
			if strings.HasPrefix(m[0], "$$") {
				continue
			}
			r, err := ParseRef(m[1])
			fn(r, path, err)
		}
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(x)) {
			FindRefs(x[k], JoinPath(path, k), fn)
		}
	case []any:
		for i, e := range x {
			FindRefs(e, fmt.Sprintf("%s[%d]", path, i), fn)
		}
	}
}

// Resolver expands references for one step (or handler).
type Resolver struct {
	Vars map[string]any
	// SensitiveVars names the variables whose values are secrets; Withheld
	// maps a variable whose value is not known here to what to do about it.
	SensitiveVars map[string]bool
	Withheld      map[string]string
	Stack         map[string]string
	Outputs       func(step string) (Outputs, error) // upstream step outputs
	// Fill reads an upstream step's sensitive values, which the store does not keep.
	Fill func(step string) (Outputs, error)
	Own  Outputs // the step's own outputs, for handlers
	// OnSensitive, if set, hears every sensitive value a reference resolved
	// to (the engine looks for them in the step's outputs afterwards).
	OnSensitive func(value any)
}

// Lookup returns the value one reference names.
func (r *Resolver) Lookup(rf Ref) (Output, error) {
	o, err := r.lookup(rf)
	if err == nil && o.Sensitive && o.Value != nil && r.OnSensitive != nil {
		r.OnSensitive(o.Value)
	}
	return o, err
}

func (r *Resolver) lookup(rf Ref) (Output, error) {
	switch rf.Kind {
	case "var":
		if hint, ok := r.Withheld[rf.Name]; ok {
			return Output{}, fmt.Errorf("variable %q: %s", rf.Name, hint)
		}
		v, ok := r.Vars[rf.Name]
		if !ok {
			return Output{}, fmt.Errorf("variable %q is not defined in the stack's \"variables\"", rf.Name)
		}
		return Output{Value: v, Sensitive: r.SensitiveVars[rf.Name]}, nil
	case "stack":
		return Output{Value: r.Stack[rf.Name]}, nil
	case "own":
		if r.Own == nil {
			return Output{}, fmt.Errorf("${outputs.%s} can only be used in on_complete; use ${steps.STEP.outputs.%s}", rf.Name, rf.Name)
		}
		o, ok := r.Own[rf.Name]
		if !ok {
			return Output{}, fmt.Errorf("the step has no output %q (it has: %s)", rf.Name, strings.Join(slices.Sorted(maps.Keys(r.Own)), ", "))
		}
		return o, nil
	case "step":
		outs, err := r.Outputs(rf.Step)
		if err != nil {
			return Output{}, err
		}
		o, ok := outs[rf.Name]
		if !ok {
			return Output{}, fmt.Errorf("step %q has no output %q (it has: %s)", rf.Step, rf.Name, strings.Join(slices.Sorted(maps.Keys(outs)), ", "))
		}
		if o.Sensitive && o.Value == nil && r.Fill != nil {
			full, err := r.Fill(rf.Step)
			if err != nil {
				return Output{}, err
			}
			if f, ok := full[rf.Name]; ok {
				return f, nil
			}
		}
		return o, nil
	}
	return Output{}, fmt.Errorf("unknown reference ${%s}", rf.Source)
}

// Resolve returns v with every reference expanded. A string that is exactly one
// reference takes the referenced value as is (a list stays a list).
func (r *Resolver) Resolve(v any, path string) (any, bool, error) {
	switch x := v.(type) {
	case string:
		return r.ResolveString(x, path)
	case map[string]any:
		out := make(map[string]any, len(x))
		sens := false
		for k, e := range x {
			rv, s, err := r.Resolve(e, JoinPath(path, k))
			if err != nil {
				return nil, false, err
			}
			out[k], sens = rv, sens || s
		}
		return out, sens, nil
	case []any:
		out := make([]any, len(x))
		sens := false
		for i, e := range x {
			rv, s, err := r.Resolve(e, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, false, err
			}
			out[i], sens = rv, sens || s
		}
		return out, sens, nil
	}
	return v, false, nil
}

func (r *Resolver) ResolveString(s, path string) (any, bool, error) {
	if !strings.Contains(s, "${") {
		return s, false, nil
	}
	locs := refRE.FindAllStringSubmatchIndex(s, -1)
	if len(locs) == 1 && locs[0][0] == 0 && locs[0][1] == len(s) && !strings.HasPrefix(s, "$$") {
		rf, err := ParseRef(s[locs[0][2]:locs[0][3]])
		if err != nil {
			return nil, false, pathErr(path, err)
		}
		o, err := r.Lookup(rf)
		if err != nil {
			return nil, false, pathErr(path, err)
		}
		return o.Value, o.Sensitive, nil
	}
	var b strings.Builder
	sens := false
	last := 0
	for _, l := range locs {
		b.WriteString(s[last:l[0]])
		last = l[1]
		if strings.HasPrefix(s[l[0]:l[1]], "$$") {
			b.WriteString(s[l[0]+1 : l[1]])
			continue
		}
		rf, err := ParseRef(s[l[2]:l[3]])
		if err != nil {
			return nil, false, pathErr(path, err)
		}
		o, err := r.Lookup(rf)
		if err != nil {
			return nil, false, pathErr(path, err)
		}
		sens = sens || o.Sensitive
		b.WriteString(stringify(o.Value))
	}
	b.WriteString(s[last:])
	return b.String(), sens, nil
}

func pathErr(path string, err error) error {
	if path == "" {
		return err
	}
	return fmt.Errorf("%s: %w", path, err)
}

func stringify(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	}
	// Without HTML escaping: a list holding "<" must reach Terraform as "<".
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return strings.TrimSuffix(b.String(), "\n")
}

// JoinPath appends a key to a JSON path such as steps[1].vars, as problems name fields.
func JoinPath(path, key string) string {
	if key == "" {
		key = `""` // an empty key still names a place
	}
	if path == "" {
		return key
	}
	return path + "." + key
}
