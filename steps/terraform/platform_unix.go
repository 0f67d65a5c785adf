//go:build unix

package terraform

import (
	"os"
	"path/filepath"
	"syscall"

	"github.com/stack-tools/stack/internal/proc"
)

const oNonblock = syscall.O_NONBLOCK

func mkfifo(path string) error { return syscall.Mkfifo(path, 0o600) }

// flock takes an exclusive lock on path, shared with other processes.
func flock(path string) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	return proc.LockFile(path)
}
