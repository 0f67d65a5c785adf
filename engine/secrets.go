package engine

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/stack-tools/stack/stack"
)

// minSecretLen is the shortest secret text looked for in outputs: shorter
// ones ("1", "yes") would match everywhere and are no secrets anyway.
const minSecretLen = 4

// carriedSecrets marks as sensitive every output of a step that carries one
// of the sensitive values its inputs resolved to, and returns their names,
// sorted. Terraform knows a value is sensitive only where the module says
// so: a module that takes a password in a variable not declared sensitive
// and builds a connection string from it returns that string as a plain
// output, which would be stored and printed.
func carriedSecrets(outs stack.Outputs, secrets []any) []string {
	var texts []string
	for _, v := range secrets {
		texts = appendSecretTexts(texts, v)
	}
	if len(texts) == 0 {
		return nil
	}
	var marked []string
	for name, o := range outs {
		if o.Sensitive || o.Value == nil {
			continue
		}
		b, err := json.Marshal(o.Value)
		if err != nil {
			continue
		}
		if slices.ContainsFunc(texts, func(t string) bool { return strings.Contains(string(b), t) }) {
			o.Sensitive = true
			outs[name] = o
			marked = append(marked, name)
		}
	}
	slices.Sort(marked)
	return marked
}

// appendSecretTexts adds the strings in v as they appear inside JSON (quotes
// and backslashes escaped), so they can be looked for in an encoded output.
func appendSecretTexts(texts []string, v any) []string {
	switch x := v.(type) {
	case string:
		if len(x) < minSecretLen {
			return texts
		}
		b, _ := json.Marshal(x)
		return append(texts, string(b[1:len(b)-1]))
	case map[string]any:
		for _, e := range x {
			texts = appendSecretTexts(texts, e)
		}
	case []any:
		for _, e := range x {
			texts = appendSecretTexts(texts, e)
		}
	}
	return texts
}
