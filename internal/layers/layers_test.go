package layers

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/stack-tools/stack/"

// allowed says, per package (or folder of packages, ending in "/"), which of
// the module's packages it may import; "/"-suffixed entries allow a folder.
// Tests are not covered: an external test package may use a store or a kind.
var allowed = map[string][]string{
	"internal/":        {"internal/"},
	"load":             {"internal/", "load/"},
	"load/":            {"internal/", "load", "load/"},
	"stacks/scenarios": nil,
	"stack":            {"internal/"},
	"definition":       {"internal/", "stack"},
	"state":            {"internal/", "stack", "definition"},
	"engine/flow":      nil, // the scheduler knows tasks by name only
	"engine":           {"internal/", "stack", "definition", "state", "engine/flow"},
	"steps/terraform/": {"internal/"}, // tfbackend (the contract stores give the kind), tfshim
	"steps/terraform":  {"internal/", "stack", "steps/terraform/tfbackend", "steps/terraform/tfshim"},
	"steps/generator":  {"internal/", "stack", "load", "load/", "stacks/scenarios"},
	"steps/exec":       {"internal/", "stack"},
	"handlers/":        {"internal/", "stack"},
	"stores/":          {"internal/", "stack", "steps/terraform/tfbackend"},
	"cmd/stack":        {""}, // the top: registers every plug-in
}

// rule finds the most specific entry of allowed for a package path.
func rule(pkg string) ([]string, bool) {
	if r, ok := allowed[pkg]; ok {
		return r, true
	}
	best := ""
	for k := range allowed {
		if strings.HasSuffix(k, "/") && strings.HasPrefix(pkg, k) && len(k) > len(best) {
			best = k
		}
	}
	r, ok := allowed[best]
	return r, ok && best != ""
}

func permits(rules []string, dep string) bool {
	for _, r := range rules {
		if r == "" || r == dep || (strings.HasSuffix(r, "/") && strings.HasPrefix(dep, r)) {
			return true
		}
	}
	return false
}

func TestImportsFollowTheLayers(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	seen := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		pkg := strings.TrimPrefix(fields[0], module)
		if pkg == "modules" || strings.HasPrefix(pkg, "bench") {
			continue // test-only and benchmark programs
		}
		rules, ok := rule(pkg)
		if !ok {
			t.Errorf("package %s has no place in the layers: add it to allowed (and to ARCHITECTURE.md)", pkg)
			continue
		}
		seen++
		for _, dep := range fields[1:] {
			if !strings.HasPrefix(dep, module) {
				continue
			}
			dep = strings.TrimPrefix(dep, module)
			if !permits(rules, dep) {
				t.Errorf("%s imports %s, which its layer may not (see ARCHITECTURE.md)", pkg, dep)
			}
		}
	}
	if seen < 10 {
		t.Fatalf("go list found only %d packages:\n%s", seen, out)
	}
}
