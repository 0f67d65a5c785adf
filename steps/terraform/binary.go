package terraform

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"time"
	"unsafe"

	"github.com/hashicorp/go-version"
	install "github.com/hashicorp/hc-install"
	hcfs "github.com/hashicorp/hc-install/fs"
	"github.com/hashicorp/hc-install/product"
	"github.com/hashicorp/hc-install/releases"
	"github.com/hashicorp/hc-install/src"
	"github.com/hashicorp/terraform-exec/tfexec"
)

// terraform finds the binary once: installed copies first, then a release
// download. It learns the binary's version at the same time (see
// binaryVersion), so that no Terraform handle asks it again.
func (k *Kind) terraform(ctx context.Context) (string, error) {
	k.findOnce.Do(func() {
		if k.ExecPath != "" {
			// Not checked here: a binary that does not answer fails its
			// first command, as terraform-exec reports it.
			k.execPath = k.ExecPath
			k.tfVersion, _ = k.binaryVersion(ctx, k.ExecPath)
			return
		}
		if p := os.Getenv("STACK_TERRAFORM"); p != "" {
			k.execPath = p
			k.tfVersion, k.findErr = k.checkBinary(ctx, p, "STACK_TERRAFORM")
			return
		}
		if p, ok := k.cachedTerraform(); ok {
			k.execPath = p
			k.tfVersion, _ = k.binaryVersion(ctx, p)
			return
		}
		k.execPath, k.findErr = k.install(ctx)
		if k.findErr == nil {
			k.rememberTerraform(k.execPath)
			k.tfVersion, _ = k.binaryVersion(ctx, k.execPath)
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
// ("terraform init -json was added in 1.9.0"). It returns the version.
func (k *Kind) checkBinary(ctx context.Context, path, from string) (*version.Version, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%s=%s: %w; set it to a Terraform %s binary, or unset it to use the terraform on PATH", from, path, err, MinVersion)
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return nil, fmt.Errorf("%s=%s is not an executable file; set it to a Terraform %s binary, or unset it to use the terraform on PATH", from, path, MinVersion)
	}
	v, err := k.binaryVersion(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("%s=%s does not answer `terraform version` (%w); set it to a Terraform %s binary, or unset it to use the terraform on PATH", from, path, err, MinVersion)
	}
	if c := version.MustConstraints(version.NewConstraint(MinVersion)); !c.Check(v) {
		return nil, fmt.Errorf("%s=%s is Terraform %s; stack needs Terraform %s", from, path, v, MinVersion)
	}
	return v, nil
}

// knownVersion is a binary's version as last asked, with what identified the
// file then: a binary replaced at the same path has another size or mtime.
type knownVersion struct {
	Size    int64  `json:"size"`
	ModTime int64  `json:"mod_time"` // nanoseconds since the epoch
	Version string `json:"version"`
}

func (k *Kind) versionsFile() string {
	return filepath.Join(k.CacheDir, "terraform-bin", "versions.json")
}

// binaryVersion returns the version of the Terraform binary at path. Asking
// (`terraform version -json`) costs a Terraform process, which terraform-exec
// would otherwise spend once per handle, that is once per step: the answer is
// kept in the cache keyed by the binary's path, size and modification time,
// and asked again only when one of them changes.
func (k *Kind) binaryVersion(ctx context.Context, path string) (*version.Version, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	known := map[string]knownVersion{}
	if b, err := os.ReadFile(k.versionsFile()); err == nil {
		_ = json.Unmarshal(b, &known)
	}
	if e, ok := known[path]; ok && e.Size == fi.Size() && e.ModTime == fi.ModTime().UnixNano() {
		if v, err := version.NewVersion(e.Version); err == nil {
			return v, nil
		}
	}
	k.versionRuns.Add(1)
	tf, err := tfexec.NewTerraform(os.TempDir(), path)
	if err != nil {
		return nil, err
	}
	v, _, err := tf.Version(ctx, true)
	if err != nil {
		return nil, err
	}
	known[path] = knownVersion{Size: fi.Size(), ModTime: fi.ModTime().UnixNano(), Version: v.String()}
	b, _ := json.Marshal(known)
	_ = os.MkdirAll(filepath.Dir(k.versionsFile()), 0o755)
	tmp := fmt.Sprintf("%s.%d", k.versionsFile(), os.Getpid())
	if os.WriteFile(tmp, b, 0o644) == nil {
		_ = os.Rename(tmp, k.versionsFile())
	}
	return v, nil
}

// seedVersion gives a terraform-exec handle the version the kind already
// knows, so that its first command does not run `terraform version -json`
// first (terraform-exec asks once per handle and offers no way to tell it).
// It sets the handle's private cache field; if a terraform-exec upgrade
// renamed or retyped that field it does nothing, and the handle asks as
// before (TestSeedVersion notices).
func seedVersion(tf *tfexec.Terraform, v *version.Version) bool {
	if v == nil {
		return false
	}
	f := reflect.ValueOf(tf).Elem().FieldByName("execVersion")
	if !f.IsValid() || f.Type() != reflect.TypeOf(v) {
		return false
	}
	reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem().Set(reflect.ValueOf(v))
	return true
}
