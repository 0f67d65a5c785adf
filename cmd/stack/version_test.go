package main

import (
	"runtime/debug"
	"strings"
	"testing"
)

// --version names the module version and the commit built, or says why it
// cannot.
func TestVersionNamesModuleAndCommit(t *testing.T) {
	info := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/stack-tools/stack", Version: "v0.0.0-20261206113000-0123456789ab+dirty"},
		Settings: []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
			{Key: "vcs.time", Value: "2026-12-06T11:30:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	got := versionOf(info)
	for _, want := range []string{"v0.0.0-20261206113000-0123456789ab+dirty", "commit 0123456789ab of 2026-12-06T11:30:00Z, modified", "go1.26.8"} {
		if !strings.Contains(got, want) {
			t.Errorf("version %q lacks %q", got, want)
		}
	}
	info = &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}
	if got := versionOf(info); !strings.Contains(got, "(devel)") || !strings.Contains(got, "no commit recorded") {
		t.Errorf("a build without VCS stamp: %q", got)
	}
	out, _, err := runRoot(t, "--version")
	if err != nil || !strings.HasPrefix(out, "stack version ") || !strings.Contains(out, " go1.") {
		t.Errorf("stack --version: %q, %v", out, err)
	}
}
