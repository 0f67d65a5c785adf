// Package modsource fetches remote module sources (git::URL?ref=X//subdir,
// s3::, archives over https or from files) into a workstation's cache with
// HashiCorp's go-getter, the library Terraform and Terragrunt use.
package modsource

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	getter "github.com/hashicorp/go-getter/v2"
)

// IsRemote reports whether a step's "module" names a remote source rather
// than a local folder: a forced getter (git::, s3::) or a URL.
func IsRemote(source string) bool {
	return strings.Contains(source, "::") || strings.Contains(source, "://")
}

// Fetched is a remote source as fetched now.
type Fetched struct {
	Dir string // the module folder in the cache
	// Revision is the commit a git source resolved to ("" for other sources).
	Revision string
}

// Fetcher fetches each source once per command into Dir.
type Fetcher struct {
	Dir string
	// Getters replace go-getter's default protocols when set (with S3 added by the caller).
	Getters []getter.Getter

	mu   sync.Mutex
	done map[string]result
}

type result struct {
	f   Fetched
	err error
}

// Fetch brings source into the cache as it is now: a moved git tag or
// branch gives another folder, so the module's digest follows the ref.
func (f *Fetcher) Fetch(ctx context.Context, source string) (Fetched, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r, ok := f.done[source]; ok {
		return r.f, r.err
	}
	got, err := f.fetch(ctx, source)
	if f.done == nil {
		f.done = map[string]result{}
	}
	f.done[source] = result{got, err}
	return got, err
}

func (f *Fetcher) fetch(ctx context.Context, source string) (Fetched, error) {
	if err := os.MkdirAll(f.Dir, 0o755); err != nil {
		return Fetched{}, fmt.Errorf("module cache %s: %w", f.Dir, err)
	}
	tmp, err := os.MkdirTemp(f.Dir, "fetch-")
	if err != nil {
		return Fetched{}, fmt.Errorf("module cache %s: %w", f.Dir, err)
	}
	defer os.RemoveAll(tmp)
	// The subdirectory is split off here, not by go-getter, so that the git
	// commit can be read from the whole checkout.
	src, sub := getter.SourceDirSubdir(source)
	root := filepath.Join(tmp, "root")
	client := &getter.Client{Getters: f.Getters, DisableSymlinks: true}
	if _, err := client.Get(ctx, &getter.Request{Src: src, Dst: root, GetMode: getter.ModeDir, Pwd: f.Dir}); err != nil {
		return Fetched{}, fmt.Errorf("fetching module %s: %w", source, err)
	}
	rev := gitRevision(ctx, root)
	if err := os.RemoveAll(filepath.Join(root, ".git")); err != nil {
		return Fetched{}, fmt.Errorf("fetching module %s: %w", source, err)
	}
	key := rev
	if key == "" {
		if key, err = treeDigest(root); err != nil {
			return Fetched{}, fmt.Errorf("fetching module %s: %w", source, err)
		}
	}
	sum := sha256.Sum256([]byte(src + "\x00" + key))
	final := filepath.Join(f.Dir, hex.EncodeToString(sum[:12]))
	if _, err := os.Stat(final); err != nil {
		// Another command may have put the same revision there meanwhile.
		if err := os.Rename(root, final); err != nil {
			if _, statErr := os.Stat(final); statErr != nil {
				return Fetched{}, fmt.Errorf("fetching module %s into %s: %w", source, final, err)
			}
		}
	}
	dir := final
	if sub != "" {
		sub = filepath.Clean(sub)
		if sub == ".." || strings.HasPrefix(sub, "../") || filepath.IsAbs(sub) {
			return Fetched{}, fmt.Errorf("module %s: the subfolder after // must stay inside the source", source)
		}
		dir = filepath.Join(final, sub)
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return Fetched{}, fmt.Errorf("module %s: the source has no folder %q", source, sub)
	}
	return Fetched{Dir: dir, Revision: rev}, nil
}

// gitRevision is the commit a git checkout is at, or "".
func gitRevision(ctx context.Context, dir string) string {
	if _, err := os.Stat(filepath.Join(dir, ".git")); err != nil {
		return ""
	}
	out, err := exec.CommandContext(ctx, "git", "-C", dir, "rev-parse", "HEAD").Output()
	if err != nil {
		return ""
	}
	return string(bytes.TrimSpace(out))
}

// treeDigest names the content of a fetched folder (archives, S3).
func treeDigest(dir string) (string, error) {
	h := sha256.New()
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", filepath.ToSlash(rel), len(data))
		h.Write(data)
		return nil
	})
	return hex.EncodeToString(h.Sum(nil)), err
}
