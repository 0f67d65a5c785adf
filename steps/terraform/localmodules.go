package terraform

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/stack-tools/stack/stack"
)

// syncModule makes root (the step's working copy) a copy of the module in src
// and returns the folder Terraform runs in: root itself, or, for a module that
// calls local modules outside its folder ("../internal/asg"), a folder below
// root with those modules copied beside it as stack.ModuleLayout says, so the
// relative sources resolve in the copy as they do in the checkout. Symlinked
// files are copied as their content. On error it returns root.
func syncModule(src, root string) (string, error) {
	nest, outside, err := stack.ModuleLayout(src, moduleFiles)
	if err != nil {
		return root, err
	}
	dir := filepath.Join(root, filepath.FromSlash(nest))
	if err := keepErroredState(root, dir); err != nil {
		return root, err
	}
	if nest != "" {
		keep := map[string]bool{filepath.Clean(dir): true}
		for _, o := range outside {
			keep[filepath.Join(dir, filepath.FromSlash(o))] = true
		}
		if err := pruneCopy(root, keep); err != nil {
			return root, err
		}
	}
	if err := syncDir(src, dir); err != nil {
		return root, err
	}
	for _, o := range outside {
		o = filepath.FromSlash(o)
		if err := syncDir(filepath.Join(src, o), filepath.Join(dir, o)); err != nil {
			return root, err
		}
	}
	return dir, nil
}

// pruneCopy removes what root holds besides the folders in keep and the
// folders above them: what an earlier layout of the copy left.
func pruneCopy(root string, keep map[string]bool) error {
	above := func(p string) bool {
		for k := range keep {
			if strings.HasPrefix(k, p+string(filepath.Separator)) {
				return true
			}
		}
		return false
	}
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		switch {
		case p == root:
			return nil
		case keep[p]:
			return filepath.SkipDir // syncDir keeps it in step
		case d.IsDir() && above(p):
			return nil
		}
		if err := os.RemoveAll(p); err != nil {
			return err
		}
		if d.IsDir() {
			return filepath.SkipDir
		}
		return nil
	})
}

// keepErroredState moves a state an interrupted apply could not save to dir,
// where pushErroredState looks, when the copy's layout has changed since: a
// changed layout must not lose it.
func keepErroredState(root, dir string) error {
	want := filepath.Join(dir, erroredState)
	var found []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.IsDir() && d.Name() == erroredState && p != want {
			found = append(found, p)
		}
		return nil
	})
	if err != nil || len(found) == 0 {
		return err
	}
	if _, err := os.Stat(want); err == nil {
		found = append(found, want)
	}
	if len(found) > 1 {
		return fmt.Errorf("more than one state that an interrupted apply could not save in %s (%s): push each with `terraform state push` in the step's workspace, then delete them", root, strings.Join(found, ", "))
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return os.Rename(found[0], want)
}
