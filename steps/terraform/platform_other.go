//go:build !unix

package terraform

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/stack-tools/stack/internal/proc"
)

const oNonblock = 0

func mkfifo(path string) error {
	return errors.New("sensitive variables reach Terraform through a named pipe, which this platform lacks; run stack on Linux or macOS")
}

func flock(path string) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	return proc.LockFile(path)
}
