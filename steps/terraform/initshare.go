package terraform

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Init shared across stacks. For a module that needs no provider and calls no
// module, all `terraform init -reconfigure` writes is the data directory's
// terraform.tfstate: Terraform's version, the backend's type, its
// configuration (every attribute of the backend's schema, null where unset)
// and a hash of that configuration. Stacks differ there only in the values
// (the state path, the key prefix), so the file one init wrote is kept in the
// cache as a template, keyed by the module's digest, Terraform's version, the
// backend's type and which attributes are set; a step of another stack gets a
// copy with its own values and their hash, and runs no init. The hash is
// go-cty's Value.Hash of (type, configuration), which is reproduced here and
// checked against the one Terraform wrote before a template is kept.

// backendState is the data directory's terraform.tfstate, as init writes it.
type backendState struct {
	Version          int    `json:"version"`
	TerraformVersion string `json:"terraform_version"`
	Backend          struct {
		Type   string         `json:"type"`
		Config map[string]any `json:"config"`
		Hash   uint64         `json:"hash"`
	} `json:"backend"`
}

// templateFile is where the init template for a module (its digest without
// the backend file) under the session's backend and Terraform is kept.
func (k *Kind) templateFile(s *session, moduleDigest string) (string, bool) {
	if s.version == nil {
		return "", false
	}
	config, ok := genericJSON(s.backend.Config)
	if !ok {
		return "", false
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s", moduleDigest, s.version, s.backend.Type, strings.Join(setPaths("", config), ","))
	return filepath.Join(k.CacheDir, "init", hex.EncodeToString(h.Sum(nil))+".json"), true
}

// keepTemplate keeps what init just wrote in the session's data directory as
// the template for other stacks, if it is all init wrote and its hash is one
// backendHash reproduces.
func (k *Kind) keepTemplate(s *session, moduleDigest string) {
	path, ok := k.templateFile(s, moduleDigest)
	if !ok || !onlyBackendState(s.dataDir) {
		return
	}
	b, err := os.ReadFile(filepath.Join(s.dataDir, "terraform.tfstate"))
	if err != nil {
		return
	}
	st, err := readBackendState(b)
	if err != nil || st.Backend.Type != s.backend.Type {
		return
	}
	if h, ok := backendHash(st.Backend.Type, st.Backend.Config); !ok || h != st.Backend.Hash {
		return
	}
	_ = os.MkdirAll(filepath.Dir(path), 0o755)
	tmp := fmt.Sprintf("%s.%d", path, os.Getpid())
	if os.WriteFile(tmp, b, 0o644) == nil {
		_ = os.Rename(tmp, path)
	}
}

// initFromTemplate writes the session's data directory from the template
// another stack's init left, with this backend's values: what init would
// write. It reports false, and writes nothing, when there is no template or
// init could write something else here.
func (k *Kind) initFromTemplate(s *session, moduleDigest string) bool {
	path, ok := k.templateFile(s, moduleDigest)
	if !ok || usesProviders(s.srcDir) {
		return false
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	st, err := readBackendState(b)
	ours, ok := genericJSON(s.backend.Config)
	if err != nil || !ok || st.Backend.Type != s.backend.Type {
		return false
	}
	config, ok := overlay(st.Backend.Config, ours.(map[string]any))
	if !ok {
		return false
	}
	h, ok := backendHash(st.Backend.Type, config)
	if !ok {
		return false
	}
	st.Backend.Config, st.Backend.Hash = config, h
	out, err := marshalBackendState(st)
	if err != nil || !emptyDataDir(s.dataDir) || os.MkdirAll(s.dataDir, 0o755) != nil {
		return false
	}
	if os.WriteFile(filepath.Join(s.dataDir, "terraform.tfstate"), out, 0o644) != nil {
		return false
	}
	s.run.Progress("terraform init: same module, Terraform and backend type as a step of another stack")
	return true
}

func readBackendState(b []byte) (*backendState, error) {
	var st backendState
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&st); err != nil {
		return nil, err
	}
	if st.Version != 3 || st.Backend.Config == nil {
		return nil, fmt.Errorf("not a backend state of format 3")
	}
	return &st, nil
}

// marshalBackendState writes the file as Terraform does: two-space indents,
// keys in order, no newline at the end.
func marshalBackendState(st *backendState) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(st); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// onlyBackendState reports whether the data directory holds nothing but what
// init writes for a module without providers and module calls (and the
// kind's own files).
func onlyBackendState(dir string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		switch e.Name() {
		case "terraform.tfstate", "environment", "stack-init":
			if !e.Type().IsRegular() {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// emptyDataDir reports whether dir is missing or holds only what a template
// replaces: an earlier init's backend state of a module without providers.
func emptyDataDir(dir string) bool {
	if _, err := os.Stat(dir); os.IsNotExist(err) {
		return true
	}
	return onlyBackendState(dir)
}

// genericJSON turns v into what encoding/json decodes JSON into (numbers as
// json.Number): the form the templates are in.
func genericJSON(v any) (any, bool) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, false
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var out any
	return out, d.Decode(&out) == nil
}

// setPaths lists the attributes set (not null) in a configuration, nested
// ones as "outer.inner", sorted.
func setPaths(prefix string, v any) []string {
	m, ok := v.(map[string]any)
	if !ok {
		if v == nil {
			return nil
		}
		return []string{prefix}
	}
	var out []string
	for name, sub := range m {
		out = append(out, setPaths(prefix+name+".", sub)...)
	}
	sort.Strings(out)
	return out
}

// overlay returns the template's configuration with ours's values, provided
// that the template sets exactly the attributes ours sets (its other
// attributes are null, as ours leaves them).
func overlay(template, ours map[string]any) (map[string]any, bool) {
	if strings.Join(setPaths("", template), ",") != strings.Join(setPaths("", ours), ",") {
		return nil, false
	}
	out := map[string]any{}
	for name, tv := range template {
		ov, set := ours[name]
		tm, tIsObj := tv.(map[string]any)
		om, oIsObj := ov.(map[string]any)
		switch {
		case !set:
			out[name] = tv
		case tIsObj && oIsObj:
			sub, ok := overlay(tm, om)
			if !ok {
				return nil, false
			}
			out[name] = sub
		case tIsObj != oIsObj:
			return nil, false
		default:
			out[name] = ov
		}
	}
	return out, true
}

// backendHash is the hash Terraform stores with a backend's configuration:
// go-cty's Value.Hash of the tuple (type, configuration), a CRC-32 of the
// values in attribute order ("~" for null, strings quoted as by %q, objects
// in <...;>). Lists, sets, maps and numbers that are not small integers are
// not reproduced (false): their encoding depends on the schema's types.
func backendHash(typ string, config map[string]any) (uint64, bool) {
	var buf bytes.Buffer
	buf.WriteString("<" + fmt.Sprintf("%q", typ) + ";")
	if !appendHash(&buf, config) {
		return 0, false
	}
	buf.WriteString(";>")
	return uint64(crc32.ChecksumIEEE(buf.Bytes())), true
}

func appendHash(buf *bytes.Buffer, v any) bool {
	switch v := v.(type) {
	case nil:
		buf.WriteByte('~')
	case bool:
		buf.WriteString(map[bool]string{true: "T", false: "F"}[v])
	case string:
		fmt.Fprintf(buf, "%q", v)
	case json.Number:
		n, err := v.Int64()
		if err != nil || math.Abs(float64(n)) >= 1e9 {
			return false
		}
		fmt.Fprintf(buf, "%d", n)
	case map[string]any:
		names := make([]string, 0, len(v))
		for name := range v {
			names = append(names, name)
		}
		sort.Strings(names)
		buf.WriteByte('<')
		for _, name := range names {
			if !appendHash(buf, v[name]) {
				return false
			}
			buf.WriteByte(';')
		}
		buf.WriteByte('>')
	default:
		return false
	}
	return true
}
