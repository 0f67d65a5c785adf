package e2e_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/stack-tools/stack/internal/testenv"
	"github.com/stack-tools/stack/load/probe"
)

// startMoto starts the package's moto on first use (SQS for every test;
// each test uses its own queue) and points the SDK's environment at it.
var startMoto = sync.OnceValues(func() (*testenv.Moto, error) {
	m, err := testenv.StartMoto()
	if err != nil {
		return nil, err
	}
	stops = append(stops, m.Stop)
	for _, kv := range m.Env() {
		k, v, _ := strings.Cut(kv, "=")
		os.Setenv(k, v)
	}
	return m, nil
})

func TestMain(m *testing.M) {
	if addr := os.Getenv("E2E_TEST_PROBE_ADDR"); addr != "" {
		os.Exit(probeChild(addr, os.Getenv("E2E_TEST_PROBE_JOURNAL")))
	}
	code := m.Run()
	for i := len(stops) - 1; i >= 0; i-- {
		stops[i]()
	}
	os.Exit(code)
}

// probeChild runs an HTTP probe in this process (re-executed by a test), so
// the test can kill it for real.
func probeChild(addr, journal string) int {
	j, err := probe.OpenJournal(journal)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := probe.Serve(context.Background(), probe.Options{Name: "child", Journal: j, HTTP: l}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
