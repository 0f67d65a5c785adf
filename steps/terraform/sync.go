package terraform

import (
	"crypto/sha256"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// syncDir makes dst a copy of src's files, leaving Terraform's data alone.
func syncDir(src, dst string) error {
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return err
	}
	// Remove files the module no longer has.
	entries, _ := os.ReadDir(dst)
	for _, e := range entries {
		if keepInCopy(e.Name()) {
			continue
		}
		if _, err := os.Stat(filepath.Join(src, e.Name())); errors.Is(err, fs.ErrNotExist) {
			_ = os.RemoveAll(filepath.Join(dst, e.Name()))
		}
	}
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			if skipModuleFile(d.Name(), true) {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		if skipModuleFile(d.Name(), false) { // the step's state is in the backend
			return nil
		}
		return copyIfChanged(p, filepath.Join(dst, rel))
	})
}

// keepInCopy reports whether a file at the top of the working copy stays even
// though the module does not have it: what the kind wrote (zz_stack*) and the
// state an apply could not save.
func keepInCopy(name string) bool {
	return strings.HasPrefix(name, "zz_stack") || name == erroredState
}

// copyIfChanged writes src's content to dst unless dst already has it, so
// unchanged files keep their modification time.
func copyIfChanged(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if old, err := os.ReadFile(dst); err == nil && sha256.Sum256(old) == sha256.Sum256(data) {
		return nil
	}
	return os.WriteFile(dst, data, 0o600)
}
