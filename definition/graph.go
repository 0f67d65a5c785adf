package definition

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/stack-tools/stack/internal/modsource"
	"github.com/stack-tools/stack/stack"
)

// Step is a step with its profile applied, ready to schedule.
type Step struct {
	Name string
	Kind string
	// Impl is the step kind registered as Kind, found once by NewGraph.
	Impl     stack.StepKind
	Index    int    // position in the definition
	Module   string // absolute path, "" for kinds without modules
	Vars     map[string]any
	Config   map[string]any // kind-specific fields
	Handlers []HandlerDef
	After    []string
	// Deps are the steps this one waits for: after plus ${steps.X...} references.
	Deps []string
	path string // JSON path in the definition, for messages
	raw  string // module as written, for messages
	// varPath and modulePath say where the profile or the step set a var or the
	// module, so messages point at the line to fix.
	varPath    map[string]string
	modulePath string
	profile    string // the profile that changed this step, for messages
}

// Graph is a validated definition under one profile and selection.
type Graph struct {
	Def      *Definition
	Profile  string
	Steps    []*Step          // definition order
	ByName   map[string]*Step // all steps
	Selected map[string]bool  // steps this command may run
	// Dependents maps a step to the steps that depend on it directly.
	Dependents map[string][]string
}

// GraphOptions selects a profile and steps.
type GraphOptions struct {
	Profile string
	Only    []string
	Skip    []string
	// Applied reports steps already applied in the stored stack, which --only
	// and --skip may leave out even when a selected step needs them.
	Applied func(step string) bool
	// ModuleDir may replace a step's module folder (with a stored snapshot when
	// the folder is not on this workstation).
	ModuleDir func(step, dir string) string
	// Fetch brings a remote module source (git::, s3::, archives) into the
	// cache and returns its folder; nil refuses remote sources.
	Fetch func(source string) (string, error)
}

// NewGraph validates def completely and applies the profile. Nothing runs.
func NewGraph(def *Definition, reg *stack.Registry, opts GraphOptions) (*Graph, error) {
	v := &validator{def: def, reg: reg}
	p := &Graph{Def: def, Profile: opts.Profile, ByName: map[string]*Step{}, Dependents: map[string][]string{}}
	if def.Name == "" || !ValidName(def.Name) {
		v.add("name", "stack name %q is not valid: use lower-case letters, digits and dashes, starting with a letter, at most 40 characters", def.Name)
	}
	if len(def.Steps) == 0 {
		v.add("steps", "the stack has no steps")
	}
	if opts.Profile != "" && !slices.Contains(def.ProfileNames(), opts.Profile) {
		known := def.ProfileNames()
		v.addFlag("--profile", "no step defines profile %q (defined: %s)", opts.Profile, listOr(known, "none"))
	}
	v.moduleDir, v.fetch = opts.ModuleDir, opts.Fetch
	for i, sd := range def.Steps {
		s := v.step(i, sd, opts.Profile)
		if s == nil {
			continue
		}
		if _, dup := p.ByName[s.Name]; dup {
			v.add(s.path+".name", "duplicate step name %q: step names must be unique", s.Name)
			continue
		}
		p.ByName[s.Name] = s
		p.Steps = append(p.Steps, s)
	}
	if len(v.problems) > 0 {
		return nil, &InvalidError{Problems: v.problems}
	}
	for _, s := range p.Steps {
		v.refs(p, s)
		v.types(p, s)
	}
	if len(v.problems) == 0 {
		if cycle := findCycle(p); cycle != nil {
			v.add("steps", "the steps form a cycle: %s; remove one of these dependencies (an \"after\" entry or a ${steps...} reference)", strings.Join(cycle, " -> "))
		}
	}
	for _, s := range p.Steps {
		for _, d := range s.Deps {
			p.Dependents[d] = append(p.Dependents[d], s.Name)
		}
	}
	p.Selected = v.selection(p, opts)
	if len(v.problems) > 0 {
		return nil, &InvalidError{Problems: v.problems}
	}
	return p, nil
}

func listOr(l []string, none string) string {
	if len(l) == 0 {
		return none
	}
	return strings.Join(l, ", ")
}

type validator struct {
	inspected map[string]inspection // module folder -> what it declares
	moduleDir func(step, dir string) string
	fetch     func(source string) (string, error)
	def       *Definition
	reg       *stack.Registry
	problems  []Problem
}

func (v *validator) add(path, format string, args ...any) {
	file, path := v.def.locate(path)
	v.problems = append(v.problems, Problem{File: file, Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) addFlag(flag, format string, args ...any) {
	v.problems = append(v.problems, Problem{Path: flag, Msg: fmt.Sprintf(format, args...)})
}

// applyProfile overrides a step's module, vars, handlers and kind fields
// (extra) with those of its profile, remembering where each came from.
func applyProfile(s *Step, pr ProfileDef, profile string, extra map[string]json.RawMessage) {
	s.profile = profile
	pp := s.path + ".profiles." + profile
	if pr.Module != "" {
		s.raw, s.modulePath = pr.Module, pp+".module"
	}
	for k, val := range pr.Vars {
		s.Vars[k], s.varPath[k] = val, pp+".vars."+k
	}
	if pr.HasOnComplete {
		s.Handlers = pr.OnComplete
	}
	for k, val := range pr.Extra {
		extra[k] = val
	}
}

// handlers checks that each of a step's handlers exists and accepts its config.
func (v *validator) handlers(s *Step) {
	for j, h := range s.Handlers {
		hp := fmt.Sprintf("%s.on_complete[%d]", s.path, j)
		hk, ok := v.reg.Handler(h.Handler)
		if !ok {
			v.add(hp+".handler", "unknown handler %q; known handlers: %s", h.Handler, listOr(v.reg.HandlerNames(), "none"))
			continue
		}
		if err := hk.Validate(h.Config); err != nil {
			v.add(hp, "handler %q: %v", h.Handler, err)
		}
	}
}

func (v *validator) step(i int, sd StepDef, profile string) *Step {
	path := fmt.Sprintf("steps[%d]", i)
	s := &Step{Name: sd.Name, Kind: sd.Kind, Index: i, path: path, After: sd.After,
		Vars: map[string]any{}, Config: map[string]any{}, Handlers: sd.OnComplete, raw: sd.Module}
	if !ValidName(sd.Name) {
		v.add(path+".name", "step name %q is not valid: use lower-case letters, digits and dashes, starting with a letter, at most 40 characters", sd.Name)
	}
	s.varPath, s.modulePath = map[string]string{}, path+".module"
	for k, val := range sd.Vars {
		s.Vars[k], s.varPath[k] = val, path+".vars."+k
	}
	extra := map[string]json.RawMessage{}
	for k, val := range sd.Extra {
		extra[k] = val
	}
	if pr, ok := sd.Profiles[profile]; ok && profile != "" {
		applyProfile(s, pr, profile, extra)
	}
	kind, ok := v.reg.Step(sd.Kind)
	if !ok {
		v.add(path+".kind", "unknown step kind %q; known kinds: %s", sd.Kind, strings.Join(v.reg.StepNames(), ", "))
		return s
	}
	s.Impl = kind
	cfg, _ := json.Marshal(extra)
	validate := kind.Validate
	if dv, ok := kind.(stack.DirValidator); ok {
		validate = func(c json.RawMessage) error { return dv.ValidateIn(v.def.Dir, c) }
	}
	if err := validate(cfg); err != nil {
		v.add(path, "%s step %q: %v", sd.Kind, sd.Name, err)
	}
	for k, raw := range extra {
		var val any
		_ = json.Unmarshal(raw, &val)
		s.Config[k] = val
	}
	switch {
	case kind.NeedsModule() && s.raw == "":
		what := "its Terraform module"
		if sd.Kind == "exec" {
			what = "the files its command runs (tests, scripts), copied to its working copy"
		}
		v.add(path+".module", "step %q needs a \"module\": the folder of %s, relative to %s", sd.Name, what, v.def.Dir)
	case !kind.NeedsModule() && s.raw != "":
		v.add(path+".module", "%s steps take no module; remove \"module\"", sd.Kind)
	case s.raw != "":
		v.module(s, kind)
	}
	v.handlers(s)
	return s
}

// module finds a step's module folder, fetching a remote source, and checks
// its vars against what the module declares.
func (v *validator) module(s *Step, kind stack.StepKind) {
	if modsource.IsRemote(s.raw) {
		if !v.remoteModule(s) {
			return
		}
	} else {
		s.Module = s.raw
		if !filepath.IsAbs(s.Module) {
			s.Module = filepath.Join(v.def.Dir, s.raw)
		}
		if v.moduleDir != nil {
			s.Module = v.moduleDir(s.Name, s.Module)
		}
	}
	if st, err := os.Stat(s.Module); err != nil || !st.IsDir() {
		v.add(s.modulePath, "module folder %q does not exist (looked in %s); fix the path, relative to the definition file", s.raw, s.Module)
	} else if insp, ok := kind.(stack.ModuleInspector); ok {
		v.moduleVars(s, insp)
	}
}

// remoteModule fetches a remote module source (git::, s3::, an archive);
// when that fails, the copy stored with the stack serves, if there is one.
func (v *validator) remoteModule(s *Step) bool {
	if v.fetch == nil {
		v.add(s.modulePath, "module %q is a remote source, which this command does not fetch; use a local folder here", s.raw)
		return false
	}
	dir, err := v.fetch(s.raw)
	if err == nil {
		s.Module = dir
		return true
	}
	if v.moduleDir != nil {
		if stored := v.moduleDir(s.Name, ""); stored != "" {
			s.Module = stored
			return true
		}
	}
	v.add(s.modulePath, "%v; check the source (git::URL?ref=TAG//SUBFOLDER, s3::URL, an archive URL) and that this workstation can reach it", err)
	return false
}

type inspection struct {
	info stack.ModuleInfo
	err  error
}

// inspect reads a module's declarations once per validation.
func (v *validator) inspect(insp stack.ModuleInspector, dir string) (stack.ModuleInfo, error) {
	if v.inspected == nil {
		v.inspected = map[string]inspection{}
	}
	if r, ok := v.inspected[dir]; ok {
		return r.info, r.err
	}
	info, err := insp.InspectModule(dir)
	v.inspected[dir] = inspection{info, err}
	return info, err
}

// where names a step and its module (and profile) in messages.
func (s *Step) where() string {
	if s.profile != "" {
		return fmt.Sprintf("step %q (module %s, profile %s)", s.Name, s.raw, s.profile)
	}
	return fmt.Sprintf("step %q (module %s)", s.Name, s.raw)
}

// moduleVars checks the vars a step passes against what its module declares.
func (v *validator) moduleVars(s *Step, insp stack.ModuleInspector) {
	info, err := v.inspect(insp, s.Module)
	if err != nil {
		v.add(s.modulePath, "%s: reading the module: %v", s.where(), err)
		return
	}
	for _, name := range slices.Sorted(maps.Keys(s.Vars)) {
		if _, ok := info.Variables[name]; !ok {
			declared := slices.Sorted(maps.Keys(info.Variables))
			hint := ""
			if d := Suggest(name, declared); d != "" {
				hint = fmt.Sprintf(" (did you mean %q?)", d)
			}
			v.add(s.varPath[name], "%s: module has no variable %q%s; its variables are: %s", s.where(), name, hint, listOr(declared, "none"))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(info.Variables)) {
		if _, given := s.Vars[name]; info.Variables[name] && !given {
			v.add(s.path+".vars", "%s: required variable %q is not given; add it to \"vars\"", s.where(), name)
		}
	}
}

// refs checks every reference of a step and records its dependencies.
func (v *validator) refs(p *Graph, s *Step) {
	deps := map[string]bool{}
	for i, a := range s.After {
		if _, ok := p.ByName[a]; !ok {
			v.add(fmt.Sprintf("%s.after[%d]", s.path, i), "step %q does not exist; steps are: %s", a, strings.Join(p.Names(), ", "))
			continue
		}
		if a == s.Name {
			v.add(fmt.Sprintf("%s.after[%d]", s.path, i), "a step cannot come after itself")
			continue
		}
		deps[a] = true
	}
	// ownOutputs[i] is what ${outputs.X} may name in handler i: the module's
	// outputs and those of the handlers before it; nil when unknown offline.
	ownOutputs := v.handlerOutputs(s)
	check := func(val any, path string, inHandler bool, handlerIdx int) {
		stack.FindRefs(val, path, func(r stack.Ref, at string, err error) {
			if err != nil {
				v.add(at, "%v", err)
				return
			}
			switch r.Kind {
			case "var":
				if _, ok := p.Def.Variables[r.Name]; !ok {
					v.add(at, "${var.%s}: the stack has no variable %q; add it to \"variables\"", r.Name, r.Name)
				}
			case "own":
				if !inHandler {
					v.add(at, "${outputs.%s} is only allowed in on_complete; use ${steps.STEP.outputs.%s}", r.Name, r.Name)
					return
				}
				if avail := ownOutputs[handlerIdx]; avail != nil && !avail[r.Name] {
					v.add(at, "%s has no output %q at this point; available: %s (a handler sees the module's outputs and those of the handlers before it)", s.where(), r.Name, listOr(slices.Sorted(maps.Keys(avail)), "none"))
				}
			case "step":
				up, ok := p.ByName[r.Step]
				switch {
				case !ok:
					v.add(at, "${steps.%s.outputs.%s}: step %q does not exist; steps are: %s", r.Step, r.Name, r.Step, strings.Join(p.Names(), ", "))
				case r.Step == s.Name:
					v.add(at, "${steps.%s.outputs.%s}: a step cannot reference its own outputs; in on_complete use ${outputs.%s}", r.Step, r.Name, r.Name)
				default:
					deps[r.Step] = true
					if names := v.knownOutputs(up); names != nil && !names[r.Name] {
						v.add(at, "%s has no output %q; it declares: %s", up.where(), r.Name, listOr(slices.Sorted(maps.Keys(names)), "none"))
					}
				}
			}
		})
	}
	check(s.Vars, s.path+".vars", false, -1)
	check(s.Config, s.path, false, -1)
	for i, h := range s.Handlers {
		var val any
		_ = json.Unmarshal(h.Config, &val)
		check(val, fmt.Sprintf("%s.on_complete[%d]", s.path, i), true, i)
	}
	s.Deps = slices.Sorted(maps.Keys(deps))
}

// handlerOutputs returns, for each handler of a step and one past the last,
// the outputs known at that point: the module's and those of the handlers
// before it. An entry is nil from the first point that cannot be known offline
// (no module inspector, or a handler that cannot name its outputs).
func (v *validator) handlerOutputs(s *Step) []map[string]bool {
	points := make([]map[string]bool, len(s.Handlers)+1)
	insp, ok := s.Impl.(stack.ModuleInspector)
	if !ok || s.Module == "" {
		return points
	}
	info, err := v.inspect(insp, s.Module)
	if err != nil {
		return points
	}
	cur := map[string]bool{}
	for n := range info.Outputs {
		cur[n] = true
	}
	for i, h := range s.Handlers {
		points[i] = cur
		hk, _ := v.reg.Handler(h.Handler)
		ho, ok := hk.(stack.HandlerOutputs)
		if !ok {
			return points // unknown from here on
		}
		next := map[string]bool{}
		for n := range cur {
			next[n] = true
		}
		for _, n := range ho.OutputNames(h.Config) {
			next[n] = true
		}
		cur = next
	}
	points[len(s.Handlers)] = cur
	return points
}

// knownOutputs returns the outputs a step declares (module plus handlers), or nil
// when they cannot be known offline.
func (v *validator) knownOutputs(s *Step) map[string]bool {
	points := v.handlerOutputs(s)
	return points[len(points)-1]
}

func (p *Graph) Names() []string {
	out := make([]string, len(p.Steps))
	for i, s := range p.Steps {
		out[i] = s.Name
	}
	return out
}

// findCycle returns one cycle as a list of step names, first repeated at the end.
func findCycle(p *Graph) []string {
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var stack []string
	var found []string
	var visit func(n string) bool
	visit = func(n string) bool {
		color[n] = grey
		stack = append(stack, n)
		for _, d := range p.ByName[n].Deps {
			switch color[d] {
			case grey:
				i := indexOf(stack, d)
				found = append(append([]string{}, stack[i:]...), d)
				return true
			case white:
				if visit(d) {
					return true
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[n] = black
		return false
	}
	for _, s := range p.Steps {
		if color[s.Name] == white && visit(s.Name) {
			// Deps point upstream; show the cycle in the order steps run.
			for i, j := 0, len(found)-1; i < j; i, j = i+1, j-1 {
				found[i], found[j] = found[j], found[i]
			}
			return found
		}
	}
	return nil
}

func indexOf(l []string, s string) int {
	for i, x := range l {
		if x == s {
			return i
		}
	}
	return -1
}

func (v *validator) selection(p *Graph, opts GraphOptions) map[string]bool {
	sel := map[string]bool{}
	for _, s := range p.Steps {
		sel[s.Name] = len(opts.Only) == 0
	}
	for _, n := range opts.Only {
		if _, ok := p.ByName[n]; !ok {
			v.addFlag("--only", "step %q does not exist; steps are: %s", n, strings.Join(p.Names(), ", "))
			continue
		}
		sel[n] = true
	}
	for _, n := range opts.Skip {
		if _, ok := p.ByName[n]; !ok {
			v.addFlag("--skip", "step %q does not exist; steps are: %s", n, strings.Join(p.Names(), ", "))
			continue
		}
		sel[n] = false
	}
	for _, s := range p.Steps {
		if !sel[s.Name] {
			continue
		}
		for _, d := range s.Deps {
			if sel[d] || (opts.Applied != nil && opts.Applied(d)) {
				continue
			}
			flag := "--only"
			fix := fmt.Sprintf("add %q to --only", d)
			if slices.Contains(opts.Skip, d) {
				flag, fix = "--skip", fmt.Sprintf("do not skip %q", d)
			}
			v.addFlag(flag, "step %q needs step %q, which would not run and is not applied in this stack; %s", s.Name, d, fix)
		}
	}
	return sel
}

// Order returns every step of the plan, selected or not (see Selected), so
// that every step comes after its deps, preferring definition order.
func (p *Graph) Order() []*Step {
	done := map[string]bool{}
	var out []*Step
	for len(out) < len(p.Steps) {
		progressed := false
		for _, s := range p.Steps {
			if done[s.Name] {
				continue
			}
			ready := true
			for _, d := range s.Deps {
				if !done[d] {
					ready = false
					break
				}
			}
			if ready {
				done[s.Name] = true
				out = append(out, s)
				progressed = true
				break
			}
		}
		if !progressed {
			break
		}
	}
	return out
}

// Descendants returns every step downstream of name.
func (p *Graph) Descendants(name string) map[string]bool {
	out := map[string]bool{}
	var walk func(n string)
	walk = func(n string) {
		for _, d := range p.Dependents[n] {
			if !out[d] {
				out[d] = true
				walk(d)
			}
		}
	}
	walk(name)
	return out
}

// ModuleSource is the step's module as the definition writes it (relative to
// the file), for labels and messages.
func (s *Step) ModuleSource() string { return s.raw }

// Depths returns, per step, the length of the longest chain of steps upstream.
func (p *Graph) Depths() map[string]int {
	out := map[string]int{}
	var walk func(n string) int
	walk = func(n string) int {
		if d, ok := out[n]; ok {
			return d
		}
		out[n] = 0 // cycles are refused by NewGraph; this only stops a loop
		d := 0
		if s := p.ByName[n]; s != nil {
			for _, up := range s.Deps {
				d = max(d, walk(up)+1)
			}
		}
		out[n] = d
		return d
	}
	for _, s := range p.Steps {
		walk(s.Name)
	}
	return out
}
