package modsource_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/stack-tools/stack/internal/modsource"
	"github.com/stack-tools/stack/internal/testenv"
)

const mainTF = "output \"v\" {\n  value = 1\n}\n"

// git:: with ?ref= and //subfolder: the folder is named by the commit the
// ref resolves to, holds no .git, and a moved tag gives another folder.
func TestGitRefAndSubfolder(t *testing.T) {
	repo := t.TempDir()
	os.MkdirAll(filepath.Join(repo, "mods", "m"), 0o755)
	os.WriteFile(filepath.Join(repo, "mods", "m", "main.tf"), []byte(mainTF), 0o644)
	testenv.Git(t, repo, "init", "-q", "-b", "main")
	testenv.Git(t, repo, "add", ".")
	testenv.Git(t, repo, "commit", "-q", "-m", "one")
	testenv.Git(t, repo, "tag", "v1")
	first := testenv.Git(t, repo, "rev-parse", "HEAD")
	src := "git::file://" + repo + "//mods/m?ref=v1"

	got, err := (&modsource.Fetcher{Dir: t.TempDir()}).Fetch(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	if got.Revision != first {
		t.Errorf("revision %s, want %s", got.Revision, first)
	}
	if _, err := os.Stat(filepath.Join(got.Dir, "main.tf")); err != nil {
		t.Errorf("the subfolder was not fetched: %v", err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(filepath.Dir(got.Dir)), ".git")); err == nil {
		t.Errorf("the checkout keeps .git")
	}

	os.WriteFile(filepath.Join(repo, "mods", "m", "more.tf"), []byte("output \"w\" {\n  value = 2\n}\n"), 0o644)
	testenv.Git(t, repo, "add", ".")
	testenv.Git(t, repo, "commit", "-q", "-m", "two")
	testenv.Git(t, repo, "tag", "-f", "v1")
	moved, err := (&modsource.Fetcher{Dir: filepath.Dir(filepath.Dir(filepath.Dir(got.Dir)))}).Fetch(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	if moved.Revision == first || moved.Dir == got.Dir {
		t.Errorf("the moved tag gave revision %s in %s, the same as before", moved.Revision, moved.Dir)
	}
	if _, err := (&modsource.Fetcher{Dir: t.TempDir()}).Fetch(context.Background(), "git::file://"+repo+"//nosuch?ref=v1"); err == nil {
		t.Errorf("a missing subfolder was fetched")
	}
}

// s3:: fetches a folder of objects, or an archive go-getter unpacks.
func TestS3FolderAndArchive(t *testing.T) {
	m, err := testenv.StartMinio(t.TempDir())
	if err != nil {
		t.Skipf("MinIO: %v", err)
	}
	t.Cleanup(func() { m.Stop() })
	for _, kv := range m.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	ctx := context.Background()
	put := func(key string, body []byte) {
		if _, err := m.Client().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(m.Bucket), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	put("modules/net/main.tf", []byte(mainTF))
	put("modules/net/sub/x.tf", []byte("# x\n"))
	put("modules/net.tar.gz", tarGz(t, map[string]string{"main.tf": mainTF}))
	f := &modsource.Fetcher{Dir: t.TempDir(), Getters: modsource.Getters()}
	for _, src := range []string{
		"s3::" + m.Endpoint + "/" + m.Bucket + "/modules/net",
		"s3::" + m.Endpoint + "/" + m.Bucket + "/modules/net.tar.gz",
	} {
		got, err := f.Fetch(ctx, src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if b, err := os.ReadFile(filepath.Join(got.Dir, "main.tf")); err != nil || string(b) != mainTF {
			t.Errorf("%s: main.tf %q, %v", src, b, err)
		}
	}
}

func tarGz(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, body := range files {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(body))
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}
