package exec

import (
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// minSecret is the shortest value redacted from what a command prints:
// replacing shorter ones would garble the output and hide nothing.
const minSecret = 4

// redactor replaces sensitive values in what a command printed or wrote.
type redactor struct{ secrets [][]byte }

func newRedactor(values []any) *redactor {
	r := &redactor{}
	var add func(v any)
	add = func(v any) {
		switch t := v.(type) {
		case string:
			if len(t) >= minSecret {
				r.secrets = append(r.secrets, []byte(t))
			}
		case map[string]any:
			for _, x := range t {
				add(x)
			}
		case []any:
			for _, x := range t {
				add(x)
			}
		}
		if _, ok := v.(string); !ok && v != nil {
			if b, err := json.Marshal(v); err == nil && len(b) >= minSecret {
				r.secrets = append(r.secrets, b)
			}
		}
	}
	for _, v := range values {
		add(v)
	}
	// Longest first, so a secret containing another is replaced whole.
	sort.Slice(r.secrets, func(i, j int) bool { return len(r.secrets[i]) > len(r.secrets[j]) })
	return r
}

var redacted = []byte("(sensitive)")

func (r *redactor) apply(b []byte) []byte {
	for _, s := range r.secrets {
		b = bytes.ReplaceAll(b, s, redacted)
	}
	return b
}

// copyDir copies the folder src to dst (which must not exist): files with
// their modes, folders, and symbolic links as links.
func copyDir(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(to, 0o700)
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, to)
		case info.Mode().IsRegular():
			return copyFile(p, to, info.Mode().Perm())
		}
		return nil // sockets, pipes: not part of a module
	})
}

func copyFile(src, dst string, mode fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
