package main

import (
	"path/filepath"
	"testing"
)

func TestCompletionVariablesFromTheFile(t *testing.T) {
	demo := filepath.Join(repoRoot(t), "stacks", "demo.json")
	state := t.TempDir()
	for _, cmd := range [][]string{{"up", demo}, {"validate", demo}, {"plan", "x", demo}} {
		wantCompletions(t, complete(t, state, append(cmd, "--var", "")...), "cidr=", "region=")
		wantCompletions(t, complete(t, state, append(cmd, "--var", "re")...), "region=")
	}
}
