package engine

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/stack-tools/stack/definition"
	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/state"
)

// chooseVars decides the variable values `up` applies. Values given now
// (--var, --var-file, STACK_VAR_) win; otherwise an existing stack keeps the
// values it was brought up with, as it keeps its profile, and says so; the
// definition's defaults apply to the rest. It returns the definition with the
// values in place and the values to remember (sensitive ones unredacted: the
// record writer stores their digest only).
func (e *Engine) chooseVars(def *definition.Definition, rec *state.Record, given map[string]definition.VarSetting) (*definition.Definition, stack.Outputs, error) {
	remember := stack.Outputs{}
	for name, s := range given {
		remember[name] = stack.Output{Value: s.Value, Sensitive: def.Sensitive[name]}
	}
	var kept []string
	var problems []definition.Problem
	if rec != nil {
		for _, name := range slices.Sorted(maps.Keys(rec.Vars)) {
			old := rec.Vars[name]
			_, declared := def.Variables[name]
			_, now := given[name]
			switch {
			case !declared:
				e.emit(Event{Stack: rec.Name, Type: EventInfo, Message: fmt.Sprintf("forgetting variable %s, which the stack was brought up with: the definition no longer declares it", name)})
			case now:
				e.reportChange(rec.Name, name, old, given[name], def.Sensitive[name])
			case old.Sensitive:
				problems = append(problems, definition.Problem{Path: definition.EnvPrefix + name, Msg: fmt.Sprintf(
					"variable %q is sensitive and the stack keeps only a digest of the value it was brought up with; give it again with %s%s=VALUE (or --var %s=VALUE)",
					name, definition.EnvPrefix, name, name)})
			default:
				remember[name] = old
				kept = append(kept, fmt.Sprintf("%s=%s", name, valueText(old.Value)))
			}
		}
	}
	if len(problems) > 0 {
		return nil, nil, &definition.InvalidError{Problems: problems}
	}
	if len(kept) > 0 {
		e.emit(Event{Stack: rec.Name, Type: EventInfo, Message: fmt.Sprintf("keeping variables %s, which the stack was brought up with; pass --var NAME=VALUE to change them", strings.Join(kept, ", "))})
	}
	vals := map[string]any{}
	for name, o := range remember {
		vals[name] = o.Value
	}
	return def.WithValues(vals), remember, nil
}

// reportChange says when a value given now replaces the one the stack was
// brought up with. A sensitive value is compared by digest and never shown.
func (e *Engine) reportChange(stackName, name string, old stack.Output, now definition.VarSetting, sensitive bool) {
	if sensitive || old.Sensitive {
		d := stack.Outputs{name: {Value: now.Value, Sensitive: true}}.Redacted(e.digestKey)[name].Digest
		if d != old.Digest {
			e.emit(Event{Stack: stackName, Type: EventInfo, Message: fmt.Sprintf("changing sensitive variable %s, as %s asks", name, now.Origin)})
		}
		return
	}
	if valueText(old.Value) != valueText(now.Value) {
		e.emit(Event{Stack: stackName, Type: EventInfo, Message: fmt.Sprintf("changing variable %s from %s to %s, as %s asks", name, valueText(old.Value), valueText(now.Value), now.Origin)})
	}
}

// storedValues puts the values a stack was brought up with into the
// definition stored with it. A sensitive value is taken from STACK_VAR_NAME
// when set here; otherwise it is withheld, and a step that needs it fails
// saying how to give it.
func storedValues(def *definition.Definition, rec *state.Record) *definition.Definition {
	vals := map[string]any{}
	withheld := map[string]string{}
	for name, o := range rec.Vars {
		if _, declared := def.Variables[name]; !declared {
			continue
		}
		if !o.Sensitive {
			vals[name] = o.Value
			continue
		}
		if v, ok := os.LookupEnv(definition.EnvPrefix + name); ok {
			vals[name] = v
			continue
		}
		withheld[name] = fmt.Sprintf("it is sensitive and the stack keeps only its digest; set %s%s to the value the stack was brought up with", definition.EnvPrefix, name)
	}
	out := def.WithValues(vals)
	if len(withheld) > 0 {
		out.Withheld = withheld
	}
	return out
}

func valueText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// givenValues is def with the values given now, for validating before the
// stack's record is read.
func givenValues(def *definition.Definition, given map[string]definition.VarSetting) *definition.Definition {
	vals := map[string]any{}
	for name, s := range given {
		vals[name] = s.Value
	}
	return def.WithValues(vals)
}

// remembered is what the record keeps of the values given outside the
// definition: sensitive ones as digests only.
func (e *Engine) remembered(vars stack.Outputs) stack.Outputs {
	if len(vars) == 0 {
		return nil
	}
	return vars.Redacted(e.digestKey)
}
