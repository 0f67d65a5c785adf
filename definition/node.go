package definition

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// node is a JSON value of a definition that remembers which file wrote it,
// so problems in a merged definition name the file to fix.
type node struct {
	kind int
	file string
	obj  map[string]*node
	list []*node
	leaf any
	// at is the element's index in the list of each file that wrote it (steps
	// keep their own index in every file of a chain).
	at map[string]int
}

const (
	leafNode = iota
	objNode
	listNode
)

func fromJSON(v any, file string) *node {
	switch x := v.(type) {
	case map[string]any:
		n := &node{kind: objNode, file: file, obj: map[string]*node{}}
		for k, e := range x {
			n.obj[k] = fromJSON(e, file)
		}
		return n
	case []any:
		n := &node{kind: listNode, file: file}
		for i, e := range x {
			c := fromJSON(e, file)
			c.at = map[string]int{file: i}
			n.list = append(n.list, c)
		}
		return n
	}
	return &node{kind: leafNode, file: file, leaf: v}
}

func (n *node) value() any {
	switch n.kind {
	case objNode:
		out := make(map[string]any, len(n.obj))
		for k, e := range n.obj {
			out[k] = e.value()
		}
		return out
	case listNode:
		out := make([]any, len(n.list))
		for i, e := range n.list {
			out[i] = e.value()
		}
		return out
	}
	return n.leaf
}

func isNull(n *node) bool { return n.kind == leafNode && n.leaf == nil }

// mergeByKey merges child over parent key by key: a child's value replaces
// the parent's, null removes the key.
func mergeByKey(parent, child *node, deeper func(key string, p, c *node) *node) *node {
	if parent == nil || parent.kind != objNode || child.kind != objNode {
		return child
	}
	out := &node{kind: objNode, file: child.file, obj: maps.Clone(parent.obj), at: child.at}
	for k, c := range child.obj {
		p, had := out.obj[k]
		switch {
		case isNull(c):
			delete(out.obj, k)
		case had && deeper != nil:
			out.obj[k] = deeper(k, p, c)
		default:
			out.obj[k] = c
		}
	}
	return out
}

// mergeDefinition merges a definition over the one it extends: variables by
// name, steps by name, the rest by key; null removes.
func mergeDefinition(parent, child *node, file string) (*node, error) {
	var problems []Problem
	out := mergeByKey(parent, child, func(key string, p, c *node) *node {
		switch key {
		case "variables":
			return mergeByKey(p, c, nil)
		case "sensitive_variables":
			return unionList(p, c)
		case "steps":
			merged, probs := mergeSteps(p, c, file)
			problems = append(problems, probs...)
			return merged
		}
		return c
	})
	if len(problems) > 0 {
		return nil, &InvalidError{Problems: problems}
	}
	return out, nil
}

func unionList(p, c *node) *node {
	if p.kind != listNode || c.kind != listNode {
		return c
	}
	out := &node{kind: listNode, file: c.file, list: slices.Clone(p.list)}
	for _, e := range c.list {
		if !slices.ContainsFunc(out.list, func(x *node) bool { return x.kind == leafNode && x.leaf == e.leaf }) {
			out.list = append(out.list, e)
		}
	}
	return out
}

func stepName(n *node) string {
	if n.kind != objNode || n.obj["name"] == nil {
		return ""
	}
	s, _ := n.obj["name"].leaf.(string)
	return s
}

// mergeSteps merges steps by name: a step the parent has is merged field by
// field; {"name": X, "remove": true} drops it; new steps come after the
// parent's, in the child's order.
func mergeSteps(p, c *node, file string) (*node, []Problem) {
	if p.kind != listNode || c.kind != listNode {
		return c, nil
	}
	out := &node{kind: listNode, file: c.file, list: slices.Clone(p.list)}
	var problems []Problem
	for i, cs := range c.list {
		name := stepName(cs)
		idx := slices.IndexFunc(out.list, func(x *node) bool { return name != "" && stepName(x) == name })
		if rm := cs.obj["remove"]; cs.kind == objNode && rm != nil {
			if rm.leaf != true || idx < 0 {
				problems = append(problems, Problem{File: file, Path: fmt.Sprintf("steps[%d].remove", i), Msg: fmt.Sprintf("\"remove\": true drops a step the extended definition has; it has no step %q", name)})
				continue
			}
			out.list = slices.Delete(out.list, idx, idx+1)
			continue
		}
		if idx < 0 {
			out.list = append(out.list, cs)
			continue
		}
		merged := mergeByKey(out.list[idx], cs, mergeStepField)
		merged.at = maps.Clone(out.list[idx].at)
		maps.Copy(merged.at, cs.at)
		out.list[idx] = merged
	}
	return out, problems
}

// mergeStepField merges one field of a step: vars by name, profiles by name
// and each profile's fields by key; other fields are replaced.
func mergeStepField(key string, p, c *node) *node {
	switch key {
	case "vars":
		return mergeByKey(p, c, nil)
	case "profiles":
		return mergeByKey(p, c, func(_ string, pp, pc *node) *node {
			return mergeByKey(pp, pc, func(k string, a, b *node) *node {
				if k == "vars" {
					return mergeByKey(a, b, nil)
				}
				return b
			})
		})
	}
	return c
}

var (
	pathToken = regexp.MustCompile(`^([^\[]*)((?:\[\d+\])*)$`)
	digits    = regexp.MustCompile(`\d+`)
)

// locate returns the file that wrote the value at path in the merged
// definition and its path in that file.
func (n *node) locate(top, path string) (string, string) {
	type step struct {
		key string
		idx []int
	}
	var steps []step
	for _, tok := range strings.Split(path, ".") {
		m := pathToken.FindStringSubmatch(tok)
		if m == nil {
			return top, path
		}
		s := step{key: m[1]}
		for _, d := range digits.FindAllString(m[2], -1) {
			i, _ := strconv.Atoi(d)
			s.idx = append(s.idx, i)
		}
		steps = append(steps, s)
	}
	cur, file := n, n.file
	var elems []*node // list elements passed, one per index
	for _, s := range steps {
		if s.key != "" {
			if cur == nil || cur.kind != objNode || cur.obj[s.key] == nil {
				break
			}
			cur = cur.obj[s.key]
			file = cur.file
		}
		for _, i := range s.idx {
			if cur == nil || cur.kind != listNode || i >= len(cur.list) {
				cur = nil
				break
			}
			cur = cur.list[i]
			elems = append(elems, cur)
			file = cur.file
		}
	}
	out := path
	if file != top || len(elems) > 0 {
		var b strings.Builder
		k := 0
		for j, s := range steps {
			if j > 0 {
				b.WriteString(".")
			}
			b.WriteString(s.key)
			for _, i := range s.idx {
				if k < len(elems) {
					if at, ok := elems[k].at[file]; ok {
						i = at
					}
				}
				k++
				fmt.Fprintf(&b, "[%d]", i)
			}
		}
		out = b.String()
	}
	if file != top {
		return fmt.Sprintf("%s (extended by %s)", file, top), out
	}
	return file, out
}

// explain writes one line per value: its path, its JSON and its file.
func (n *node) explain(w io.Writer, path string) {
	switch {
	case n.kind == objNode && len(n.obj) > 0:
		for _, k := range slices.Sorted(maps.Keys(n.obj)) {
			n.obj[k].explain(w, joinPath(path, k))
		}
	case n.kind == listNode && len(n.list) > 0 && !allLeaves(n.list):
		for i, e := range n.list {
			e.explain(w, fmt.Sprintf("%s[%d]", path, i))
		}
	default:
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(n.value())
		fmt.Fprintf(w, "%s = %s  # %s\n", path, strings.TrimSuffix(b.String(), "\n"), n.file)
	}
}

func allLeaves(l []*node) bool {
	return !slices.ContainsFunc(l, func(e *node) bool { return e.kind != leafNode })
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
