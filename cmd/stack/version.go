package main

import (
	"runtime/debug"
	"strings"
)

// version says which build this is: the module version (a tag with `go
// install ...@vX`, a pseudo-version or "(devel)" in a checkout) and the VCS
// revision Go stamped into the binary, with the Go version.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown (no build information in this binary)"
	}
	return versionOf(info)
}

func versionOf(info *debug.BuildInfo) string {
	v := info.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, at, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = ", modified"
			}
		}
	}
	vcs := "no commit recorded: build with go install ./cmd/stack in a git clone, without -buildvcs=false"
	if rev != "" {
		vcs = "commit " + rev[:min(12, len(rev))]
		if at != "" {
			vcs += " of " + at
		}
		vcs += modified
	}
	return strings.TrimSpace(v + " (" + vcs + ") " + info.GoVersion)
}
