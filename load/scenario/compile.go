package scenario

import (
	"net/url"
	"strconv"
	"text/template"
	"text/template/parse"
)

// Data is what a body template sees as ".".
type Data struct {
	Type      string
	Seq       uint64
	MessageID string
	Sender    *Sender
	Company   *Company
	Vars      map[string]string
}

// op appends one piece of a body.
type op func(dst []byte, d *Data) []byte

// compiler turns the common subset of text/template (text, fields, calls of
// fake-data functions with constant arguments, escaping pipelines, nested
// {{template}} with dot) into a list of appends, which costs a fraction of
// Template.Execute per request. Anything else keeps the template engine.
type compiler struct {
	set   *template.Template
	funcs template.FuncMap
	vars  map[string]string
	depth int
}

func (c *compiler) compile(name string) ([]op, bool) {
	t := c.set.Lookup(name)
	if t == nil || t.Tree == nil || c.depth > 8 {
		return nil, false
	}
	c.depth++
	defer func() { c.depth-- }()
	return c.list(t.Tree.Root)
}

func (c *compiler) list(l *parse.ListNode) ([]op, bool) {
	var ops []op
	if l == nil {
		return ops, true
	}
	for _, n := range l.Nodes {
		switch n := n.(type) {
		case *parse.TextNode:
			text := append([]byte(nil), n.Text...)
			ops = append(ops, func(dst []byte, _ *Data) []byte { return append(dst, text...) })
		case *parse.CommentNode:
		case *parse.ActionNode:
			o, ok := c.action(n.Pipe)
			if !ok {
				return nil, false
			}
			ops = append(ops, o)
		case *parse.TemplateNode:
			if n.Pipe == nil || len(n.Pipe.Decl) > 0 || len(n.Pipe.Cmds) != 1 || len(n.Pipe.Cmds[0].Args) != 1 {
				return nil, false
			}
			if _, dot := n.Pipe.Cmds[0].Args[0].(*parse.DotNode); !dot {
				return nil, false
			}
			sub, ok := c.compile(n.Name)
			if !ok {
				return nil, false
			}
			ops = append(ops, sub...)
		default:
			return nil, false
		}
	}
	return ops, true
}

func (c *compiler) action(p *parse.PipeNode) (op, bool) {
	if len(p.Decl) > 0 || len(p.Cmds) == 0 {
		return nil, false
	}
	first, ok := c.value(p.Cmds[0])
	if !ok {
		return nil, false
	}
	var escapes []func(string) string
	for _, cmd := range p.Cmds[1:] {
		if len(cmd.Args) != 1 {
			return nil, false
		}
		id, ok := cmd.Args[0].(*parse.IdentifierNode)
		if !ok {
			return nil, false
		}
		if id.Ident == "urlquery" {
			escapes = append(escapes, url.QueryEscape)
			continue
		}
		f, ok := c.funcs[id.Ident].(func(string) string)
		if !ok {
			return nil, false
		}
		escapes = append(escapes, f)
	}
	if len(escapes) == 0 {
		return func(dst []byte, d *Data) []byte { return append(dst, first(d)...) }, true
	}
	// The common case, one urlquery at the end, escapes straight into the body.
	if len(escapes) == 1 && p.Cmds[1].Args[0].(*parse.IdentifierNode).Ident == "urlquery" {
		return func(dst []byte, d *Data) []byte { return appendQueryEscape(dst, first(d)) }, true
	}
	return func(dst []byte, d *Data) []byte {
		s := first(d)
		for _, e := range escapes {
			s = e(s)
		}
		return append(dst, s...)
	}, true
}

// value compiles the first command of a pipeline into a string producer.
func (c *compiler) value(cmd *parse.CommandNode) (func(*Data) string, bool) {
	switch n := cmd.Args[0].(type) {
	case *parse.FieldNode:
		if len(cmd.Args) != 1 {
			return nil, false
		}
		return c.field(n.Ident)
	case *parse.StringNode:
		s := n.Text
		return func(*Data) string { return s }, len(cmd.Args) == 1
	case *parse.IdentifierNode:
		return c.call(n.Ident, cmd.Args[1:])
	}
	return nil, false
}

func (c *compiler) field(path []string) (func(*Data) string, bool) {
	switch {
	case len(path) == 1 && path[0] == "Type":
		return func(d *Data) string { return d.Type }, true
	case len(path) == 1 && path[0] == "MessageID":
		return func(d *Data) string { return d.MessageID }, true
	case len(path) == 1 && path[0] == "Seq":
		return func(d *Data) string { return strconv.FormatUint(d.Seq, 10) }, true
	case len(path) == 2 && path[0] == "Vars":
		v, ok := c.vars[path[1]]
		return func(*Data) string { return v }, ok
	case len(path) == 2 && path[0] == "Sender":
		f, ok := senderFields[path[1]]
		return func(d *Data) string { return f(d.Sender) }, ok
	case len(path) == 2 && path[0] == "Company":
		switch path[1] {
		case "ID":
			return func(d *Data) string { return d.Company.ID }, true
		case "Phone":
			return func(d *Data) string { return d.Company.Phone }, true
		}
	}
	return nil, false
}

var senderFields = map[string]func(*Sender) string{
	"ID":          func(s *Sender) string { return s.ID },
	"Phone":       func(s *Sender) string { return s.Phone },
	"Name":        func(s *Sender) string { return s.Name },
	"FirstName":   func(s *Sender) string { return s.FirstName },
	"LastName":    func(s *Sender) string { return s.LastName },
	"Email":       func(s *Sender) string { return s.Email },
	"AnonymousID": func(s *Sender) string { return s.AnonymousID },
}

// call binds a fake-data function to constant arguments.
func (c *compiler) call(name string, args []parse.Node) (func(*Data) string, bool) {
	ints := func() ([]int, bool) {
		out := make([]int, len(args))
		for i, a := range args {
			n, ok := a.(*parse.NumberNode)
			if !ok || !n.IsInt {
				return nil, false
			}
			out[i] = int(n.Int64)
		}
		return out, true
	}
	switch f := c.funcs[name].(type) {
	case func() string:
		return func(*Data) string { return f() }, len(args) == 0
	case func(int) (string, error): // sized: a count out of range is left to the template engine, which reports it
		v, ok := ints()
		if !ok || len(v) != 1 || v[0] < 0 || v[0] > MaxCount {
			return nil, false
		}
		return func(*Data) string { s, _ := f(v[0]); return s }, true
	case func(int, int) int:
		v, ok := ints()
		if !ok || len(v) != 2 {
			return nil, false
		}
		return func(*Data) string { return strconv.Itoa(f(v[0], v[1])) }, true
	case func(float64, float64) float64:
		if len(args) != 2 {
			return nil, false
		}
		var v [2]float64
		for i, a := range args {
			n, ok := a.(*parse.NumberNode)
			if !ok || !n.IsFloat {
				return nil, false
			}
			v[i] = n.Float64
		}
		return func(*Data) string { return strconv.FormatFloat(f(v[0], v[1]), 'g', -1, 64) }, true
	case func(...string) string:
		v := make([]string, len(args))
		for i, a := range args {
			s, ok := a.(*parse.StringNode)
			if !ok {
				return nil, false
			}
			v[i] = s.Text
		}
		return func(*Data) string { return f(v...) }, true
	}
	return nil, false
}

// appendQueryEscape appends url.QueryEscape(s) to dst without allocating.
func appendQueryEscape(dst []byte, s string) []byte {
	const hexDigits = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == '~':
			dst = append(dst, c)
		case c == ' ':
			dst = append(dst, '+')
		default:
			dst = append(dst, '%', hexDigits[c>>4], hexDigits[c&15])
		}
	}
	return dst
}
