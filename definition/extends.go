package definition

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// LoadOptions say how to read the files a definition extends.
type LoadOptions struct {
	// Fetch reads a definition named by URL (s3://bucket/key); nil refuses them.
	Fetch func(ctx context.Context, url string) ([]byte, error)
	// PathFields are the step fields, besides module, that name a file or
	// folder relative to the definition (a generator's scenario); a dot
	// separates nested keys (senders.file). A parent in another folder has
	// those that name something next to it rewritten for the child's folder.
	PathFields []string
}

// Load reads a definition file and every file it extends, merged (see
// docs/teams.md, "Inheritance"). Problems in the merged definition name
// the file that wrote the value and its JSON path there.
func Load(ctx context.Context, file string, opts LoadOptions) (*Definition, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, &InvalidError{Problems: []Problem{{File: file, Msg: fmt.Sprintf("cannot read the definition: %v", err)}}}
	}
	dir, err := filepath.Abs(filepath.Dir(file))
	if err != nil {
		return nil, fmt.Errorf("definition %s: %w", file, err)
	}
	if !hasExtends(raw) {
		return ParseDefinition(file, dir, raw)
	}
	l := &loader{ctx: ctx, opts: opts, top: dir}
	root, err := l.load(file, raw, nil)
	if err != nil {
		return nil, err
	}
	merged, _ := json.Marshal(root.value())
	def, err := ParseDefinition(file, dir, merged)
	if err != nil {
		return nil, root.locateErr(file, err)
	}
	def.Raw, def.origins = merged, root
	return def, nil
}

// hasExtends reports whether raw is an object with an "extends" field.
func hasExtends(raw []byte) bool {
	var top map[string]json.RawMessage
	if json.Unmarshal(raw, &top) != nil {
		return false
	}
	_, ok := top["extends"]
	return ok
}

type loader struct {
	ctx  context.Context
	opts LoadOptions
	top  string // folder of the extending file: module paths end up relative to it
}

// load parses one file of a chain and merges it over the file it extends.
func (l *loader) load(file string, raw []byte, chain []string) (*node, error) {
	id := file
	if !isURL(file) {
		if abs, err := filepath.Abs(file); err == nil {
			id = abs
		}
	}
	for _, c := range chain {
		if c == id {
			return nil, &InvalidError{Problems: []Problem{{File: file, Path: "extends", Msg: fmt.Sprintf(
				"the definitions extend each other in a cycle: %s; remove one \"extends\"", strings.Join(append(chain, id), " -> "))}}}
		}
	}
	chain = append(chain, id)
	p := &parser{file: file}
	var top map[string]any
	if err := p.decode(raw, &top, ""); err != nil {
		return nil, err
	}
	n := fromJSON(top, file)
	l.rebasePaths(n, file)
	ext, ok := top["extends"]
	if !ok {
		return n, nil
	}
	delete(n.obj, "extends")
	base, ok := ext.(string)
	if !ok || base == "" {
		return nil, &InvalidError{Problems: []Problem{{File: file, Path: "extends", Msg: "\"extends\" names one definition file: a path relative to this file, or s3://bucket/key"}}}
	}
	switch {
	case isURL(base) || filepath.IsAbs(base):
	case isURL(file):
		base = strings.TrimSuffix(file, path.Base(file)) + base
	default:
		base = filepath.Join(filepath.Dir(file), base)
	}
	baseRaw, err := l.read(base)
	if err != nil {
		return nil, &InvalidError{Problems: []Problem{{File: file, Path: "extends", Msg: fmt.Sprintf("cannot read %s: %v; fix the path (relative to %s)", base, err, file)}}}
	}
	parent, err := l.load(base, baseRaw, chain)
	if err != nil {
		return nil, err
	}
	return mergeDefinition(parent, n, file)
}

func isURL(s string) bool { return strings.HasPrefix(s, "s3://") }

func (l *loader) read(file string) ([]byte, error) {
	if !isURL(file) {
		return os.ReadFile(file)
	}
	if l.opts.Fetch == nil {
		return nil, errors.New("this command cannot read s3:// definitions")
	}
	return l.opts.Fetch(l.ctx, file)
}

// rebasePaths rewrites the relative module paths (and PathFields) of a file
// in another folder than the extending one so that they stay relative to the
// extending file. Paths in an s3:// definition are taken as relative to it
// already.
func (l *loader) rebasePaths(n *node, file string) {
	if isURL(file) {
		return
	}
	dir, err := filepath.Abs(filepath.Dir(file))
	if err != nil || dir == l.top {
		return
	}
	// must: the path has to name something next to the parent (a scenario
	// field may also name a built-in scenario, which is left alone).
	rebase := func(m *node, must bool) {
		if m == nil || m.kind != leafNode {
			return
		}
		s, ok := m.leaf.(string)
		if !ok || s == "" || filepath.IsAbs(s) || strings.Contains(s, "::") || strings.Contains(s, "://") {
			return
		}
		if _, err := os.Stat(filepath.Join(dir, s)); must && err != nil {
			return
		}
		if rel, err := filepath.Rel(l.top, filepath.Join(dir, s)); err == nil {
			m.leaf = rel
		}
	}
	fields := func(o *node) {
		rebase(o.obj["module"], false)
		for _, f := range l.opts.PathFields {
			rebase(o.field(strings.Split(f, ".")), true)
		}
	}
	steps := n.obj["steps"]
	if steps == nil || steps.kind != listNode {
		return
	}
	for _, s := range steps.list {
		if s.kind != objNode {
			continue
		}
		fields(s)
		if pr := s.obj["profiles"]; pr != nil && pr.kind == objNode {
			for _, p := range pr.obj {
				if p.kind == objNode {
					fields(p)
				}
			}
		}
	}
}

// field is the value at the nested keys of an object node, or nil.
func (n *node) field(keys []string) *node {
	for _, k := range keys {
		if n == nil || n.kind != objNode {
			return nil
		}
		n = n.obj[k]
	}
	return n
}

// locate returns the file that wrote the value at path in the merged
// definition and the path there.
func (d *Definition) locate(path string) (string, string) {
	if d.origins == nil {
		return d.File, path
	}
	return d.origins.locate(d.File, path)
}

// locateErr points the problems of an InvalidError about the merged
// definition at the files that wrote the values.
func (n *node) locateErr(file string, err error) error {
	var ie *InvalidError
	if !errors.As(err, &ie) {
		return err
	}
	out := &InvalidError{}
	for _, p := range ie.Problems {
		if p.File == file && p.Path != "" {
			p.File, p.Path = n.locate(file, p.Path)
		}
		out.Problems = append(out.Problems, p)
	}
	return out
}

// Explain writes the merged definition, one value a line with the file that set it.
func (d *Definition) Explain(w io.Writer) {
	root := d.origins
	if root == nil {
		var top map[string]any
		_ = json.Unmarshal(d.Raw, &top)
		root = fromJSON(top, d.File)
	}
	root.explain(w, "")
}
