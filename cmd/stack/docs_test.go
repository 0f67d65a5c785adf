package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// mdLink is a Markdown inline link: [text](target).
var mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// TestDocLinks: every relative link in README.md and docs/*.md names a file
// or folder of the repository (and an anchor, when given, a heading of it);
// none leaves the repository.
func TestDocLinks(t *testing.T) {
	root := repoRoot(t)
	pages, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	pages = append(pages, filepath.Join(root, "README.md"))
	checked := 0
	for _, page := range pages {
		data, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, page)
		for _, m := range mdLink.FindAllStringSubmatch(string(data), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			checked++
			file, anchor, _ := strings.Cut(target, "#")
			abs := page
			if file != "" {
				abs = filepath.Join(filepath.Dir(page), filepath.FromSlash(file))
			}
			if r, err := filepath.Rel(root, abs); err != nil || strings.HasPrefix(r, "..") {
				t.Errorf("%s: link %q leaves the repository", rel, target)
				continue
			}
			if _, err := os.Stat(abs); err != nil {
				t.Errorf("%s: link %q: no such file", rel, target)
				continue
			}
			if anchor != "" && strings.HasSuffix(abs, ".md") && !hasAnchor(t, abs, anchor) {
				t.Errorf("%s: link %q: %s has no heading with that anchor", rel, target, filepath.Base(abs))
			}
		}
	}
	if checked == 0 {
		t.Fatal("found no relative links: is the pattern broken?")
	}
}

// hasAnchor says whether a Markdown file has a heading whose GitHub anchor is a.
func hasAnchor(t *testing.T, file, a string) bool {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(l, "#") {
			continue
		}
		h := strings.ToLower(strings.TrimSpace(strings.TrimLeft(l, "#")))
		var b strings.Builder
		for _, r := range h {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
				b.WriteRune(r)
			}
		}
		if b.String() == a {
			return true
		}
	}
	return false
}

// TestReadmeKeepsFreshMachineCommands: the README's two commands for a fresh
// machine stay as they are (.ci/run and new users rely on them), and it has no
// dated prose.
func TestReadmeKeepsFreshMachineCommands(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	for _, cmd := range []string{"go run ./cmd/stack up stacks/demo.json", "scripts/test"} {
		if !strings.Contains(readme, "```sh\n"+cmd+"\n```") {
			t.Errorf("README.md lost its fresh-machine command %q (as a code block of its own)", cmd)
		}
	}
	if d := regexp.MustCompile(`20\d\d-\d\d-\d\d`).FindString(readme); d != "" {
		t.Errorf("README.md has dated prose (%s): measurements belong in docs/", d)
	}
	if n := strings.Count(readme, "\n"); n > 160 {
		t.Errorf("README.md has %d lines; keep it a quickstart (about 150) and move the rest to docs/", n)
	}
}
