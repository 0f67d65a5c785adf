package modules_test

import (
	"bytes"
	"github.com/stack-tools/stack/definition"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// stackBinary builds cmd/stack once for this package's CLI tests.
var stackBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "stack-modules-test-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "stack")
	cmd := exec.Command("go", "build", "-o", bin, "../cmd/stack")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", &buildError{err, out}
	}
	return bin, nil
})

type buildError struct {
	err error
	out []byte
}

func (e *buildError) Error() string { return "building stack: " + e.err.Error() + "\n" + string(e.out) }

// validate runs `stack validate FILE --profile P` offline: no state, no
// ZooKeeper, no AWS credentials.
func validate(t *testing.T, file, profile string) (code int, output string) {
	t.Helper()
	bin, err := stackBinary()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"validate", file}
	if profile != "" {
		args = append(args, "--profile", profile)
	}
	cmd := exec.Command(bin, args...)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "STACK_") && !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	home := t.TempDir()
	cmd.Env = append(env, "HOME="+home, "XDG_CACHE_HOME="+filepath.Join(home, ".cache"), "STACK_STATE="+filepath.Join(home, "state"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String()
	} else if err != nil {
		t.Fatalf("running stack validate: %v", err)
	}
	return 0, out.String()
}

func TestStackValidateAcceptsEveryStackInEveryProfile(t *testing.T) {
	for _, file := range stackFiles(t) {
		def := loadDef(t, file)
		for _, profile := range append([]string{""}, def.ProfileNames()...) {
			if code, out := validate(t, file, profile); code != 0 {
				t.Errorf("stack validate %s --profile %q: exit %d\n%s", file, profile, code, out)
			}
		}
	}
}

func TestStackValidateRejectsBrokenCopiesOfSMSInbound(t *testing.T) {
	for _, tc := range brokenCases {
		if tc.cli == nil {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			root := copyTree(t)
			tc.breakIt(t, root)
			file := filepath.Join(root, "stacks", "sms-inbound.json")
			for _, profile := range []string{"", "minimal", "production"} {
				code, out := validate(t, file, profile)
				if !slices.Contains(tc.failsIn, profile) {
					if code != 0 {
						t.Errorf("profile %q should pass: exit %d\n%s", profile, code, out)
					}
					continue
				}
				if code != 2 {
					t.Errorf("profile %q: exit %d, want 2 (invalid definition)\n%s", profile, code, out)
				}
				for _, want := range tc.cli {
					if !strings.Contains(out, want) {
						t.Errorf("profile %q: output does not mention %q:\n%s", profile, want, out)
					}
				}
			}
		})
	}
}

func loadDef(t *testing.T, file string) *definition.Definition {
	t.Helper()
	def, err := definition.LoadDefinition(file)
	if err != nil {
		t.Fatal(err)
	}
	return def
}
