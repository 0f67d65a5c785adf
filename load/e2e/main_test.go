package e2e_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/stack-tools/stack/internal/testenv"
	"github.com/stack-tools/stack/load/probe"
)

// moto serves SQS to every test of the package; each test uses its own queue.
var moto *testenv.Moto

func TestMain(m *testing.M) {
	if addr := os.Getenv("E2E_TEST_PROBE_ADDR"); addr != "" {
		os.Exit(probeChild(addr, os.Getenv("E2E_TEST_PROBE_JOURNAL")))
	}
	var err error
	moto, err = testenv.StartMoto()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e tests: moto:", err)
	}
	if moto != nil {
		for _, kv := range moto.Env() {
			k, v, _ := strings.Cut(kv, "=")
			os.Setenv(k, v)
		}
	}
	code := m.Run()
	for i := len(stops) - 1; i >= 0; i-- {
		stops[i]()
	}
	if moto != nil {
		moto.Stop()
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
