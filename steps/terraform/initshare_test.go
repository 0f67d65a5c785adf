//go:build unix

package terraform

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/stores/localstore"
)

// prepareLogged prepares step "web" of stackName through k and returns its
// work folder and the Terraform commands that ran.
func prepareLogged(t *testing.T, k *Kind, store stack.Store, stackName string) (string, [][]string) {
	t.Helper()
	run, stepLog, _ := recordedRun()
	run.Stack, run.Step, run.Module, run.WorkDir = stackName, "web", writeModule(t, workspaceModule), filepath.Join(t.TempDir(), "work")
	run.Store = store
	var log commandLog
	k.handOver(run.WorkDir, log.handle(t, k.ExecPath, filepath.Join(run.WorkDir, "module")))
	if err := k.Prepare(context.Background(), run); err != nil {
		t.Fatalf("prepare %s: %v\nlog:\n%s", stackName, err, stepLog)
	}
	run.Vars = map[string]any{}
	if _, err := k.Apply(context.Background(), run); err != nil {
		t.Fatalf("apply %s: %v\nlog:\n%s", stackName, err, stepLog)
	}
	return run.WorkDir, log.commands()
}

// checkInitShared inits a module in stack "a" and checks that stack "b", in
// another process (another Kind) on the same cache, needs no init for it: its
// data directory gets, byte for byte, what `terraform init` writes there.
func checkInitShared(t *testing.T, bin string, store interface {
	stack.Store
	BackendSource
}) {
	cache := filepath.Join(t.TempDir(), "cache")
	_, cmds := prepareLogged(t, &Kind{ExecPath: bin, CacheDir: cache}, store, "a")
	if find(cmds, "init") == nil {
		t.Fatalf("stack a ran %q, no init", cmds)
	}
	work, cmds := prepareLogged(t, &Kind{ExecPath: bin, CacheDir: cache}, store, "b")
	if len(cmds) != 1 || cmds[0][0] != "apply" {
		t.Errorf("stack b ran %q, want apply alone", cmds)
	}
	// The backend as the kind gives it to Terraform (cabundle.go).
	b := (&Kind{CacheDir: cache}).withNoTLSBundle(store.TerraformBackend("b", "ref"))
	want, err := os.ReadFile(filepath.Join(terraformInitBackend(t, bin, b).WorkingDir(), "data", "terraform.tfstate"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(work, "data", "terraform.tfstate"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the kind wrote\n%s\n`terraform init` writes\n%s", got, want)
	}
}

func TestInitSharedAcrossStacksLocal(t *testing.T) {
	bin := terraformBinary(t)
	store, err := localstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	checkInitShared(t, bin, store)
}

func TestInitSharedAcrossStacksS3(t *testing.T) {
	bin := terraformBinary(t)
	_, store := minioStore(t)
	checkInitShared(t, bin, store)
}

// backendHash reproduces the hashes Terraform 1.11 wrote.
func TestBackendHash(t *testing.T) {
	local := map[string]any{"path": "/tmp/tmp.UUVhr42ZrO/st/default.tfstate", "workspace_dir": "/tmp/tmp.UUVhr42ZrO/st"}
	if h, ok := backendHash("local", local); !ok || h != 2128022792 {
		t.Errorf("backendHash = %d, %v; Terraform wrote 2128022792", h, ok)
	}
	if _, ok := backendHash("s3", map[string]any{"allowed_account_ids": []any{"1"}}); ok {
		t.Error("backendHash hashed a list, whose encoding depends on its type")
	}
}
