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

// A module may call local modules outside its folder (in Terraform, source =
// "../x"; the step kind finds the calls, see LocalModuleCaller). Those are
// part of it: they count in its digest, travel in its snapshot and are copied
// beside it wherever it runs, at the same relative place, since the tool
// resolves the source from the folder it runs in.

// outsideModules returns the folders of the local modules that the module in
// dir calls (as calls says, nil: none), directly or through each other, that
// lie outside dir: slash paths relative to dir ("../internal/asg"), sorted,
// none inside another. A call naming no folder is left for the tool to report.
func outsideModules(dir string, calls func(dir string) ([]string, error)) ([]string, error) {
	if calls == nil {
		return nil, nil
	}
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
		sources, err := calls(d)
		if err != nil {
			return nil, fmt.Errorf("finding the modules that %s calls: %w", d, err)
		}
		for _, src := range sources {
			called := filepath.Join(d, filepath.FromSlash(src))
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
				return nil, fmt.Errorf("module %s calls the module in %s, a folder that holds it; move the called module beside it", d, called)
			}
			if strings.HasPrefix(rel, "../") {
				outside = append(outside, rel)
			}
			queue = append(queue, called)
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
// (files.Calls) still resolve: put the module at nest (slash path, "" for a
// module that calls nothing outside its folder) below the copy's root, and
// each folder of outside at that relative path from the module.
func ModuleLayout(dir string, files ModuleFiles) (nest string, outside []string, err error) {
	outside, err = outsideModules(dir, files.Calls)
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
func walkModuleTree(dir string, files ModuleFiles, fn func(rel string, data []byte) error) error {
	outside, err := outsideModules(dir, files.Calls)
	if err != nil {
		return err
	}
	if err := walkModule(dir, files.Skip, fn); err != nil {
		return err
	}
	for _, o := range outside {
		err := walkModule(filepath.Join(dir, filepath.FromSlash(o)), files.Skip, func(rel string, data []byte) error {
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
func walkSnapshot(dir string, files ModuleFiles, fn func(rel string, data []byte) error) error {
	nest, _, err := ModuleLayout(dir, files)
	if err != nil {
		return err
	}
	if nest != "" {
		if err := fn(snapshotNest, []byte(nest)); err != nil {
			return err
		}
	}
	return walkModuleTree(dir, files, func(rel string, data []byte) error {
		return fn(path.Join(nest, rel), data)
	})
}

var nestRE = regexp.MustCompile(`^` + nestName + `(/` + nestName + `)*$`)

// SnapshotModule returns the module's folder in a snapshot unpacked into dir.
func SnapshotModule(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, snapshotNest))
	if err != nil || !nestRE.Match(b) {
		return dir
	}
	return filepath.Join(dir, filepath.FromSlash(string(b)))
}
