package definition

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/agext/levenshtein"
)

// EnvPrefix starts the environment variables that set stack variables:
// STACK_VAR_region=us-west-2 sets "region".
const EnvPrefix = "STACK_VAR_"

// VarInputs are the variable values given outside the definition, in
// Terraform's order of precedence: the environment, then var files in the
// order given, then --var flags in the order given; a later one wins.
type VarInputs struct {
	Env   []string // KEY=VALUE pairs, as os.Environ returns them
	Files []string // --var-file
	Flags []string // --var NAME=VALUE
}

// VarSetting is one variable value given outside the definition and where it came from.
type VarSetting struct {
	Value  any
	Origin string // "--var", "--var-file dev.json" or "STACK_VAR_region"
}

// Empty reports whether no value is given.
func (in VarInputs) Empty() bool {
	return len(in.Files) == 0 && len(in.Flags) == 0 && !slices.ContainsFunc(in.Env, func(kv string) bool {
		return strings.HasPrefix(kv, EnvPrefix)
	})
}

// VarSettings reads the values in for d's variables. A --var or var file
// naming a variable d does not declare is an error (exit 2); an environment
// variable for one is ignored, as Terraform ignores TF_VAR_ it does not need.
func (d *Definition) VarSettings(in VarInputs) (map[string]VarSetting, error) {
	out := map[string]VarSetting{}
	var problems []Problem
	for _, kv := range in.Env {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) {
			continue
		}
		name = strings.TrimPrefix(name, EnvPrefix)
		if _, declared := d.Variables[name]; declared {
			out[name] = VarSetting{Value: d.parseVarText(name, val), Origin: EnvPrefix + name}
		}
	}
	for _, f := range in.Files {
		vals, err := readVarFile(f)
		if err != nil {
			problems = append(problems, Problem{File: f, Path: "--var-file", Msg: err.Error()})
			continue
		}
		for _, name := range slices.Sorted(maps.Keys(vals)) {
			if p, ok := d.unknownVar(name); !ok {
				problems = append(problems, Problem{File: f, Path: name, Msg: p})
				continue
			}
			out[name] = VarSetting{Value: vals[name], Origin: "--var-file " + f}
		}
	}
	for _, fl := range in.Flags {
		name, val, ok := strings.Cut(fl, "=")
		if !ok || name == "" {
			problems = append(problems, Problem{Path: "--var " + fl, Msg: "use --var NAME=VALUE, e.g. --var region=us-west-2 or --var 'azs=[\"a\",\"b\"]'"})
			continue
		}
		if p, ok := d.unknownVar(name); !ok {
			problems = append(problems, Problem{Path: "--var " + fl, Msg: p})
			continue
		}
		out[name] = VarSetting{Value: d.parseVarText(name, val), Origin: "--var"}
	}
	if len(problems) > 0 {
		return nil, &InvalidError{Problems: problems}
	}
	return out, nil
}

// unknownVar returns the message for a name d does not declare, and false.
func (d *Definition) unknownVar(name string) (string, bool) {
	if _, ok := d.Variables[name]; ok {
		return "", true
	}
	msg := fmt.Sprintf("the stack has no variable %q", name)
	if s := Suggest(name, slices.Collect(maps.Keys(d.Variables))); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return msg + fmt.Sprintf("; its variables are: %s (declare new ones in %s under \"variables\")", listOr(slices.Sorted(maps.Keys(d.Variables)), "none"), d.File), false
}

// parseVarText turns a value given as text into a JSON value: text that
// parses as JSON is taken as JSON (numbers, lists, objects), unless the
// variable's default is a string, when it is taken as is.
func (d *Definition) parseVarText(name, text string) any {
	if _, isString := d.Variables[name].(string); isString {
		return text
	}
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return text
	}
	return v
}

func readVarFile(file string) (map[string]any, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("cannot read the var file: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var vals map[string]any
	const want = "a var file is a JSON object of variable names to values, e.g. {\"region\": \"us-west-2\"}"
	if err := dec.Decode(&vals); err != nil {
		return nil, fmt.Errorf("%s: %w", want, err)
	}
	if vals == nil {
		return nil, fmt.Errorf("%s, not null", want)
	}
	return vals, nil
}

// WithValues returns a copy of d whose variables take the given values.
func (d *Definition) WithValues(vals map[string]any) *Definition {
	c := *d
	c.Variables = maps.Clone(d.Variables)
	if c.Variables == nil {
		c.Variables = map[string]any{}
	}
	maps.Copy(c.Variables, vals)
	return &c
}

// Suggest returns the candidate closest to name, or "" when none is close.
func Suggest(name string, candidates []string) string {
	best, bestD := "", 0
	for _, c := range slices.Sorted(slices.Values(candidates)) {
		d := levenshtein.Distance(name, c, nil)
		if d <= max(2, len(name)/3) && (best == "" || d < bestD) {
			best, bestD = c, d
		}
	}
	return best
}
