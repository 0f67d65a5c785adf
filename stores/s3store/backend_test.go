package s3store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stack-tools/stack/internal/testenv"
	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/steps/terraform"
)

const demoModule = `
variable "greeting" { type = string }
resource "terraform_data" "demo" { input = var.greeting }
output "greeting" { value = terraform_data.demo.output }
`

// The terraform step kind finds where to keep state through this interface.
var _ terraform.BackendSource = (*Store)(nil)

// The generated backend works with a real Terraform against MinIO: init,
// a workspace per step, apply, with state at
// PREFIX/tfstate/STACK/STEP/terraform.tfstate and no lock left behind; deleting
// the workspace removes the state. Credentials reach Terraform only through the
// environment, never the backend file.
func TestTerraformBackendAgainstMinio(t *testing.T) {
	s := openStore(t)
	tf, err := testenv.FindBinary("terraform", "TERRAFORM_BIN")
	if err != nil {
		testenv.Missing(t, err)
	}
	ctx := context.Background()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(demoModule), 0o644); err != nil {
		t.Fatal(err)
	}
	backend := s.TerraformBackend("bfcm", "net")
	file, err := json.MarshalIndent(map[string]any{
		"terraform": map[string]any{"backend": map[string]any{backend.Type: backend.Config}},
	}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(file, []byte(minio.SecretKey)) || bytes.Contains(file, []byte(minio.AccessKey)) {
		t.Fatalf("backend configuration holds credentials:\n%s", file)
	}
	if err := os.WriteFile(filepath.Join(dir, "backend.tf.json"), file, 0o644); err != nil {
		t.Fatal(err)
	}
	terraform := func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, tf, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(),
			"TF_DATA_DIR="+filepath.Join(dir, ".terraform"),
			"TF_IN_AUTOMATION=1",
			"TF_INPUT=0",
			"CHECKPOINT_DISABLE=1",
			"TF_CLI_CONFIG_FILE="+os.DevNull,
		)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("terraform %s: %v\n%s\nbackend:\n%s", strings.Join(args, " "), err, out, file)
		}
		return string(out)
	}
	terraform("init", "-no-color")
	terraform("workspace", "new", "-no-color", "net")
	terraform("apply", "-auto-approve", "-no-color", "-var", "greeting=hello")

	stateKey := "tfstate/bfcm/net/terraform.tfstate"
	state, _, err := s.Get(ctx, stateKey)
	if err != nil {
		t.Fatalf("state not at %s: %v", s.Location(stateKey), err)
	}
	if !bytes.Contains(state, []byte(`"terraform_data"`)) || !bytes.Contains(state, []byte(`"hello"`)) {
		t.Fatalf("state at %s does not hold the applied resource:\n%s", stateKey, state)
	}
	keys, err := s.List(ctx, StatePrefix("bfcm"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(keys, ",") != stateKey {
		t.Fatalf("objects under %s = %q, want only the state (lock released)", StatePrefix("bfcm"), keys)
	}

	// A second apply with nothing changed reads the same state back.
	if out := terraform("apply", "-auto-approve", "-no-color", "-var", "greeting=hello"); !strings.Contains(out, "0 added, 0 changed, 0 destroyed") {
		t.Fatalf("re-apply was not a no-op:\n%s", out)
	}

	terraform("destroy", "-auto-approve", "-no-color", "-var", "greeting=hello")
	terraform("workspace", "select", "-no-color", "default")
	terraform("workspace", "delete", "-no-color", "net")
	if _, _, err := s.Get(ctx, stateKey); !errors.Is(err, stack.ErrNotFound) {
		t.Fatalf("state still at %s after workspace delete: %v", stateKey, err)
	}
}

func TestBackendConfigForAWS(t *testing.T) {
	s := &Store{bucket: "team-state", prefix: "load/prod", region: "eu-west-1"}
	b := s.TerraformBackend("bfcm", "db")
	want := map[string]any{
		"bucket":               "team-state",
		"region":               "eu-west-1",
		"key":                  "terraform.tfstate",
		"workspace_key_prefix": "load/prod/tfstate/bfcm",
		"use_lockfile":         true,
	}
	if b.Type != "s3" || len(b.Config) != len(want) {
		t.Fatalf("TerraformBackend = %s %v, want s3 %v", b.Type, b.Config, want)
	}
	for k, v := range want {
		if b.Config[k] != v {
			t.Errorf("TerraformBackend config %s = %v, want %v", k, b.Config[k], v)
		}
	}
}

// Forget clears one stack's Terraform leftovers and nothing of another stack's.
func TestForgetRemovesOnlyThatStacksTerraformObjects(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	for _, k := range []string{
		"tfstate/bfcm/net/terraform.tfstate.tflock",
		"tfstate/bfcm/db/terraform.tfstate",
		"tfstate/bfcm2/net/terraform.tfstate",
		"stacks/bfcm/stack.json",
	} {
		if _, err := s.Put(ctx, k, []byte("x"), stack.AnyVersion); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Forget(ctx, "bfcm"); err != nil {
		t.Fatal(err)
	}
	keys, err := s.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(keys, ","), "stacks/bfcm/stack.json,tfstate/bfcm2/net/terraform.tfstate"; got != want {
		t.Fatalf("after Forget(bfcm): %s, want %s", got, want)
	}
}

// AWS_MAX_ATTEMPTS, the SDK's standard retry setting, bounds the store's
// retries and reaches Terraform, whose backend does not read it.
func TestMaxAttemptsReachesStoreAndTerraform(t *testing.T) {
	t.Setenv("AWS_MAX_ATTEMPTS", "2")
	s := openStore(t)
	if got := s.client.Options().Retryer.MaxAttempts(); got != 2 {
		t.Errorf("store retries %d times, want 2", got)
	}
	if got := s.TerraformBackend("bfcm", "db").Config["max_retries"]; got != 2 {
		t.Errorf("backend max_retries = %v, want 2", got)
	}
	t.Setenv("AWS_MAX_ATTEMPTS", "")
	s = openStore(t)
	if got := s.client.Options().Retryer.MaxAttempts(); got != maxAttempts {
		t.Errorf("store retries %d times by default, want %d", got, maxAttempts)
	}
	if _, ok := s.TerraformBackend("bfcm", "db").Config["max_retries"]; ok {
		t.Error("backend sets max_retries without AWS_MAX_ATTEMPTS")
	}
}

// Terraform's backend is told it opens no TLS connection only when that is
// certain: a plain-HTTP endpoint and keys from the environment, no profile.
func TestBackendOpensNoTLSOnlyOverPlainHTTPWithKeys(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "k")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_DEFAULT_PROFILE", "")
	for _, c := range []struct {
		endpoint, profile string
		want              bool
	}{
		{"http://127.0.0.1:9000", "", true},
		{"HTTP://minio.internal", "", true},
		{"https://minio.internal", "", false},
		{"", "", false}, // AWS itself
		{"http://127.0.0.1:9000", "dev", false},
	} {
		t.Setenv("AWS_PROFILE", c.profile)
		s := &Store{bucket: "b", region: "us-east-1", endpoint: c.endpoint}
		if got := s.TerraformBackend("st", "step").NoTLSCABundleAttr != ""; got != c.want {
			t.Errorf("endpoint %q, AWS_PROFILE %q: no TLS = %v, want %v", c.endpoint, c.profile, got, c.want)
		}
	}
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	s := &Store{bucket: "b", region: "us-east-1", endpoint: "http://127.0.0.1:9000"}
	if s.TerraformBackend("st", "step").NoTLSCABundleAttr != "" {
		t.Error("without keys in the environment a credential provider may call STS over TLS")
	}
}
