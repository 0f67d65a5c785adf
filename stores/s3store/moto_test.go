package s3store

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/stack-tools/stack/internal/testenv"
	"github.com/stack-tools/stack/stack"
)

// moto returns no CRC checksums. The SDK then logged "Response has no
// supported checksum" on stderr for every read (issue 20), in the middle of
// `up`'s output; the store must stay quiet, and its writes stay conditional.
func TestMotoStoreIsQuietAndConditional(t *testing.T) {
	m, err := testenv.StartMoto()
	if err != nil {
		testenv.Missing(t, err)
	}
	t.Cleanup(m.Stop)
	for _, kv := range m.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Setenv("AWS_ENDPOINT_URL_S3", m.Endpoint()) // TestMain's points to MinIO
	ctx := context.Background()
	admin := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(m.Endpoint()), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
	if _, err := admin.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("quiet")}); err != nil {
		t.Fatal(err)
	}
	stderr := captureStderr(t)
	s, err := Open(ctx, "s3://quiet/p")
	if err != nil {
		t.Fatalf("%v\n%s", err, m.Output())
	}
	v1, err := s.Put(ctx, "k", []byte("one"), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "k", []byte("again"), ""); !errors.Is(err, stack.ErrConflict) {
		t.Errorf("create over an existing object: %v, want a conflict", err)
	}
	if _, err := s.Put(ctx, "k", []byte("two"), v1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "k", []byte("stale"), v1); !errors.Is(err, stack.ErrConflict) {
		t.Errorf("update from a stale version: %v, want a conflict", err)
	}
	if data, _, err := s.Get(ctx, "k"); err != nil || string(data) != "two" {
		t.Errorf("read back %q, %v", data, err)
	}
	if out := stderr(); strings.Contains(out, "checksum") {
		t.Errorf("the store logged about checksums:\n%s", out)
	}
}

// captureStderr redirects os.Stderr (where the SDK's default logger writes)
// until the returned function is called, which returns what was written.
func captureStderr(t *testing.T) func() string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stderr
	os.Stderr = w
	got := make(chan string, 1)
	go func() { b, _ := io.ReadAll(r); got <- string(b) }()
	restore := func() string {
		if os.Stderr == w {
			os.Stderr = old
			w.Close()
		}
		return <-got
	}
	once := sync.OnceValue(restore)
	t.Cleanup(func() { once() })
	return once
}
