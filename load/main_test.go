package load_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/stack-tools/stack/internal/testenv"
)

// nsqd is this package's NSQ broker, started once by TestMain; nil (and
// nsqdErr set) when the binary is missing here.
var (
	nsqd    *testenv.NSQD
	nsqdErr error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "load-nsqd-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	nsqd, nsqdErr = testenv.StartNSQD(dir)
	code := m.Run()
	nsqd.Stop()
	os.RemoveAll(dir)
	os.Exit(code)
}
