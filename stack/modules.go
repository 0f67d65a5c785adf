package stack

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Modules are snapshotted into the store when a step is applied, so another
// workstation can re-run or tear down the stack without the same checkout at
// the same path.

// ModuleFiles says which files make up a module, for a step kind whose
// modules the engine fingerprints and snapshots. The zero value skips nothing
// but hidden folders and follows no calls.
type ModuleFiles struct {
	// Skip reports whether name, a file or (isDir) a folder inside a module
	// folder, is the tool's rather than the module's. Nil skips nothing.
	Skip func(name string, isDir bool) bool
	// Calls returns the local modules the module in dir calls, as relative
	// slash paths ("../internal/asg"). Nil: the module calls none.
	Calls func(dir string) ([]string, error)
}

// walkModule calls fn for every file of a module folder that belongs to the
// module: hidden folders and what skip (may be nil) names are left out.
func walkModule(dir string, skip func(name string, isDir bool) bool, fn func(rel string, data []byte) error) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir && d.IsDir() {
			return nil
		}
		name := d.Name()
		if d.IsDir() {
			if strings.HasPrefix(name, ".") || (skip != nil && skip(name, true)) {
				return filepath.SkipDir
			}
			return nil
		}
		if skip != nil && skip(name, false) {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		return fn(filepath.ToSlash(rel), data)
	})
}

// PackModule archives a module folder.
func PackModule(dir string, files ModuleFiles) ([]byte, error) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	err := walkSnapshot(dir, files, func(rel string, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: rel, Mode: 0o644, Size: int64(len(data))}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// UnpackModule extracts a module snapshot into dir.
func UnpackModule(data []byte, dir string) error {
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return err
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		target := filepath.Join(dir, filepath.FromSlash(h.Name))
		if !strings.HasPrefix(target, filepath.Clean(dir)+string(filepath.Separator)) {
			return fmt.Errorf("module snapshot has an unsafe path %q", h.Name)
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
			return err
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return err
		}
		if err := os.WriteFile(target, b, 0o600); err != nil {
			return err
		}
	}
}

// DirDigest hashes a module folder's files (names and content), with those of
// the local modules it calls outside the folder (files.Calls), leaving out
// hidden folders and what files.Skip names, so a module's fingerprint changes
// exactly when it does.
func DirDigest(dir string, files ModuleFiles) (string, error) {
	h := sha256.New()
	err := walkModuleTree(dir, files, func(rel string, data []byte) error {
		fmt.Fprintf(h, "%s\x00%d\x00", rel, len(data))
		h.Write(data)
		return nil
	})
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
