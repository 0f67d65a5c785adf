package s3store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stack-tools/stack/internal/testenv"
	"github.com/stack-tools/stack/stack"
)

// minio is the server every test of this package talks to; nil when the binary
// is missing outside CI (the tests that need it skip).
var minio *testenv.Minio

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "s3store-minio-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	minio, err = testenv.StartMinio(dir)
	if err != nil {
		testenv.MissingMain(err)
		return m.Run()
	}
	defer minio.Stop()
	// The store reads the SDK's standard variables, as it would on a workstation.
	for _, kv := range minio.Env() {
		k, v, _ := strings.Cut(kv, "=")
		os.Setenv(k, v)
	}
	os.Unsetenv("AWS_PROFILE")
	os.Unsetenv("AWS_ENDPOINT_URL")
	os.Unsetenv("AWS_S3_USE_PATH_STYLE")
	return m.Run()
}

// openStore opens a store under a prefix no other test uses.
func openStore(t *testing.T) *Store {
	t.Helper()
	if minio == nil {
		testenv.Missing(t, errors.New("minio is not running"))
	}
	ctx := context.Background()
	s, err := Open(ctx, "s3://"+minio.Bucket+"/"+prefix(t))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// prefixes gives each run of a test its own prefix in the shared bucket, so
// `go test -count=N` finds no objects of an earlier run.
var prefixes sync.Map // *testing.T -> string

func prefix(t *testing.T) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	p, loaded := prefixes.LoadOrStore(t, t.Name()+"-"+hex.EncodeToString(b))
	if !loaded {
		t.Cleanup(func() { prefixes.Delete(t) }) // a later test may get the same *testing.T address
	}
	return p.(string)
}

func TestParseURL(t *testing.T) {
	for in, want := range map[string][2]string{
		"s3://b":           {"b", ""},
		"s3://b/":          {"b", ""},
		"s3://b/team/load": {"b", "team/load"},
		"s3://b/p/":        {"b", "p"},
	} {
		bucket, prefix, err := ParseURL(in)
		if err != nil || bucket != want[0] || prefix != want[1] {
			t.Errorf("ParseURL(%q) = %q, %q, %v; want %q, %q", in, bucket, prefix, err, want[0], want[1])
		}
	}
	for _, bad := range []string{"s3:///p", "file:///tmp", "b/p", "s3://b/p?x=1"} {
		if _, _, err := ParseURL(bad); err == nil || !strings.Contains(err.Error(), "s3://BUCKET") {
			t.Errorf("ParseURL(%q) error = %v, want one showing the s3://BUCKET/PREFIX form", bad, err)
		}
	}
}

func TestCreateOnlyAndGet(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	if _, _, err := s.Get(ctx, "stacks/a.json"); !errors.Is(err, stack.ErrNotFound) {
		t.Fatalf("Get of a missing key: %v, want ErrNotFound", err)
	}
	v1, err := s.Put(ctx, "stacks/a.json", []byte("one"), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "stacks/a.json", []byte("two"), ""); !errors.Is(err, stack.ErrConflict) {
		t.Fatalf("second create: %v, want ErrConflict", err)
	}
	data, v, err := s.Get(ctx, "stacks/a.json")
	if err != nil || string(data) != "one" || v != v1 {
		t.Fatalf("Get = %q, %q, %v; want %q, %q (the losing create must not change it)", data, v, err, "one", v1)
	}
	if got, want := s.Location("stacks/a.json"), "s3://"+minio.Bucket+"/"+prefix(t)+"/stacks/a.json"; got != want {
		t.Errorf("Location = %q, want %q", got, want)
	}
}

func TestUpdateIfMatch(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	v1, err := s.Put(ctx, "rec", []byte("1"), "")
	if err != nil {
		t.Fatal(err)
	}
	v2, err := s.Put(ctx, "rec", []byte("2"), v1)
	if err != nil {
		t.Fatal(err)
	}
	if v2 == v1 {
		t.Fatalf("version did not change on update: %q", v2)
	}
	if _, err := s.Put(ctx, "rec", []byte("stale"), v1); !errors.Is(err, stack.ErrConflict) {
		t.Fatalf("update with a stale version: %v, want ErrConflict", err)
	}
	if _, err := s.Put(ctx, "missing", []byte("x"), v1); !errors.Is(err, stack.ErrConflict) {
		t.Fatalf("update of a missing key: %v, want ErrConflict", err)
	}
	if _, err := s.Put(ctx, "rec", []byte("forced"), stack.AnyVersion); err != nil {
		t.Fatalf("unconditional write: %v", err)
	}
	if data, _, _ := s.Get(ctx, "rec"); string(data) != "forced" {
		t.Fatalf("after unconditional write: %q", data)
	}
}

// A Put the SDK retried after its first attempt landed gets 412 on the retry;
// it must see its own write and succeed rather than report a conflict.
func TestRetriedPutRecognisesOwnWrite(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	v1, err := s.put(ctx, "rec", []byte("a"), "", "write-1")
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.put(ctx, "rec", []byte("a"), "", "write-1")
	if err != nil || v != v1 {
		t.Fatalf("repeated create with the same write id = %q, %v; want %q, nil", v, err, v1)
	}
	if _, err := s.put(ctx, "rec", []byte("b"), "", "write-2"); !errors.Is(err, stack.ErrConflict) {
		t.Fatalf("another writer's create: %v, want ErrConflict", err)
	}
}

func TestDeleteIfMatch(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	v1, err := s.Put(ctx, "lease", []byte("1"), "")
	if err != nil {
		t.Fatal(err)
	}
	v2, err := s.Put(ctx, "lease", []byte("2"), v1)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "lease", v1); !errors.Is(err, stack.ErrConflict) {
		t.Fatalf("delete with a stale version: %v, want ErrConflict", err)
	}
	if _, _, err := s.Get(ctx, "lease"); err != nil {
		t.Fatalf("object gone after a refused delete: %v", err)
	}
	if err := s.Delete(ctx, "lease", v2); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Get(ctx, "lease"); !errors.Is(err, stack.ErrNotFound) {
		t.Fatalf("after delete: %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, "lease", v2); err != nil {
		t.Errorf("delete of a missing key with a version: %v, want nil", err)
	}
	if err := s.Delete(ctx, "lease", stack.AnyVersion); err != nil {
		t.Errorf("delete of a missing key: %v, want nil", err)
	}
	if _, err := s.Put(ctx, "other", []byte("x"), ""); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "other", stack.AnyVersion); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Get(ctx, "other"); !errors.Is(err, stack.ErrNotFound) {
		t.Fatalf("after unconditional delete: %v, want ErrNotFound", err)
	}
}

func TestListPaginatesAndStaysInPrefix(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	// A neighbour whose prefix starts with ours must not leak into our listing.
	neighbour, err := Open(ctx, "s3://"+minio.Bucket+"/"+prefix(t)+"-other")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := neighbour.Put(ctx, "stacks/zz/stack.json", []byte("{}"), stack.AnyVersion); err != nil {
		t.Fatal(err)
	}
	want := []string{"stacks/a/stack.json", "stacks/a/steps/db.json", "stacks/b/stack.json", "stacks/c/stack.json", "stacks/c/x"}
	for _, k := range append([]string{"leases/a"}, want...) {
		if _, err := s.Put(ctx, k, []byte(k), ""); err != nil {
			t.Fatal(err)
		}
	}
	s.pageSize = 2 // five keys: three pages
	got, err := s.List(ctx, "stacks/")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("List(stacks/) = %q, want %q", got, want)
	}
	all, err := s.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 6 || all[0] != "leases/a" {
		t.Fatalf("List(\"\") = %q, want leases/a and the five stack keys", all)
	}
	none, err := s.List(ctx, "nothing/")
	if err != nil || len(none) != 0 {
		t.Fatalf("List(nothing/) = %q, %v; want empty", none, err)
	}
}

// ListDirs names each stack once, from a delimiter listing that pages through
// the folders and not through every key under them, and stays in the prefix.
func TestListDirsPaginatesAndStaysInPrefix(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	neighbour, err := Open(ctx, "s3://"+minio.Bucket+"/"+prefix(t)+"-other")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := neighbour.Put(ctx, "stacks/zz/stack.json", []byte("{}"), stack.AnyVersion); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"stacks/a/stack.json", "stacks/a/logs/x.log", "stacks/a-b/lease.json", "stacks/b/stack.json",
		"stacks/c/artifacts/s/r.html", "stacks/loose", "tfstate/d/x/terraform.tfstate"} {
		if _, err := s.Put(ctx, k, []byte(k), ""); err != nil {
			t.Fatal(err)
		}
	}
	s.pageSize = 2 // four folders and a loose key: three pages
	got, err := s.ListDirs(ctx, "stacks/")
	if err != nil {
		t.Fatal(err)
	}
	if want := "a,a-b,b,c"; strings.Join(got, ",") != want {
		t.Fatalf("ListDirs(stacks/) = %q, want %s", got, want)
	}
	if none, err := s.ListDirs(ctx, "nothing/"); err != nil || len(none) != 0 {
		t.Fatalf("ListDirs(nothing/) = %q, %v; want empty", none, err)
	}
}

// Twenty writers, each with its own connection, increment one counter with
// read-modify-write and retry on conflict; no increment may be lost.
func TestConcurrentWritersNeverLoseAnUpdate(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	const writers, increments = 20, 5
	if _, err := s.Put(ctx, "counter", []byte("0"), ""); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	conflicts := make(chan int, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ws, err := Open(ctx, "s3://"+minio.Bucket+"/"+prefix(t))
			if err != nil {
				errs <- err
				return
			}
			n, err := incrementN(ctx, ws, "counter", increments)
			conflicts <- n
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	close(conflicts)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	total := 0
	for n := range conflicts {
		total += n
	}
	data, _, err := s.Get(ctx, "counter")
	if err != nil {
		t.Fatal(err)
	}
	if got := string(data); got != strconv.Itoa(writers*increments) {
		t.Fatalf("counter = %s after %d writers × %d increments, want %d (updates lost)", got, writers, increments, writers*increments)
	}
	t.Logf("%d increments, %d conflicts retried", writers*increments, total)
	if total == 0 {
		t.Log("no conflicts happened: the writers did not overlap this time")
	}
}

func incrementN(ctx context.Context, s *Store, key string, n int) (conflicts int, err error) {
	for i := 0; i < n; {
		data, version, err := s.Get(ctx, key)
		if err != nil {
			return conflicts, err
		}
		v, err := strconv.Atoi(string(data))
		if err != nil {
			return conflicts, err
		}
		_, err = s.Put(ctx, key, []byte(strconv.Itoa(v+1)), version)
		switch {
		case errors.Is(err, stack.ErrConflict):
			conflicts++
		case err != nil:
			return conflicts, err
		default:
			i++
		}
	}
	return conflicts, nil
}

func TestOpenExplainsWrongBucketAndCredentials(t *testing.T) {
	if minio == nil {
		testenv.Missing(t, errors.New("minio is not running"))
	}
	ctx := context.Background()
	_, err := Open(ctx, "s3://no-such-bucket-here/p")
	if err == nil || !strings.Contains(err.Error(), `bucket "no-such-bucket-here" does not exist`) ||
		!strings.Contains(err.Error(), minio.Endpoint) {
		t.Errorf("Open of a missing bucket: %v; want it to name the bucket and endpoint", err)
	}
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong")
	_, err = Open(ctx, "s3://"+minio.Bucket+"/p")
	if err == nil || !strings.Contains(err.Error(), "check the AWS credentials") {
		t.Errorf("Open with a wrong secret: %v; want advice about credentials", err)
	}
	if err != nil && strings.Contains(err.Error(), minio.SecretKey) {
		t.Errorf("error shows the secret key: %v", err)
	}
}

func TestOpenWithoutCredentials(t *testing.T) {
	if minio == nil {
		testenv.Missing(t, errors.New("minio is not running"))
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("HOME", t.TempDir()) // no ~/.aws
	_, err := Open(context.Background(), "s3://"+minio.Bucket+"/p")
	if err == nil || !strings.Contains(err.Error(), "cannot get AWS credentials: set AWS_PROFILE") {
		t.Errorf("Open without credentials: %v; want advice on how to provide them", err)
	}
}

// With the server down, operations fail within the retry bound and say which
// endpoint and store failed and what to do; when it is back, the same Store works.
func TestServerDownThenBack(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	v, err := s.Put(ctx, "rec", []byte("before"), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := minio.Kill(); err != nil {
		t.Fatal(err)
	}
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			_ = minio.Start()
		}
	})
	start := time.Now()
	_, err = s.Put(ctx, "rec", []byte("during"), v)
	if err == nil {
		t.Fatal("Put succeeded with the server down")
	}
	t.Logf("failed after %s: %v", time.Since(start).Round(time.Millisecond), err)
	for _, want := range []string{minio.Endpoint, s.Location("rec"), "cannot reach", "AWS_ENDPOINT_URL_S3", "run the command again"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error with the server down does not mention %q: %v", want, err)
		}
	}
	if errors.Is(err, stack.ErrConflict) || errors.Is(err, stack.ErrNotFound) {
		t.Errorf("an outage must not look like a conflict or a missing key: %v", err)
	}
	if _, err := Open(ctx, "s3://"+minio.Bucket+"/"+prefix(t)); err == nil || !strings.Contains(err.Error(), minio.Endpoint) {
		t.Errorf("Open with the server down: %v; want an error naming %s", err, minio.Endpoint)
	}

	if err := minio.Start(); err != nil {
		t.Fatal(err)
	}
	restarted = true
	if _, err := s.Put(ctx, "rec", []byte("after"), v); err != nil {
		t.Fatalf("Put after the server came back: %v", err)
	}
	if data, _, err := s.Get(ctx, "rec"); err != nil || string(data) != "after" {
		t.Fatalf("Get after restart = %q, %v", data, err)
	}
}

func TestPathStyleSetting(t *testing.T) {
	if minio == nil {
		testenv.Missing(t, errors.New("minio is not running"))
	}
	ctx := context.Background()
	s := openStore(t)
	if s.TerraformBackend("x", "y").Config["use_path_style"] != true {
		t.Error("a custom endpoint should use path-style addressing in the store and Terraform")
	}
	t.Setenv("AWS_S3_USE_PATH_STYLE", "maybe")
	if _, err := Open(ctx, "s3://"+minio.Bucket+"/p"); err == nil || !strings.Contains(err.Error(), "AWS_S3_USE_PATH_STYLE") {
		t.Errorf("Open with AWS_S3_USE_PATH_STYLE=maybe: %v, want an error naming the variable", err)
	}
}
