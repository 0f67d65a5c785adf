//go:build unix

package terraform

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/terraform-exec/tfexec"

	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/steps/terraform/tfbackend"
)

// commandLog keeps the command lines terraform-exec runs.
type commandLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *commandLog) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Write(p)
}

// handle returns a Terraform handle that logs its command lines here.
func (c *commandLog) handle(t *testing.T, bin, dir string) *tfexec.Terraform {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	tf, err := tfexec.NewTerraform(dir, bin)
	if err != nil {
		t.Fatal(err)
	}
	tf.SetLogger(log.New(c, "", 0))
	return tf
}

// commands returns the argv (without the binary) of each command run.
func (c *commandLog) commands() [][]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out [][]string
	for _, line := range strings.Split(c.buf.String(), "\n") {
		_, cmd, ok := strings.Cut(line, "running Terraform command: ")
		if ok {
			out = append(out, strings.Fields(cmd)[1:])
		}
	}
	return out
}

// find returns the command whose leading words are words.
func find(cmds [][]string, words ...string) []string {
	for _, c := range cmds {
		if len(c) >= len(words) && slices.Equal(c[:len(words)], words) {
			return c
		}
	}
	return nil
}

func terraformBinary(t *testing.T) string {
	if p, err := exec.LookPath("terraform"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/local/bin/terraform"); err == nil {
		return "/usr/local/bin/terraform"
	}
	t.Skip("no terraform on PATH or in /usr/local/bin: install Terraform 1.11 or later to run this test")
	return ""
}

// TestCommandLines applies and destroys a module with a sensitive variable
// through the kind, on the local backend, and checks the command lines
// Terraform got, that its environment was accepted, and that the sensitive
// value reached neither a command line nor the step's log.
func TestCommandLines(t *testing.T) {
	bin := terraformBinary(t)
	const secret = "hunter2-secret-value"
	// What terraform-exec refuses must not stop the step.
	for _, name := range []string{"TF_LOG", "TF_VAR_secret", "TF_CLI_ARGS_apply", "TF_WORKSPACE"} {
		t.Setenv(name, "1")
	}
	root := t.TempDir()
	run, stepLog, progress := localStepRun(t, root, secret)
	k := &Kind{ExecPath: bin, CacheDir: filepath.Join(root, "cache")}
	srcDir := filepath.Join(run.WorkDir, "module")
	varFile := "-var-file=" + filepath.Join(run.WorkDir, "sensitive.tfvars.json")
	ctx := context.Background()

	var applied commandLog
	k.handOver(run.WorkDir, applied.handle(t, bin, srcDir))
	outs, err := k.Apply(ctx, run)
	if err != nil {
		t.Fatalf("apply: %v\nlog:\n%s", err, stepLog)
	}
	if outs["name"].Value != "web" || outs["password"].Value != secret || !outs["password"].Sensitive {
		t.Errorf("outputs %v", outs)
	}
	cmds := applied.commands()
	checkFlags(t, cmds, []string{"init"}, "-input=false", "-upgrade=false", "-reconfigure", "-json")
	checkFlags(t, cmds, []string{"workspace", "new"}, "web")
	checkFlags(t, cmds, []string{"apply"}, "-auto-approve", "-input=false", "-refresh=false", varFile, "-json")

	var destroyed commandLog
	k.handOver(run.WorkDir, destroyed.handle(t, bin, srcDir))
	if err := k.Destroy(ctx, run); err != nil {
		t.Fatalf("destroy: %v\nlog:\n%s", err, stepLog)
	}
	cmds = append(cmds, destroyed.commands()...)
	checkFlags(t, cmds, []string{"destroy"}, "-auto-approve", varFile, "-json")
	checkFlags(t, cmds, []string{"workspace", "select"}, "default")
	checkFlags(t, cmds, []string{"workspace", "delete"}, "-force", "web")
	if find(cmds, "output") != nil {
		t.Error("`terraform output` ran though the state had the outputs")
	}

	if !strings.Contains(stepLog.String(), "data="+filepath.Join(run.WorkDir, "data")+" checkpoint=1") {
		t.Errorf("the step's environment did not reach Terraform; log:\n%s", stepLog)
	}
	for _, c := range cmds {
		if strings.Contains(strings.Join(c, " "), secret) {
			t.Errorf("the sensitive value is on a command line: %q", c)
		}
	}
	if strings.Contains(stepLog.String(), secret) || strings.Contains(strings.Join(*progress, "\n"), secret) {
		t.Errorf("the sensitive value reached the step's log or progress:\n%s", stepLog)
	}
}

// checkFlags checks that the command starting with words has every flag.
func checkFlags(t *testing.T, cmds [][]string, words []string, flags ...string) {
	t.Helper()
	c := find(cmds, words...)
	if c == nil {
		t.Errorf("no `terraform %s` among %q", strings.Join(words, " "), cmds)
		return
	}
	for _, f := range flags {
		if !slices.Contains(c, f) {
			t.Errorf("`terraform %s` lacks %s: %q", strings.Join(words, " "), f, c)
		}
	}
}

// localStepRun is step "web" of stack "s" applying a terraform_data module
// with a sensitive variable (secret) on the local backend under root.
func localStepRun(t *testing.T, root, secret string) (*stack.StepRun, *bytes.Buffer, *[]string) {
	module := writeModule(t, map[string]string{"main.tf": `
variable "name" {}
variable "secret" {
  sensitive = true
}
resource "terraform_data" "a" {
  input = var.secret
  provisioner "local-exec" {
    command = "echo data=$TF_DATA_DIR checkpoint=$CHECKPOINT_DISABLE"
  }
}
output "name" { value = var.name }
output "password" {
  value     = var.secret
  sensitive = true
}
`})
	states := filepath.Join(root, "states")
	run, stepLog, progress := recordedRun()
	run.Stack, run.Step, run.Module, run.WorkDir = "s", "web", module, filepath.Join(root, "work")
	run.Vars = map[string]any{"name": "web", "secret": secret}
	run.SensitiveVars = map[string]bool{"secret": true}
	run.Store = fixedBackend{b: tfbackend.Backend{Type: "local", Config: map[string]any{"workspace_dir": states},
		State: func(_ context.Context, ws string) ([]byte, error) {
			b, err := os.ReadFile(filepath.Join(states, ws, "terraform.tfstate"))
			if errors.Is(err, fs.ErrNotExist) {
				return nil, stack.ErrNotFound
			}
			return b, err
		}}}
	return run, stepLog, progress
}

// fixedBackend is a state store that gives every step one Terraform backend;
// the kind uses no other part of the store.
type fixedBackend struct {
	stack.Store
	b tfbackend.Backend
}

func (f fixedBackend) TerraformBackend(string, string) tfbackend.Backend { return f.b }
