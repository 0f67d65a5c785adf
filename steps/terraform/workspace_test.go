//go:build unix

package terraform

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/hashicorp/terraform-exec/tfexec"

	"github.com/stack-tools/stack/internal/testenv"
	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/steps/terraform/tfbackend"
	"github.com/stack-tools/stack/stores/localstore"
	"github.com/stack-tools/stack/stores/s3store"
)

// workspaceModule is the module both Terraform and the kind create workspaces for.
var workspaceModule = map[string]string{"main.tf": `
resource "terraform_data" "a" {
  input = "x"
}
output "id" { value = terraform_data.a.id }
`}

// terraformInit runs `terraform init -reconfigure` for the store's backend of
// stack stackName in a working copy of the module of its own, as the kind
// does, and returns the Terraform handle.
func terraformInit(t *testing.T, bin string, store BackendSource, stackName string) *tfexec.Terraform {
	t.Helper()
	return terraformInitBackend(t, bin, store.TerraformBackend(stackName, "ref"))
}

// terraformInitBackend runs `terraform init` for backend b in a working copy
// of its own.
func terraformInitBackend(t *testing.T, bin string, b tfbackend.Backend) *tfexec.Terraform {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ref")
	if _, err := syncModule(writeModule(t, workspaceModule), dir); err != nil {
		t.Fatal(err)
	}
	if err := writeBackend(dir, b); err != nil {
		t.Fatal(err)
	}
	tf, err := tfexec.NewTerraform(dir, bin)
	if err != nil {
		t.Fatal(err)
	}
	env := stepEnv(os.Environ(), filepath.Join(dir, "data"), filepath.Join(t.TempDir(), "plugins"), "", b.Env)
	if err := tf.SetEnv(env); err != nil {
		t.Fatal(err)
	}
	if err := tf.Init(context.Background(), initOptions()...); err != nil {
		t.Fatal(err)
	}
	return tf
}

// terraformWorkspaceNew runs `terraform init` and `terraform workspace new ws`
// for the store's backend of stack "s" in a working copy of its own, as the
// kind did before it created workspaces itself, and returns that working copy.
func terraformWorkspaceNew(t *testing.T, bin string, store BackendSource, ws string) string {
	t.Helper()
	tf := terraformInit(t, bin, store, "s")
	if err := tf.WorkspaceNew(context.Background(), ws); err != nil {
		t.Fatal(err)
	}
	return tf.WorkingDir()
}

// applyWithoutWorkspaceCommands prepares and applies step "web" on the store
// through the kind, and checks that Terraform ran init and apply and nothing
// else (no `workspace new`, no `version`). It returns the step's work folder.
func applyWithoutWorkspaceCommands(t *testing.T, bin string, store stack.Store, inspect func()) string {
	t.Helper()
	root := t.TempDir()
	run, stepLog, _ := recordedRun()
	run.Stack, run.Step, run.Module, run.WorkDir = "s", "web", writeModule(t, workspaceModule), filepath.Join(root, "work")
	run.Store = store
	k := &Kind{ExecPath: bin, CacheDir: filepath.Join(root, "cache")}
	ctx := context.Background()
	var log commandLog
	k.handOver(run.WorkDir, log.handle(t, bin, filepath.Join(run.WorkDir, "module")))
	if err := k.Prepare(ctx, run); err != nil {
		t.Fatalf("prepare: %v\nlog:\n%s", err, stepLog)
	}
	inspect()
	run.Vars = map[string]any{}
	outs, err := k.Apply(ctx, run)
	if err != nil || outs["id"].Value == nil {
		t.Fatalf("apply: %v (outputs %v)\nlog:\n%s", err, outs, stepLog)
	}
	var words []string
	for _, c := range log.commands() {
		words = append(words, c[0])
	}
	if !slices.Equal(words, []string{"init", "apply"}) {
		t.Errorf("Terraform ran %q, want init and apply alone", log.commands())
	} else if apply := log.commands()[1]; !slices.Contains(apply, "-lock=false") {
		// The workspace is this command's alone (created, no lock on it).
		t.Errorf("the first apply in a workspace the kind created took Terraform's lock: %q", apply)
	}
	return run.WorkDir
}

// sameFile checks that two files or folders have the same mode and, for
// files, the same content once want's name is replaced by got's.
func sameFile(t *testing.T, want, got string, replace ...string) {
	t.Helper()
	wi, err1 := os.Stat(want)
	gi, err2 := os.Stat(got)
	if err1 != nil || err2 != nil {
		t.Fatalf("%v; %v", err1, err2)
	}
	if wi.Mode() != gi.Mode() {
		t.Errorf("%s has mode %v, Terraform's %s %v", got, gi.Mode(), want, wi.Mode())
	}
	if wi.IsDir() {
		we, _ := os.ReadDir(want)
		ge, _ := os.ReadDir(got)
		if len(we) != len(ge) {
			t.Errorf("%s holds %d entries, Terraform's %s %d", got, len(ge), want, len(we))
		}
		return
	}
	wb, _ := os.ReadFile(want)
	gb, _ := os.ReadFile(got)
	if w := strings.NewReplacer(replace...).Replace(string(wb)); w != string(gb) {
		t.Errorf("%s holds %q, Terraform's %s %q", got, gb, want, w)
	}
}

// On the local backend the kind creates a workspace as `terraform workspace
// new` does (a folder beside the others, the data directory's environment
// file), and Terraform applies in it.
func TestNewWorkspaceLocal(t *testing.T) {
	bin := terraformBinary(t)
	store, err := localstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ref := terraformWorkspaceNew(t, bin, store, "web0")
	states := store.TerraformDir("s")
	work := applyWithoutWorkspaceCommands(t, bin, store, func() {
		sameFile(t, filepath.Join(states, "web0"), filepath.Join(states, "web"))
	})
	sameFile(t, filepath.Join(ref, "data", "environment"), filepath.Join(work, "data", "environment"), "web0", "web")
	if _, err := os.Stat(filepath.Join(states, "web", "terraform.tfstate")); err != nil {
		t.Errorf("the apply left no state in the workspace the kind created: %v", err)
	}
}

// minioStore starts MinIO for the test, points the AWS environment at it and
// opens the store s3://BUCKET/p on it.
func minioStore(t *testing.T) (*testenv.Minio, *s3store.Store) {
	t.Helper()
	m, err := testenv.StartMinio(t.TempDir())
	if err != nil {
		testenv.Missing(t, err)
	}
	t.Cleanup(func() { _ = m.Stop() })
	for _, kv := range m.Env() {
		name, val, _ := strings.Cut(kv, "=")
		t.Setenv(name, val)
	}
	t.Setenv("AWS_PROFILE", "")
	store, err := s3store.Open(context.Background(), "s3://"+m.Bucket+"/p")
	if err != nil {
		t.Fatal(err)
	}
	return m, store
}

// lineageRE finds the random part of a state file.
var lineageRE = regexp.MustCompile(`"lineage": "[0-9a-f-]+"`)

// On the s3 backend (MinIO) the kind writes the state object `terraform
// workspace new` writes, with the same content type and metadata, and no lock
// object; Terraform applies in that workspace.
func TestNewWorkspaceS3(t *testing.T) {
	bin := terraformBinary(t)
	m, store := minioStore(t)
	ctx := context.Background()
	terraformWorkspaceNew(t, bin, store, "web0")
	key := func(ws string) string { return "p/tfstate/s/" + ws + "/terraform.tfstate" }
	get := func(k string) (*s3.GetObjectOutput, string) {
		out, err := m.Client().GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(m.Bucket), Key: aws.String(k)})
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		defer out.Body.Close()
		b, _ := io.ReadAll(out.Body)
		return out, lineageRE.ReplaceAllString(string(b), `"lineage": "L"`)
	}
	applyWithoutWorkspaceCommands(t, bin, store, func() {
		want, wantBody := get(key("web0"))
		got, gotBody := get(key("web"))
		if gotBody != wantBody {
			t.Errorf("the kind wrote\n%s\nTerraform wrote (lineage aside)\n%s", gotBody, wantBody)
		}
		if aws.ToString(got.ContentType) != aws.ToString(want.ContentType) || len(got.Metadata) != len(want.Metadata) {
			t.Errorf("content type %q, metadata %v; Terraform's %q, %v", aws.ToString(got.ContentType), got.Metadata, aws.ToString(want.ContentType), want.Metadata)
		}
		keys, err := store.List(ctx, s3store.StatePrefix("s"))
		if err != nil || len(keys) != 2 {
			t.Errorf("objects under the stack's state: %q (%v), want the two states alone", keys, err)
		}
	})
	if _, body := get(key("web")); !strings.Contains(body, `"terraform_data"`) {
		t.Errorf("the apply did not write its state to the workspace the kind created:\n%s", body)
	}
}
