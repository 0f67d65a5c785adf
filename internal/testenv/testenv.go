// Package testenv starts the real servers tests talk to (MinIO, ZooKeeper,
// moto, Terraform) on 127.0.0.1 and finds the binaries they need.
//
// A missing server binary skips the test on a workstation and fails it in CI
// (CI=true), where .ci/run must have installed it.
package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// FreePort returns a TCP port on 127.0.0.1 that nobody listens on now.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// WaitForPort waits until something accepts connections on addr.
func WaitForPort(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listens on %s after %s: %w", addr, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// FindBinary looks for a program: first the environment variable envVar, then
// PATH, then the cache folder .ci/run builds servers into, then ~/go/bin.
func FindBinary(name, envVar string) (string, error) {
	if p := os.Getenv(envVar); p != "" {
		return p, nil
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	home, _ := os.UserHomeDir()
	for _, dir := range []string{filepath.Join(CacheDir(), "bin"), filepath.Join(home, "go", "bin")} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found (set %s, put it on PATH, or run .ci/run which installs it)", name, envVar)
}

// CacheDir is where .ci/run keeps built test servers between runs.
func CacheDir() string {
	if d := os.Getenv("STACK_TEST_CACHE"); d != "" {
		return d
	}
	d, err := os.UserCacheDir()
	if err != nil {
		d = os.TempDir()
	}
	return filepath.Join(d, "stack-test")
}

// Missing reports a missing server: in CI it is a failure, elsewhere a skip.
func Missing(tb testing.TB, err error) {
	tb.Helper()
	if os.Getenv("CI") != "" {
		tb.Fatalf("test dependency missing in CI: %v", err)
	}
	tb.Skipf("skipping: %v", err)
}

// MissingMain is Missing for TestMain: in CI it exits 1, elsewhere it returns
// false so TestMain can run the package's tests that need no server.
func MissingMain(err error) bool {
	fmt.Fprintf(os.Stderr, "testenv: %v\n", err)
	if os.Getenv("CI") != "" {
		os.Exit(1)
	}
	return false
}
