package terraform

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/stack-tools/stack/stack"
)

// InspectorFunc lets a plain function such as InspectModule serve as a
// stack.ModuleInspector.
type InspectorFunc func(dir string) (stack.ModuleInfo, error)

// InspectModule calls f.
func (f InspectorFunc) InspectModule(dir string) (stack.ModuleInfo, error) { return f(dir) }

// CheckVars compares the variable names a step passes with what its module
// declares: undeclared are given but not declared (Terraform would refuse
// them), missing are required by the module but not given. Both are sorted.
func CheckVars(info stack.ModuleInfo, given []string) (undeclared, missing []string) {
	set := make(map[string]bool, len(given))
	for _, g := range given {
		set[g] = true
		if _, ok := info.Variables[g]; !ok {
			undeclared = append(undeclared, g)
		}
	}
	for name, required := range info.Variables {
		if required && !set[name] {
			missing = append(missing, name)
		}
	}
	sort.Strings(undeclared)
	sort.Strings(missing)
	return undeclared, missing
}

// HandlerOutputsFunc tells which outputs a handler adds to its step. known is
// false when the handler cannot say before it runs; references that could be
// its outputs are then not reported.
type HandlerOutputsFunc func(h stack.HandlerDef) (names []string, known bool)

// CheckDefinition checks, offline and under one profile ("" for none), what
// only the modules can tell: every variable a step passes is declared by its
// module, every required variable is given, and every ${steps.S.outputs.O}
// (and ${outputs.O} in on_complete) names an output of S's module or of S's
// handlers. inspectors returns the inspector for a step kind, or nil for kinds
// without Terraform modules. Structural problems (unknown steps, cycles) are
// left to the engine's own validation.
func CheckDefinition(def *stack.Definition, profile string, inspectors func(kind string) stack.ModuleInspector, handlerOutputs HandlerOutputsFunc) []stack.Problem {
	c := &checker{def: def, profile: profile, cache: map[string]inspected{}}
	steps := make([]effectiveStep, len(def.Steps))
	byName := map[string]*effectiveStep{}
	for i, s := range def.Steps {
		steps[i] = effective(i, s, profile)
		byName[s.Name] = &steps[i]
	}
	// Module outputs and handler outputs of every step, then the checks.
	for i := range steps {
		st := &steps[i]
		var insp stack.ModuleInspector
		if inspectors != nil {
			insp = inspectors(st.kind)
		}
		if insp != nil && st.module != "" {
			info, err := c.inspect(insp, st.module)
			if err != nil {
				c.add(st.modulePath, "step %q (module %s%s): %v", st.name, st.module, c.inProfile(), err)
			} else {
				st.info = &info
			}
		}
		st.outputs = map[string]bool{}
		st.outputsKnown = st.info != nil
		if st.info != nil {
			for o := range st.info.Outputs {
				st.outputs[o] = true
			}
		}
		for _, h := range st.handlers {
			names, known := []string(nil), false
			if handlerOutputs != nil {
				names, known = handlerOutputs(h)
			}
			st.handlerOuts = append(st.handlerOuts, names)
			st.handlerKnown = append(st.handlerKnown, known)
			st.outputsKnown = st.outputsKnown && known
			for _, n := range names {
				st.outputs[n] = true
			}
		}
	}
	for i := range steps {
		st := &steps[i]
		if st.info != nil {
			c.checkVars(st)
		}
		c.checkRefs(st, byName)
	}
	return c.problems
}

// effectiveStep is a step with its profile applied, remembering where each
// value was written so problems point at the right JSON path.
type effectiveStep struct {
	index      int
	name, kind string
	module     string
	modulePath string
	vars       map[string]any
	varPaths   map[string]string
	varsPath   string
	handlers   []stack.HandlerDef
	handlersAt string
	extra      map[string]json.RawMessage
	extraPaths map[string]string

	info         *stack.ModuleInfo
	handlerOuts  [][]string // outputs each handler adds, in on_complete order
	handlerKnown []bool     // whether that handler could say
	outputs      map[string]bool
	outputsKnown bool
}

func effective(i int, s stack.StepDef, profile string) effectiveStep {
	base := fmt.Sprintf("steps[%d]", i)
	e := effectiveStep{
		index: i, name: s.Name, kind: s.Kind,
		module: s.Module, modulePath: base + ".module",
		vars: map[string]any{}, varPaths: map[string]string{}, varsPath: base + ".vars",
		handlers: s.OnComplete, handlersAt: base + ".on_complete",
		extra: map[string]json.RawMessage{}, extraPaths: map[string]string{},
	}
	for k, v := range s.Vars {
		e.vars[k], e.varPaths[k] = v, base+".vars."+k
	}
	for k, v := range s.Extra {
		e.extra[k], e.extraPaths[k] = v, base+"."+k
	}
	p, ok := s.Profiles[profile]
	if profile == "" || !ok {
		return e
	}
	pp := base + ".profiles." + profile
	if p.Module != "" {
		e.module, e.modulePath = p.Module, pp+".module"
	}
	for k, v := range p.Vars {
		e.vars[k], e.varPaths[k] = v, pp+".vars."+k
	}
	if p.HasOnComplete {
		e.handlers, e.handlersAt = p.OnComplete, pp+".on_complete"
	}
	for k, v := range p.Extra {
		e.extra[k], e.extraPaths[k] = v, pp+"."+k
	}
	return e
}

type inspected struct {
	info stack.ModuleInfo
	err  error
}

type checker struct {
	def      *stack.Definition
	profile  string
	cache    map[string]inspected
	problems []stack.Problem
}

func (c *checker) add(path, format string, args ...any) {
	c.problems = append(c.problems, stack.Problem{File: c.def.File, Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (c *checker) inProfile() string {
	if c.profile == "" {
		return ""
	}
	return ", profile " + c.profile
}

func (c *checker) inspect(insp stack.ModuleInspector, module string) (stack.ModuleInfo, error) {
	dir := module
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(c.def.Dir, module)
	}
	if r, ok := c.cache[dir]; ok {
		return r.info, r.err
	}
	info, err := insp.InspectModule(dir)
	c.cache[dir] = inspected{info, err}
	return info, err
}

func (c *checker) checkVars(st *effectiveStep) {
	given := make([]string, 0, len(st.vars))
	for k := range st.vars {
		given = append(given, k)
	}
	undeclared, missing := CheckVars(*st.info, given)
	declared := sortedNames(st.info.Variables)
	for _, v := range undeclared {
		c.add(st.varPaths[v], "step %q (module %s%s): variable %q is not declared by the module; declared: %s. Remove it from the step's vars or declare it in the module",
			st.name, st.module, c.inProfile(), v, listOrNone(declared))
	}
	for _, v := range missing {
		c.add(st.varsPath, "step %q (module %s%s): required variable %q is not given; add it to the step's vars (or give it a default in the module)",
			st.name, st.module, c.inProfile(), v)
	}
}

// refRE matches ${...}; a leading $$ escapes a literal "${".
var refRE = regexp.MustCompile(`\$?\$\{([^}]*)\}`)

func (c *checker) checkRefs(st *effectiveStep, byName map[string]*effectiveStep) {
	check := func(path string, v any, own map[string]bool, ownKnown bool) {
		walkStrings(v, path, func(path, s string) {
			for _, m := range refRE.FindAllStringSubmatch(s, -1) {
				if strings.HasPrefix(m[0], "$$") {
					continue
				}
				parts := strings.Split(strings.TrimSpace(m[1]), ".")
				switch {
				case len(parts) == 4 && parts[0] == "steps" && parts[2] == "outputs":
					target, ok := byName[parts[1]]
					if !ok || !target.outputsKnown || target.outputs[parts[3]] {
						continue // unknown steps are reported by the engine's own validation
					}
					c.add(path, "${%s}: step %q (module %s%s) has no output %q; its outputs: %s",
						m[1], target.name, target.module, c.inProfile(), parts[3], listOrNone(sortedNames(target.outputs)))
				case len(parts) == 2 && parts[0] == "outputs" && own != nil:
					if ownKnown && !own[parts[1]] {
						c.add(path, "${%s}: step %q (module %s%s) has no output %q at this point; available: %s",
							m[1], st.name, st.module, c.inProfile(), parts[1], listOrNone(sortedNames(own)))
					}
				}
			}
		})
	}
	for _, k := range sortedNames(st.vars) {
		check(st.varPaths[k], st.vars[k], nil, false)
	}
	for _, k := range sortedNames(st.extra) {
		var v any
		if json.Unmarshal(st.extra[k], &v) == nil {
			check(st.extraPaths[k], v, nil, false)
		}
	}
	// A handler sees the module's outputs plus those of the handlers before it.
	own := map[string]bool{}
	ownKnown := st.info != nil
	if st.info != nil {
		for o := range st.info.Outputs {
			own[o] = true
		}
	}
	for i, h := range st.handlers {
		var v any
		if json.Unmarshal(h.Config, &v) == nil {
			check(fmt.Sprintf("%s[%d]", st.handlersAt, i), v, own, ownKnown)
		}
		ownKnown = ownKnown && st.handlerKnown[i]
		for _, n := range st.handlerOuts[i] {
			own[n] = true
		}
	}
}

func walkStrings(v any, path string, fn func(path, s string)) {
	switch x := v.(type) {
	case string:
		fn(path, x)
	case map[string]any:
		for _, k := range sortedNames(x) {
			walkStrings(x[k], path+"."+k, fn)
		}
	case []any:
		for i, e := range x {
			walkStrings(e, fmt.Sprintf("%s[%d]", path, i), fn)
		}
	}
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func listOrNone(names []string) string {
	if len(names) == 0 {
		return "(none)"
	}
	return strings.Join(names, ", ")
}
