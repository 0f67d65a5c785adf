//go:build !unix

package terraform

import "errors"

const oNonblock = 0

func mkfifo(path string) error {
	return errors.New("sensitive variables reach Terraform through a named pipe, which this platform lacks; run stack on Linux or macOS")
}
