package terraform

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-version"
	install "github.com/hashicorp/hc-install"
	hcfs "github.com/hashicorp/hc-install/fs"
	"github.com/hashicorp/hc-install/product"
	"github.com/hashicorp/hc-install/releases"
	"github.com/hashicorp/hc-install/src"
	"github.com/hashicorp/terraform-exec/tfexec"
)

// terraform finds the binary once: installed copies first, then a release download.
func (k *Kind) terraform(ctx context.Context) (string, error) {
	k.findOnce.Do(func() {
		if k.ExecPath != "" {
			k.execPath = k.ExecPath
			return
		}
		if p := os.Getenv("STACK_TERRAFORM"); p != "" {
			k.execPath, k.findErr = p, checkBinary(ctx, p, "STACK_TERRAFORM")
			return
		}
		if p, ok := k.cachedTerraform(); ok {
			k.execPath = p
			return
		}
		k.execPath, k.findErr = k.install(ctx)
		if k.findErr == nil {
			k.rememberTerraform(k.execPath)
		}
		if k.findErr != nil {
			k.findErr = fmt.Errorf("no Terraform %s found on PATH or /usr/local/bin, and downloading it failed: %w; install Terraform 1.11 or later, or set STACK_TERRAFORM to its path", MinVersion, k.findErr)
		}
	})
	return k.execPath, k.findErr
}

// install returns an installed Terraform recent enough, or downloads one into
// the cache.
func (k *Kind) install(ctx context.Context) (string, error) {
	constraints := version.MustConstraints(version.NewConstraint(MinVersion))
	dl := filepath.Join(k.CacheDir, "terraform-bin")
	_ = os.MkdirAll(dl, 0o755)
	return install.NewInstaller().Ensure(ctx, []src.Source{
		&hcfs.Version{Product: product.Terraform, Constraints: constraints, ExtraPaths: []string{"/usr/local/bin", dl},
			Timeout: time.Minute}, // `terraform version` on a loaded machine can take more than the default 10 s
		&releases.LatestVersion{Product: product.Terraform, Constraints: constraints, InstallDir: dl},
	})
}

// checkBinary makes sure the Terraform that STACK_TERRAFORM names runs and is
// recent enough, so a wrong path is reported as such instead of as whatever
// terraform-exec concludes from a binary it could not ask for its version
// ("terraform init -json was added in 1.9.0").
func checkBinary(ctx context.Context, path, from string) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%s=%s: %w; set it to a Terraform %s binary, or unset it to use the terraform on PATH", from, path, err, MinVersion)
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return fmt.Errorf("%s=%s is not an executable file; set it to a Terraform %s binary, or unset it to use the terraform on PATH", from, path, MinVersion)
	}
	tf, err := tfexec.NewTerraform(os.TempDir(), path)
	if err != nil {
		return fmt.Errorf("%s=%s: %w", from, path, err)
	}
	v, _, err := tf.Version(ctx, true)
	if err != nil {
		return fmt.Errorf("%s=%s does not answer `terraform version` (%w); set it to a Terraform %s binary, or unset it to use the terraform on PATH", from, path, err, MinVersion)
	}
	if c := version.MustConstraints(version.NewConstraint(MinVersion)); !c.Check(v) {
		return fmt.Errorf("%s=%s is Terraform %s; stack needs Terraform %s", from, path, v, MinVersion)
	}
	return nil
}
