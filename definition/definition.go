package definition

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/stack-tools/stack/stack"
)

// Definition is a parsed stack definition file.
type Definition struct {
	Name        string
	Description string
	Variables   map[string]any
	Steps       []StepDef
	// File is where the definition was read from, for messages; Dir is the folder
	// module paths are relative to.
	File string
	Dir  string
	// Raw is the file as given, stored with the stack so any workstation can re-read it.
	Raw []byte
	// TTL is the default time to live of stacks made from it ("" for none).
	TTL string
	// Sensitive names the variables whose values are secrets: they reach a
	// module the way sensitive outputs do and the stack keeps only a digest.
	Sensitive map[string]bool
	// Withheld maps a variable whose value is not known on this workstation
	// (a sensitive value the stack keeps as a digest) to how to give it.
	Withheld map[string]string
	// origins says which file of an extends chain wrote each value (nil for
	// a definition without "extends").
	origins *node
}

// StepDef is one step as written, before a profile is applied.
type StepDef struct {
	Name        string
	Kind        string
	Module      string
	Vars        map[string]any
	After       []string
	Profiles    map[string]ProfileDef
	OnComplete  []HandlerDef
	Description string
	// Extra holds kind-specific fields (for example a generator's scenario and rate).
	Extra map[string]json.RawMessage
}

// ProfileDef overrides parts of a step under one profile.
type ProfileDef struct {
	Module        string
	Vars          map[string]any
	OnComplete    []HandlerDef
	HasOnComplete bool
	Extra         map[string]json.RawMessage
}

// HandlerDef is one on_complete entry: the handler's name and its whole object.
type HandlerDef struct {
	Handler string
	Config  json.RawMessage
}

// Problem is one thing wrong with a definition or a command line.
type Problem struct {
	File string // file name, or "" for command-line problems
	Path string // JSON path such as steps[2].after[0], or a flag such as --only
	Msg  string // what is wrong and how to fix it
}

func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		b.WriteString(": ")
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// InvalidError lists everything wrong with a definition or command line. Nothing
// has run and no state has changed when it is returned.
type InvalidError struct{ Problems []Problem }

func (e *InvalidError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	if len(lines) == 1 {
		return "invalid stack definition: " + lines[0]
	}
	return fmt.Sprintf("invalid stack definition (%d problems):\n  %s", len(lines), strings.Join(lines, "\n  "))
}

// IsInvalid reports whether err is a definition or usage problem.
func IsInvalid(err error) bool {
	var ie *InvalidError
	var ue *UsageError
	return errors.As(err, &ie) || errors.As(err, &ue)
}

// UsageError is a command-line mistake that is not about the definition, such
// as a step the stack does not have. Nothing has run when it is returned.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,39}$`)

// ValidName reports whether s can name a stack or a step: lower-case letters,
// digits and dashes, starting with a letter, at most 40 characters. Names end up
// in Terraform workspaces, S3 keys, znode paths and AWS identifiers.
func ValidName(s string) bool { return nameRE.MatchString(s) }

// LoadDefinition reads and parses a definition file. It checks syntax and shape;
// Validate checks the rest.
// It follows "extends" through local files only; Load reads s3:// ones too.
func LoadDefinition(file string) (*Definition, error) {
	return Load(context.Background(), file, LoadOptions{})
}

// ParseDefinition parses a definition held in memory; dir is the folder module
// paths are relative to.
func ParseDefinition(file, dir string, raw []byte) (*Definition, error) {
	p := &parser{file: file}
	var top map[string]json.RawMessage
	if err := p.decode(raw, &top, ""); err != nil {
		return nil, err
	}
	def := &Definition{File: file, Dir: dir, Raw: raw}
	p.fields(top, "", "name", "description", "ttl", "variables", "sensitive_variables", "steps")
	p.str(top, "", "name", &def.Name, true)
	p.str(top, "", "description", &def.Description, false)
	p.str(top, "", "ttl", &def.TTL, false)
	if _, err := ParseTTL(def.TTL); err != nil {
		p.add("ttl", "%v", err)
	}
	if v, ok := top["variables"]; ok {
		p.decodeInto(v, &def.Variables, "variables")
	}
	p.sensitive(top, def)
	var steps []json.RawMessage
	if v, ok := top["steps"]; ok {
		p.decodeInto(v, &steps, "steps")
	} else {
		p.add("steps", "missing \"steps\": list the steps of the stack")
	}
	for i, s := range steps {
		def.Steps = append(def.Steps, p.step(s, fmt.Sprintf("steps[%d]", i)))
	}
	if len(p.problems) > 0 {
		return nil, &InvalidError{Problems: p.problems}
	}
	return def, nil
}

// sensitive reads "sensitive_variables": names from "variables".
func (p *parser) sensitive(top map[string]json.RawMessage, def *Definition) {
	v, ok := top["sensitive_variables"]
	if !ok {
		return
	}
	var names []string
	if !p.decodeInto(v, &names, "sensitive_variables") {
		return
	}
	def.Sensitive = map[string]bool{}
	for i, n := range names {
		if _, ok := def.Variables[n]; !ok {
			p.add(fmt.Sprintf("sensitive_variables[%d]", i), "%q is not in \"variables\"; declare it there (with a default, or \"\" and give it with STACK_VAR_%s)", n, n)
		}
		def.Sensitive[n] = true
	}
}

type parser struct {
	file     string
	raw      []byte
	problems []Problem
}

func (p *parser) add(path, format string, args ...any) {
	p.problems = append(p.problems, Problem{File: p.file, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// decode parses the whole file, reporting syntax errors with line and column.
func (p *parser) decode(raw []byte, v any, path string) error {
	p.raw = raw
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			// Offset counts the offending byte; point at it.
			line, col := lineCol(raw, se.Offset-1)
			return &InvalidError{Problems: []Problem{{File: fmt.Sprintf("%s:%d:%d", p.file, line, col), Msg: "JSON syntax error: " + se.Error()}}}
		case errors.As(err, &te):
			line, col := lineCol(raw, te.Offset)
			return &InvalidError{Problems: []Problem{{File: fmt.Sprintf("%s:%d:%d", p.file, line, col), Msg: "the definition must be a JSON object"}}}
		case len(bytes.TrimSpace(raw)) == 0:
			return &InvalidError{Problems: []Problem{{File: p.file + ":1:1", Msg: "the file is empty: a definition is a JSON object such as {\"name\": \"demo\", \"steps\": [...]}"}}}
		default:
			// The file ended inside a value: point at its end.
			line, col := lineCol(raw, int64(len(raw)))
			return &InvalidError{Problems: []Problem{{File: fmt.Sprintf("%s:%d:%d", p.file, line, col), Msg: "JSON syntax error: " + err.Error() + " (is the file complete?)"}}}
		}
	}
	if dec.More() {
		off := dec.InputOffset()
		line, col := lineCol(raw, off)
		return &InvalidError{Problems: []Problem{{File: fmt.Sprintf("%s:%d:%d", p.file, line, col), Msg: "unexpected data after the top-level object"}}}
	}
	return nil
}

func lineCol(raw []byte, off int64) (int, int) {
	if off > int64(len(raw)) {
		off = int64(len(raw))
	}
	before := raw[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(off) - bytes.LastIndexByte(before, '\n')
	return line, col
}

func (p *parser) decodeInto(raw json.RawMessage, v any, path string) bool {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		p.add(path, "wrong type: %s", typeMessage(err))
		return false
	}
	return true
}

func typeMessage(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("expected %s, found a JSON %s", goTypeName(te.Type.String()), te.Value)
	}
	return err.Error()
}

func goTypeName(t string) string {
	switch {
	case strings.HasPrefix(t, "map["):
		return "an object"
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case t == "string":
		return "a string"
	}
	return t
}

func (p *parser) fields(obj map[string]json.RawMessage, path string, allowed ...string) {
	ok := map[string]bool{}
	for _, a := range allowed {
		ok[a] = true
	}
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		if !ok[k] {
			p.add(stack.JoinPath(path, k), "unknown field %q; allowed here: %s", k, strings.Join(allowed, ", "))
		}
	}
}

func (p *parser) str(obj map[string]json.RawMessage, path, key string, into *string, required bool) {
	v, ok := obj[key]
	if !ok {
		if required {
			p.add(stack.JoinPath(path, key), "missing %q", key)
		}
		return
	}
	p.decodeInto(v, into, stack.JoinPath(path, key))
}

var stepFields = []string{"name", "kind", "module", "vars", "after", "profiles", "on_complete", "description"}

func (p *parser) step(raw json.RawMessage, path string) StepDef {
	var obj map[string]json.RawMessage
	var s StepDef
	if !p.decodeInto(raw, &obj, path) {
		return s
	}
	p.str(obj, path, "name", &s.Name, true)
	p.str(obj, path, "kind", &s.Kind, false)
	if s.Kind == "" {
		s.Kind = "terraform"
	}
	p.str(obj, path, "module", &s.Module, false)
	p.str(obj, path, "description", &s.Description, false)
	if v, ok := obj["vars"]; ok {
		p.decodeInto(v, &s.Vars, path+".vars")
	}
	if v, ok := obj["after"]; ok {
		p.decodeInto(v, &s.After, path+".after")
	}
	if v, ok := obj["on_complete"]; ok {
		s.OnComplete = p.handlers(v, path+".on_complete")
	}
	if v, ok := obj["profiles"]; ok {
		var profs map[string]json.RawMessage
		if p.decodeInto(v, &profs, path+".profiles") {
			s.Profiles = map[string]ProfileDef{}
			for _, name := range slices.Sorted(maps.Keys(profs)) {
				s.Profiles[name] = p.profile(profs[name], path+".profiles."+name)
			}
		}
	}
	s.Extra = extra(obj, stepFields)
	return s
}

func extra(obj map[string]json.RawMessage, known []string) map[string]json.RawMessage {
	out := map[string]json.RawMessage{}
	for k, v := range obj {
		if !slices.Contains(known, k) {
			out[k] = v
		}
	}
	return out
}

func (p *parser) profile(raw json.RawMessage, path string) ProfileDef {
	var obj map[string]json.RawMessage
	var pr ProfileDef
	if !p.decodeInto(raw, &obj, path) {
		return pr
	}
	p.str(obj, path, "module", &pr.Module, false)
	if v, ok := obj["vars"]; ok {
		p.decodeInto(v, &pr.Vars, path+".vars")
	}
	if v, ok := obj["on_complete"]; ok {
		pr.HasOnComplete = true
		pr.OnComplete = p.handlers(v, path+".on_complete")
	}
	for _, k := range []string{"name", "kind", "after", "profiles", "description"} {
		if _, ok := obj[k]; ok {
			p.add(path+"."+k, "a profile cannot change %q; profiles may set module, vars, on_complete and the kind's own fields", k)
		}
	}
	pr.Extra = extra(obj, stepFields)
	return pr
}

func (p *parser) handlers(raw json.RawMessage, path string) []HandlerDef {
	var list []json.RawMessage
	if !p.decodeInto(raw, &list, path) {
		return nil
	}
	var out []HandlerDef
	for i, h := range list {
		hp := fmt.Sprintf("%s[%d]", path, i)
		var obj map[string]json.RawMessage
		if !p.decodeInto(h, &obj, hp) {
			continue
		}
		var hd HandlerDef
		p.str(obj, hp, "handler", &hd.Handler, true)
		delete(obj, "handler")
		hd.Config, _ = json.Marshal(obj)
		out = append(out, hd)
	}
	return out
}

// ProfileNames lists every profile any step defines.
func (d *Definition) ProfileNames() []string {
	set := map[string]bool{}
	for _, s := range d.Steps {
		for n := range s.Profiles {
			set[n] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}
