package terraform

import (
	"context"
	"fmt"
	"os"

	"github.com/hashicorp/go-version"
	"github.com/hashicorp/terraform-exec/tfexec"
)

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
