package main

import (
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/stack-tools/stack/definition"
	"github.com/stack-tools/stack/state"
)

// Graph formats.
const (
	GraphDOT     = "dot"
	GraphMermaid = "mermaid"
)

// statusColors fill a step's box by its stored status.
var statusColors = map[string]string{
	state.StatusApplied:    "#b7e1b0",
	state.StatusRunning:    "#fff2a8",
	state.StatusDestroying: "#fff2a8",
	state.StatusFailed:     "#f4b6b6",
	state.StatusPending:    "#e6e6e6",
	state.StatusDestroyed:  "#e6e6e6",
}

// WriteGraph writes the step graph of a plan (profile applied) in format, an
// edge from each step to the steps that wait for it. status, if not nil, gives
// each step's stored status, shown in its label and colour.
func WriteGraph(w io.Writer, p *definition.Graph, format string, status map[string]string) error {
	switch format {
	case GraphDOT:
		return writeDOT(w, p, status)
	case GraphMermaid:
		return writeMermaid(w, p, status)
	}
	return fmt.Errorf("unknown graph format %q: use dot or mermaid", format)
}

// stepLabel describes a step: its name, kind or module, handlers, and status.
func stepLabel(s *definition.Step, status map[string]string) []string {
	lines := []string{s.Name}
	what := s.Kind
	if s.ModuleSource() != "" {
		what += " " + filepath.Base(s.ModuleSource())
	}
	lines = append(lines, what)
	if len(s.Handlers) > 0 {
		var hs []string
		for _, h := range s.Handlers {
			hs = append(hs, h.Handler)
		}
		lines = append(lines, "+ "+strings.Join(hs, ", "))
	}
	if status != nil {
		st := status[s.Name]
		if st == "" {
			st = "not in stack"
		}
		lines = append(lines, st)
	}
	return lines
}

func graphTitle(p *definition.Graph) string {
	t := p.Def.Name
	if p.Profile != "" {
		t += " (profile " + p.Profile + ")"
	}
	return t
}

func writeDOT(w io.Writer, p *definition.Graph, status map[string]string) error {
	esc := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	q := func(s string) string { return `"` + esc.Replace(s) + `"` }
	var b strings.Builder
	fmt.Fprintf(&b, "digraph %s {\n", q(p.Def.Name))
	fmt.Fprintf(&b, "  label=%s;\n  labelloc=t;\n  rankdir=LR;\n", q(graphTitle(p)))
	b.WriteString("  node [shape=box, style=\"rounded,filled\", fillcolor=\"#ffffff\", fontname=\"Helvetica\"];\n")
	for _, s := range p.Steps {
		fill := "#ffffff"
		if status != nil {
			if c, ok := statusColors[status[s.Name]]; ok {
				fill = c
			}
		}
		fmt.Fprintf(&b, "  %s [label=%s, fillcolor=%s];\n", q(s.Name), q(strings.Join(stepLabel(s, status), "\n")), q(fill))
	}
	for _, s := range p.Steps {
		for _, d := range s.Deps {
			fmt.Fprintf(&b, "  %s -> %s;\n", q(d), q(s.Name))
		}
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func writeMermaid(w io.Writer, p *definition.Graph, status map[string]string) error {
	// Node ids are s0, s1, ...: step names with dashes are not safe ids.
	id := map[string]string{}
	for i, s := range p.Steps {
		id[s.Name] = fmt.Sprintf("s%d", i)
	}
	text := func(s string) string { return strings.NewReplacer(`"`, "#quot;", "<", "#lt;", ">", "#gt;").Replace(s) }
	var b strings.Builder
	fmt.Fprintf(&b, "---\ntitle: %s\n---\nflowchart LR\n", text(graphTitle(p)))
	for _, s := range p.Steps {
		lines := stepLabel(s, status)
		for i := range lines {
			lines[i] = text(lines[i])
		}
		fmt.Fprintf(&b, "  %s[\"%s\"]\n", id[s.Name], strings.Join(lines, "<br/>"))
	}
	for _, s := range p.Steps {
		for _, d := range s.Deps {
			fmt.Fprintf(&b, "  %s --> %s\n", id[d], id[s.Name])
		}
	}
	if status != nil {
		used := map[string][]string{}
		for _, s := range p.Steps {
			if _, ok := statusColors[status[s.Name]]; ok {
				used[status[s.Name]] = append(used[status[s.Name]], id[s.Name])
			}
		}
		for _, st := range slices.Sorted(maps.Keys(used)) {
			fmt.Fprintf(&b, "  classDef %s fill:%s\n  class %s %s\n", st, statusColors[st], strings.Join(used[st], ","), st)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
