// Package scenario reads load-test scenarios (message types with weights and Go
// text/template bodies) and generates the requests of a run from them: the mix
// of types, a pool of synthetic senders, reuse and duplicate factors, signatures.
package scenario

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"text/template"

	"github.com/brianvoe/gofakeit/v7"
)

// FileName is the scenario file inside a scenario folder.
const FileName = "scenario.json"

// Scenario is a parsed scenario folder.
type Scenario struct {
	Name        string            `json:"name"`
	Description string            `json:"description,omitempty"`
	MessageID   IDFormat          `json:"message_id,omitempty"`
	Sign        *Signing          `json:"sign,omitempty"`
	Vars        map[string]string `json:"vars,omitempty"`
	Types       []Type            `json:"types"`

	// Source says where the scenario came from (a folder or "built-in NAME").
	Source string `json:"-"`
	// files holds every *.tmpl file of the folder, by name.
	files map[string]string
}

// Type is one kind of message.
type Type struct {
	Name    string            `json:"name"`
	Weight  float64           `json:"weight"`
	Method  string            `json:"method,omitempty"`
	Path    string            `json:"path,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	// Body names the template file (in the scenario folder) of the request body.
	Body string `json:"body,omitempty"`
}

// IDFormat says how message ids look: Prefix followed by Format, which is
// "uuid" (default) or "hex" (Length hex digits, 32 by default).
type IDFormat struct {
	Prefix string `json:"prefix,omitempty"`
	Format string `json:"format,omitempty"`
	Length int    `json:"length,omitempty"`
}

// Signing asks for a request signature. Scheme "twilio": HMAC-SHA1 keyed with
// the auth token over the full URL followed by each form parameter name and
// value sorted by name, base64 encoded, in Header (default X-Twilio-Signature).
type Signing struct {
	Scheme string `json:"scheme"`
	Header string `json:"header,omitempty"`
}

// Load reads a scenario folder from disk.
func Load(dir string) (*Scenario, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("scenario folder %s: %w", dir, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("scenario %s is not a folder: give the folder that holds %s", dir, FileName)
	}
	return LoadFS(os.DirFS(dir), dir)
}

// LoadFS reads a scenario from the root of fsys; source names it in errors.
func LoadFS(fsys fs.FS, source string) (*Scenario, error) {
	b, err := fs.ReadFile(fsys, FileName)
	if err != nil {
		return nil, fmt.Errorf("scenario %s: %w (a scenario folder holds %s and its body templates)", source, err, FileName)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	sc := &Scenario{Source: source, files: map[string]string{}}
	if err := dec.Decode(sc); err != nil {
		return nil, fmt.Errorf("%s: %w", path.Join(source, FileName), err)
	}
	names, err := fs.Glob(fsys, "*.tmpl")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		t, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, fmt.Errorf("scenario %s: %w", source, err)
		}
		sc.files[n] = string(t)
	}
	if err := sc.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", path.Join(source, FileName), err)
	}
	// Parse once now so template errors show at validation time.
	if _, err := sc.parse(funcMap(gofakeit.New(1), nil)); err != nil {
		return nil, err
	}
	return sc, nil
}

func (sc *Scenario) check() error {
	if len(sc.Types) == 0 {
		return errors.New("no message \"types\": list at least one {\"name\", \"weight\", \"body\"}")
	}
	seen := map[string]bool{}
	for i := range sc.Types {
		t := &sc.Types[i]
		where := fmt.Sprintf("types[%d]", i)
		if t.Name == "" {
			return fmt.Errorf("%s: \"name\" is empty", where)
		}
		if seen[t.Name] {
			return fmt.Errorf("%s: type %q is listed twice", where, t.Name)
		}
		seen[t.Name] = true
		if t.Weight <= 0 {
			return fmt.Errorf("%s (%s): \"weight\" must be > 0", where, t.Name)
		}
		if t.Method == "" {
			t.Method = http.MethodPost
		}
		t.Method = strings.ToUpper(t.Method)
		if t.Path != "" && !strings.HasPrefix(t.Path, "/") {
			return fmt.Errorf("%s (%s): \"path\" %q must start with /", where, t.Name, t.Path)
		}
		if t.Body != "" {
			if _, ok := sc.files[t.Body]; !ok {
				return fmt.Errorf("%s (%s): body template %q not found in the scenario folder (template files end in .tmpl)", where, t.Name, t.Body)
			}
		}
	}
	switch sc.MessageID.Format {
	case "", "uuid":
	case "hex":
		if sc.MessageID.Length == 0 {
			sc.MessageID.Length = 32
		}
		if sc.MessageID.Length < 8 || sc.MessageID.Length > 64 {
			return fmt.Errorf("message_id: \"length\" must be 8..64 hex digits")
		}
	default:
		return fmt.Errorf("message_id: unknown \"format\" %q (use uuid or hex)", sc.MessageID.Format)
	}
	if sc.Sign != nil {
		if sc.Sign.Scheme != "twilio" {
			return fmt.Errorf("sign: unknown \"scheme\" %q (supported: twilio)", sc.Sign.Scheme)
		}
		if sc.Sign.Header == "" {
			sc.Sign.Header = "X-Twilio-Signature"
		}
	}
	return nil
}

// parse parses every template file of the scenario into one set, so bodies can
// include shared parts with {{ template "file.tmpl" . }}.
func (sc *Scenario) parse(funcs template.FuncMap) (*template.Template, error) {
	root := template.New(sc.Name).Funcs(funcs).Option("missingkey=error")
	for name, text := range sc.files {
		if _, err := root.New(name).Parse(text); err != nil {
			return nil, fmt.Errorf("scenario %s: template %w", sc.Source, err)
		}
	}
	return root, nil
}

// TypeNames lists the scenario's message types in order.
func (sc *Scenario) TypeNames() []string {
	out := make([]string, len(sc.Types))
	for i, t := range sc.Types {
		out[i] = t.Name
	}
	return out
}

// Resolve finds a scenario given as a folder (absolute, or relative to base) or
// as the name of a built-in scenario in builtin.
func Resolve(base, nameOrDir string, builtin fs.FS) (*Scenario, error) {
	if nameOrDir == "" {
		return nil, errors.New("no scenario given: name a scenario folder or a built-in scenario (sms-inbound, track-events)")
	}
	dir := nameOrDir
	if !filepath.IsAbs(dir) && base != "" {
		dir = filepath.Join(base, dir)
	}
	if st, err := os.Stat(dir); err == nil && st.IsDir() {
		return Load(dir)
	}
	if builtin != nil && !strings.ContainsAny(nameOrDir, `/\`) {
		if sub, err := fs.Sub(builtin, nameOrDir); err == nil {
			if _, err := fs.Stat(sub, FileName); err == nil {
				return LoadFS(sub, "built-in "+nameOrDir)
			}
		}
	}
	return nil, fmt.Errorf("scenario %q: no such folder (looked in %s) and no built-in scenario of that name (built-in: %s)",
		nameOrDir, dir, strings.Join(BuiltinNames(builtin), ", "))
}

// BuiltinNames lists the scenarios in builtin.
func BuiltinNames(builtin fs.FS) []string {
	if builtin == nil {
		return nil
	}
	var out []string
	entries, _ := fs.ReadDir(builtin, ".")
	for _, e := range entries {
		if _, err := fs.Stat(builtin, path.Join(e.Name(), FileName)); e.IsDir() && err == nil {
			out = append(out, e.Name())
		}
	}
	return out
}
