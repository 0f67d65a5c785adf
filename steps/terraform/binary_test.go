//go:build unix

package terraform

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/go-version"
	"github.com/hashicorp/terraform-exec/tfexec"
)

// copyFile copies the program at src to dst (mode 0755).
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	tmp := dst + ".tmp"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		t.Fatal(err)
	}
}

// Terraform's version is asked once per binary, across runs (a new Kind on
// the same cache is a new run), and again when the file at the path changes.
func TestVersionCachedPerBinary(t *testing.T) {
	bin := terraformBinary(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "terraform")
	copyFile(t, bin, path)
	cache := filepath.Join(dir, "cache")
	ctx := context.Background()

	first := &Kind{ExecPath: path, CacheDir: cache}
	if _, err := first.terraform(ctx); err != nil {
		t.Fatal(err)
	}
	if first.tfVersion == nil || first.versionRuns.Load() != 1 {
		t.Fatalf("first run: version %v after %d runs of `terraform version`, want it after 1", first.tfVersion, first.versionRuns.Load())
	}
	for i := 0; i < 2; i++ {
		if _, err := first.binaryVersion(ctx, path); err != nil {
			t.Fatal(err)
		}
	}
	again := &Kind{ExecPath: path, CacheDir: cache}
	if _, err := again.terraform(ctx); err != nil {
		t.Fatal(err)
	}
	if first.versionRuns.Load() != 1 || again.versionRuns.Load() != 0 || !again.tfVersion.Equal(first.tfVersion) {
		t.Fatalf("runs of `terraform version`: %d then %d (version %v), want 1 then 0", first.versionRuns.Load(), again.versionRuns.Load(), again.tfVersion)
	}

	// The same binary copied over itself: another mtime, asked again.
	copyFile(t, bin, path)
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
	if _, err := again.binaryVersion(ctx, path); err != nil || again.versionRuns.Load() != 1 {
		t.Fatalf("after the binary was replaced: %d runs of `terraform version` (%v), want 1", again.versionRuns.Load(), err)
	}

	// Another program at the same path: not taken for the Terraform it replaced.
	copyFile(t, "/bin/true", path)
	if v, err := again.binaryVersion(ctx, path); err == nil {
		t.Fatalf("/bin/true copied over the binary answered as Terraform %v", v)
	}
	_, err := (&Kind{CacheDir: cache}).checkBinary(ctx, path, "STACK_TERRAFORM")
	if err == nil {
		t.Fatal("checkBinary accepted /bin/true copied over the cached Terraform")
	}
	t.Log(err)
}

// A handle given the version does not run `terraform version` to learn it.
// This fails if terraform-exec no longer keeps it where seedVersion puts it.
func TestSeedVersion(t *testing.T) {
	tf, err := tfexec.NewTerraform(t.TempDir(), "/bin/false")
	if err != nil {
		t.Fatal(err)
	}
	want := version.Must(version.NewVersion("1.11.4"))
	if !seedVersion(tf, want) {
		t.Fatal("seedVersion found no execVersion field of type *version.Version in tfexec.Terraform: terraform-exec changed; update seedVersion")
	}
	got, _, err := tf.Version(context.Background(), false)
	if err != nil || !got.Equal(want) {
		t.Fatalf("Version() = %v, %v; want the seeded %v without running /bin/false", got, err, want)
	}
}
