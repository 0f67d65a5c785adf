package engine

import (
	"strings"
	"testing"

	"github.com/stack-tools/stack/definition"
)

// An invalid stack name is blamed on where it came from: the flag, or the
// definition file's "name".
func TestInvalidStackNameNamesItsSource(t *testing.T) {
	def := &definition.Definition{Name: "Web1", File: "stacks/web.json"}
	_, err := stackName(UpOptions{Def: def})
	if err == nil || !strings.Contains(err.Error(), "stacks/web.json") || !strings.Contains(err.Error(), "name") || !strings.Contains(err.Error(), "--name") {
		t.Errorf("invalid name in the file: %v; want it to name stacks/web.json, its name field and --name", err)
	}
	_, err = stackName(UpOptions{Def: def, Name: "Bad_Name"})
	if err == nil || strings.Contains(err.Error(), "stacks/web.json") || !strings.Contains(err.Error(), "--name") {
		t.Errorf("invalid --name: %v; want it to name the flag, not the file", err)
	}
	if name, err := stackName(UpOptions{Def: def, Name: "web-1"}); err != nil || name != "web-1" {
		t.Errorf("--name web-1 over the file's name: %q, %v", name, err)
	}
}
