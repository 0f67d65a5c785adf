package main

import (
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/stack-tools/stack/definition"
	"github.com/stack-tools/stack/state"
)

// varOptions are the variable values a command takes besides the
// definition's defaults: --var, --var-file and STACK_VAR_NAME.
type varOptions struct {
	Vars     []string
	VarFiles []string
	// Environ is the environment STACK_VAR_ values are read from (nil: this process's).
	Environ []string
}

func addVarFlags(f *pflag.FlagSet, o *varOptions) {
	f.StringArrayVar(&o.Vars, "var", nil, "set a variable: --var NAME=VALUE (repeatable; VALUE may be JSON, e.g. --var 'azs=[\"a\",\"b\"]'); wins over --var-file and STACK_VAR_NAME")
	f.StringArrayVar(&o.VarFiles, "var-file", nil, "set variables from a JSON file {\"NAME\": VALUE} (repeatable; a later file wins); wins over STACK_VAR_NAME")
}

// settings reads the values given for def's variables.
func (o varOptions) settings(def *definition.Definition) (map[string]definition.VarSetting, error) {
	env := o.Environ
	if env == nil {
		env = os.Environ()
	}
	return def.VarSettings(definition.VarInputs{Env: env, Files: o.VarFiles, Flags: o.Vars})
}

// withValues is def with the values given on the command line, for commands
// that do not remember them (validate, plan of a new stack).
func (o varOptions) withValues(def *definition.Definition) (*definition.Definition, error) {
	given, err := o.settings(def)
	if err != nil {
		return nil, err
	}
	vals := map[string]any{}
	for name, s := range given {
		vals[name] = s.Value
	}
	return def.WithValues(vals), nil
}

// printVars is the variables line of `stack status`: the values the stack
// was brought up with besides the definition's defaults, sensitive ones hidden.
func printVars(w io.Writer, rec *state.Record) {
	if len(rec.Vars) == 0 {
		return
	}
	var parts []string
	for _, n := range sortedOutputNames(rec.Vars) {
		parts = append(parts, fmt.Sprintf("%s=%s", n, outputText(rec.Vars[n])))
	}
	fmt.Fprintf(w, "  variables %s\n", strings.Join(parts, " · "))
}

// registerVarCompletions completes --var with the variables of the
// definition file on the command line ("region=") and --var-file with JSON files.
func registerVarCompletions(cmd *cobra.Command) {
	_ = cmd.RegisterFlagCompletionFunc("var-file", func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return []cobra.Completion{"json"}, jsonFiles
	})
	_ = cmd.RegisterFlagCompletionFunc("var", func(_ *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		for _, a := range args {
			if !isDefinitionFile(a) {
				continue
			}
			def, err := definition.LoadDefinition(a)
			if err != nil {
				return nil, noFiles
			}
			var out []cobra.Completion
			for _, n := range slices.Sorted(maps.Keys(def.Variables)) {
				if strings.HasPrefix(n, toComplete) {
					out = append(out, n+"=")
				}
			}
			return out, noFiles | cobra.ShellCompDirectiveNoSpace
		}
		return nil, noFiles
	})
}
