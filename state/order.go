package state

import (
	"encoding/json"
	"sort"
)

// StepOrder lists the record's steps in the order its stored definition writes
// them, then the steps the definition no longer has, by name: the order people
// read a stack's steps in.
func (r *Record) StepOrder() []string {
	var def struct {
		Steps []struct {
			Name string `json:"name"`
		} `json:"steps"`
	}
	// An unreadable definition leaves every step to the sorted rest.
	_ = json.Unmarshal(r.Definition, &def)
	out := make([]string, 0, len(r.Steps))
	seen := map[string]bool{}
	for _, s := range def.Steps {
		if _, ok := r.Steps[s.Name]; ok && !seen[s.Name] {
			out = append(out, s.Name)
			seen[s.Name] = true
		}
	}
	var rest []string
	for n := range r.Steps {
		if !seen[n] {
			rest = append(rest, n)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}
