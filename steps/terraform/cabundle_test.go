//go:build unix

package terraform

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A store over plain HTTP with keys from the environment: Terraform's backend
// does not load the CA bundle AWS_CA_BUNDLE names (here a file that is no
// bundle at all, which the AWS SDK refuses), and the step applies.
func TestPlainHTTPBackendDoesNotLoadTheMachineCABundle(t *testing.T) {
	bin := terraformBinary(t)
	_, store := minioStore(t)
	notABundle := filepath.Join(t.TempDir(), "bundle.pem")
	if err := os.WriteFile(notABundle, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CA_BUNDLE", notABundle)
	work := applyWithoutWorkspaceCommands(t, bin, store, func() {})

	data, err := os.ReadFile(filepath.Join(work, "module", backendFile))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Terraform struct {
			Backend struct {
				S3 map[string]any `json:"s3"`
			} `json:"backend"`
		} `json:"terraform"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	path, _ := cfg.Terraform.Backend.S3["custom_ca_bundle"].(string)
	pemData, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the backend's custom_ca_bundle %q: %v", path, err)
	}
	block, rest := pem.Decode(pemData)
	if block == nil || len(strings.TrimSpace(string(rest))) != 0 {
		t.Fatalf("%s holds %q, want one certificate", path, pemData)
	}
	if _, err := x509.ParseCertificate(block.Bytes); err != nil {
		t.Errorf("%s: %v", path, err)
	}
}
