package e2e

import (
	"bytes"
	"encoding/json"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"

	"github.com/stack-tools/stack/load/probe"
)

// parsed caches what the rules of one arrival need parsed once.
type parsed struct {
	a    *probe.Arrival
	form url.Values
	doc  any
	json bool // doc was parsed (or failed to parse)
}

// value applies rule r to the arrival; "" when it finds nothing.
func (p *parsed) value(r *compiled) string {
	switch {
	case r.re != nil:
		m := r.re.FindStringSubmatch(p.a.Body)
		if m == nil {
			return ""
		}
		if len(m) > 1 {
			return m[1]
		}
		return m[0]
	case r.Header != "":
		return header(p.a.Header, r.Header)
	case r.Form != "":
		if p.form == nil {
			p.form, _ = url.ParseQuery(p.a.Body)
		}
		return p.form.Get(r.Form)
	case r.JSON != "":
		if !p.json {
			p.json = true
			d := json.NewDecoder(strings.NewReader(p.a.Body))
			d.UseNumber()
			_ = d.Decode(&p.doc)
		}
		return pointer(p.doc, r.JSON)
	}
	return ""
}

// header finds a header by its name as given, canonical, or in any case.
func header(h map[string]string, name string) string {
	if v, ok := h[name]; ok {
		return v
	}
	if v, ok := h[textproto.CanonicalMIMEHeaderKey(name)]; ok {
		return v
	}
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// pointer resolves a JSON pointer (RFC 6901) to a string or number.
func pointer(doc any, ptr string) string {
	for _, tok := range strings.Split(ptr, "/")[1:] {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch v := doc.(type) {
		case map[string]any:
			doc = v[tok]
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(v) {
				return ""
			}
			doc = v[i]
		default:
			return ""
		}
	}
	switch v := doc.(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	}
	return ""
}

// trimID cuts the surrounding noise some carriers add (quotes, <brackets>).
func trimID(s string) []byte {
	return bytes.Trim([]byte(strings.TrimSpace(s)), `"'<>`)
}
