// Package localstore keeps stack state in a local directory: the embedded
// default. It has the same compare-and-swap semantics as the S3 store, so two
// processes on one workstation are as safe as two workstations.
package localstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/stack-tools/stack/internal/proc"
	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/steps/terraform/tfbackend"
)

// Store is a state directory.
type Store struct {
	root string
}

var _ stack.DirLister = (*Store)(nil)

// Open returns the store rooted at dir, creating it if needed.
func Open(dir string) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(abs, "objects"), 0o700); err != nil {
		return nil, fmt.Errorf("creating the state directory %s: %w (choose another with --state DIR or STACK_STATE)", abs, err)
	}
	return &Store{root: abs}, nil
}

// DefaultDir is the per-user state directory used when --state is not given.
func DefaultDir() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "stack")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "stack-state")
	}
	return filepath.Join(home, ".local", "state", "stack")
}

// Root is the state directory.
func (s *Store) Root() string { return s.root }

func (s *Store) String() string { return s.root }

func (s *Store) path(key string) (string, error) {
	clean := filepath.Clean("/" + key)
	if clean == "/" || strings.Contains(key, "..") {
		return "", fmt.Errorf("invalid key %q", key)
	}
	return filepath.Join(s.root, "objects", clean), nil
}

// Location returns the file that holds key.
func (s *Store) Location(key string) string {
	p, err := s.path(key)
	if err != nil {
		return key
	}
	return p
}

func version(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:12])
}

// lock serialises check-and-write across processes: one flock on the store's
// .lock file covers every key. It also creates the folder of p, the key's file.
func (s *Store) lock(p string) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return nil, err
	}
	return proc.LockFile(filepath.Join(s.root, ".lock"))
}

// Get reads key.
func (s *Store) Get(_ context.Context, key string) ([]byte, string, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, "", err
	}
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", stack.ErrNotFound
	}
	if err != nil {
		return nil, "", err
	}
	return data, version(data), nil
}

// Put writes key atomically (temp file, fsync, rename) if its version matches.
func (s *Store) Put(_ context.Context, key string, data []byte, ifMatch string) (string, error) {
	p, err := s.path(key)
	if err != nil {
		return "", err
	}
	unlock, err := s.lock(p)
	if err != nil {
		return "", err
	}
	defer unlock()
	if err := s.check(p, ifMatch); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return "", err
	}
	return version(data), nil
}

func (s *Store) check(p, ifMatch string) error {
	if ifMatch == stack.AnyVersion {
		return nil
	}
	cur, err := os.ReadFile(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if ifMatch != "" {
			return stack.ErrConflict
		}
		return nil
	case err != nil:
		return err
	case ifMatch == "" || version(cur) != ifMatch:
		return stack.ErrConflict
	}
	return nil
}

// Delete removes key if its version matches, and the folders it leaves empty.
func (s *Store) Delete(_ context.Context, key string, ifMatch string) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	unlock, err := s.lock(p)
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err := s.check(p, ifMatch); err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	s.pruneEmpty(filepath.Dir(p), filepath.Join(s.root, "objects"))
	return nil
}

// pruneEmpty removes empty folders from dir up to (not including) stop.
func (s *Store) pruneEmpty(dir, stop string) {
	for dir != stop && strings.HasPrefix(dir, stop) {
		if os.Remove(dir) != nil {
			return
		}
		dir = filepath.Dir(dir)
	}
}

// List returns the keys under prefix.
func (s *Store) List(_ context.Context, prefix string) ([]string, error) {
	base := filepath.Join(s.root, "objects")
	var keys []string
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), ".tmp-") {
			return nil
		}
		rel, _ := filepath.Rel(base, p)
		key := filepath.ToSlash(rel)
		if strings.HasPrefix(key, prefix) {
			keys = append(keys, key)
		}
		return nil
	})
	sort.Strings(keys)
	return keys, err
}

// ListDirs names the folders directly under prefix: one directory read
// instead of a walk of every stack's logs and reports.
func (s *Store) ListDirs(_ context.Context, prefix string) ([]string, error) {
	dir := filepath.Join(s.root, "objects", filepath.FromSlash(prefix))
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		}
	}
	return dirs, nil // os.ReadDir sorts by name
}

// TerraformBackend keeps Terraform state under the state directory, one
// workspace per step.
func (s *Store) TerraformBackend(stackName, step string) tfbackend.Backend {
	dir := s.TerraformDir(stackName)
	return tfbackend.Backend{Type: "local", Config: map[string]any{
		"path":          filepath.Join(dir, "default.tfstate"),
		"workspace_dir": dir,
	}, State: func(_ context.Context, workspace string) ([]byte, error) {
		// Terraform's local backend keeps a named workspace's state here.
		data, err := os.ReadFile(filepath.Join(dir, workspace, "terraform.tfstate"))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, stack.ErrNotFound
		}
		return data, err
	}, NewWorkspace: func(_ context.Context, workspace string, _ []byte) (tfbackend.NewWorkspace, error) {
		// `terraform workspace new` on the local backend makes the folder
		// and nothing else: the first apply writes the state.
		p := filepath.Join(dir, workspace)
		if _, err := os.Stat(p); err == nil {
			return tfbackend.NewWorkspace{}, nil
		}
		if err := os.MkdirAll(p, 0o755); err != nil {
			return tfbackend.NewWorkspace{}, fmt.Errorf("creating Terraform workspace folder %s: %w; check that the state directory is writable", p, err)
		}
		// Terraform's lock here is a file lock, gone with a killed Terraform.
		return tfbackend.NewWorkspace{Created: true}, nil
	}}
}

// TerraformDir is where a stack's Terraform state lives.
func (s *Store) TerraformDir(stackName string) string {
	return filepath.Join(s.root, "tfstate", stackName)
}

// Forget removes what Terraform leaves behind for a stack once it is down.
func (s *Store) Forget(_ context.Context, stackName string) error {
	dir := s.TerraformDir(stackName)
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	s.pruneEmpty(filepath.Dir(dir), s.root)
	// A write killed halfway leaves its temporary file beside the stack's objects.
	if objects, err := s.path("stacks/" + stackName); err == nil {
		_ = filepath.WalkDir(objects, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasPrefix(d.Name(), ".tmp-") {
				_ = os.Remove(p)
			}
			return nil
		})
	}
	return nil
}
