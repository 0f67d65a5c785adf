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

// ref is one parsed reference.
type ref struct {
	kind   string // var, stack, step, own
	name   string // variable, stack attribute, or output name
	step   string // for kind "step"
	source string // the text inside ${}
}

func parseRef(expr string) (ref, error) {
	parts := strings.Split(strings.TrimSpace(expr), ".")
	r := ref{source: expr}
	switch {
	case len(parts) == 2 && parts[0] == "var":
		r.kind, r.name = "var", parts[1]
	case len(parts) == 2 && parts[0] == "stack" && (parts[1] == "name" || parts[1] == "profile" || parts[1] == "owner"):
		r.kind, r.name = "stack", parts[1]
	case len(parts) == 4 && parts[0] == "steps" && parts[2] == "outputs":
		r.kind, r.step, r.name = "step", parts[1], parts[3]
	case len(parts) == 2 && parts[0] == "outputs":
		r.kind, r.name = "own", parts[1]
	default:
		return r, fmt.Errorf("unknown reference ${%s}: use ${var.NAME}, ${stack.name}, ${stack.profile}, ${steps.STEP.outputs.NAME} or, in on_complete, ${outputs.NAME}", expr)
	}
	if r.name == "" || (r.kind == "step" && r.step == "") {
		return r, fmt.Errorf("incomplete reference ${%s}", expr)
	}
	return r, nil
}

// findRefs walks a JSON-like value and calls fn for every reference with its path.
func findRefs(v any, path string, fn func(r ref, path string, err error)) {
	switch x := v.(type) {
	case string:
		for _, m := range refRE.FindAllStringSubmatch(x, -1) {
			if strings.HasPrefix(m[0], "$$") {
				continue
			}
			r, err := parseRef(m[1])
			fn(r, path, err)
		}
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(x)) {
			findRefs(x[k], join(path, k), fn)
		}
	case []any:
		for i, e := range x {
			findRefs(e, fmt.Sprintf("%s[%d]", path, i), fn)
		}
	}
}

// resolver expands references for one step.
type resolver struct {
	vars    map[string]any
	stack   map[string]string
	outputs func(step string) (Outputs, error) // upstream step outputs
	// fill reads an upstream step's sensitive values, which the store does not keep.
	fill func(step string) (Outputs, error)
	own  Outputs // the step's own outputs, for handlers
}

func (r *resolver) lookup(rf ref) (Output, error) {
	switch rf.kind {
	case "var":
		v, ok := r.vars[rf.name]
		if !ok {
			return Output{}, fmt.Errorf("variable %q is not defined in the stack's \"variables\"", rf.name)
		}
		return Output{Value: v}, nil
	case "stack":
		return Output{Value: r.stack[rf.name]}, nil
	case "own":
		if r.own == nil {
			return Output{}, fmt.Errorf("${outputs.%s} can only be used in on_complete; use ${steps.STEP.outputs.%s}", rf.name, rf.name)
		}
		o, ok := r.own[rf.name]
		if !ok {
			return Output{}, fmt.Errorf("the step has no output %q (it has: %s)", rf.name, strings.Join(slices.Sorted(maps.Keys(r.own)), ", "))
		}
		return o, nil
	case "step":
		outs, err := r.outputs(rf.step)
		if err != nil {
			return Output{}, err
		}
		o, ok := outs[rf.name]
		if !ok {
			return Output{}, fmt.Errorf("step %q has no output %q (it has: %s)", rf.step, rf.name, strings.Join(slices.Sorted(maps.Keys(outs)), ", "))
		}
		if o.Sensitive && o.Value == nil && r.fill != nil {
			full, err := r.fill(rf.step)
			if err != nil {
				return Output{}, err
			}
			if f, ok := full[rf.name]; ok {
				return f, nil
			}
		}
		return o, nil
	}
	return Output{}, fmt.Errorf("unknown reference ${%s}", rf.source)
}

// resolve returns v with every reference expanded. A string that is exactly one
// reference takes the referenced value as is (a list stays a list).
func (r *resolver) resolve(v any, path string) (any, bool, error) {
	switch x := v.(type) {
	case string:
		return r.resolveString(x, path)
	case map[string]any:
		out := make(map[string]any, len(x))
		sens := false
		for k, e := range x {
			rv, s, err := r.resolve(e, join(path, k))
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
			rv, s, err := r.resolve(e, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, false, err
			}
			out[i], sens = rv, sens || s
		}
		return out, sens, nil
	}
	return v, false, nil
}

func (r *resolver) resolveString(s, path string) (any, bool, error) {
	if !strings.Contains(s, "${") {
		return s, false, nil
	}
	locs := refRE.FindAllStringSubmatchIndex(s, -1)
	if len(locs) == 1 && locs[0][0] == 0 && locs[0][1] == len(s) && !strings.HasPrefix(s, "$$") {
		rf, err := parseRef(s[locs[0][2]:locs[0][3]])
		if err != nil {
			return nil, false, pathErr(path, err)
		}
		o, err := r.lookup(rf)
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
		rf, err := parseRef(s[l[2]:l[3]])
		if err != nil {
			return nil, false, pathErr(path, err)
		}
		o, err := r.lookup(rf)
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
