package engine_test

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/stack-tools/stack/internal/testenv"
	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/stores/s3store"
)

// serverStops are run by TestMain once every test is done.
var serverStops []func()

func TestMain(m *testing.M) {
	code := m.Run()
	for _, stop := range serverStops {
		stop()
	}
	os.Exit(code)
}

// startMinio starts the package's one MinIO, for the first test that needs it.
var startMinio = sync.OnceValues(func() (*testenv.Minio, error) {
	dir, err := os.MkdirTemp("", "engine-minio-")
	if err != nil {
		return nil, err
	}
	m, err := testenv.StartMinio(dir)
	serverStops = append(serverStops, func() {
		if m != nil {
			_ = m.Stop()
		}
		os.RemoveAll(dir)
	})
	if err != nil {
		return nil, err
	}
	// The store reads the SDK's standard variables, as on a workstation.
	for _, kv := range m.Env() {
		k, v, _ := strings.Cut(kv, "=")
		os.Setenv(k, v)
	}
	for _, k := range []string{"AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_S3_USE_PATH_STYLE"} {
		os.Unsetenv(k)
	}
	return m, nil
})

// s3Store opens a store on the package's MinIO under a prefix of the test's own.
func s3Store(t *testing.T) stack.Store {
	t.Helper()
	m, err := startMinio()
	if err != nil {
		testenv.Missing(t, err)
	}
	prefix := strings.NewReplacer("/", "-", "_", "-").Replace(strings.ToLower(t.Name())) + "-" + randomSuffix()
	st, err := s3store.Open(context.Background(), "s3://"+m.Bucket+"/"+prefix)
	if err != nil {
		t.Fatal(err)
	}
	return st
}
