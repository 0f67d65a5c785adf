package stack_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/steps/terraform"
)

func TestModuleLayout(t *testing.T) {
	files := stack.ModuleFiles{Calls: terraform.New(t.TempDir()).LocalModuleCalls}
	nest, outside, err := stack.ModuleLayout(filepath.Join("..", "testdata", "modules", "tree", "app"), files)
	if err != nil || nest != "_" || strings.Join(outside, ",") != "../internal/child" {
		t.Errorf("layout of tree/app: %q %v %v, want \"_\" [../internal/child]", nest, outside, err)
	}
	nest, outside, err = stack.ModuleLayout(filepath.Join("..", "testdata", "modules", "tree", "app"), stack.ModuleFiles{})
	if err != nil || nest != "" || len(outside) != 0 {
		t.Errorf("layout of tree/app for a kind that finds no calls: %q %v %v, want nothing outside", nest, outside, err)
	}
	nest, outside, err = stack.ModuleLayout(filepath.Join("..", "testdata", "modules", "echo"), files)
	if err != nil || nest != "" || len(outside) != 0 {
		t.Errorf("layout of echo: %q %v %v, want nothing outside", nest, outside, err)
	}

	// A folder named like the copy's made-up parents cannot be placed.
	root := t.TempDir()
	for _, d := range []string{"m", "_"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "m", "main.tf"), []byte("module \"x\" {\n  source = \"../_\"\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := stack.ModuleLayout(filepath.Join(root, "m"), files); err == nil || !strings.Contains(err.Error(), "rename it") {
		t.Errorf("a called folder named _: %v, want an error saying to rename it", err)
	}
	// A module calling the folder that holds it is refused.
	if err := os.WriteFile(filepath.Join(root, "m", "main.tf"), []byte("module \"x\" {\n  source = \"../\"\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := stack.ModuleLayout(filepath.Join(root, "m"), files); err == nil || !strings.Contains(err.Error(), "holds it") {
		t.Errorf("a module calling its parent folder: %v, want an error", err)
	}
}
