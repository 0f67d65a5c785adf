package stack

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// A module may call local modules outside its folder (source = "../x"). Those
// are part of it: they count in its digest, travel in its snapshot and are
// copied beside it wherever it runs, at the same relative place, since
// Terraform resolves the source from the folder it runs in.

// localSourceRE finds local module sources in .tf (HCL) and .tf.json files.
// Provider sources never start with a dot, so they do not match.
var localSourceRE = regexp.MustCompile(`(?m)^\s*"?source"?\s*[=:]\s*"(\.\.?/[^"]*)"`)

// outsideModules returns the folders of the local modules that the module in
// dir calls, directly or through each other, that lie outside dir: slash
// paths relative to dir ("../internal/asg"), sorted, none inside another.
// A source naming no folder is left for Terraform to report.
func outsideModules(dir string) ([]string, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{root: true}
	var outside []string
	queue := []string{root}
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		files, _ := filepath.Glob(filepath.Join(d, "*.tf"))
		jsonFiles, _ := filepath.Glob(filepath.Join(d, "*.tf.json"))
		for _, f := range append(files, jsonFiles...) {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			for _, m := range localSourceRE.FindAllSubmatch(b, -1) {
				called := filepath.Join(d, filepath.FromSlash(string(m[1])))
				if seen[called] {
					continue
				}
				seen[called] = true
				if st, err := os.Stat(called); err != nil || !st.IsDir() {
					continue
				}
				rel, err := filepath.Rel(root, called)
				if err != nil {
					return nil, err
				}
				rel = filepath.ToSlash(rel)
				if rel == ".." || strings.HasSuffix(rel, "/..") {
					return nil, fmt.Errorf("%s calls the module in %s, a folder that holds it; move the called module beside it", f, called)
				}
				if strings.HasPrefix(rel, "../") {
					outside = append(outside, rel)
				}
				queue = append(queue, called)
			}
		}
	}
	sort.Strings(outside)
	var kept []string
next:
	for _, rel := range outside {
		for _, k := range kept {
			if strings.HasPrefix(rel, k+"/") {
				continue next // walked with the folder that holds it
			}
		}
		kept = append(kept, rel)
	}
	return kept, nil
}

// nestName names, in a copy, each folder above a module that calls modules
// outside it. Terraform cleans local sources, so only the depth matters.
const nestName = "_"

// ModuleLayout says how to copy the module in dir so that its local sources
// still resolve: put the module at nest (slash path, "" for a module that
// calls nothing outside its folder) below the copy's root, and each folder of
// outside at that relative path from the module.
func ModuleLayout(dir string) (nest string, outside []string, err error) {
	outside, err = outsideModules(dir)
	if err != nil {
		return "", nil, err
	}
	up := 0
	for _, rel := range outside {
		n := 0
		for strings.HasPrefix(rel[3*n:], "../") {
			n++
		}
		if first, _, _ := strings.Cut(rel[3*n:], "/"); first == nestName {
			return "", nil, fmt.Errorf("module %s calls %s: a folder named %q cannot be copied beside the module; rename it", dir, rel, nestName)
		}
		up = max(up, n)
	}
	return strings.TrimSuffix(strings.Repeat(nestName+"/", up), "/"), outside, nil
}

// walkModuleTree is walkModule over the module and the local modules it calls
// outside its folder, their files named relative to dir ("../internal/asg/main.tf").
// For a module that calls none it is walkModule.
func walkModuleTree(dir string, skip func(name string, isDir bool) bool, fn func(rel string, data []byte) error) error {
	outside, err := outsideModules(dir)
	if err != nil {
		return err
	}
	if err := walkModule(dir, skip, fn); err != nil {
		return err
	}
	for _, o := range outside {
		err := walkModule(filepath.Join(dir, filepath.FromSlash(o)), skip, func(rel string, data []byte) error {
			return fn(o+"/"+rel, data)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// snapshotNest is the file of a module snapshot that says where in it the
// module is, when it calls modules outside its folder.
const snapshotNest = ".stack-module-dir"

// walkSnapshot walks what a module's snapshot holds: walkModuleTree laid out
// as ModuleLayout says, so the snapshot unpacks into a folder Terraform can
// run in. A module that calls nothing outside its folder is stored as before.
func walkSnapshot(dir string, skip func(name string, isDir bool) bool, fn func(rel string, data []byte) error) error {
	nest, _, err := ModuleLayout(dir)
	if err != nil {
		return err
	}
	if nest != "" {
		if err := fn(snapshotNest, []byte(nest)); err != nil {
			return err
		}
	}
	return walkModuleTree(dir, skip, func(rel string, data []byte) error {
		return fn(path.Join(nest, rel), data)
	})
}

var nestRE = regexp.MustCompile(`^` + nestName + `(/` + nestName + `)*$`)

// snapshotModule returns the module's folder in a snapshot unpacked into dir.
func snapshotModule(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, snapshotNest))
	if err != nil || !nestRE.Match(b) {
		return dir
	}
	return filepath.Join(dir, filepath.FromSlash(string(b)))
}
