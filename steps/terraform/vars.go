package terraform

import (
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/stack-tools/stack/stack"
)

// splitVars separates the step's variables into those written to the working
// copy and the sensitive ones, which never touch disk.
func splitVars(run *stack.StepRun) (plain, sensitive map[string]any) {
	plain, sensitive = map[string]any{}, map[string]any{}
	for name, v := range run.Vars {
		if run.SensitiveVars[name] {
			sensitive[name] = v
		} else {
			plain[name] = v
		}
	}
	return plain, sensitive
}

// writeVars writes the step's variables that are not sensitive, and the
// identity input, to an auto-loaded file of the working copy. Sensitive values
// never touch disk: Terraform reads them from a named pipe given as -var-file
// (see secrets and secretPipe).
func writeVars(dir string, run *stack.StepRun) error {
	plain, _ := splitVars(run)
	addIdentity(dir, run, plain)
	vars, err := json.MarshalIndent(plain, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, varsFile), vars, 0o600)
}

// secrets starts serving the step's sensitive variables for a -var-file; the
// caller closes it. It is nil when the step has none.
func (s *session) secrets() (*secretPipe, error) {
	_, vars := splitVars(s.run)
	if len(vars) == 0 {
		return nil, nil
	}
	return serveSecrets(s.run.WorkDir, vars)
}

// varFile is the -var-file that passes the sensitive variables, "" for none.
func (p *secretPipe) varFile() string {
	if p == nil {
		return ""
	}
	return p.path
}
