package tfshim

import (
	"strings"
	"testing"
)

// Only commands that change state outlive stack; those that print state or
// outputs (sensitive values included) never write their output to a file.
func TestDurableCommands(t *testing.T) {
	for args, want := range map[string]bool{
		"apply -auto-approve -input=false -json": true,
		"destroy -auto-approve -json":            true,
		"init -json -reconfigure":                true,
		"plan -json -detailed-exitcode":          true,
		"state push errored.tfstate":             true,
		"state pull":                             false,
		"output -json":                           false,
		"show -json":                             false,
		"workspace select x":                     false,
		"version -json":                          false,
	} {
		if got := durable(strings.Fields(args)); got != want {
			t.Errorf("durable(%q) = %v, want %v", args, got, want)
		}
	}
}
